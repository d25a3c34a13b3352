//! Polling endpoints: the pull path over an application's messages.
//!
//! A polling endpoint (`poll_…`) is a view of its application's feed, filtered by
//! event types and channels like a webhook endpoint. Reading uses Svix's routes and
//! shapes exactly (`message.poller.poll`, `consumer_poll`, `consumer_seek` in every
//! current SDK), so the official SDKs work unchanged:
//!
//! - `GET /api/v1/app/{app_id}/poller/{poller_id}`: the next messages after the
//!   request's `iterator` (or after `after`, or from the start of the feed);
//! - `GET …/poller/{poller_id}/consumer/{consumer_id}`: the same with the position kept
//!   by Herald per consumer. Polling again with the returned iterator commits it (at
//!   least once: a consumer that crashes before polling again reads the batch again);
//! - `POST …/consumer/{consumer_id}/seek`: moves a consumer to a time.
//!
//! Managing polling endpoints is Herald's own (Svix has no public route for it):
//! `POST`/`GET …/poller`, `GET …/poller/{poller_id}/details` (the plain `GET` is the
//! Svix read), `PATCH` and `DELETE …/poller/{poller_id}`. Iterators are sealed for
//! their poller by the store: opaque, unforgeable, refused (`422`) on another poller.

use std::collections::BTreeMap;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::Stream;
use herald_core::{ApplicationId, PollerId};
use herald_store::entity::{message, poller, Names};
use herald_store::{poller_filter, FeedFilter, FeedPage, KeyTarget, NewPoller};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use super::scoped_keys::{self, ScopedKeyOut};
use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::{Caller, ScopedApp, ScopedReader};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::shapes::{empty_object, metadata_map, metadata_value, string_list};
use crate::validate::Validator;
use crate::ApiState;

/// Creating a polling endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollerIn {
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Event types this poller shows; omit for all (also read as `filterTypes`).
    #[serde(default, alias = "filterTypes")]
    pub event_types: Option<Vec<String>>,
    /// Channels this poller shows (a message on any of them); omit to ignore channels.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// A disabled poller refuses reads (`409`); its consumers keep their places.
    #[serde(default)]
    pub disabled: bool,
}

/// Changing a polling endpoint: absent fields stay; `null` clears the nullable ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollerPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, alias = "filterTypes", deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub channels: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// A polling endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollerOut {
    pub id: String,
    pub uid: Option<String>,
    pub description: String,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub metadata: BTreeMap<String, String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<poller::Model> for PollerOut {
    fn from(model: poller::Model) -> Self {
        Self {
            event_types: string_list(&model.filter_types),
            channels: string_list(&model.channels),
            metadata: metadata_map(&model.metadata),
            id: model.id.to_string(),
            uid: model.uid,
            description: model.description,
            disabled: model.disabled,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// Svix's `PollingEndpointMessageOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollingEndpointMessageOut {
    pub id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub timestamp: DateTime<Utc>,
    /// Headers a transformation set; Herald has none to add.
    pub headers: Option<BTreeMap<String, String>>,
}

impl From<message::Model> for PollingEndpointMessageOut {
    fn from(model: message::Model) -> Self {
        let payload = RawValue::from_string(model.payload).unwrap_or_else(|_| empty_object());
        Self {
            id: model.id.to_string(),
            event_type: model.event_type,
            event_id: model.event_id,
            payload,
            channels: string_list(&model.channels),
            tags: string_list(&model.tags),
            timestamp: model.created_at,
            headers: None,
        }
    }
}

/// Svix's `PollingEndpointOut`: the messages, where to read on from, and whether the
/// reader has caught up.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollingEndpointOut {
    pub data: Vec<PollingEndpointMessageOut>,
    pub iterator: String,
    pub done: bool,
}

/// Svix's `PollingEndpointConsumerSeekIn`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PollingEndpointConsumerSeekIn {
    /// The consumer's next read starts with the messages created at or after this time.
    pub after: DateTime<Utc>,
}

/// Svix's `PollingEndpointConsumerSeekOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollingEndpointConsumerSeekOut {
    pub iterator: String,
}

/// The query of `message.poller.poll`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollQuery {
    /// How many messages to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` of a previous read of this poller.
    pub iterator: Option<String>,
    /// Only messages of this event type.
    pub event_type: Option<String>,
    /// Only messages on this channel.
    pub channel: Option<String>,
    /// Without an iterator: start with the messages created at or after this time.
    pub after: Option<DateTime<Utc>>,
    /// Herald's long-poll: when nothing is new, wait up to this many seconds (at most
    /// `poll_max_wait`) for a message and answer as soon as one is accepted.
    pub wait: Option<u64>,
}

/// The query of `message.poller.consumer_poll`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsumerPollQuery {
    /// How many messages to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` of this consumer's previous read: commits it, then reads on.
    pub iterator: Option<String>,
    /// Herald's long-poll (see `PollQuery`).
    pub wait: Option<u64>,
}

/// The query of Herald's Server-Sent Events stream of a poller.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this iterator (an event's `id`); the `Last-Event-ID` header wins.
    pub iterator: Option<String>,
    /// Without either: start with the messages created at or after this time.
    pub after: Option<DateTime<Utc>>,
}

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 250;

fn limit_of(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

fn validate_poller(model: &poller::Model) -> ApiResult<()> {
    let filter = string_list(&model.filter_types);
    let channels = string_list(&model.channels);
    Validator::default()
        .optional_slug(model.uid.as_deref(), 256, &["uid"])
        .check(!model.uid.as_deref().is_some_and(PollerId::has_prefix), &["uid"], "must not look like a poller id")
        .slug_list(filter.as_deref(), 1_000, 256, "eventTypes")
        .check(filter.as_ref().is_none_or(|f| !f.is_empty()), &["eventTypes"], "must not be empty; omit it for all")
        .slug_list(channels.as_deref(), 10, 128, "channels")
        .check(channels.as_ref().is_none_or(|c| !c.is_empty()), &["channels"], "must not be empty; omit it")
        .check(model.description.len() <= 65_536, &["description"], "must be at most 65536 characters")
        .finish()
}

async fn find(state: &ApiState, app: &ScopedApp, poller_id: &str) -> ApiResult<poller::Model> {
    state.store.find_poller(&app.id, poller_id).await?.ok_or(ApiError::NotFound("polling endpoint"))
}

/// The poller to read from: found, the caller's to read (a poller key reads its own
/// only), and enabled.
async fn readable(state: &ApiState, caller: &Caller, app: &ScopedApp, poller_id: &str) -> ApiResult<poller::Model> {
    let poller = caller.readable_poller(state.store.find_poller(&app.id, poller_id).await?)?;
    if poller.disabled {
        return Err(ApiError::Conflict("this polling endpoint is disabled".into()));
    }
    Ok(poller)
}

fn bad_iterator() -> ApiError {
    ApiError::query("iterator", "is not an iterator this polling endpoint returned")
}

fn consumer_id_ok(consumer_id: &str) -> ApiResult<()> {
    Validator::default().slug(consumer_id, 256, &["consumer_id"]).finish()
}

/// One read of a poller's feed, as a request asked for it.
struct Read<'a> {
    app: &'a ScopedApp,
    poller: &'a poller::Model,
    position: i64,
    filter: FeedFilter,
    limit: u64,
    /// How long to wait for something new (long-poll); zero answers at once.
    wait: Duration,
    /// The request's `If-None-Match`: the `ETag` of an answer the client already has.
    if_none_match: Option<String>,
}

/// The seconds of `wait=`, within `poll_max_wait`.
fn wait_of(state: &ApiState, wait: Option<u64>) -> ApiResult<Duration> {
    let max = state.config.poll_max_wait;
    let wait = Duration::from_secs(wait.unwrap_or(0));
    if wait > max {
        return Err(ApiError::query("wait", format!("must be at most {} seconds", max.as_secs())));
    }
    Ok(wait)
}

fn if_none_match(headers: &HeaderMap) -> Option<String> {
    headers.get(IF_NONE_MATCH).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// The entity tag of a read's answer: the same read of an unchanged feed has the same
/// tag, whatever iterator text (sealed afresh each time) the answer carries.
fn etag(poller: &poller::Model, from: i64, page: &FeedPage) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{}:{from}:{}:{}", poller.id.as_str(), page.position, page.done()));
    for message in &page.messages {
        hash.update(b":");
        hash.update(message.id.as_str());
    }
    let digest = hash.finalize();
    format!("\"{}\"", digest[..12].iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// Whether `If-None-Match` names `tag` (a list of tags, weak or strong, or `*`).
fn matches(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|given| {
        given.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
    })
}

/// Reads, long-polls while nothing is new (or the client already has this answer),
/// and answers in Svix's shape with an `ETag`, or `304` when the client has it.
async fn read(state: &ApiState, tenant: &str, request: Read<'_>) -> ApiResult<Response> {
    let Read { app, poller, position, filter, limit, wait, if_none_match } = request;
    let deadline = Instant::now() + wait;
    let mut page = state.store.read_feed(&app.id, position, &filter, limit).await?;
    loop {
        let known = matches(if_none_match.as_deref(), &etag(poller, position, &page));
        let nothing_new = page.messages.is_empty() && page.done();
        let left = deadline.saturating_duration_since(Instant::now());
        if !(known || nothing_new) || left.is_zero() {
            break;
        }
        let moved = state.feed_watch.wait_past(&app.id, page.head, left).await;
        state.metrics.poll_wait(tenant, moved);
        if !moved {
            break;
        }
        page = state.store.read_feed(&app.id, position, &filter, limit).await?;
    }
    let tag = etag(poller, position, &page);
    let tag_header = HeaderValue::from_str(&tag).expect("an entity tag is visible ASCII");
    if matches(if_none_match.as_deref(), &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag_header)]).into_response());
    }
    let out = PollingEndpointOut {
        iterator: state.store.feed_iterator(&poller.id, page.position),
        done: page.done(),
        data: page.messages.into_iter().map(PollingEndpointMessageOut::from).collect(),
    };
    Ok(([(ETAG, tag_header)], Json(out)).into_response())
}

/// Lists an application's polling endpoints.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller", tag = "Polling Endpoint", operation_id = "v1.poller.list",
    params(("app_id" = String, Path, description = "The application's id or uid"), OrderedPageQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<PollerOut>), ErrorResponses))]
pub async fn list_pollers(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<OrderedPageQuery>,
) -> ApiResult<Json<ListResponse<PollerOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let page = query.page()?;
    let listed = state.store.list_pollers(&app.id, &page).await?;
    Ok(Json(envelope(listed, &page, |p| p.id.to_string(), PollerOut::from)))
}

/// Creates a polling endpoint.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/poller", tag = "Polling Endpoint", operation_id = "v1.poller.create",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = PollerIn,
    security(("HTTPBearer" = [])), responses((status = 201, body = PollerOut), ErrorResponses))]
pub async fn create_poller(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<PollerIn>,
) -> ApiResult<(StatusCode, Json<PollerOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let now = Utc::now();
    let model = poller::Model {
        id: fresh(PollerId::generate).into(),
        tenant_id: app.tenant_id.clone(),
        app_id: app.id.clone(),
        uid: body.uid,
        description: body.description,
        filter_types: body.event_types.map(Names::from),
        channels: body.channels.map(Names::from),
        metadata: metadata_value(body.metadata),
        disabled: body.disabled,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    validate_poller(&model)?;
    let created = state
        .store
        .create_poller(
            NewPoller {
                id: model.id.into_inner(),
                tenant_id: model.tenant_id.into_inner(),
                app_id: model.app_id.into_inner(),
                uid: model.uid,
                description: model.description,
                filter_types: string_list(&model.filter_types),
                channels: string_list(&model.channels),
                metadata: model.metadata,
                disabled: model.disabled,
                now,
            },
            &caller.actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Gets a polling endpoint's settings (the plain `GET` of its path is Svix's read).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}/details", tag = "Polling Endpoint",
    operation_id = "v1.poller.get",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = PollerOut), ErrorResponses))]
pub async fn get_poller(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
) -> ApiResult<Json<PollerOut>> {
    let app = caller.application(&state, &app_id).await?;
    Ok(Json(find(&state, &app, &poller_id).await?.into()))
}

/// Changes the given fields of a polling endpoint.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/poller/{poller_id}", tag = "Polling Endpoint",
    operation_id = "v1.poller.patch",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid")),
    request_body = PollerPatch, security(("HTTPBearer" = [])), responses((status = 200, body = PollerOut), ErrorResponses))]
pub async fn patch_poller(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<PollerPatch>,
) -> ApiResult<Json<PollerOut>> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &poller_id).await?;
    let mut after = before.clone();
    if let Some(uid) = body.uid {
        after.uid = uid;
    }
    if let Some(description) = body.description {
        after.description = description;
    }
    if let Some(types) = body.event_types {
        after.filter_types = types.map(Names::from);
    }
    if let Some(channels) = body.channels {
        after.channels = channels.map(Names::from);
    }
    if let Some(metadata) = body.metadata {
        after.metadata = metadata_value(Some(metadata));
    }
    if let Some(disabled) = body.disabled {
        after.disabled = disabled;
    }
    after.updated_at = Utc::now();
    validate_poller(&after)?;
    let updated = state
        .store
        .update_poller(&before, after, &caller.actor())
        .await?
        .ok_or(ApiError::NotFound("polling endpoint"))?;
    Ok(Json(updated.into()))
}

/// Deletes a polling endpoint and its consumers' positions.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/poller/{poller_id}", tag = "Polling Endpoint",
    operation_id = "v1.poller.delete",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 204), ErrorResponses))]
pub async fn delete_poller(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let poller = find(&state, &app, &poller_id).await?;
    state.store.delete_poller(&poller, Utc::now(), &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the application's messages that pass the poller's filters (Svix's
/// `message.poller.poll`).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}", tag = "Polling Endpoint",
    operation_id = "v1.message.poller.poll",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"), PollQuery),
    security(("HTTPBearer" = [])),
    responses((status = 200, body = PollingEndpointOut), (status = 304, description = "`If-None-Match` names this answer: nothing is new"), ErrorResponses))]
pub async fn poll(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, poller_id)): Path<(String, String)>,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<PollQuery>,
) -> ApiResult<Response> {
    let wait = wait_of(&state, query.wait)?;
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &caller, &app, &poller_id).await?;
    state.metrics.poll(caller.tenant.id.as_str(), "poll");
    let position = match (query.iterator.as_deref().filter(|it| !it.is_empty()), query.after) {
        (Some(iterator), _) => state.store.open_feed_iterator(&poller.id, iterator).ok_or_else(bad_iterator)?,
        (None, Some(after)) => state.store.feed_position_at(&app.id, after).await?,
        (None, None) => 0,
    };
    let filter = FeedFilter { event_type: query.event_type, channel: query.channel, ..poller_filter(&poller) };
    let limit = limit_of(query.limit);
    let if_none_match = if_none_match(&headers);
    read(
        &state,
        caller.tenant.id.as_str(),
        Read { app: &app, poller: &poller, position, filter, limit, wait, if_none_match },
    )
    .await
}

/// Reads on from where this consumer committed (Svix's
/// `message.poller.consumer_poll`). With an iterator, commits it first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}/consumer/{consumer_id}", tag = "Polling Endpoint",
    operation_id = "v1.message.poller.consumer-poll",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"),
        ("consumer_id" = String, Path, description = "The consumer's own name"), ConsumerPollQuery),
    security(("HTTPBearer" = [])),
    responses((status = 200, body = PollingEndpointOut), (status = 304, description = "`If-None-Match` names this answer: nothing is new"), ErrorResponses))]
pub async fn consumer_poll(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, poller_id, consumer_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<ConsumerPollQuery>,
) -> ApiResult<Response> {
    consumer_id_ok(&consumer_id)?;
    let wait = wait_of(&state, query.wait)?;
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &caller, &app, &poller_id).await?;
    state.metrics.poll(caller.tenant.id.as_str(), "consumer");
    let position = match query.iterator.as_deref().filter(|it| !it.is_empty()) {
        Some(iterator) => {
            let position = state.store.open_feed_iterator(&poller.id, iterator).ok_or_else(bad_iterator)?;
            state.store.commit_consumer(&poller.id, &consumer_id, position, Utc::now()).await?;
            position
        }
        None => state.store.consumer_position(&poller.id, &consumer_id).await?.unwrap_or(0),
    };
    let (filter, limit, if_none_match) = (poller_filter(&poller), limit_of(query.limit), if_none_match(&headers));
    read(
        &state,
        caller.tenant.id.as_str(),
        Read { app: &app, poller: &poller, position, filter, limit, wait, if_none_match },
    )
    .await
}

/// Moves a consumer to the messages created at or after a time (Svix's
/// `message.poller.consumer_seek`).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/poller/{poller_id}/consumer/{consumer_id}/seek", tag = "Polling Endpoint",
    operation_id = "v1.message.poller.consumer-seek",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"),
        ("consumer_id" = String, Path, description = "The consumer's own name")),
    request_body = PollingEndpointConsumerSeekIn, security(("HTTPBearer" = [])),
    responses((status = 200, body = PollingEndpointConsumerSeekOut), ErrorResponses))]
pub async fn consumer_seek(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, poller_id, consumer_id)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<PollingEndpointConsumerSeekIn>,
) -> ApiResult<Json<PollingEndpointConsumerSeekOut>> {
    consumer_id_ok(&consumer_id)?;
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &caller, &app, &poller_id).await?;
    let position = state.store.feed_position_at(&app.id, body.after).await?;
    state.store.commit_consumer(&poller.id, &consumer_id, position, Utc::now()).await?;
    Ok(Json(PollingEndpointConsumerSeekOut { iterator: state.store.feed_iterator(&poller.id, position) }))
}

/// Creates a key that reads this polling endpoint and nothing else.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/poller/{poller_id}/key", tag = "Polling Endpoint",
    operation_id = "v1.poller.key.create",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 201, body = ScopedKeyOut), ErrorResponses))]
pub async fn create_poller_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<ScopedKeyOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let poller = find(&state, &app, &poller_id).await?;
    scoped_keys::create(&state, &caller, KeyTarget::from(&poller)).await
}

/// Lists a polling endpoint's keys that still work (without the keys themselves).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}/key", tag = "Polling Endpoint",
    operation_id = "v1.poller.key.list",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = Vec<ScopedKeyOut>), ErrorResponses))]
pub async fn list_poller_keys(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<ScopedKeyOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let poller = find(&state, &app, &poller_id).await?;
    scoped_keys::list(&state, &KeyTarget::from(&poller)).await
}

/// Revokes a poller key at once.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/poller/{poller_id}/key/{key_id}", tag = "Polling Endpoint",
    operation_id = "v1.poller.key.revoke",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"),
        ("key_id" = String, Path, description = "The key's id, `skey_…`")),
    security(("HTTPBearer" = [])), responses((status = 204), ErrorResponses))]
pub async fn revoke_poller_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id, key_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let poller = find(&state, &app, &poller_id).await?;
    scoped_keys::revoke(&state, &caller, &KeyTarget::from(&poller), &key_id).await
}

/// Messages an SSE stream reads at a time.
const STREAM_BATCH: u64 = 100;

/// Herald's Server-Sent Events stream of a poller: every message the poller shows, as
/// an event `message` whose data is a `PollingEndpointMessageOut` and whose `id` is an
/// iterator. A client that reconnects with `Last-Event-ID` resumes after the last event
/// it got. Quiet streams get a keep-alive comment every `poll_max_wait`; the stream
/// ends when the poller is disabled or deleted.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}/stream", tag = "Polling Endpoint",
    operation_id = "v1.poller.stream",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"), StreamQuery,
        ("last-event-id" = Option<String>, Header, description = "The `id` of the last event received: resume after it")),
    security(("HTTPBearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "`event: message`, `id: <iterator>`, `data: PollingEndpointMessageOut`"), ErrorResponses))]
pub async fn stream(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, poller_id)): Path<(String, String)>,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &caller, &app, &poller_id).await?;
    state.metrics.poll(caller.tenant.id.as_str(), "stream");
    let resume = headers.get("last-event-id").and_then(|value| value.to_str().ok()).filter(|id| !id.is_empty());
    let position = match (resume.or(query.iterator.as_deref().filter(|it| !it.is_empty())), query.after) {
        (Some(iterator), _) => state.store.open_feed_iterator(&poller.id, iterator).ok_or_else(bad_iterator)?,
        (None, Some(after)) => state.store.feed_position_at(&app.id, after).await?,
        (None, None) => 0,
    };
    let keep_alive = KeepAlive::new().interval(state.config.poll_max_wait);
    let feed = Feed {
        filter: poller_filter(&poller),
        app_id: app.id.clone().into_inner(),
        poller,
        position,
        pending: VecDeque::new(),
        state,
    };
    Ok(Sse::new(futures::stream::unfold(feed, Feed::next)).keep_alive(keep_alive))
}

/// Where an SSE stream stands.
struct Feed {
    state: ApiState,
    app_id: ApplicationId,
    poller: poller::Model,
    filter: FeedFilter,
    position: i64,
    /// Events read and not yet sent.
    pending: VecDeque<Event>,
}

impl Feed {
    /// The next event: from what was read, or read on, or wait for the feed to move.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            let page = match self.state.store.read_feed(&self.app_id, self.position, &self.filter, STREAM_BATCH).await {
                Ok(page) => page,
                Err(error) => {
                    // The client reconnects with Last-Event-ID and loses nothing.
                    tracing::warn!(%error, "ending a poller stream: the feed could not be read");
                    return None;
                }
            };
            for message in page.messages.iter() {
                let data = serde_json::to_string(&PollingEndpointMessageOut::from(message.clone()))
                    .expect("a message serialises");
                let id = self.state.store.feed_iterator(&self.poller.id, message.feed_seq);
                self.pending.push_back(Event::default().event("message").id(id).data(data));
            }
            self.position = page.position;
            if self.pending.is_empty() && page.done() {
                let still_readable = self.state.store.find_poller(&self.app_id, self.poller.id.as_str()).await;
                if !matches!(still_readable, Ok(Some(ref poller)) if !poller.disabled) {
                    return None;
                }
                let wait = self.state.config.poll_max_wait;
                self.state.feed_watch.wait_past(&self.app_id, page.head, wait).await;
            }
        }
    }
}
