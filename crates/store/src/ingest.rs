//! Group commit for message creation.
//!
//! Every accepted message must be durable before `202`, and a commit per message is
//! what limits ingest (one WAL flush each). The writer takes the messages that arrive
//! while the previous commit is in flight and commits them together
//! ([`Store::create_messages`]); under light load a batch is one message, so nobody
//! waits for a batch to fill.
//!
//! Messages with an `eventId` take the single-message path: their uniqueness is
//! checked by the insert itself, and one duplicate must not fail a whole batch. If a
//! batch fails, each of its messages is retried alone, so one bad message fails only
//! its own request.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::entity::{delivery, message};
use crate::{NewMessage, PlannedDelivery, Session, Store, StoreError, StoreResult};

/// Most messages committed together.
const MAX_BATCH: usize = 256;
/// Commits in flight at once.
const WRITERS: usize = 4;

type Created = (message::Model, Vec<delivery::Model>);

#[derive(Debug)]
struct Job {
    new: NewMessage,
    deliveries: Vec<PlannedDelivery>,
    reply: oneshot::Sender<StoreResult<Created>>,
}

/// A handle on the message writers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    store: Store,
    sender: mpsc::Sender<Job>,
}

impl MessageWriter {
    /// Starts the writers; they run until every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * WRITERS);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_loop(store.clone(), receiver.clone()));
        }
        Self { store, sender }
    }

    /// Writes a message and its deliveries durably, like [`Store::create_message`].
    pub async fn create(&self, new: NewMessage, deliveries: Vec<PlannedDelivery>) -> StoreResult<Created> {
        if new.event_id.is_some() {
            return self.store.create_message(new, &deliveries).await;
        }
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.sender.send(Job { new, deliveries, reply }).await {
            return self.store.create_message(job.new, &job.deliveries).await;
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Unavailable("the message writer stopped".into())))
    }
}

async fn write_loop(store: Store, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) {
    // Each writer keeps its own connection (see `crate::session`).
    let mut session = store.session();
    loop {
        let mut jobs = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        write(&mut session, jobs).await;
    }
}

async fn write(session: &mut Session, mut jobs: Vec<Job>) {
    if jobs.len() == 1 {
        let job = jobs.remove(0);
        let _ = job.reply.send(session.create_message(job.new, &job.deliveries).await);
        return;
    }
    let batch: Vec<(NewMessage, Vec<PlannedDelivery>)> =
        jobs.iter().map(|job| (job.new.clone(), job.deliveries.clone())).collect();
    match session.create_messages(batch).await {
        Ok(created) => {
            for (job, created) in jobs.into_iter().zip(created) {
                let _ = job.reply.send(Ok(created));
            }
        }
        Err(error) => {
            tracing::debug!(%error, count = jobs.len(), "a message batch failed; writing its messages one by one");
            for job in jobs {
                let _ = job.reply.send(session.create_message(job.new, &job.deliveries).await);
            }
        }
    }
}
