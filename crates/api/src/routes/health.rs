//! Health: `GET /api/v1/health` and `/api/v1/health/ping` answer `204` while the
//! process serves (no authentication, no dependency checks: this is liveness).
//! `GET /api/v1/health/ready` is readiness: `200` only while the database and Redis
//! both answer within a second.

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

/// Each dependency's state: `ok`, or what went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessOut {
    pub database: String,
    pub redis: String,
}

async fn check<E: std::fmt::Display>(ping: impl std::future::Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("error: {error}")),
        Err(_) => Err(format!("error: no answer within {} ms", READY_TIMEOUT.as_millis())),
    }
}

/// Whether this process can do its work: the database and Redis both answer.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "Health", operation_id = "herald.health.ready",
    responses((status = 200, body = ReadinessOut, description = "The database and Redis answer."),
        (status = 503, body = ReadinessOut, description = "The database or Redis does not answer.")))]
pub async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<ReadinessOut>) {
    let (database, redis) = tokio::join!(check(state.store.ping()), check(state.queue.ping()));
    let status = if database.is_ok() && redis.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let text = |result: Result<(), String>| result.err().unwrap_or_else(|| "ok".to_owned());
    (status, Json(ReadinessOut { database: text(database), redis: text(redis) }))
}
