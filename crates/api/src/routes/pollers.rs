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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::PollerId;
use herald_store::entity::{message, poller, Names};
use herald_store::{poller_filter, FeedFilter, NewPoller};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::{Caller, ScopedApp};
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
}

/// The query of `message.poller.consumer_poll`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsumerPollQuery {
    /// How many messages to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` of this consumer's previous read: commits it, then reads on.
    pub iterator: Option<String>,
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

/// The poller to read from: found, and enabled.
async fn readable(state: &ApiState, app: &ScopedApp, poller_id: &str) -> ApiResult<poller::Model> {
    let poller = find(state, app, poller_id).await?;
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

/// Reads from `position` and answers in Svix's shape.
async fn read(
    state: &ApiState,
    app: &ScopedApp,
    poller: &poller::Model,
    position: i64,
    filter: &FeedFilter,
    limit: u64,
) -> ApiResult<PollingEndpointOut> {
    let page = state.store.read_feed(&app.id, position, filter, limit).await?;
    Ok(PollingEndpointOut {
        iterator: state.store.feed_iterator(&poller.id, page.position),
        done: page.done(),
        data: page.messages.into_iter().map(PollingEndpointMessageOut::from).collect(),
    })
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
    security(("HTTPBearer" = [])), responses((status = 200, body = PollingEndpointOut), ErrorResponses))]
pub async fn poll(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<PollQuery>,
) -> ApiResult<Json<PollingEndpointOut>> {
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &app, &poller_id).await?;
    let position = match (query.iterator.as_deref().filter(|it| !it.is_empty()), query.after) {
        (Some(iterator), _) => state.store.open_feed_iterator(&poller.id, iterator).ok_or_else(bad_iterator)?,
        (None, Some(after)) => state.store.feed_position_at(&app.id, after).await?,
        (None, None) => 0,
    };
    let filter = FeedFilter { event_type: query.event_type, channel: query.channel, ..poller_filter(&poller) };
    let out = read(&state, &app, &poller, position, &filter, limit_of(query.limit)).await?;
    Ok(Json(out))
}

/// Reads on from where this consumer committed (Svix's
/// `message.poller.consumer_poll`). With an iterator, commits it first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{poller_id}/consumer/{consumer_id}", tag = "Polling Endpoint",
    operation_id = "v1.message.poller.consumer-poll",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("poller_id" = String, Path, description = "The polling endpoint's id or uid"),
        ("consumer_id" = String, Path, description = "The consumer's own name"), ConsumerPollQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = PollingEndpointOut), ErrorResponses))]
pub async fn consumer_poll(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, poller_id, consumer_id)): Path<(String, String, String)>,
    ValidQuery(query): ValidQuery<ConsumerPollQuery>,
) -> ApiResult<Json<PollingEndpointOut>> {
    consumer_id_ok(&consumer_id)?;
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &app, &poller_id).await?;
    let position = match query.iterator.as_deref().filter(|it| !it.is_empty()) {
        Some(iterator) => {
            let position = state.store.open_feed_iterator(&poller.id, iterator).ok_or_else(bad_iterator)?;
            state.store.commit_consumer(&poller.id, &consumer_id, position, Utc::now()).await?;
            position
        }
        None => state.store.consumer_position(&poller.id, &consumer_id).await?.unwrap_or(0),
    };
    let out = read(&state, &app, &poller, position, &poller_filter(&poller), limit_of(query.limit)).await?;
    Ok(Json(out))
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
    caller: Caller,
    Path((app_id, poller_id, consumer_id)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<PollingEndpointConsumerSeekIn>,
) -> ApiResult<Json<PollingEndpointConsumerSeekOut>> {
    consumer_id_ok(&consumer_id)?;
    let app = caller.application(&state, &app_id).await?;
    let poller = readable(&state, &app, &poller_id).await?;
    let position = state.store.feed_position_at(&app.id, body.after).await?;
    state.store.commit_consumer(&poller.id, &consumer_id, position, Utc::now()).await?;
    Ok(Json(PollingEndpointConsumerSeekOut { iterator: state.store.feed_iterator(&poller.id, position) }))
}
