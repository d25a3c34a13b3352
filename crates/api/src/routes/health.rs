//! `GET /api/v1/health`: the process is up and serving (no authentication).

use axum::http::StatusCode;

pub async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}
