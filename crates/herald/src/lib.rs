//! The `herald` binary's library half.
//!
//! This crate wires the others together: it reads [`Settings`], sets up logging
//! ([`telemetry`]), connects the store and the queue, and runs the roles — the API,
//! the worker, or both (`serve`). `main.rs` only parses the command line; tests start
//! Herald in-process through [`start`].
//!
//! **What it must not know:** anything the other crates own. No SQL, Redis keys, HTTP
//! shapes or delivery rules live here; only configuration and process lifecycle.

pub mod keys;
pub mod metrics;
pub mod settings;
pub mod telemetry;

use std::net::SocketAddr;

use anyhow::Context;
use chrono::Utc;
use herald_api::{ApiConfig, ApiState};
use herald_core::TenantId;
use herald_queue::{Queue, QueueConfig};
use herald_store::Store;
use herald_worker::{SenderConfig, WorkerConfig};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

/// Which parts of Herald a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// API and worker in one process (`herald serve`).
    Both,
    ApiOnly,
    WorkerOnly,
}

impl Roles {
    fn api(self) -> bool {
        matches!(self, Self::Both | Self::ApiOnly)
    }

    fn worker(self) -> bool {
        matches!(self, Self::Both | Self::WorkerOnly)
    }
}

/// A started Herald: where the API listens, and the task that ends after shutdown.
#[derive(Debug)]
pub struct Running {
    pub api_address: Option<SocketAddr>,
    /// Where `GET /metrics` answers, unless `metrics_listen` is empty.
    pub metrics_address: Option<SocketAddr>,
    pub store: Store,
    pub queue: Queue,
    pub task: JoinHandle<anyhow::Result<()>>,
}

/// How long shutdown waits for the enqueuer to hand the last deliveries to Redis.
const ENQUEUER_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

static AUTOVACUUM_WARNING: std::sync::Once = std::sync::Once::new();
static COLLATION_WARNING: std::sync::Once = std::sync::Once::new();

/// Opens the database (creating and migrating it as configured).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url.expose_secret();
    herald_store::ensure_database_exists(url).await.context("while creating the database")?;
    let (keyring, key_source) = keys::load_keyring(settings)?;
    let mut store = Store::connect(
        url,
        herald_store::PoolOptions {
            max_connections: settings.database_max_connections,
            acquire_timeout: settings.database_acquire_timeout,
        },
        keyring,
    )
    .await
    .context("while connecting to the database")?;
    if let keys::KeySource::File(path) = &key_source {
        let path = path.clone();
        store = store.reload_keys_with(Box::new(move || {
            let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
            herald_store::Keyring::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
        }));
    }
    if settings.migrate_on_start {
        store.migrate().await.context("while applying migrations")?;
    } else {
        let pending = store.pending_migrations().await.context("while checking migrations")?;
        anyhow::ensure!(pending == 0, "the database is {pending} migration(s) behind; run `herald migrate` first");
    }
    store.check_keyring().await.with_context(|| {
        format!("the database's secrets do not open with {key_source}: restore the key that sealed them")
    })?;
    if let Some(sealed) =
        store.seal_plain_secrets_once(Utc::now()).await.context("while sealing secrets stored in the clear")?
    {
        tracing::info!(rows = sealed, "sealed the secrets stored before encryption at rest");
    }
    if !COLLATION_WARNING.is_completed()
        && !store.byte_order_text().await.context("while reading the database's collation")?
    {
        COLLATION_WARNING.call_once(|| {
            tracing::warn!(
                "the database compares text in a linguistic order, not byte order: Herald's ids sort by time only \
                 in byte order, so time windows and paging may skip or repeat items; create the database with \
                 LC_COLLATE 'C' (docs/operations.md)"
            );
        });
    }
    if !AUTOVACUUM_WARNING.is_completed()
        && store.autovacuum_off().await.context("while reading the database's settings")?
    {
        // Once per process: tests and the bench open many stores on one server.
        AUTOVACUUM_WARNING.call_once(|| {
            tracing::warn!(
                "PostgreSQL runs with autovacuum off: dead rows of Herald's tables are never reclaimed and \
                 their statistics never refreshed; turn it on (docs/operations.md)"
            );
        });
    }
    Ok(store)
}

/// Connects to Redis.
pub async fn open_queue(settings: &Settings) -> anyhow::Result<Queue> {
    let config = QueueConfig {
        redis_url: settings.redis_url.expose_secret().to_owned(),
        prefix: settings.redis_prefix.clone(),
        command_timeout: settings.redis_command_timeout,
        tls_ca: match settings.redis_tls_ca_file.trim() {
            "" => None,
            path => {
                Some(std::fs::read(path).with_context(|| format!("setting `redis_tls_ca_file`: cannot read {path}"))?)
            }
        },
    };
    Queue::connect(&config).await.context("while connecting to Redis")
}

/// Applies every pending migration (`herald migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url.expose_secret();
    herald_store::ensure_database_exists(url).await.context("while creating the database")?;
    let (keyring, _) = keys::load_keyring(settings)?;
    let store = Store::connect(url, herald_store::PoolOptions::with_max_connections(1), keyring)
        .await
        .context("while connecting to the database")?;
    store.migrate().await.context("while applying migrations")?;
    store.check_keyring().await.context("the database's secrets do not open with the configured key")?;
    store.seal_plain_secrets_once(Utc::now()).await.context("while sealing secrets stored in the clear")?;
    store.close().await?;
    Ok(())
}

/// A new tenant and its first API key (shown once; only its hash is stored).
#[derive(Debug)]
pub struct CreatedTenant {
    pub id: TenantId,
    pub api_key: String,
}

/// Forgets idempotency keys past their lifetime, every ten minutes, until shutdown.
async fn prune_idempotency_keys(store: Store, shutdown: CancellationToken) {
    let lifetime = chrono::Duration::hours(herald_api::idempotency::KEY_LIFETIME_HOURS);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
        }
        match store.prune_idempotency_keys(Utc::now() - lifetime).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "forgot expired idempotency keys"),
            Err(error) => tracing::warn!(%error, "could not prune idempotency keys"),
        }
    }
}

/// Creates a tenant (`herald tenant create <name>`).
pub async fn create_tenant(settings: &Settings, name: &str) -> anyhow::Result<CreatedTenant> {
    let store = open_store(settings).await?;
    let (tenant, api_key) =
        herald_api::service::tenants::new_tenant(&store, name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await?;
    Ok(CreatedTenant { id: tenant.id.into_inner(), api_key })
}

/// Starts the given roles. They run until `shutdown` is cancelled; then the API stops
/// accepting, the worker drains or hands back in-flight deliveries, and `task` ends.
pub async fn start(settings: &Settings, roles: Roles, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let store = open_store(settings).await?;
    let queue = open_queue(settings).await?;
    let endpoint_labels = settings
        .metrics_endpoint_labels
        .then_some(herald_observability::EndpointLabels { limit: settings.metrics_endpoint_label_limit });
    let metrics = std::sync::Arc::new(herald_observability::Metrics::new(env!("CARGO_PKG_VERSION"), endpoint_labels));
    metrics.set_worker_up(roles.worker());

    let mut metrics_address = None;
    let metrics_task = match settings.metrics_address()? {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("while binding {address} for /metrics (setting `metrics_listen`)"))?;
            metrics_address = Some(listener.local_addr()?);
            let router = metrics::router(metrics.clone(), queue.clone(), store.clone());
            let stop = shutdown.clone();
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .context("while serving /metrics")
            }))
        }
        None => None,
    };

    let mut api_address = None;
    let api_task = if roles.api() {
        let address = settings.listen_address()?;
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("while binding {address}"))?;
        api_address = Some(listener.local_addr()?);
        let operator_token = settings.operator_token.expose_secret().trim();
        if let Some(rate) = settings.dead_letter_replay_rate {
            tracing::warn!(
                rate,
                "setting `dead_letter_replay_rate` no longer has an effect: a dead-letter replay runs \
                as background tasks at each endpoint's `rateLimit` or recovery ramp; remove it from the configuration"
            );
        }
        let config = ApiConfig {
            max_payload_bytes: settings.max_payload_bytes,
            max_json_depth: settings.max_json_depth,
            public_url: settings.public_url(),
            operator_token: (!operator_token.is_empty()).then(|| operator_token.to_owned().into()),
            operational_app_uid: Some(settings.operational_app_uid.trim().to_owned()).filter(|uid| !uid.is_empty()),
            dashboard_dir: settings.dashboard_dir(),
            retry_schedule: settings.delivery_policy()?.schedule,
            https_only: settings.https_only,
            poll_max_wait: settings.poll_max_wait,
            ingest_rate_limit: settings.ingest_rate_limit,
            max_backlog: settings.max_backlog,
            max_backlog_age: settings.max_backlog_age,
            retention: settings.retention(),
        };
        let state = ApiState::new(store.clone(), queue.clone(), config, metrics.clone());
        tokio::spawn(prune_idempotency_keys(store.clone(), shutdown.clone()));
        let enqueuer = state.enqueuer.clone();
        let service = herald_api::service(state);
        let stop = shutdown.clone();
        Some(tokio::spawn(async move {
            let make_service = axum::ServiceExt::<axum::extract::Request>::into_make_service(service);
            let served = axum::serve(listener, make_service)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .context("while serving the API");
            // The last requests' deliveries reach Redis before Herald stops, unless Redis
            // is away: then they are left to the reconciler rather than holding shutdown.
            if tokio::time::timeout(ENQUEUER_FLUSH, enqueuer.flush()).await.is_err() {
                tracing::warn!("deliveries still being queued at shutdown; the reconciler will queue them");
            }
            served
        }))
    } else {
        None
    };

    let worker_task = if roles.worker() {
        let config = worker_config(settings)?;
        let (store, queue, stop, metrics) = (store.clone(), queue.clone(), shutdown.clone(), metrics.clone());
        Some(tokio::spawn(async move {
            herald_worker::run(store, queue, config, metrics, stop).await.context("while running the worker")
        }))
    } else {
        None
    };

    let closing_store = store.clone();
    let task = tokio::spawn(async move {
        let mut result = Ok(());
        for handle in [api_task, worker_task, metrics_task].into_iter().flatten() {
            let outcome = handle.await.context("a Herald task panicked").and_then(|inner| inner);
            if let Err(error) = outcome {
                // One role failed: stop the other rather than run half a Herald.
                shutdown.cancel();
                result = result.and(Err(error));
            }
        }
        closing_store.close().await.context("while closing the database")?;
        result
    });
    Ok(Running { api_address, metrics_address, store, queue, task })
}

fn worker_config(settings: &Settings) -> anyhow::Result<WorkerConfig> {
    Ok(WorkerConfig {
        consumer_name: format!("worker-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        policy: settings.delivery_policy()?,
        sender: SenderConfig {
            request_timeout: settings.request_timeout,
            connect_timeout: settings.connect_timeout,
            max_response_bytes: settings.max_response_bytes,
            targets: herald_worker::ssrf::TargetPolicy {
                allow_private_targets: settings.allow_private_targets,
                allowed_networks: herald_worker::ssrf::parse_networks(&settings.allowed_target_cidrs)
                    .map_err(|error| anyhow::anyhow!("setting `allowed_target_cidrs`: {error}"))?,
                https_only: settings.https_only,
            },
        },
        max_in_flight: settings.worker_concurrency,
        endpoint_concurrency: settings.endpoint_concurrency,
        tenant_concurrency: settings.tenant_concurrency,
        breaker: settings.breaker_policy(),
        ramp: settings.ramp_policy(),
        read_batch: settings.read_batch,
        reclaim_idle: settings.reclaim_idle,
        worker_lease: settings.worker_lease,
        reconcile_interval: settings.reconcile_interval,
        reconcile_grace: settings.reconcile_grace,
        shutdown_grace: settings.shutdown_grace,
        send_svix_headers: settings.send_svix_headers,
        endpoint_disable_after: settings.endpoint_disable_after,
        auto_redrive_after: settings.auto_redrive_after,
        operational_app_uid: Some(settings.operational_app_uid.trim().to_owned()).filter(|uid| !uid.is_empty()),
        operational_relay_interval: settings.operational_relay_interval,
        retention: settings.retention(),
        prune_interval: settings.prune_interval,
    })
}
