//! Endpoints: the URLs an application's messages go to, with their filters, custom
//! headers and signing secret. `endpoint_id` in every path accepts the id or `uid`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use herald_core::signing::GENERATED_SECRET_BYTES;
use herald_core::{EndpointId, EndpointSecret};
use herald_store::entity::endpoint;
use herald_store::{Action, Actor, NewEndpoint};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::{Caller, ScopedApp};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::shapes::{metadata_value, string_list, EndpointOut};
use crate::validate::{url_problem, Validator};
use crate::{ApiConfig, ApiState};

mod changes;
use secret::{rotate_into, DEFAULT_GRACE_SECONDS};
pub mod headers;
pub mod secret;
pub mod sending;
pub mod stats;

/// Svix's `EndpointIn` (also its `EndpointUpdate`). SDK 1.x says `filterTypes` and
/// `rateLimit`, 2.x `eventTypes` and `throttleRate`: both spellings are accepted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIn {
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: Option<u16>,
    #[serde(default)]
    pub disabled: bool,
    /// Event types this endpoint receives; omit for all (also read as `filterTypes`).
    #[serde(default, alias = "filterTypes")]
    pub event_types: Option<Vec<String>>,
    /// Channels this endpoint listens on; omit to ignore channels.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// Maximum messages per second to this endpoint (also read as `rateLimit`).
    #[serde(default, alias = "rateLimit")]
    pub throttle_rate: Option<u16>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The signing secret, `whsec_` and base64; generated when omitted.
    #[serde(default)]
    pub secret: Option<String>,
    /// Custom headers sent with every delivery.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Herald's ordered mode: messages with the same `orderingKey` reach this endpoint
    /// strictly one after another. Off when created without it; a `PUT` without it
    /// keeps the current setting.
    #[serde(default)]
    pub ordered: Option<bool>,
    /// Herald's delivery receipts: set, the endpoint's consumer is expected to confirm
    /// each delivery it processed (`POST …/endpoint/{id}/receipt`) within this many
    /// seconds (1 to 604800); deliveries without one are listed as unconfirmed. Off when
    /// created without it; a `PUT` without it keeps the current setting.
    #[serde(default)]
    pub receipt_window: Option<u32>,
    /// Herald's automatic redrive: when the endpoint comes back after an outage longer
    /// than the setting `auto_redrive_after` (or is enabled again), its dead letters
    /// and what it missed while disabled are sent again at its pace. On when created
    /// without it; a `PUT` without it keeps the current setting.
    #[serde(default)]
    pub auto_redrive: Option<bool>,
}

/// Svix's `EndpointPatch`: absent fields stay; `null` clears the nullable ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub version: Option<u16>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default, alias = "filterTypes", deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub channels: Option<Option<Vec<String>>>,
    #[serde(default, alias = "rateLimit", deserialize_with = "double_option")]
    #[schema(value_type = Option<u16>)]
    pub throttle_rate: Option<Option<u16>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub secret: Option<String>,
    /// Herald's ordered mode (see `EndpointIn`).
    #[serde(default)]
    pub ordered: Option<bool>,
    /// Herald's delivery receipts (see `EndpointIn`); `null` turns them off.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub receipt_window: Option<Option<u32>>,
    /// Herald's automatic redrive (see `EndpointIn`).
    #[serde(default)]
    pub auto_redrive: Option<bool>,
}

fn check_headers<'a>(validator: &mut Validator, names: impl Iterator<Item = &'a String>) {
    for name in names {
        let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok();
        validator.check(valid, &["headers", name], "is not a header name Herald can send");
        if let Some(reason) = herald_core::headers::refuse_custom_header(name) {
            validator.check(false, &["headers", name], reason);
        }
    }
}

fn check_header_values<'a>(validator: &mut Validator, headers: impl Iterator<Item = (&'a String, &'a String)>) {
    for (name, value) in headers {
        let ok = axum::http::HeaderValue::from_str(value).is_ok();
        validator.check(ok, &["headers", name], "is not a valid header value");
    }
}

/// The checks every stored endpoint passes, whichever route wrote it.
fn validate_endpoint(config: &ApiConfig, model: &endpoint::Model) -> ApiResult<()> {
    let mut validator = Validator::default();
    if let Some(problem) = url_problem(&model.url) {
        validator.check(false, &["url"], problem);
    } else if config.https_only && !model.url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
        validator.check(false, &["url"], "must use https: this Herald delivers only over TLS (https_only)");
    }
    let filter = string_list(&model.filter_types);
    let channels = string_list(&model.channels);
    validator
        .optional_slug(model.uid.as_deref(), 256, &["uid"])
        .slug_list(filter.as_deref(), 1_000, 256, "eventTypes")
        .check(
            filter.as_ref().is_none_or(|f| !f.is_empty()),
            &["eventTypes"],
            "must not be empty; omit it to receive every event type",
        )
        .slug_list(channels.as_deref(), 10, 128, "channels")
        .check(
            channels.as_ref().is_none_or(|c| !c.is_empty()),
            &["channels"],
            "must not be empty; omit it to ignore channels",
        )
        .check(model.rate_limit != Some(0), &["throttleRate"], "must be at least 1")
        .check(model.version >= 1, &["version"], "must be at least 1")
        .check(model.description.len() <= 65_536, &["description"], "must be at most 65536 characters")
        .check(
            model.receipt_window_secs.is_none_or(|secs| (1..=MAX_RECEIPT_WINDOW_SECS).contains(&secs)),
            &["receiptWindow"],
            "must be from 1 to 604800 seconds (7 days)",
        );
    validator.finish()
}

/// The longest receipt window: a week.
const MAX_RECEIPT_WINDOW_SECS: i32 = 7 * 24 * 3600;

/// A requested receipt window as stored; a value past `i32` is out of range anyway.
fn receipt_window_secs(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

fn parse_secret(given: Option<&str>, path: &str) -> ApiResult<EndpointSecret> {
    match given {
        Some(given) => EndpointSecret::parse(given).map_err(|error| ApiError::validation(&[path], error.to_string())),
        None => Ok(EndpointSecret::from_random_bytes(rand::random::<[u8; GENERATED_SECRET_BYTES]>())),
    }
}

fn headers_value(headers: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::to_value(headers).unwrap_or_default()
}

fn stored_headers(model: &endpoint::Model) -> BTreeMap<String, String> {
    model
        .headers
        .as_object()
        .map(|map| map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default()
}

pub(crate) async fn find(state: &ApiState, app: &ScopedApp, endpoint_id: &str) -> ApiResult<endpoint::Model> {
    state.store.find_endpoint(&app.id, endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))
}

/// Lists an application's endpoints.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint", operation_id = "v1.endpoint.list",
    params(("app_id" = String, Path, description = "The application's id or uid"), OrderedPageQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<EndpointOut>), ErrorResponses))]
pub async fn list_endpoints(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<OrderedPageQuery>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let page = query.page()?;
    let listed = state.store.list_endpoints(&app.id, &page).await?;
    Ok(Json(envelope(listed, &page, |e| e.id.to_string(), EndpointOut::from)))
}

fn new_endpoint_model(
    config: &ApiConfig,
    app: &ScopedApp,
    body: EndpointIn,
    now: DateTime<Utc>,
) -> ApiResult<(endpoint::Model, EndpointSecret)> {
    let secret = parse_secret(body.secret.as_deref(), "secret")?;
    let headers = body.headers.unwrap_or_default();
    let mut validator = Validator::default();
    check_headers(&mut validator, headers.keys());
    check_header_values(&mut validator, headers.iter());
    validator.check(body.version != Some(0), &["version"], "must be at least 1").finish()?;
    let model = endpoint::Model {
        id: fresh(EndpointId::generate).into(),
        tenant_id: app.tenant_id.clone(),
        app_id: app.id.clone(),
        uid: body.uid,
        url: body.url,
        description: body.description,
        version: i32::from(body.version.unwrap_or(1)),
        disabled: body.disabled,
        rate_limit: body.throttle_rate.map(i32::from),
        filter_types: body.event_types.map(herald_store::entity::Names::from),
        channels: body.channels.map(herald_store::entity::Names::from),
        metadata: metadata_value(body.metadata),
        headers: headers_value(&headers),
        secret: secret.expose(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        ordered: body.ordered.unwrap_or(false),
        signing_key: None,
        receipt_window_secs: body.receipt_window.map(receipt_window_secs),
        auto_redrive: body.auto_redrive.unwrap_or(true),
        redrive_from: None,
    };
    validate_endpoint(config, &model)?;
    Ok((model, secret))
}

async fn insert(state: &ApiState, model: endpoint::Model, by: &Actor) -> ApiResult<endpoint::Model> {
    Ok(state
        .store
        .create_endpoint(
            NewEndpoint {
                id: model.id.into_inner(),
                tenant_id: model.tenant_id.into_inner(),
                app_id: model.app_id.into_inner(),
                uid: model.uid,
                url: model.url,
                description: model.description,
                version: model.version,
                disabled: model.disabled,
                rate_limit: model.rate_limit,
                filter_types: string_list(&model.filter_types),
                channels: string_list(&model.channels),
                metadata: model.metadata,
                headers: model.headers,
                secret: model.secret,
                ordered: model.ordered,
                signing_key: model.signing_key,
                receipt_window_secs: model.receipt_window_secs,
                auto_redrive: model.auto_redrive,
                now: model.created_at,
            },
            by,
        )
        .await?)
}

/// Creates an endpoint.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint", operation_id = "v1.endpoint.create",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = EndpointIn,
    security(("HTTPBearer" = [])), responses((status = 201, body = EndpointOut), ErrorResponses))]
pub async fn create_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let (model, _) = new_endpoint_model(&state.config, &app, body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(insert(&state, model, &caller.actor()).await?.into())))
}

/// Gets an endpoint.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", operation_id = "v1.endpoint.get",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointOut), ErrorResponses))]
pub async fn get_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let app = caller.application(&state, &app_id).await?;
    Ok(Json(find(&state, &app, &endpoint_id).await?.into()))
}

/// Replaces an endpoint; creates it (with `endpoint_id` as its `uid`) when it does not exist.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", operation_id = "v1.endpoint.update",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointIn, security(("HTTPBearer" = [])),
    responses((status = 200, body = EndpointOut), (status = 201, body = EndpointOut), ErrorResponses))]
pub async fn update_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let now = Utc::now();
    let Some(before) = state.store.find_endpoint(&app.id, &endpoint_id).await? else {
        if EndpointId::has_prefix(&endpoint_id) {
            return Err(ApiError::NotFound("endpoint"));
        }
        Validator::default().slug(&endpoint_id, 256, &["uid"]).finish()?;
        let mut body = body;
        body.uid = Some(endpoint_id);
        let (model, _) = new_endpoint_model(&state.config, &app, body, now)?;
        return Ok((StatusCode::CREATED, Json(insert(&state, model, &caller.actor()).await?.into())));
    };
    let mut validator = Validator::default();
    if let Some(headers) = &body.headers {
        check_headers(&mut validator, headers.keys());
        check_header_values(&mut validator, headers.iter());
    }
    validator.check(body.version != Some(0), &["version"], "must be at least 1").finish()?;
    let existing = changes::replaced(&before, body, now);
    validate_endpoint(&state.config, &existing)?;
    let updated = state
        .store
        .update_endpoint(&before, existing, &caller.actor(), Action::EndpointUpdate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok((StatusCode::OK, Json(updated.into())))
}

/// Changes the given fields of an endpoint.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", operation_id = "v1.endpoint.patch",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointPatch, security(("HTTPBearer" = [])), responses((status = 200, body = EndpointOut), ErrorResponses))]
pub async fn patch_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(mut body): ValidJson<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let secret = body.secret.take();
    let mut existing = changes::patched(&before, body, now);
    // A patch that sets the secret is recorded as the rotation it is.
    let mut action = Action::EndpointUpdate;
    if let Some(secret) = secret.as_deref() {
        action = Action::EndpointSecretRotate;
        rotate_into(
            &mut existing,
            parse_secret(Some(secret), "secret")?,
            now,
            Duration::seconds(DEFAULT_GRACE_SECONDS),
        );
    }
    validate_endpoint(&state.config, &existing)?;
    let updated = state
        .store
        .update_endpoint(&before, existing, &caller.actor(), action)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(updated.into()))
}

/// Deletes an endpoint; its pending deliveries stop.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", operation_id = "v1.endpoint.delete",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Deleted."), ErrorResponses))]
pub async fn delete_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    state.store.delete_endpoint(&existing, Utc::now(), &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
