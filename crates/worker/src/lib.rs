//! Herald's delivery worker.
//!
//! A worker runs these loops over the shared queue:
//! - the **dispatcher** ([`dispatcher`]) reads due deliveries from every tenant
//!   partition, puts each in its endpoint's lane ([`lanes`]: per-endpoint and
//!   per-tenant concurrency, overflow parked in the delayed set), asks the endpoint's
//!   circuit breaker ([`breakers`]) and rate limit ([`limits`]), and attempts it
//!   ([`attempt::process`]) with at most `max_in_flight` in flight;
//! - the **promoter** moves retries whose time has come from the delayed set back to
//!   the stream (an atomic script; safe with any number of workers);
//! - the **recorder** ([`recorder`]) commits finished attempts in batches and then
//!   acknowledges or parks their queue entries in one round trip;
//! - the **liveness** loop renews this worker's lease and, when another worker's
//!   lease lapses, hands everything that worker held back to the streams at once;
//!   the dispatcher itself hands back entries it left unacknowledged too long;
//! - the **reconciler** ([`reconciler`]) re-queues deliveries the database says are
//!   due but Redis has no trace of (Redis flushed or restarted empty).
//!
//! On shutdown the dispatcher stops reading, in-flight attempts get a grace period,
//! and whatever is still unfinished is handed back to the stream for another worker.
//!
//! **What it must not know:** SQL or Redis keys (it calls the store and the queue),
//! or the API's request types.

pub mod attempt;
pub mod breakers;
pub mod dispatcher;
pub mod lanes;
pub mod limits;
pub mod operational;
pub mod reconciler;
pub mod recorder;
pub mod retention;
pub mod sender;
pub mod ssrf;
pub mod tasks;

use std::sync::Arc;
use std::time::Duration;

use herald_core::breaker::BreakerPolicy;
use herald_core::DeliveryPolicy;
use herald_queue::{Queue, QueueError};
use herald_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

pub use sender::{HttpSender, SenderConfig};

/// Everything that can stop one delivery's processing (it is then retried).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("endpoint cannot be signed for: {0}")]
    BadEndpoint(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the attempt writer has stopped")]
    RecorderStopped,
}

/// The worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's consumer name in the group; unique per process.
    pub consumer_name: String,
    pub policy: DeliveryPolicy,
    pub sender: SenderConfig,
    /// Attempts in flight at once, across all endpoints.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one endpoint.
    pub endpoint_concurrency: usize,
    /// Attempts in flight at once for one tenant (see [`lanes`]).
    pub tenant_concurrency: usize,
    /// When endpoints' circuit breakers open and for how long.
    pub breaker: BreakerPolicy,
    /// How fast an endpoint is sent to when its breaker closes after being open.
    pub ramp: herald_core::ramp::RampPolicy,
    /// Entries read from one partition per read.
    pub read_batch: usize,
    /// How long an entry this worker read may sit unacknowledged before it hands it
    /// back to the stream (its attempt's record failed). Longer than the request
    /// timeout, or a slow attempt gets duplicated.
    pub reclaim_idle: Duration,
    /// How long this worker's lease lasts without renewal; renewed every third of it.
    /// When it lapses (the worker died), a survivor hands back everything it held.
    pub worker_lease: Duration,
    /// How often the reconciler compares the database with Redis.
    pub reconcile_interval: Duration,
    /// A delivery this overdue and unknown to Redis is re-queued.
    pub reconcile_grace: Duration,
    /// How long in-flight attempts may finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// Also send `svix-id`, `svix-timestamp` and `svix-signature`.
    pub send_svix_headers: bool,
    /// An endpoint failing longer than this (or disabled) is redriven automatically when
    /// it comes back; `None`: never.
    pub auto_redrive_after: Option<Duration>,
    /// An endpoint whose every attempt has failed for this long is disabled.
    pub endpoint_disable_after: Option<Duration>,
    /// The `uid` of each tenant's operational application (see [`operational`]).
    pub operational_app_uid: Option<String>,
    /// How often the outbox of operational notices is relayed.
    pub operational_relay_interval: Duration,
    /// How long payloads and messages are kept, unless a tenant says otherwise.
    pub retention: herald_core::Retention,
    /// How often the pruner looks for expired payloads and messages (see [`retention`]).
    pub prune_interval: Duration,
}

/// What every loop and attempt shares.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    pub store: Store,
    pub queue: Queue,
    pub sender: HttpSender,
    pub config: WorkerConfig,
    pub lanes: Arc<lanes::Lanes<attempt::Dispatch>>,
    pub breakers: Arc<breakers::Breakers>,
    pub limits: Arc<limits::RateLimits>,
    pub recorder: recorder::Recorder,
    pub metrics: Arc<herald_observability::Metrics>,
}

impl WorkerContext {
    pub fn new(
        store: Store,
        queue: Queue,
        config: WorkerConfig,
        metrics: Arc<herald_observability::Metrics>,
    ) -> Result<Self, WorkerError> {
        let sender = HttpSender::new(config.sender.clone())?;
        let timeout = config.sender.request_timeout;
        let lanes = lanes::Lanes::new(lanes::LaneLimits {
            endpoint: config.endpoint_concurrency.max(1),
            tenant: config.tenant_concurrency.max(1),
            waiting_total: config.max_in_flight.max(1) * 8,
            // Waiting in memory keeps the entry unacknowledged: stay well inside the
            // time after which another worker would take it over.
            wait_bound: config.reclaim_idle / 4,
            initial_estimate: timeout.min(Duration::from_secs(1)),
        });
        let breakers = breakers::Breakers::new(config.breaker.clone(), config.ramp, queue.clone(), timeout);
        let (store_for_recorder, queue_for_recorder) = (store.clone(), queue.clone());
        let recorder_config = recorder::RecorderConfig {
            disable_after: config.endpoint_disable_after.and_then(|after| chrono::Duration::from_std(after).ok()),
            metrics: metrics.clone(),
        };
        Ok(Self {
            store,
            queue,
            sender,
            config,
            lanes: Arc::new(lanes),
            breakers: Arc::new(breakers),
            limits: Arc::new(limits::RateLimits::default()),
            recorder: recorder::Recorder::start(store_for_recorder, queue_for_recorder, recorder_config),
            metrics,
        })
    }
}

/// Runs the worker until `shutdown` is cancelled and in-flight work is finished or
/// handed back.
pub async fn run(
    store: Store,
    queue: Queue,
    config: WorkerConfig,
    metrics: Arc<herald_observability::Metrics>,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let ctx = WorkerContext::new(store, queue, config, metrics)?;
    let background = CancellationToken::new();
    if let Err(error) = ctx.queue.renew_lease(&ctx.config.consumer_name, ctx.config.worker_lease).await {
        tracing::warn!(%error, "cannot take the worker lease yet");
    }
    let liveness = tokio::spawn(dispatcher::liveness_loop(ctx.clone(), background.clone()));
    let promoter = tokio::spawn(dispatcher::promote_loop(ctx.clone(), background.clone()));
    let reconciler = tokio::spawn(reconciler::reconcile_loop(ctx.clone(), background.clone()));
    let tasks = tokio::spawn(tasks::task_loop(ctx.clone(), background.clone()));
    let webhooks = operational::OperationalWebhooks {
        store: ctx.store.clone(),
        queue: ctx.queue.clone(),
        app_uid: ctx.config.operational_app_uid.clone(),
        retention: ctx.config.retention,
    };
    let pruner = tokio::spawn(retention::prune_loop(ctx.clone(), background.clone()));
    let relay = ctx.config.operational_relay_interval;
    let relay = tokio::spawn(operational::relay_loop(webhooks, relay, background.clone()));
    let result = dispatcher::dispatch_loop(ctx, shutdown).await;
    background.cancel();
    let _ = tokio::join!(promoter, reconciler, relay, liveness, tasks, pruner);
    result
}

/// A fresh id from the current time and ten random bytes.
pub(crate) fn fresh_id<T>(generate: impl FnOnce(u64, [u8; 10]) -> T) -> T {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    generate(millis, rand::random())
}

/// Queues ordered deliveries that the store released (their predecessor finished).
/// They are committed as due: if Redis fails here, the reconciler queues them.
pub(crate) async fn queue_released(queue: &Queue, released: &[herald_store::entity::delivery::Model]) {
    let due = herald_store::entity::delivery::due(released);
    if let Err(error) = queue.hand_off(&due).await {
        tracing::warn!(%error, count = due.len(), "cannot queue released ordered deliveries; the reconciler will");
    }
}
