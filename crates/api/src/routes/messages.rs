//! Messages: `POST /api/v1/app/{app_id}/msg` and the message log.
//!
//! Creating a message is Herald's most important write. The message and one delivery
//! per matching endpoint are committed in one transaction; only then are the
//! deliveries queued in Redis, and only then does the client get `202`. If Redis is
//! down at that moment the message is still accepted: the reconciler queues it later.
//!
//! A message whose `eventId` the application has seen before is not created again:
//! the answer is the original message (`202`, header `Herald-Duplicate-Of`). The
//! handler is an adapter over `crate::service::accept`, the path every message takes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};

use crate::cache::AppRouting;
use herald_store::entity::message;
use herald_store::MessageFilter;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use super::{envelope, split_list, ListResponse, PageQuery};
use crate::auth::{Caller, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::service::accept::{accept_message, Accepted, Draft, Recipients};
use crate::service::applications::find_or_create_application;
use crate::shapes::{empty_object, ApplicationIn, MessageOut};
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `MessageIn`. The payload is kept byte for byte as the producer sent it:
/// receivers get, and signatures cover, exactly those bytes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    pub event_type: String,
    /// The JSON object delivered to endpoints.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// The producer's unique id for this event: a repeat returns the original message.
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Days to keep the payload (1 to 90), instead of the tenant's payload retention;
    /// never beyond its metadata retention.
    #[serde(default)]
    pub payload_retention_period: Option<i64>,
    /// Hours to keep the payload (1 to 2160); not with `payloadRetentionPeriod`.
    #[serde(default)]
    pub payload_retention_hours: Option<i64>,
    /// Creates the application (with the path's `app_id` as its `uid`) if it does not exist.
    #[serde(default)]
    pub application: Option<ApplicationIn>,
    /// Herald's ordering key: endpoints in ordered mode receive the messages of one key
    /// strictly in the order they were accepted. Up to 256 visible ASCII characters.
    #[serde(default)]
    pub ordering_key: Option<String>,
    /// Deliver not before this instant, at most 24 hours ahead; now or past: at once.
    /// Cancel with `POST …/msg/{msg_id}/cancel` until then. Not with `orderingKey`.
    #[serde(default)]
    pub deliver_at: Option<DateTime<Utc>>,
}

/// The longest `payloadRetentionHours` (90 days, Svix's bound).
const MAX_RETENTION_HOURS: i64 = 90 * 24;

/// How far ahead `deliverAt` may be (Svix's bound).
const MAX_SCHEDULE_AHEAD: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithContentQuery {
    /// Include the payload (default `true`).
    #[serde(default = "default_true")]
    pub with_content: bool,
}

fn default_true() -> bool {
    true
}

impl MessageIn {
    fn validate(&self, max_payload_bytes: usize) -> ApiResult<()> {
        let payload = self.payload.get();
        if payload.len() > max_payload_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "the payload is {} bytes; the limit is {max_payload_bytes} bytes",
                payload.len()
            )));
        }
        Validator::default()
            .slug(&self.event_type, 256, &["eventType"])
            .check(payload.trim_start().starts_with('{'), &["payload"], "must be a JSON object")
            .optional_slug(self.event_id.as_deref(), 256, &["eventId"])
            .slug_list(self.channels.as_deref(), 5, 128, "channels")
            .slug_list(self.tags.as_deref(), 5, 128, "tags")
            .check(
                self.ordering_key.as_deref().is_none_or(valid_ordering_key),
                &["orderingKey"],
                "must be 1 to 256 visible ASCII characters",
            )
            .check(
                self.payload_retention_period.is_none_or(|days| (1..=90).contains(&days)),
                &["payloadRetentionPeriod"],
                "must be between 1 and 90 days",
            )
            .check(
                self.payload_retention_hours.is_none_or(|hours| (1..=MAX_RETENTION_HOURS).contains(&hours)),
                &["payloadRetentionHours"],
                "must be between 1 and 2160 hours",
            )
            .check(
                self.payload_retention_period.is_none() || self.payload_retention_hours.is_none(),
                &["payloadRetentionHours"],
                "cannot be combined with `payloadRetentionPeriod`",
            )
            .check(
                self.deliver_at.is_none_or(|at| at <= Utc::now() + MAX_SCHEDULE_AHEAD),
                &["deliverAt"],
                "must be at most 24 hours ahead",
            )
            .check(
                self.deliver_at.is_none() || self.ordering_key.is_none(),
                &["deliverAt"],
                "cannot be combined with `orderingKey`: ordered messages go in the order they were accepted",
            )
            .finish()?;
        if let Some(application) = &self.application {
            application.validate()?;
        }
        Ok(())
    }
}

/// An ordering key is sent in a header, so it is kept to what a header value holds plainly.
fn valid_ordering_key(key: &str) -> bool {
    (1..=256).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Creates a message and queues a delivery to every endpoint that wants it.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = "Message", operation_id = "v1.message.create",
    params(("app_id" = String, Path, description = "The application's id or uid"), WithContentQuery,
        ("idempotency-key" = Option<String>, Header, description = "Repeats of a request with this key get the first answer")),
    request_body = MessageIn, security(("HTTPBearer" = [])),
    responses((status = 202, body = MessageOut),
        (status = 429, description = "The tenant is over its ingest rate limit; nothing was written. Retry after `Retry-After` seconds.",
            body = crate::error::ErrorBody, headers(("retry-after" = u64, description = "Seconds to wait"))),
        ErrorResponses))]
#[tracing::instrument(name = "message.create", skip_all, fields(tenant = %caller.0.id, app = %app_id))]
pub async fn create_message(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<WithContentQuery>,
    ValidJson(body): ValidJson<MessageIn>,
) -> ApiResult<(StatusCode, HeaderMap, Json<MessageOut>)> {
    body.validate(state.config.max_payload_bytes)?;
    let tenant = caller.tenant_id();
    let routing = match state.cache.routing(tenant.as_str(), &app_id) {
        Some(routing) => routing,
        None => {
            let generation = state.cache.generation();
            let app = find_or_create_application(&state, &caller, &app_id, body.application.clone()).await?;
            let endpoints = state.store.list_application_endpoints(&app.id).await?;
            let routing = Arc::new(AppRouting { app, endpoints });
            state.cache.remember_routing(tenant.as_str(), &app_id, routing.clone(), generation);
            routing
        }
    };
    let draft = Draft {
        event_type: body.event_type,
        event_id: body.event_id,
        payload: body.payload,
        channels: body.channels,
        tags: body.tags,
        ordering_key: body.ordering_key,
        deliver_at: body.deliver_at,
        // Validated positive above.
        payload_retention: body
            .payload_retention_period
            .map(|days| days * 24)
            .or(body.payload_retention_hours)
            .map(|hours| std::time::Duration::from_secs(hours.unsigned_abs() * 3600)),
    };
    match accept_message(&state, &caller.0, &routing.app, Recipients::Subscribed(&routing.endpoints), draft).await? {
        Accepted::New { message, payload } => {
            let payload = if query.with_content { payload } else { empty_object() };
            Ok((StatusCode::ACCEPTED, HeaderMap::new(), Json(MessageOut::new(message, payload))))
        }
        Accepted::Duplicate(original) => Ok(duplicate(original, query.with_content)),
    }
}

fn duplicate(original: message::Model, with_content: bool) -> (StatusCode, HeaderMap, Json<MessageOut>) {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(original.id.as_str()) {
        headers.insert("herald-duplicate-of", value);
    }
    (StatusCode::ACCEPTED, headers, Json(MessageOut::from_model(original, with_content)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMessagesQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// Only messages sent on this channel.
    pub channel: Option<String>,
    /// Only messages created before this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub before: Option<DateTime<Utc>>,
    /// Only messages created after this instant.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub after: Option<DateTime<Utc>>,
    /// Include payloads (default `true`).
    #[serde(default = "default_true")]
    pub with_content: bool,
    /// Only messages carrying this tag.
    pub tag: Option<String>,
    /// Only messages of these event types (repeated or comma-separated).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Herald's addition: only messages with a delivery in this state, to any endpoint:
    /// 0 (succeeded), 1 (pending) or 2 (failed, dead-lettered).
    pub status: Option<i16>,
    /// Herald's addition: only messages with a failed attempt at or after this instant
    /// (whatever happened since): the overview's "failed in the last hour", one by one.
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub failed_since: Option<DateTime<Utc>>,
}

impl ListMessagesQuery {
    pub fn filter(&self) -> MessageFilter {
        MessageFilter {
            event_types: split_list(&self.event_types),
            channel: self.channel.clone(),
            tag: self.tag.clone(),
            before: self.before,
            after: self.after,
        }
    }
}

/// Lists an application's messages, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = "Message", operation_id = "v1.message.list",
    params(("app_id" = String, Path, description = "The application's id or uid"), ListMessagesQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<MessageOut>), ErrorResponses))]
pub async fn list_messages(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<ListMessagesQuery>,
) -> ApiResult<Json<ListResponse<MessageOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let page = PageQuery { limit: query.limit, iterator: query.iterator.clone() }.page()?;
    let status = super::delivery_status_filter(query.status)?;
    let listed = state
        .store
        .list_messages(&caller.tenant_id(), &app.id, &query.filter(), status, query.failed_since, &page)
        .await?;
    let with_content = query.with_content;
    Ok(Json(envelope(listed, &page, |m| m.id.to_string(), |m| MessageOut::from_model(m, with_content))))
}

/// Gets a message by id or `eventId`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = "Message", operation_id = "v1.message.get",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId"), WithContentQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = MessageOut), ErrorResponses))]
pub async fn get_message(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, msg_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<WithContentQuery>,
) -> ApiResult<Json<MessageOut>> {
    let app = caller.application(&state, &app_id).await?;
    let message =
        state.store.find_message(&caller.tenant_id(), &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    Ok(Json(MessageOut::from_model(message, query.with_content)))
}

/// Deletes a message's payload for good; deliveries not yet made will not be made.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/content", tag = "Message", operation_id = "v1.message.expunge-content",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId")),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Expunged."), ErrorResponses))]
pub async fn expunge_content(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let message = state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    state.store.expunge_message_content(&message.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How close to its `deliverAt` a message can no longer be canceled.
const CANCEL_MARGIN: chrono::Duration = chrono::Duration::seconds(2);

/// What a cancel did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageCancelOut {
    /// The message's id.
    pub id: String,
    /// How many of its deliveries were called off (they read `discarded`: never sent,
    /// unless resent).
    pub canceled: u64,
}

/// Calls off a scheduled message (one sent with `deliverAt`) until two seconds before
/// it is due: none of its deliveries is made. `409 not_scheduled` after that, or if it
/// never was scheduled. Herald's addition.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/cancel", tag = "Message", operation_id = "v1.message.cancel",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("msg_id" = String, Path, description = "The message's id or eventId")),
    security(("HTTPBearer" = [])), responses((status = 200, body = MessageCancelOut), ErrorResponses))]
pub async fn cancel_message(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageCancelOut>> {
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let message = state.store.find_message(&tenant, &app.id, &msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let now = Utc::now();
    // Not in its last seconds: a worker whose clock runs ahead may be sending it.
    if message.deliver_at.is_none_or(|at| at <= now + CANCEL_MARGIN) {
        return Err(ApiError::NotScheduled(match message.deliver_at {
            Some(at) => format!("the message is due at {at}: it can no longer be canceled"),
            None => "the message was not scheduled (no deliverAt): it cannot be canceled".to_owned(),
        }));
    }
    let canceled = state.store.cancel_scheduled(&message.id, now + CANCEL_MARGIN).await?;
    Ok(Json(MessageCancelOut { id: message.id.to_string(), canceled }))
}

/// Svix's `MessagePrecheckIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePrecheckIn {
    pub event_type: String,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

/// Svix's `MessagePrecheckOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePrecheckOut {
    /// Whether any enabled endpoint of the application would get such a message.
    pub active: bool,
}

/// Whether a message of this event type (on these channels) would go anywhere: any
/// enabled endpoint of the application whose filters take it. Nothing is created.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/precheck/active", tag = "Message", operation_id = "v1.message.precheck",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = MessagePrecheckIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = MessagePrecheckOut), ErrorResponses))]
pub async fn precheck(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<MessagePrecheckIn>,
) -> ApiResult<Json<MessagePrecheckOut>> {
    Validator::default()
        .slug(&body.event_type, 256, &["eventType"])
        .slug_list(body.channels.as_deref(), 5, 128, "channels")
        .finish()?;
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let endpoints = state.store.list_application_endpoints(&app.id).await?;
    let active = endpoints
        .iter()
        .any(|endpoint| herald_store::endpoint_accepts(endpoint, &body.event_type, body.channels.as_deref()));
    Ok(Json(MessagePrecheckOut { active }))
}

/// The most messages one bulk expunge names.
const MAX_BULK_EXPUNGE: usize = 1_000;

/// Svix's `BulkExpungeContentsIn`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkExpungeContentsIn {
    /// Message ids or eventIds (up to 1000).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

/// Svix's `BulkExpungeContentsOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkExpungeContentsOut {
    /// Each id as given: `expunged` or `not-found`.
    pub results: std::collections::BTreeMap<String, String>,
}

/// Expunges the payloads of many messages at once, like `DELETE …/msg/{id}/content`
/// for each: deliveries not yet made will not be made.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/bulk-expunge", tag = "Message", operation_id = "v1.message.bulk-expunge",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = BulkExpungeContentsIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = BulkExpungeContentsOut), ErrorResponses))]
pub async fn bulk_expunge(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<BulkExpungeContentsIn>,
) -> ApiResult<Json<BulkExpungeContentsOut>> {
    let ids = body.ids.unwrap_or_default();
    let mut validator = Validator::default();
    validator.check(ids.len() <= MAX_BULK_EXPUNGE, &["ids"], "must have at most 1000 entries");
    // All checked before any is expunged: a bad id leaves every message as it was.
    for (index, id) in ids.iter().enumerate() {
        let ok = (1..=256).contains(&id.len()) && !id.chars().any(char::is_control);
        validator.check(ok, &["ids", &index.to_string()], "must be 1 to 256 characters, none a control character");
    }
    validator.finish()?;
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let mut results = std::collections::BTreeMap::new();
    for id in ids {
        let found = state.store.find_message(&tenant, &app.id, &id).await?;
        let outcome = match found {
            Some(message) => {
                state.store.expunge_message_content(&message.id).await?;
                "expunged"
            }
            None => "not-found",
        };
        results.insert(id, outcome.to_owned());
    }
    Ok(Json(BulkExpungeContentsOut { results }))
}

/// Svix's `ExpungeAllContentsOut`: the task expunging the application's payloads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpungeAllContentsOut {
    /// `qtask_…`; `GET /api/v1/background-task/{id}` shows how far it has got.
    pub id: String,
    /// `running`, or `finished` when there was nothing to expunge.
    pub status: String,
    /// `application.purge_content`.
    pub task: String,
    pub updated_at: DateTime<Utc>,
}

/// Expunges the payload of every message of the application accepted until now, as a
/// background task (`application.purge_content`, 1,000 messages a second): deliveries
/// not yet made will not be made. Messages accepted after the call keep theirs.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/expunge-all-contents", tag = "Message",
    operation_id = "v1.message.expunge-all-contents",
    params(("app_id" = String, Path, description = "The application's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 202, body = ExpungeAllContentsOut), ErrorResponses))]
pub async fn expunge_all_contents(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
) -> ApiResult<(StatusCode, Json<ExpungeAllContentsOut>)> {
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let id = crate::ids::fresh(herald_core::BackgroundTaskId::generate);
    let task = state.store.start_purge_content(&id, &tenant, &app.id, Utc::now(), &caller.actor()).await?;
    let out = ExpungeAllContentsOut {
        id: task.id.to_string(),
        status: task.status,
        task: task.task,
        updated_at: task.updated_at,
    };
    Ok((StatusCode::ACCEPTED, Json(out)))
}
