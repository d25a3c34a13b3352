//! The `/api/v1` routes, one file per resource. Each file holds the resource's JSON
//! shapes (named as in Svix's OpenAPI document) and its handlers.

mod applications;
mod attempts;
mod endpoints;
mod event_types;
mod health;
mod messages;

use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::ApiState;

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/app", post(applications::create_application))
        .route("/api/v1/app/{app_id}/endpoint", post(endpoints::create_endpoint))
        .route("/api/v1/app/{app_id}/msg", post(messages::create_message))
        .route("/api/v1/app/{app_id}/attempt/msg/{msg_id}", get(attempts::list_message_attempts))
        .route("/api/v1/event-type", post(event_types::create_event_type))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({"code": "method_not_allowed", "detail": "this route does not accept this method"});
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Svix's list envelope: `{data, iterator, prevIterator, done}`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

/// Query parameters shared by list routes.
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    pub limit: Option<u64>,
    pub iterator: Option<String>,
}

impl PageQuery {
    const DEFAULT_LIMIT: u64 = 50;
    const MAX_LIMIT: u64 = 250;

    pub fn page(&self) -> herald_store::Page {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT).clamp(1, Self::MAX_LIMIT);
        herald_store::Page { limit, iterator: self.iterator.clone().filter(|it| !it.is_empty()) }
    }
}

/// Cuts a `limit + 1` row fetch into a page and its envelope.
pub fn paginate<R, T>(
    mut rows: Vec<R>,
    page: &herald_store::Page,
    id: impl Fn(&R) -> String,
    map: impl Fn(R) -> T,
) -> ListResponse<T> {
    let done = rows.len() as u64 <= page.limit;
    rows.truncate(page.limit as usize);
    let iterator = rows.last().map(id);
    // Backward paging arrives with the full list API; until then there is no previous cursor.
    ListResponse { data: rows.into_iter().map(map).collect(), iterator, prev_iterator: None, done }
}
