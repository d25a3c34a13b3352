//! Endpoints: the URLs an application's messages go to, with their filters, custom
//! headers and signing secret. `endpoint_id` in every path accepts the id or `uid`.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use herald_core::signing::GENERATED_SECRET_BYTES;
use herald_core::{ApplicationId, DeliveryId, EndpointId, EndpointSecret, MessageId};
use herald_store::entity::{application, endpoint};
use herald_store::{Action, Actor, NewEndpoint, NewMessage, PlannedDelivery};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::applications::{metadata_map, metadata_value};
use super::messages::{queue_deliveries, MessageOut};
use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::validate::{url_problem, Validator};
use crate::{ApiConfig, ApiState};

mod changes;

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
}

/// Svix's `EndpointOut`, with both spellings of the filter and the rate limit, and
/// `version` always present (SDK 1.x requires it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    pub filter_types: Option<Vec<String>>,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub rate_limit: Option<i32>,
    pub throttle_rate: Option<i32>,
    pub uid: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Herald's ordered mode: deliveries of one ordering key go one after another.
    pub ordered: bool,
}

fn string_list(value: &Option<serde_json::Value>) -> Option<Vec<String>> {
    value.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
}

impl From<endpoint::Model> for EndpointOut {
    fn from(model: endpoint::Model) -> Self {
        let filter = string_list(&model.filter_types);
        Self {
            id: model.id,
            url: model.url,
            description: model.description,
            version: model.version,
            disabled: model.disabled,
            event_types: filter.clone(),
            filter_types: filter,
            channels: string_list(&model.channels),
            rate_limit: model.rate_limit,
            throttle_rate: model.rate_limit,
            uid: model.uid,
            metadata: metadata_map(&model.metadata),
            created_at: model.created_at,
            updated_at: model.updated_at,
            ordered: model.ordered,
        }
    }
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
        .check(model.description.len() <= 65_536, &["description"], "must be at most 65536 characters");
    validator.finish()
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

async fn find(state: &ApiState, app: &application::Model, endpoint_id: &str) -> ApiResult<endpoint::Model> {
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
    Ok(Json(envelope(listed, &page, |e| e.id.clone(), EndpointOut::from)))
}

fn new_endpoint_model(
    config: &ApiConfig,
    app: &application::Model,
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
        id: fresh(EndpointId::generate).into_string(),
        tenant_id: app.tenant_id.clone(),
        app_id: app.id.clone(),
        uid: body.uid,
        url: body.url,
        description: body.description,
        version: i32::from(body.version.unwrap_or(1)),
        disabled: body.disabled,
        rate_limit: body.throttle_rate.map(i32::from),
        filter_types: body.event_types.map(serde_json::Value::from),
        channels: body.channels.map(serde_json::Value::from),
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
    };
    validate_endpoint(config, &model)?;
    Ok((model, secret))
}

async fn insert(state: &ApiState, model: endpoint::Model, by: &Actor) -> ApiResult<endpoint::Model> {
    Ok(state
        .store
        .create_endpoint(
            NewEndpoint {
                id: EndpointId::from_trusted(model.id),
                tenant_id: herald_core::TenantId::from_trusted(model.tenant_id),
                app_id: ApplicationId::from_trusted(model.app_id),
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

/// Svix's `EndpointHeadersOut`: values of sensitive headers are withheld and their
/// names listed in `sensitive`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointHeadersOut {
    pub headers: BTreeMap<String, String>,
    pub sensitive: BTreeSet<String>,
}

/// Svix's `EndpointHeadersIn`: the complete set of custom headers.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndpointHeadersIn {
    pub headers: BTreeMap<String, String>,
}

/// Svix's `EndpointHeadersPatchIn`: a `null` value removes that header.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHeadersPatchIn {
    pub headers: BTreeMap<String, Option<String>>,
    /// Header names to remove (newer SDKs).
    #[serde(default)]
    pub delete_headers: Vec<String>,
}

fn headers_out(model: &endpoint::Model) -> EndpointHeadersOut {
    let (sensitive, headers): (BTreeMap<_, _>, BTreeMap<_, _>) =
        stored_headers(model).into_iter().partition(|(name, _)| herald_core::headers::is_sensitive(name));
    EndpointHeadersOut { headers, sensitive: sensitive.into_keys().collect() }
}

/// Gets an endpoint's custom headers.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint", operation_id = "v1.endpoint.get-headers",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointHeadersOut), ErrorResponses))]
pub async fn get_headers(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    let app = caller.application(&state, &app_id).await?;
    Ok(Json(headers_out(&find(&state, &app, &endpoint_id).await?)))
}

/// Replaces an endpoint's custom headers.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint", operation_id = "v1.endpoint.update-headers",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointHeadersIn, security(("HTTPBearer" = [])), responses((status = 204, description = "Replaced."), ErrorResponses))]
pub async fn update_headers(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &endpoint_id).await?;
    let mut existing = before.clone();
    let mut validator = Validator::default();
    check_headers(&mut validator, body.headers.keys());
    check_header_values(&mut validator, body.headers.iter());
    validator.finish()?;
    existing.headers = headers_value(&body.headers);
    existing.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&before, existing, &caller.actor(), Action::EndpointHeadersUpdate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets, replaces or removes some of an endpoint's custom headers.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint", operation_id = "v1.endpoint.patch-headers",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointHeadersPatchIn, security(("HTTPBearer" = [])), responses((status = 204, description = "Changed."), ErrorResponses))]
pub async fn patch_headers(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &endpoint_id).await?;
    let mut existing = before.clone();
    let mut validator = Validator::default();
    check_headers(&mut validator, body.headers.keys());
    let set: Vec<(&String, &String)> = body.headers.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))).collect();
    check_header_values(&mut validator, set.into_iter());
    validator.finish()?;
    let mut headers = stored_headers(&existing);
    for (name, value) in body.headers {
        match value {
            Some(value) => headers.insert(name, value),
            None => headers.remove(&name),
        };
    }
    for name in body.delete_headers {
        headers.remove(&name);
    }
    existing.headers = headers_value(&headers);
    existing.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&before, existing, &caller.actor(), Action::EndpointHeadersUpdate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Svix's `EndpointSecretOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSecretOut {
    /// The current signing secret, `whsec_…`.
    pub key: String,
}

/// Svix's `EndpointSecretRotateIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSecretRotateIn {
    /// The new secret; generated when omitted or `null`.
    #[serde(default)]
    pub key: Option<String>,
    /// How long the old secret keeps signing, 0 to 604800 seconds (default 86400).
    #[serde(default)]
    pub grace_period_seconds: Option<u32>,
}

const DEFAULT_GRACE_SECONDS: i64 = 86_400;
const MAX_GRACE_SECONDS: u32 = 604_800;

/// Makes `secret` current; the old one keeps signing (a second signature in
/// `webhook-signature`) for `grace`, so receivers can switch without losing a delivery.
fn rotate_into(model: &mut endpoint::Model, secret: EndpointSecret, now: DateTime<Utc>, grace: Duration) {
    let old = std::mem::replace(&mut model.secret, secret.expose());
    if grace > Duration::zero() {
        model.previous_secret = Some(old);
        model.previous_secret_expires_at = Some(now + grace);
    } else {
        model.previous_secret = None;
        model.previous_secret_expires_at = None;
    }
}

/// Gets an endpoint's current signing secret.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = "Endpoint", operation_id = "v1.endpoint.get-secret",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn get_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = caller.application(&state, &app_id).await?;
    Ok(Json(EndpointSecretOut { key: find(&state, &app, &endpoint_id).await?.secret }))
}

/// Rotates an endpoint's signing secret and answers with the new one (Svix answers
/// `204`, which SDK 2.x cannot parse; Herald answers `200` with `{key}`).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = "Endpoint", operation_id = "v1.endpoint.rotate-secret",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointSecretRotateIn, security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &endpoint_id).await?;
    let mut existing = before.clone();
    let grace = body.grace_period_seconds.map_or(DEFAULT_GRACE_SECONDS, i64::from);
    Validator::default()
        .check(
            body.grace_period_seconds.is_none_or(|s| s <= MAX_GRACE_SECONDS),
            &["gracePeriodSeconds"],
            "must be at most 604800 (7 days)",
        )
        .finish()?;
    let now = Utc::now();
    rotate_into(&mut existing, parse_secret(body.key.as_deref(), "key")?, now, Duration::seconds(grace));
    existing.updated_at = now;
    let updated = state
        .store
        .update_endpoint(&before, existing, &caller.actor(), Action::EndpointSecretRotate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(EndpointSecretOut { key: updated.secret }))
}

/// Svix's `RecoverIn`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverIn {
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Svix's `RecoverOut`. Herald restarts the deliveries before answering, so the
/// task is `finished` when the answer arrives.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoverOut {
    pub id: String,
    /// `finished`: every matching delivery is queued again.
    pub status: String,
    /// Always `endpoint.recover`.
    pub task: String,
    pub updated_at: DateTime<Utc>,
    /// How many dead-lettered deliveries were restarted (Herald's addition).
    pub recovered: usize,
}

/// Re-sends every dead-lettered delivery to this endpoint created in `[since, until)`,
/// each in a fresh retry cycle with a manual first attempt.
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
    let until = body.until.unwrap_or(now).min(now + Duration::seconds(1));
    Validator::default().check(body.since < until, &["since"], "must be before `until` and now").finish()?;
    let restarted = state.store.recover_endpoint(&existing, body.since, until, now, &caller.actor()).await?;
    queue_deliveries(&state, &caller.tenant_id(), &restarted);
    let out = RecoverOut {
        id: format!("qtask_{}", fresh(herald_core::DeliveryId::generate).as_str().trim_start_matches("dlv_")),
        status: "finished".into(),
        task: "endpoint.recover".into(),
        updated_at: now,
        recovered: restarted.len(),
    };
    Ok((StatusCode::ACCEPTED, Json(out)))
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
/// the event type's schema example when it has one, else a small ping payload.
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
    let index = body.example_index.unwrap_or(0) as usize;
    let examples: Vec<serde_json::Value> = event_type
        .as_ref()
        .and_then(|et| super::event_types::latest_schema(et.schemas.as_ref()))
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
    let now = Utc::now();
    let planned = PlannedDelivery {
        id: fresh(DeliveryId::generate),
        endpoint_id: existing.id.clone(),
        ordered: existing.ordered,
    };
    let new = NewMessage {
        id: fresh(MessageId::generate),
        tenant_id: tenant.clone(),
        app_id: ApplicationId::from_trusted(app.id),
        event_type: body.event_type,
        event_id: None,
        payload: payload.to_string(),
        channels: None,
        tags: None,
        schema_violations: None,
        ordering_key: None,
        trace_context: None,
        now,
    };
    let (message, deliveries) = state.store.create_message(new, std::slice::from_ref(&planned)).await?;
    queue_deliveries(&state, &tenant, &deliveries);
    let raw = RawValue::from_string(message.payload.clone()).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, raw))))
}

/// Svix's `EndpointStats`: the endpoint's deliveries created in the window, by state.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointStats {
    pub success: u64,
    pub pending: u64,
    /// Always 0: Herald does not persist an in-flight state.
    pub sending: u64,
    pub fail: u64,
    /// Always 0: Herald never cancels a delivery.
    pub canceled: u64,
    /// Herald's addition: the endpoint's circuit breaker.
    pub breaker: BreakerOut,
}

/// Where an endpoint's circuit breaker stands. While it is open nothing is sent to the
/// endpoint and deliveries wait without spending attempts; after `openUntil` one probe
/// decides whether it closes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerOut {
    /// `closed`, `open` or `halfOpen`.
    #[schema(example = "closed")]
    pub state: &'static str,
    /// When the open breaker lets its probe through (absent when closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_until: Option<DateTime<Utc>>,
    /// Failures in a row that led to the opening (0 when closed).
    pub consecutive_failures: u32,
}

impl BreakerOut {
    fn new(shared: Option<herald_queue::SharedBreaker>, now: DateTime<Utc>) -> Self {
        let Some(shared) = shared else {
            return Self { state: "closed", open_until: None, consecutive_failures: 0 };
        };
        let open_until = DateTime::from_timestamp_millis(shared.open_until_ms);
        let state = if open_until.is_some_and(|until| until > now) { "open" } else { "halfOpen" };
        Self { state, open_until, consecutive_failures: shared.consecutive_failures }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start of the window (default 28 days ago).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub since: Option<DateTime<Utc>>,
    /// End of the window (default now).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub until: Option<DateTime<Utc>>,
}

/// Counts the endpoint's deliveries by state.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "Endpoint", operation_id = "v1.endpoint.get-stats",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), StatsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointStats), ErrorResponses))]
pub async fn get_stats(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<StatsQuery>,
) -> ApiResult<Json<EndpointStats>> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let until = query.until.unwrap_or(now);
    let since = query.since.unwrap_or(until - Duration::days(28));
    let counts = state.store.endpoint_delivery_counts(&existing.id, since, until).await?;
    let breaker = state.queue.breaker(&existing.id).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(EndpointStats {
        success: counts.succeeded,
        pending: counts.pending,
        sending: 0,
        fail: counts.failed,
        canceled: 0,
        breaker: BreakerOut::new(breaker, now),
    }))
}
