//! Herald's HTTP API.
//!
//! This crate owns the public contract: the Svix-compatible `/api/v1` routes
//! ([`routes`]), their JSON shapes, authentication ([`auth`]) and the error policy
//! ([`error`], read it before adding a route). Handlers validate, call the store,
//! and — for message creation — enqueue after the database commit.
//!
//! **What it must not know:** SQL (it calls `herald_store::Store` methods), Redis keys
//! (it calls `herald_queue::Queue`), or how deliveries are attempted. It is the only
//! crate that knows HTTP request and response types of the public API.

pub mod auth;
pub mod backlog;
pub mod cache;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod feed_watch;
pub mod idempotency;
mod ids;
pub mod ingest_limit;
pub mod openapi;
mod openapi_import;
pub mod routes;
pub mod schema;
pub mod service;
pub mod shapes;
mod strict;
pub mod validate;

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use herald_queue::Queue;
use herald_store::Store;
use secrecy::SecretString;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use extract::MAX_JSON_DEPTH;

/// The API's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The largest message payload accepted, in bytes (compact JSON).
    pub max_payload_bytes: usize,
    /// How deeply a request body may nest arrays and objects ([`MAX_JSON_DEPTH`] at most).
    pub max_json_depth: usize,
    /// Where users reach this Herald (portal links are built on it).
    pub public_url: String,
    /// The operator token guarding `/admin/v1`; `None` turns the admin API off.
    pub operator_token: Option<SecretString>,
    /// The uid of each tenant's operational application (`operational_app_uid`), whose
    /// endpoints the operational-webhook routes manage; `None` turns them off.
    pub operational_app_uid: Option<String>,
    /// The dashboard's built files, served at `/` ([`dashboard`]); `None` serves none.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// The workers' retry schedule, to show a delivery's upcoming attempts.
    pub retry_schedule: herald_core::RetrySchedule,
    /// Refuse endpoints whose URL is not `https://` (`https_only`).
    pub https_only: bool,
    /// The longest a poll may wait for new messages (`wait=`), and the longest a
    /// Server-Sent Events stream stays quiet before a keep-alive (`poll_max_wait`).
    pub poll_max_wait: std::time::Duration,
    /// Messages per second a tenant may create in this process, unless the tenant has
    /// its own limit; 0 is no limit (`ingest_rate_limit`).
    pub ingest_rate_limit: u32,
    /// Deliveries a tenant may have waiting before message creation is refused, unless
    /// the tenant has its own cap; 0 is no cap (`max_backlog`).
    pub max_backlog: u64,
    /// How long a tenant's oldest ready delivery may have waited before message creation
    /// is refused, unless the tenant has its own cap; `None` is no cap (`max_backlog_age`).
    pub max_backlog_age: Option<std::time::Duration>,
    /// How long payloads and messages are kept, unless the tenant has its own periods.
    pub retention: herald_core::Retention,
}

impl ApiConfig {
    /// The largest request body read: the payload limit plus room for the envelope.
    pub fn max_request_bytes(&self) -> usize {
        self.max_payload_bytes.saturating_add(64 * 1024)
    }
}

/// What every handler shares. Cheap to clone: one reference count, because axum
/// clones the state for every extractor of every request (cloning the parts one by
/// one was about 1 % of the machine under load).
#[derive(Clone, Debug)]
pub struct ApiState(Arc<SharedState>);

/// The parts of [`ApiState`], reached through it by `Deref`.
#[derive(Debug)]
pub struct SharedState {
    pub store: Store,
    pub queue: Queue,
    pub config: ApiConfig,
    /// Compiled event type schemas.
    pub schemas: schema::SchemaCache,
    /// API keys and application routing on the message-create hot path.
    pub cache: cache::HotCache,
    /// Group commit for message creation.
    pub messages: herald_store::MessageWriter,
    /// Queues committed deliveries in batches, off the request path.
    pub enqueuer: herald_queue::Enqueuer,
    /// The counters this API moves (messages accepted, ingest refused).
    pub metrics: Arc<herald_observability::Metrics>,
    /// Wakes long-polling readers when their application's feed moves.
    pub feed_watch: Arc<feed_watch::FeedWatch>,
    /// Each tenant's ingest rate limiter in this process.
    pub ingest_limits: ingest_limit::IngestLimits,
    /// The last backlog read of each tenant that sent to this process lately.
    pub backlogs: Arc<backlog::Backlogs>,
}

impl std::ops::Deref for ApiState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl ApiState {
    /// Starts the message writers and the enqueuer, so it must run inside a tokio runtime.
    pub fn new(store: Store, queue: Queue, config: ApiConfig, metrics: Arc<herald_observability::Metrics>) -> Self {
        Self(Arc::new(SharedState {
            metrics,
            messages: herald_store::MessageWriter::start(store.clone()),
            enqueuer: herald_queue::Enqueuer::start(queue.clone()),
            feed_watch: feed_watch::FeedWatch::start(store.clone()),
            backlogs: backlog::Backlogs::start(queue.clone()),
            store,
            queue,
            config,
            schemas: schema::SchemaCache::default(),
            cache: cache::HotCache::default(),
            ingest_limits: ingest_limit::IngestLimits::default(),
        }))
    }
}

/// The `/api/v1` router, without trailing-slash handling (see [`service`]).
pub fn router(state: ApiState) -> Router {
    let (router, document) = routes::router_with_doc().split_for_parts();
    let reference = openapi::reference_page(&document);
    let document = document.to_pretty_json().expect("the OpenAPI document serialises");
    router
        .route("/api/v1/openapi.json", get(move || async move { ([(CONTENT_TYPE, "application/json")], document) }))
        .route("/api/v1/docs", get(move || async move { Html(reference) }))
        .fallback(dashboard::fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ingest_limit::limit_ingest))
        .layer(axum::middleware::from_fn_with_state(state.clone(), invalidate_on_write))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_refused_messages))
        .layer(axum::middleware::from_fn(refuse_undecodable_paths))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Any request that may change applications, endpoints, keys or tenants moves the
/// hot-path cache's generation when it finishes (see [`cache`]). Message creation
/// does not: it is the path the cache serves.
async fn invalidate_on_write(
    axum::extract::State(state): axum::extract::State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method();
    let reads_only = method == axum::http::Method::GET || method == axum::http::Method::HEAD;
    let creates_message = request.uri().path().trim_end_matches('/').ends_with("/msg");
    let response = next.run(request).await;
    if !reads_only && !creates_message {
        state.cache.invalidate_after_write();
    }
    response
}

/// A path whose percent-escapes are not UTF-8 (`/api/v1/app/%FF`) gets the API's
/// usual `{code, detail}` body (`400 invalid_path`) instead of the router's plain
/// text, whatever route it was meant for.
async fn refuse_undecodable_paths(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if percent_encoding::percent_decode_str(request.uri().path()).decode_utf8().is_err() {
        return ApiError::InvalidPath("the path's percent-escapes do not decode to UTF-8".into()).into_response();
    }
    next.run(request).await
}

/// Counts message-create requests answered with a 4xx, by error code
/// (`herald_ingest_rejected_total`). Accepted messages are counted by the handler,
/// which knows the tenant.
async fn count_refused_messages(
    axum::extract::State(state): axum::extract::State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path().trim_end_matches('/');
    let creates_message =
        request.method() == axum::http::Method::POST && path.starts_with("/api/v1/app/") && path.ends_with("/msg");
    let response = next.run(request).await;
    if creates_message && response.status().is_client_error() {
        match response.extensions().get::<error::ErrorCode>() {
            Some(error::ErrorCode(code)) => state.metrics.ingest_rejected(code),
            None => state.metrics.ingest_rejected(&format!("http_{}", response.status().as_u16())),
        }
    }
    response
}

/// The API as served: every route answers with and without a trailing slash, as
/// older SDKs and hand-written clients add one.
pub fn service(state: ApiState) -> NormalizePath<Router> {
    tower::Layer::layer(&NormalizePathLayer::trim_trailing_slash(), router(state))
}
