//! Attempts: every HTTP try of a delivery, listed by message or by endpoint; the
//! messages an endpoint was sent and the endpoints a message went to; and resend.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::delivery::SvixMessageStatus;
use herald_core::DeliveryStatus;
use herald_store::entity::{attempt, delivery};
use herald_store::{AttemptFilter, MessageFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{delivery_status_filter, envelope, split_list, ListResponse, PageQuery};
use crate::auth::{Caller, ScopedReader};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidQuery;
use crate::shapes::{EndpointOut, MessageOut};
use crate::ApiState;

/// Svix's `MessageAttemptOut`, plus Herald's `outcome` class, `attemptNumber` and
/// `nextAttempt` (when the delivery was scheduled to be tried again after this one).
#[derive(Debug, Serialize, ToSchema)]
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
    /// What happened: `success`, `http_status`, `timeout`, `connect`, `dns`, …
    pub outcome: String,
    pub attempt_number: i32,
    pub next_attempt: Option<DateTime<Utc>>,
    /// The request headers Herald sent (signature headers included). Herald's addition.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub request_headers: Option<serde_json::Value>,
    /// The response headers received; absent when no response came. Herald's addition.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub response_headers: Option<serde_json::Value>,
    /// The message, when listed `with_content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<MessageOut>,
}

pub fn status_text(status: i16) -> &'static str {
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
            id: model.id.to_string(),
            msg_id: model.msg_id.to_string(),
            endpoint_id: model.endpoint_id.to_string(),
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
            request_headers: model.request_headers.as_deref().and_then(recorded_headers),
            response_headers: model.response_headers.as_deref().and_then(recorded_headers),
            msg: None,
        }
    }
}

/// A delivery's state as Svix's MessageStatus code.
fn delivery_status(model: &delivery::Model) -> i16 {
    let status = match DeliveryStatus::parse(model.status.as_str()) {
        Some(DeliveryStatus::Succeeded) => SvixMessageStatus::Success,
        Some(DeliveryStatus::Pending) => SvixMessageStatus::Pending,
        _ => SvixMessageStatus::Fail,
    };
    status.code().into()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAttemptsQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// Only attempts with this MessageStatus (0 success, 2 fail).
    pub status: Option<i16>,
    /// Only responses in this class: 0 (none), 100, 200, 300, 400 or 500.
    pub status_code_class: Option<i16>,
    /// Only attempts of messages sent on this channel.
    pub channel: Option<String>,
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<String>,
    /// Only attempts made before this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub before: Option<DateTime<Utc>>,
    /// Only attempts made after this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub after: Option<DateTime<Utc>>,
    /// Include each attempt's message.
    #[serde(default)]
    pub with_content: bool,
    /// Only attempts of messages of these event types (repeated or comma-separated).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

impl ListAttemptsQuery {
    fn filter(&self) -> ApiResult<AttemptFilter> {
        if let Some(class) = self.status_code_class {
            if ![0, 100, 200, 300, 400, 500].contains(&class) {
                return Err(ApiError::query("status_code_class", "must be 0, 100, 200, 300, 400 or 500"));
            }
        }
        Ok(AttemptFilter {
            status: self.status,
            status_code_class: self.status_code_class,
            endpoint_id: self.endpoint_id.clone(),
            before: self.before,
            after: self.after,
            message: MessageFilter {
                event_types: split_list(&self.event_types),
                channel: self.channel.clone(),
                ..MessageFilter::default()
            },
        })
    }

    fn page(&self) -> ApiResult<herald_store::Page> {
        PageQuery { limit: self.limit, iterator: self.iterator.clone() }.page()
    }
}

async fn attach_messages(state: &ApiState, items: &mut [MessageAttemptOut]) -> ApiResult<()> {
    let ids: Vec<String> = items.iter().map(|a| a.msg_id.clone()).collect();
    let messages: HashMap<String, _> =
        state.store.messages_by_id(ids).await?.into_iter().map(|m| (m.id.to_string(), m)).collect();
    for item in items {
        item.msg = messages.get(&item.msg_id).cloned().map(|m| MessageOut::from_model(m, true));
    }
    Ok(())
}

/// Lists an endpoint's attempts, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = "Message Attempt", operation_id = "v1.message-attempt.list-by-endpoint",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), ListAttemptsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<MessageAttemptOut>), ErrorResponses))]
pub async fn list_by_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<ListAttemptsQuery>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = state.store.find_endpoint(&app.id, &endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))?;
    let page = query.page()?;
    let listed = state.store.list_endpoint_attempts(&caller.tenant_id(), &endpoint.id, &query.filter()?, &page).await?;
    let mut out = envelope(listed, &page, |a| a.id.to_string(), MessageAttemptOut::from);
    if query.with_content {
        attach_messages(&state, &mut out.data).await?;
    }
    Ok(Json(out))
}

/// Lists a message's attempts across its endpoints, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = "Message Attempt", operation_id = "v1.message-attempt.list-by-msg",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), ListAttemptsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<MessageAttemptOut>), ErrorResponses))]
pub async fn list_by_message(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<ListAttemptsQuery>,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let tenant = caller.tenant_id();
    let message = state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let mut filter = query.filter()?;
    if let Some(endpoint_id) = filter.endpoint_id.take() {
        // Accept the endpoint's uid too; an unknown endpoint matches nothing.
        let found = state.store.find_endpoint(&app.id, &endpoint_id).await?;
        filter.endpoint_id = Some(found.map_or(endpoint_id, |e| e.id.to_string()));
    }
    let page = query.page()?;
    let listed = state.store.list_message_attempts(&tenant, &message.id, &filter, &page).await?;
    let mut out = envelope(listed, &page, |a| a.id.to_string(), MessageAttemptOut::from);
    if query.with_content {
        attach_messages(&state, &mut out.data).await?;
    }
    Ok(Json(out))
}

/// Gets one attempt.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", tag = "Message Attempt", operation_id = "v1.message-attempt.get",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), ("attempt_id" = String, Path, description = "The attempt's id")),
    security(("HTTPBearer" = [])), responses((status = 200, body = MessageAttemptOut), ErrorResponses))]
pub async fn get_attempt(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id, attempt_id)): Path<(String, String, String)>,
) -> ApiResult<Json<MessageAttemptOut>> {
    let app = caller.application(&state, &app_id).await?;
    let tenant = caller.tenant_id();
    let message = state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let found = state
        .store
        .find_attempt(&tenant, message.id.as_str(), &attempt_id)
        .await?
        .ok_or(ApiError::NotFound("attempt"))?;
    Ok(Json(found.into()))
}

/// Deletes the response body recorded with an attempt.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", tag = "Message Attempt", operation_id = "v1.message-attempt.expunge-content",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), ("attempt_id" = String, Path, description = "The attempt's id")),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Expunged."), ErrorResponses))]
pub async fn expunge_attempt_content(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id, attempt_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let tenant = caller.tenant_id();
    let message = state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let found = state
        .store
        .find_attempt(&tenant, message.id.as_str(), &attempt_id)
        .await?
        .ok_or(ApiError::NotFound("attempt"))?;
    state.store.expunge_attempt_content(found.id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Svix's `EndpointMessageOut`: a message and the state of its delivery to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointMessageOut {
    #[serde(flatten)]
    pub message: MessageOut,
    pub status: i16,
    pub status_text: &'static str,
    pub next_attempt: Option<DateTime<Utc>>,
    /// Herald's delivery receipts: when the endpoint's consumer confirmed it processed
    /// this message (`POST …/endpoint/{endpoint_id}/receipt`); `null` until then.
    pub processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAttemptedMessagesQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// Only messages sent on this channel.
    pub channel: Option<String>,
    /// Only deliveries in this MessageStatus (0 success, 1 pending, 2 fail).
    pub status: Option<i16>,
    /// Only messages carrying this tag.
    pub tag: Option<String>,
    /// Only messages created before this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub before: Option<DateTime<Utc>>,
    /// Only messages created after this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub after: Option<DateTime<Utc>>,
    /// Include payloads (default `true`).
    #[serde(default = "default_true")]
    pub with_content: bool,
    /// Only messages of these event types (repeated or comma-separated).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

fn default_true() -> bool {
    true
}

/// Lists the messages sent to an endpoint, newest first, with their delivery state
/// and receipt: the reconciliation feed a consumer's job reads ("what was sent to me
/// since T"). Readable by the tenant's key, a portal token of the application and the
/// endpoint's own key (`sk_ep_…`).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg", tag = "Message Attempt", operation_id = "v1.message-attempt.list-attempted-messages",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), ListAttemptedMessagesQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<EndpointMessageOut>), ErrorResponses))]
pub async fn list_attempted_messages(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<ListAttemptedMessagesQuery>,
) -> ApiResult<Json<ListResponse<EndpointMessageOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = caller.readable_endpoint(state.store.find_endpoint(&app.id, &endpoint_id).await?)?;
    let status = delivery_status_filter(query.status)?;
    let filter = MessageFilter {
        event_types: split_list(&query.event_types),
        channel: query.channel.clone(),
        tag: query.tag.clone(),
        before: query.before,
        after: query.after,
    };
    let page = PageQuery { limit: query.limit, iterator: query.iterator.clone() }.page()?;
    let tenant = caller.tenant_id();
    let listed = state.store.list_endpoint_deliveries(&tenant, &endpoint.id, status, &filter, &page).await?;
    let ids = listed.items.iter().map(|d| d.msg_id.to_string()).collect();
    let mut messages: HashMap<String, _> =
        state.store.messages_by_id(ids).await?.into_iter().map(|m| (m.id.to_string(), m)).collect();
    let with_content = query.with_content;
    let out = envelope(
        listed,
        &page,
        |d| d.id.to_string(),
        |d| {
            let status = delivery_status(&d);
            let message = messages.remove(d.msg_id.as_str()).map(|m| MessageOut::from_model(m, with_content));
            (message, status, d.next_attempt_at, d.processed_at)
        },
    );
    let data = out
        .data
        .into_iter()
        .filter_map(|(message, status, next_attempt, processed_at)| {
            message.map(|message| EndpointMessageOut {
                message,
                status,
                status_text: status_text(status),
                next_attempt,
                processed_at,
            })
        })
        .collect();
    Ok(Json(ListResponse { data, iterator: out.iterator, prev_iterator: out.prev_iterator, done: out.done }))
}

/// Svix's `MessageEndpointOut`: an endpoint a message went to, and how it went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEndpointOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    pub status: i16,
    pub status_text: &'static str,
    pub next_attempt: Option<DateTime<Utc>>,
    /// Herald's addition: the attempts still planned if each one fails, the next first,
    /// at their nominal times (each lands within the retry jitter band of its time, or
    /// later if the receiver asks with `Retry-After`). Empty once the delivery is final,
    /// or while an ordered delivery waits for the one before it.
    pub upcoming_attempts: Vec<DateTime<Utc>>,
}

/// Lists the endpoints a message was sent to, with the state of each delivery.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = "Message Attempt", operation_id = "v1.message-attempt.list-attempted-destinations",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), PageQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<MessageEndpointOut>), ErrorResponses))]
pub async fn list_attempted_destinations(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<MessageEndpointOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let message =
        state.store.find_message(&caller.tenant_id(), &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let mut page = query.page()?;
    page.order = herald_store::Order::Ascending;
    let listed = state.store.list_message_deliveries(&message.id, &page).await?;
    let ids = listed.items.iter().map(|d| d.endpoint_id.to_string()).collect();
    let mut endpoints: HashMap<String, _> =
        state.store.endpoints_by_id(ids).await?.into_iter().map(|e| (e.id.to_string(), e)).collect();
    let out = envelope(
        listed,
        &page,
        |d| d.id.to_string(),
        |d| {
            let status = delivery_status(&d);
            let upcoming = match d.next_attempt_at.filter(|_| *d.status == DeliveryStatus::Pending) {
                Some(next) => {
                    state.config.retry_schedule.upcoming((d.attempt_count - d.cycle_start + 1).max(1) as u32, next)
                }
                None => Vec::new(),
            };
            (endpoints.remove(d.endpoint_id.as_str()), status, d.next_attempt_at, upcoming)
        },
    );
    let data = out
        .data
        .into_iter()
        .filter_map(|(endpoint, status, next_attempt, upcoming_attempts)| {
            endpoint.map(|e| MessageEndpointOut {
                endpoint: e.into(),
                status,
                status_text: status_text(status),
                next_attempt,
                upcoming_attempts,
            })
        })
        .collect();
    Ok(Json(ListResponse { data, iterator: out.iterator, prev_iterator: out.prev_iterator, done: out.done }))
}

/// Svix's `EmptyResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmptyResponse {}

/// Sends a message to an endpoint again, now, in a fresh retry cycle whose first
/// attempt is marked manual. Works for an endpoint the message never went to.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", tag = "Message Attempt", operation_id = "v1.message-attempt.resend",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 202, body = EmptyResponse), ErrorResponses))]
pub async fn resend(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<EmptyResponse>)> {
    let app = caller.application(&state, &app_id).await?;
    crate::service::deliveries::resend(&state, &app, &msg_id, &endpoint_id).await?;
    Ok((StatusCode::ACCEPTED, Json(EmptyResponse {})))
}

/// Recorded headers as JSON, with credential values masked for every caller. Workers
/// mask them before recording; this also covers records written before they did.
fn recorded_headers(text: &str) -> Option<serde_json::Value> {
    let mut headers: serde_json::Value = serde_json::from_str(text).ok()?;
    if let Some(object) = headers.as_object_mut() {
        for (name, value) in object.iter_mut() {
            if herald_core::headers::is_masked_in_records(name) {
                *value = serde_json::Value::String(herald_core::headers::MASKED_VALUE.to_owned());
            }
        }
    }
    Some(headers)
}
