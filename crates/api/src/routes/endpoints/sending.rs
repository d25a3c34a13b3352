//! Sending to one endpoint on purpose: recovering what failed in a window, replaying
//! what it missed or a filtered selection of what it was sent (all three paced
//! background tasks), and an example message.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::find;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidJson;
use crate::ids::fresh;
use crate::service::accept::{accept_message, Accepted, Draft, Recipients};
use crate::shapes::MessageOut;
use crate::validate::Validator;
use crate::ApiState;
use herald_core::DeliveryStatus;
use herald_store::{ReplayFilter, TaskKind};

/// Svix's `RecoverIn`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverIn {
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Svix's `RecoverOut`. The recover runs as a background task, paced at the
/// endpoint's rate limit or on the recovery ramp; read it back with
/// `GET /api/v1/background-task/{id}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoverOut {
    /// The task's id, `qtask_…`.
    pub id: String,
    /// `running`, or `finished` when nothing matched.
    pub status: String,
    /// Always `endpoint.recover`.
    pub task: String,
    pub updated_at: DateTime<Utc>,
    /// How many dead-lettered deliveries the task restarts (Herald's addition).
    pub recovered: i64,
}

/// Re-sends every dead-lettered delivery to this endpoint created in `[since, until)`,
/// each in a fresh retry cycle with a manual first attempt, as a background task that
/// releases them at the endpoint's pace.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = "Endpoint", operation_id = "v1.endpoint.recover",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = RecoverIn, security(("HTTPBearer" = [])), responses((status = 202, body = RecoverOut), ErrorResponses))]
pub async fn recover(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<RecoverIn>,
) -> ApiResult<(StatusCode, Json<RecoverOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let until = window_end(body.since, body.until, now)?;
    let id = fresh(herald_core::BackgroundTaskId::generate);
    let task =
        state.store.start_task(&id, &existing, &TaskKind::Recover, body.since, until, now, &caller.actor()).await?;
    let out = RecoverOut {
        id: task.id.to_string(),
        status: task.status,
        task: task.task,
        updated_at: task.updated_at,
        recovered: task.total,
    };
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// The end of a task's window `[since, until)`: `until`, else now (never past now).
fn window_end(since: DateTime<Utc>, until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let until = until.unwrap_or(now).min(now + Duration::seconds(1));
    Validator::default()
        .check(since >= DateTime::UNIX_EPOCH, &["since"], "must be after 1970")
        .check(since < until, &["since"], "must be before `until` and now")
        .finish()?;
    Ok(until)
}

/// Svix's `ReplayIn`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplayIn {
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Svix's `BulkReplayIn`: which of the endpoint's deliveries to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReplayIn {
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Only messages of these event types.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Only messages sent on this channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// Only messages carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only deliveries in this state, as Svix's MessageStatus: 0 success, 2 failed (or
    /// discarded), 4 canceled (discarded); 1 pending and 3 sending select nothing, as
    /// pending deliveries are on their way and never replayed.
    #[serde(default)]
    pub status: Option<i16>,
    /// Only deliveries with an attempt answered in this class: 0 (no answer), 100, 200,
    /// 300, 400 or 500.
    #[serde(default)]
    pub status_code_class: Option<i16>,
}

/// Svix's `ReplayOut`: the background task doing the replay.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOut {
    /// The task's id, `qtask_…`.
    pub id: String,
    /// `running`, or `finished` when nothing matched.
    pub status: String,
    /// `endpoint.replay` or `endpoint.bulk-replay`.
    pub task: String,
    pub updated_at: DateTime<Utc>,
}

impl From<herald_store::entity::background_task::Model> for ReplayOut {
    fn from(task: herald_store::entity::background_task::Model) -> Self {
        Self { id: task.id.to_string(), status: task.status, task: task.task, updated_at: task.updated_at }
    }
}

/// Sends this endpoint every message of its application created in `[since, until)`
/// that never went to it and that its filters (event types, channels) accept now,
/// as a background task at the endpoint's pace. Messages that went to it are not sent
/// again.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing", tag = "Endpoint", operation_id = "v1.endpoint.replay-missing",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = ReplayIn, security(("HTTPBearer" = [])), responses((status = 202, body = ReplayOut), ErrorResponses))]
pub async fn replay_missing(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<ReplayIn>,
) -> ApiResult<(StatusCode, Json<ReplayOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let until = window_end(body.since, body.until, now)?;
    let id = fresh(herald_core::BackgroundTaskId::generate);
    let kind = TaskKind::ReplayMissing;
    let task = state.store.start_task(&id, &existing, &kind, body.since, until, now, &caller.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(task.into())))
}

/// Sends again, each in a fresh retry cycle with a manual first attempt, every
/// delivery to this endpoint created in `[since, until)` that matches the filters and
/// is no longer pending (succeeded, failed or discarded), as a background task at the
/// endpoint's pace.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay", tag = "Endpoint", operation_id = "v1.endpoint.bulk-replay",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = BulkReplayIn, security(("HTTPBearer" = [])), responses((status = 202, body = ReplayOut), ErrorResponses))]
pub async fn bulk_replay(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<BulkReplayIn>,
) -> ApiResult<(StatusCode, Json<ReplayOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let until = window_end(body.since, body.until, now)?;
    // As listings show them: a discarded delivery reads as failed (2).
    let statuses = match body.status {
        None => None,
        Some(0) => Some(vec![DeliveryStatus::Succeeded]),
        Some(1 | 3) => Some(vec![DeliveryStatus::Pending]),
        Some(2) => Some(vec![DeliveryStatus::Failed, DeliveryStatus::Discarded]),
        Some(4) => Some(vec![DeliveryStatus::Discarded]),
        Some(_) => return Err(ApiError::validation(&["status"], "must be 0, 1, 2, 3 or 4")),
    };
    let class_known = body.status_code_class.is_none_or(|class| [0, 100, 200, 300, 400, 500].contains(&class));
    Validator::default()
        .check(class_known, &["statusCodeClass"], "must be 0, 100, 200, 300, 400 or 500")
        .slug_list(body.event_types.as_deref(), 50, 256, "eventTypes")
        .finish()?;
    let filter = ReplayFilter {
        event_types: body.event_types.filter(|types| !types.is_empty()),
        channel: body.channel,
        tag: body.tag,
        statuses: statuses.map(|statuses| statuses.iter().map(|status| status.as_str().to_owned()).collect()),
        status_code_class: body.status_code_class,
    };
    let id = fresh(herald_core::BackgroundTaskId::generate);
    let kind = TaskKind::BulkReplay(filter);
    let task = state.store.start_task(&id, &existing, &kind, body.since, until, now, &caller.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(task.into())))
}

/// Svix's `EventExampleIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventExampleIn {
    pub event_type: String,
    /// Which of the schema's `examples` to send (default the first).
    #[serde(default)]
    pub example_index: Option<u32>,
}

/// Sends an example message of an event type to this endpoint only. The payload is
/// the event type's schema example when it has one, else a small ping payload. It is
/// accepted like any message (schema check in the tenant's mode, metrics, trace).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", tag = "Endpoint", operation_id = "v1.endpoint.send-example",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EventExampleIn, security(("HTTPBearer" = [])), responses((status = 202, body = MessageOut), ErrorResponses))]
pub async fn send_example(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EventExampleIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    Validator::default().slug(&body.event_type, 256, &["eventType"]).finish()?;
    let tenant = caller.tenant_id();
    let event_type = state.store.find_event_type(&tenant, &body.event_type).await?;
    // An event type behind feature flags the portal token lacks is not there for it.
    if event_type.as_ref().is_some_and(|found| !caller.sees_feature(&crate::routes::event_types::flags_of(found))) {
        return Err(ApiError::NotFound("event type"));
    }
    let index = body.example_index.unwrap_or(0) as usize;
    let examples: Vec<serde_json::Value> = event_type
        .as_ref()
        .and_then(|et| crate::schema::latest_schema(et.schemas.as_ref()))
        .and_then(|schema| schema.get("examples").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default();
    let payload = match examples.get(index) {
        Some(example) if example.is_object() => example.clone(),
        Some(_) => {
            return Err(ApiError::validation(&["exampleIndex"], "the example at this index is not a JSON object"))
        }
        None if !examples.is_empty() => {
            return Err(ApiError::validation(&["exampleIndex"], format!("the schema has {} examples", examples.len())))
        }
        None => serde_json::json!({"herald": "example", "eventType": body.event_type}),
    };
    let draft = Draft {
        event_type: body.event_type,
        event_id: None,
        payload: RawValue::from_string(payload.to_string()).map_err(|e| ApiError::Internal(e.to_string()))?,
        channels: None,
        tags: None,
        ordering_key: None,
        deliver_at: None,
        payload_retention: None,
    };
    match accept_message(&state, &caller.tenant, &app, Recipients::Only(&existing), draft).await? {
        Accepted::New { message, payload } => Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, payload)))),
        // An example has no eventId, so it is never a repeat.
        Accepted::Duplicate(original) => Ok((StatusCode::ACCEPTED, Json(MessageOut::from_model(original, true)))),
    }
}
