//! Queueing after commit, batched.
//!
//! A created message's deliveries are already committed when they are queued, so the
//! request does not wait for Redis: it hands them to the enqueuer and answers. The
//! enqueuer queues everything handed to it while its previous round trip was in
//! flight in one pipeline (one `SADD` per partition, then the entries), so under load
//! many requests share one round trip, and under light load a batch is one request.
//!
//! Losing a hand-over costs only time: the deliveries are durable, and the reconciler
//! queues any the database says are due and Redis does not hold. So a full hand-over
//! buffer (Redis far slower than ingest) or a failed pipeline is logged, not returned.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use herald_core::DueDelivery;

use crate::hand_off::Sorted;
use crate::{Partition, Queue, QueuedDelivery};

/// Most hand-overs queued in one pipeline.
const MAX_BATCH: usize = 256;
/// Hand-overs waiting for the enqueuer before new ones are left to the reconciler.
const BUFFER: usize = 16 * 1024;

enum Command {
    Enqueue(Partition, Vec<QueuedDelivery>),
    /// Deliveries due later (Unix ms), parked in the partition's delayed set.
    Schedule(Partition, Vec<(QueuedDelivery, i64)>),
    /// Answered once everything handed over before it has been sent to Redis.
    Flush(oneshot::Sender<()>),
}

/// A handle on the enqueuer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Enqueuer {
    sender: mpsc::Sender<Command>,
}

impl Enqueuer {
    /// Starts the enqueuer task, so it must run inside a tokio runtime. The task ends
    /// when the last handle is dropped, after queueing what it was handed.
    pub fn start(queue: Queue) -> Self {
        let (sender, receiver) = mpsc::channel(BUFFER);
        tokio::spawn(enqueue_loop(queue, receiver));
        Self { sender }
    }

    /// Hands committed deliveries over to be queued (see [`crate::Queue::hand_off`]);
    /// does not wait for Redis.
    pub fn hand_off(&self, due: &[DueDelivery]) {
        let sorted = Sorted::new(due, chrono::Utc::now().timestamp_millis());
        for (partition, queued) in sorted.now {
            self.send(Command::Enqueue(partition, queued));
        }
        for (partition, parked) in sorted.later {
            self.send(Command::Schedule(partition, parked));
        }
    }

    /// Hands deliveries of one partition over to be queued now; does not wait for Redis.
    pub fn submit(&self, partition: Partition, deliveries: Vec<QueuedDelivery>) {
        if !deliveries.is_empty() {
            self.send(Command::Enqueue(partition, deliveries));
        }
    }

    fn send(&self, command: Command) {
        let count = command.count();
        if let Err(error) = self.sender.try_send(command) {
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "the enqueuer is behind",
                mpsc::error::TrySendError::Closed(_) => "the enqueuer has stopped",
            };
            tracing::warn!(count, reason, "deliveries not queued after commit; the reconciler will");
        }
    }

    /// Waits until everything submitted before this call has been sent to Redis (or
    /// failed and been left to the reconciler). Used at shutdown and by tests.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

impl Command {
    fn count(&self) -> usize {
        match self {
            Self::Enqueue(_, deliveries) => deliveries.len(),
            Self::Schedule(_, deliveries) => deliveries.len(),
            Self::Flush(_) => 0,
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Enqueue(partition, deliveries) => {
                f.debug_tuple("Enqueue").field(&partition.name()).field(&deliveries.len()).finish()
            }
            Self::Schedule(partition, deliveries) => {
                f.debug_tuple("Schedule").field(&partition.name()).field(&deliveries.len()).finish()
            }
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

async fn enqueue_loop(queue: Queue, mut receiver: mpsc::Receiver<Command>) {
    let mut commands = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut commands, MAX_BATCH).await > 0 {
        let mut flushed = Vec::new();
        let mut groups: HashMap<Partition, Vec<QueuedDelivery>> = HashMap::new();
        let mut parked: HashMap<Partition, Vec<(QueuedDelivery, i64)>> = HashMap::new();
        for command in commands.drain(..) {
            match command {
                Command::Enqueue(partition, deliveries) => groups.entry(partition).or_default().extend(deliveries),
                Command::Schedule(partition, deliveries) => parked.entry(partition).or_default().extend(deliveries),
                Command::Flush(done) => flushed.push(done),
            }
        }
        for (partition, deliveries) in &parked {
            if let Err(error) = queue.schedule(partition, deliveries).await {
                tracing::warn!(%error, count = deliveries.len(), "could not park deliveries after commit; the reconciler will");
            }
        }
        if let Err(error) =
            queue.enqueue_groups(groups.iter().map(|(partition, deliveries)| (partition, deliveries.as_slice()))).await
        {
            let count: usize = groups.values().map(Vec::len).sum();
            tracing::warn!(%error, count, "could not enqueue after commit; the reconciler will");
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}
