//! Attempts: `GET /api/v1/app/{app_id}/attempt/msg/{msg_id}`.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use herald_store::entity::attempt;
use serde::Serialize;

use super::{paginate, ListResponse, PageQuery};
use crate::auth::AuthenticatedTenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidQuery;
use crate::ApiState;

/// Svix's `MessageAttemptOut`, plus Herald's `outcome` class, `attemptNumber` and
/// `nextAttempt` (when the delivery was scheduled to be tried again after this one).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttemptOut {
    pub id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub response: String,
    pub response_status_code: i16,
    pub response_duration_ms: i64,
    /// Svix's MessageStatus: 0 success, 1 pending, 2 fail, 3 sending.
    pub status: i16,
    pub status_text: &'static str,
    pub timestamp: DateTime<Utc>,
    /// Svix's MessageAttemptTriggerType: 0 scheduled, 1 manual.
    pub trigger_type: i16,
    pub outcome: String,
    pub attempt_number: i32,
    pub next_attempt: Option<DateTime<Utc>>,
}

fn status_text(status: i16) -> &'static str {
    match status {
        0 => "success",
        1 => "pending",
        3 => "sending",
        _ => "fail",
    }
}

impl From<attempt::Model> for MessageAttemptOut {
    fn from(model: attempt::Model) -> Self {
        Self {
            id: model.id,
            msg_id: model.msg_id,
            endpoint_id: model.endpoint_id,
            url: model.url,
            response: model.response,
            response_status_code: model.response_status_code,
            response_duration_ms: model.response_duration_ms,
            status: model.status,
            status_text: status_text(model.status),
            timestamp: model.created_at,
            trigger_type: model.trigger_type,
            outcome: model.outcome_class,
            attempt_number: model.attempt_number,
            next_attempt: model.next_attempt_at,
        }
    }
}

/// A message's attempts across its endpoints, newest first.
pub async fn list_message_attempts(
    State(state): State<ApiState>,
    AuthenticatedTenant(tenant): AuthenticatedTenant,
    Path((app_id, msg_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let page = query.page();
    let rows = state.store.list_message_attempts(&tenant, &app.id, &msg_id, &page).await?;
    Ok(Json(paginate(rows, &page, |row| row.id.clone(), MessageAttemptOut::from)))
}
