//! The attempt writer: records attempts in batches, then settles their queue entries.
//!
//! Lane tasks hand each finished attempt here and move on. The writer takes whatever
//! has accumulated (up to [`MAX_BATCH`]), commits it in one transaction
//! ([`Store::record_attempts`]), and only then acknowledges or parks the entries in one
//! Redis round trip ([`Queue::settle`]). Under light load a batch is one attempt, so
//! nothing waits for a batch to fill; under heavy load one commit carries hundreds.
//!
//! The order is the worker's invariant: an entry is settled only after its attempt is
//! committed. If the commit fails, the entries stay pending in the consumer group and
//! are reclaimed and tried again (at least once, never at most once).

use herald_queue::{Queue, ReceivedDelivery, Settlement};
use herald_store::{AttemptRecord, DeliveryTransition, Session, Store};
use tokio::sync::{mpsc, oneshot};

use crate::WorkerError;

/// What the writer needs besides the store and the queue.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// An endpoint failing for this long is disabled (`None`: never).
    pub disable_after: Option<chrono::Duration>,
    pub metrics: std::sync::Arc<herald_observability::Metrics>,
}

/// Most attempts committed in one transaction.
const MAX_BATCH: usize = 512;
/// Attempts waiting for the writer before lane tasks wait too.
const BACKLOG: usize = 4_096;

/// One finished attempt: what to record and what to do with its queue entry after.
#[derive(Debug)]
pub struct Recorded {
    pub record: AttemptRecord,
    pub received: ReceivedDelivery,
    pub settlement: Settlement,
}

#[derive(Debug)]
enum Command {
    Record(Box<Recorded>),
    Flush(oneshot::Sender<()>),
}

/// A handle on the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Command>,
}

impl Recorder {
    /// Starts the writer; it runs until every handle is dropped.
    pub fn start(store: Store, queue: Queue, config: RecorderConfig) -> Self {
        let (sender, receiver) = mpsc::channel(BACKLOG);
        tokio::spawn(write_loop(store, queue, config, receiver));
        Self { sender }
    }

    /// Queues one attempt for the next batch.
    pub async fn record(&self, recorded: Recorded) -> Result<(), WorkerError> {
        self.sender.send(Command::Record(Box::new(recorded))).await.map_err(|_| WorkerError::RecorderStopped)
    }

    /// Waits until everything recorded so far is committed and settled (or failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(store: Store, queue: Queue, config: RecorderConfig, mut commands: mpsc::Receiver<Command>) {
    // One connection kept for the writer's statements (see `herald_store::Session`).
    let mut session = store.session();
    while let Some(first) = commands.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Record(recorded) => batch.push(*recorded),
                Command::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = commands.try_recv().ok();
            }
        }
        write(&mut session, &queue, &config, batch).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write(session: &mut Session, queue: &Queue, config: &RecorderConfig, batch: Vec<Recorded>) {
    if batch.is_empty() {
        return;
    }
    let count = batch.len();
    let mut records = Vec::with_capacity(count);
    let mut settlements = Vec::with_capacity(count);
    let finished: Vec<(herald_core::TenantId, bool)> = batch
        .iter()
        .filter(|recorded| !matches!(recorded.record.transition, DeliveryTransition::Retry { .. }))
        .map(|recorded| {
            (recorded.record.attempt.tenant_id.clone(), recorded.record.transition == DeliveryTransition::Succeeded)
        })
        .collect();
    for recorded in batch {
        records.push(recorded.record);
        settlements.push((recorded.received, recorded.settlement));
    }
    let recorded = match session.record_attempts(records, config.disable_after).await {
        Ok(recorded) => recorded,
        Err(error) => {
            // Nothing was committed and nothing is settled: the entries stay pending and
            // are reclaimed after `reclaim_idle`, then attempted again.
            tracing::warn!(%error, count, "cannot record attempts; their deliveries will be tried again");
            return;
        }
    };
    if let Err(error) = queue.settle(&settlements).await {
        // Recorded but not settled: when reclaimed, the stale check (attempt count)
        // drops the entries without sending again.
        tracing::warn!(%error, count, "cannot settle recorded deliveries; they will be reclaimed");
    }
    for (tenant, succeeded) in finished {
        config.metrics.delivery_finished(tenant.as_str(), succeeded);
    }
    crate::queue_released(queue, &recorded.released).await;
    for disabled in recorded.disabled {
        // Its `endpoint.disabled` notice is in the outbox, committed with the attempts.
        tracing::info!(endpoint = %disabled.endpoint.id, reason = ?disabled.reason, "endpoint disabled");
    }
}
