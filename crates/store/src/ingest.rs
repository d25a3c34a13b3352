//! Group commit for message creation.
//!
//! Every accepted message must be durable before `202`, and a commit per message is
//! what limits ingest (one WAL flush each). The writer takes the messages that arrive
//! while the previous commit is in flight and commits them together
//! ([`Store::create_messages`]); under light load a batch is one message, so nobody
//! waits for a batch to fill.
//!
//! Each application's messages go to one writer (by a hash of its id). A write numbers
//! its messages in their application's feed while holding the application's
//! `message_feeds` row until it commits (`crate::feed`), so two writers with messages
//! of one application would commit one after the other anyway, each waiting on the
//! other's lock; one writer per application instead lets that application's messages
//! gather into larger batches while the previous commit is in flight, and leaves the
//! other writers to other applications. (Measured: docs/benchmarks.md, issue 20.)
//!
//! Messages with an `eventId` take the single-message path: their uniqueness is
//! checked by the insert itself, and one duplicate must not fail a whole batch. If a
//! batch fails, each of its messages is retried alone, so one bad message fails only
//! its own request.
//!
//! While the database does not answer, a request must still be answered within about
//! one pool acquire timeout: a batch that could not reach it answers all its messages
//! at once (not one acquire timeout each), and a message that waited for a writer
//! while the database had just failed is answered `Unavailable` without a second wait.
//! Either way nothing was written.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::entity::{delivery, message};
use crate::{NewMessage, PlannedDelivery, Session, Store, StoreError, StoreResult};

/// Most messages committed together.
const MAX_BATCH: usize = 256;
/// Commits in flight at once.
const WRITERS: usize = 4;
/// After the database failed to answer, how long writers treat it as away.
const OUTAGE_MEMORY: Duration = Duration::from_secs(3);
/// In an outage, a message that waited this long for a writer is not tried: its
/// request has spent its time.
const WAITED_IN_OUTAGE: Duration = Duration::from_millis(500);

type Created = (message::Model, Vec<delivery::Model>);

#[derive(Debug)]
struct Job {
    new: NewMessage,
    deliveries: Vec<PlannedDelivery>,
    reply: oneshot::Sender<StoreResult<Created>>,
    queued_at: Instant,
}

/// When a write last found the database unreachable (ms since `since`; 0: never).
#[derive(Debug)]
struct Outage {
    since: Instant,
    last_failed_ms: AtomicU64,
}

impl Outage {
    fn new() -> Self {
        Self { since: Instant::now(), last_failed_ms: AtomicU64::new(0) }
    }

    fn failed(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_failed_ms.store(ms.max(1), Ordering::Relaxed);
    }

    fn recent(&self) -> bool {
        let last = self.last_failed_ms.load(Ordering::Relaxed);
        last != 0 && self.since.elapsed().as_millis() as u64 <= last + OUTAGE_MEMORY.as_millis() as u64
    }
}

/// A handle on the message writers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    store: Store,
    /// One queue per writer; an application's messages always take the same one.
    senders: Arc<[mpsc::Sender<Job>]>,
}

impl MessageWriter {
    /// Starts the writers; they run until every handle is dropped.
    pub fn start(store: Store) -> Self {
        let outage = Arc::new(Outage::new());
        let senders: Vec<mpsc::Sender<Job>> = (0..WRITERS)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(MAX_BATCH * 2);
                tokio::spawn(write_loop(store.clone(), receiver, outage.clone()));
                sender
            })
            .collect();
        Self { store, senders: senders.into() }
    }

    /// The queue of the writer that writes `app_id`'s messages.
    fn sender_for(&self, app_id: &str) -> &mpsc::Sender<Job> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        app_id.hash(&mut hasher);
        &self.senders[(hasher.finish() % self.senders.len() as u64) as usize]
    }

    /// Writes a message and its deliveries durably, like [`Store::create_message`].
    pub async fn create(&self, new: NewMessage, deliveries: Vec<PlannedDelivery>) -> StoreResult<Created> {
        if new.event_id.is_some() {
            return self.store.create_message(new, &deliveries).await;
        }
        let (reply, answer) = oneshot::channel();
        let sender = self.sender_for(new.app_id.as_str());
        if let Err(mpsc::error::SendError(job)) =
            sender.send(Job { new, deliveries, reply, queued_at: Instant::now() }).await
        {
            return self.store.create_message(job.new, &job.deliveries).await;
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Unavailable("the message writer stopped".into())))
    }
}

async fn write_loop(store: Store, mut receiver: mpsc::Receiver<Job>, outage: Arc<Outage>) {
    // Each writer keeps its own connection (see `crate::session`).
    let mut session = store.session();
    loop {
        let mut jobs = Vec::new();
        let Some(first) = receiver.recv().await else { return };
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if outage.recent() {
            let (spent, fresh): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|job| job.queued_at.elapsed() >= WAITED_IN_OUTAGE);
            for job in spent {
                let _ = job.reply.send(Err(StoreError::Unavailable("the database did not answer just now".into())));
            }
            jobs = fresh;
        }
        if !jobs.is_empty() && write(&mut session, jobs).await {
            outage.failed();
        }
    }
}

/// Writes the jobs' messages and answers each; returns whether the database could not
/// be reached.
async fn write(session: &mut Session, mut jobs: Vec<Job>) -> bool {
    if jobs.len() == 1 {
        let job = jobs.remove(0);
        let result = session.create_message(job.new, &job.deliveries).await;
        let unreachable = matches!(result, Err(StoreError::Unavailable(_)));
        let _ = job.reply.send(result);
        return unreachable;
    }
    let batch: Vec<(NewMessage, Vec<PlannedDelivery>)> =
        jobs.iter().map(|job| (job.new.clone(), job.deliveries.clone())).collect();
    match session.create_messages(batch).await {
        Ok(created) => {
            for (job, created) in jobs.into_iter().zip(created) {
                let _ = job.reply.send(Ok(created));
            }
            false
        }
        // The database is away: each message alone would wait as long again for a
        // connection, so a batch of n would answer after (n + 1) acquire timeouts.
        Err(StoreError::Unavailable(reason)) => {
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Unavailable(reason.clone())));
            }
            true
        }
        Err(error) => {
            tracing::debug!(%error, count = jobs.len(), "a message batch failed; writing its messages one by one");
            for job in jobs {
                let _ = job.reply.send(session.create_message(job.new, &job.deliveries).await);
            }
            false
        }
    }
}
