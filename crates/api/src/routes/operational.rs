//! Svix's operational-webhook endpoint routes (`/api/v1/operational-webhook/endpoint…`),
//! mapped onto the tenant's operational application (uid `operational_app_uid`, default
//! `herald-operational`), whose endpoints receive `endpoint.disabled` and
//! `message.attempt.exhausted` (see `docs/decisions.md`, "Operational webhooks through
//! Herald itself"). Each route is the application's endpoint route with the
//! application filled in, so signing, retries, attempt logs and audit are the same. The
//! first endpoint created (or upserted) creates the application. Tenant API keys only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::endpoints::headers::{EndpointHeadersIn, EndpointHeadersOut};
use super::endpoints::secret::{EndpointSecretOut, EndpointSecretRotateIn};
use super::endpoints::{self as app_endpoints, EndpointIn};
use super::{ListResponse, OrderedPageQuery};
use crate::auth::{Caller, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::service::applications::find_or_create_application;
use crate::shapes::{ApplicationIn, EndpointOut};
use crate::ApiState;

/// The operational application's uid; `404` when operational webhooks are turned off.
fn operational_uid(state: &ApiState) -> ApiResult<String> {
    state.config.operational_app_uid.clone().ok_or(ApiError::NotFound("operational webhooks"))
}

/// The operational application's uid once it exists; `None` before its first endpoint.
async fn existing(state: &ApiState, caller: &TenantCaller) -> ApiResult<Option<String>> {
    let uid = operational_uid(state)?;
    Ok(state.store.find_application(&caller.tenant_id(), &uid).await?.map(|_| uid))
}

/// The operational application's uid; `404` for the endpoint when it does not exist.
async fn required(state: &ApiState, caller: &TenantCaller) -> ApiResult<String> {
    existing(state, caller).await?.ok_or(ApiError::NotFound("endpoint"))
}

/// Lists the operational webhook endpoints.
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.list", params(OrderedPageQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<EndpointOut>), ErrorResponses))]
pub async fn list(
    State(state): State<ApiState>,
    caller: TenantCaller,
    query: ValidQuery<OrderedPageQuery>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let Some(uid) = existing(&state, &caller).await? else {
        query.0.page()?;
        return Ok(Json(ListResponse { data: Vec::new(), iterator: None, prev_iterator: None, done: true }));
    };
    app_endpoints::list_endpoints(State(state), caller.as_caller(), Path(uid), query).await
}

/// Creates an operational webhook endpoint (Svix's `OperationalWebhookEndpointIn`:
/// `url`, `description`, `disabled`, `filterTypes`, `metadata`, `rateLimit`, `secret`,
/// `uid`), and the operational application with the first one.
#[utoipa::path(post, path = "/api/v1/operational-webhook/endpoint", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.create", request_body = EndpointIn,
    security(("HTTPBearer" = [])), responses((status = 201, body = EndpointOut), ErrorResponses))]
pub async fn create(
    State(state): State<ApiState>,
    caller: TenantCaller,
    body: ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let uid = operational_application(&state, &caller).await?;
    app_endpoints::create_endpoint(State(state), caller.as_caller(), Path(uid), body).await
}

/// The operational application's uid, the application created if it does not exist yet.
async fn operational_application(state: &ApiState, caller: &TenantCaller) -> ApiResult<String> {
    let uid = operational_uid(state)?;
    let application =
        ApplicationIn { name: "Operational webhooks".into(), uid: None, throttle_rate: None, metadata: None };
    find_or_create_application(state, caller, &uid, Some(application)).await?;
    Ok(uid)
}

/// Gets an operational webhook endpoint.
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.get",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointOut), ErrorResponses))]
pub async fn get(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointOut>> {
    let uid = required(&state, &caller).await?;
    app_endpoints::get_endpoint(State(state), caller.as_caller(), Path((uid, endpoint_id))).await
}

/// Replaces an operational webhook endpoint, or creates it with `endpoint_id` as its
/// `uid` (`201`) when there is none: Svix's `OperationalWebhookEndpointUpdate`, which
/// SDK 2.x calls `upsert` (`OperationalWebhookEndpointUpsertIn`).
#[utoipa::path(put, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.update",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")), request_body = EndpointIn,
    security(("HTTPBearer" = [])),
    responses((status = 200, body = EndpointOut), (status = 201, body = EndpointOut), ErrorResponses))]
pub async fn update(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
    body: ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let uid = operational_application(&state, &caller).await?;
    app_endpoints::update_endpoint(State(state), caller.as_caller(), Path((uid, endpoint_id)), body).await
}

/// Deletes an operational webhook endpoint.
#[utoipa::path(delete, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.delete",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Deleted."), ErrorResponses))]
pub async fn delete(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<StatusCode> {
    let uid = required(&state, &caller).await?;
    app_endpoints::delete_endpoint(State(state), caller.as_caller(), Path((uid, endpoint_id))).await
}

/// Gets an operational webhook endpoint's custom headers.
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/headers", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.get-headers",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointHeadersOut), ErrorResponses))]
pub async fn get_headers(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    let uid = required(&state, &caller).await?;
    app_endpoints::headers::get_headers(State(state), caller.as_caller(), Path((uid, endpoint_id))).await
}

/// Replaces an operational webhook endpoint's custom headers.
#[utoipa::path(put, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/headers", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.update-headers",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")), request_body = EndpointHeadersIn,
    security(("HTTPBearer" = [])), responses((status = 204, description = "Replaced."), ErrorResponses))]
pub async fn update_headers(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
    body: ValidJson<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    let uid = required(&state, &caller).await?;
    app_endpoints::headers::update_headers(State(state), caller.as_caller(), Path((uid, endpoint_id)), body).await
}

/// Gets an operational webhook endpoint's signing secret.
#[utoipa::path(get, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/secret", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.get-secret",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn get_secret(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let uid = required(&state, &caller).await?;
    app_endpoints::secret::get_secret(State(state), caller.as_caller(), Path((uid, endpoint_id))).await
}

/// Rotates an operational webhook endpoint's signing secret; answers `200` with the new
/// one (Svix answers `204`; its SDKs read no body here).
#[utoipa::path(post, path = "/api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate", tag = "Webhook Endpoint",
    operation_id = "v1.operational-webhook.endpoint.rotate-secret",
    params(("endpoint_id" = String, Path, description = "The endpoint's id or uid")), request_body = EndpointSecretRotateIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(endpoint_id): Path<String>,
    body: ValidJson<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let uid = required(&state, &caller).await?;
    app_endpoints::secret::rotate_secret(State(state), caller.as_caller(), Path((uid, endpoint_id)), body).await
}

impl TenantCaller {
    /// The same caller as the application routes see it.
    fn as_caller(&self) -> Caller {
        Caller { tenant: self.0.clone(), scope: crate::auth::Scope::Tenant { key_id: self.1.clone() } }
    }
}
