//! Health: `GET /api/v1/health` and `/api/v1/health/ping` answer `204` while the
//! process serves (no authentication, no dependency checks: this is liveness).
//! `GET /api/v1/health/ready` is the API's readiness: `200` while the database answers
//! within a second. Redis is reported but not required: ingest commits to the database
//! and queues afterwards (the reconciler queues what Redis missed), so an API process
//! whose Redis is away still accepts messages and must stay in its load balancer.
//! A worker's readiness (it needs both) is `GET /ready` on the metrics listener.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;

/// How long a dependency may take to answer before it counts as unreachable.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The API process is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "Health", operation_id = "v1.health.get",
    responses((status = 204, description = "The API is serving.")))]
pub async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The API process is up (Svix's ping).
#[utoipa::path(get, path = "/api/v1/health/ping", tag = "Health", operation_id = "v1.health.ping",
    responses((status = 204, description = "The API is serving.")))]
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Each dependency's state: `ok`, or what went wrong; and which of them this role needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessOut {
    pub database: String,
    pub redis: String,
    /// The dependencies readiness depends on (`database` for the API).
    pub required: Vec<String>,
}

async fn check<E: std::fmt::Display>(ping: impl std::future::Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("error: {error}")),
        Err(_) => Err(format!("error: no answer within {} ms", READY_TIMEOUT.as_millis())),
    }
}

/// Whether the API can accept work: the database answers. Redis is reported too.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "Health", operation_id = "herald.health.ready",
    responses((status = 200, body = ReadinessOut, description = "The database answers (Redis may not)."),
        (status = 503, body = ReadinessOut, description = "The database does not answer.")))]
pub async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<ReadinessOut>) {
    readiness(&state.store, &state.queue, false).await
}

/// Checks the database and Redis at once; `503` when the database, or Redis if
/// `redis_required`, does not answer within a second. Shared with the worker's `/ready`.
pub async fn readiness(
    store: &herald_store::Store,
    queue: &herald_queue::Queue,
    redis_required: bool,
) -> (StatusCode, Json<ReadinessOut>) {
    let (database, redis) = tokio::join!(check(store.ping()), check(queue.ping()));
    let ready = database.is_ok() && (redis.is_ok() || !redis_required);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let text = |result: Result<(), String>| result.err().unwrap_or_else(|| "ok".to_owned());
    let mut required = vec!["database".to_owned()];
    if redis_required {
        required.push("redis".to_owned());
    }
    (status, Json(ReadinessOut { database: text(database), redis: text(redis), required }))
}
