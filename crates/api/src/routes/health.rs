//! Health: `GET /api/v1/health` and `/api/v1/health/ping` answer `204` while the
//! process serves (no authentication, no dependency checks: this is liveness).

use axum::http::StatusCode;

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
