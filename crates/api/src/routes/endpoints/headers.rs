//! An endpoint's custom headers: read (sensitive values withheld), replaced, patched.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use herald_store::entity::endpoint;
use herald_store::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check_header_values, check_headers, find, headers_value, stored_headers};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidJson;
use crate::validate::Validator;
use crate::ApiState;

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
    let mut validator = Validator::default();
    check_headers(&mut validator, body.headers.keys());
    check_header_values(&mut validator, body.headers.iter());
    validator.finish()?;
    write_headers(&state, &caller, before, &body.headers).await
}

/// Stores `headers` as the endpoint's custom headers (only that column; `404` when the
/// endpoint was deleted meanwhile).
async fn write_headers(
    state: &ApiState,
    caller: &Caller,
    before: endpoint::Model,
    headers: &BTreeMap<String, String>,
) -> ApiResult<StatusCode> {
    let mut changed = before.clone();
    changed.headers = headers_value(headers);
    changed.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&before, changed, &caller.actor(), Action::EndpointHeadersUpdate)
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
    let mut validator = Validator::default();
    check_headers(&mut validator, body.headers.keys());
    let set: Vec<(&String, &String)> = body.headers.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))).collect();
    check_header_values(&mut validator, set.into_iter());
    validator.finish()?;
    let mut headers = stored_headers(&before);
    for (name, value) in body.headers {
        match value {
            Some(value) => headers.insert(name, value),
            None => headers.remove(&name),
        };
    }
    for name in body.delete_headers {
        headers.remove(&name);
    }
    write_headers(&state, &caller, before, &headers).await
}
