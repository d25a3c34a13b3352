//! The operator's API, `/admin/v1`: tenants and their API keys. It answers only to
//! `Authorization: Bearer <operator token>` (setting `operator_token`); when no token
//! is configured it is off and every route answers `401`. The CLI (`herald tenant …`,
//! `herald api-key …`) calls the same use cases (`crate::service::tenants`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::TenantId;
use herald_store::entity::{api_key, tenant};
use herald_store::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidJson;
use crate::service::tenants::{change_settings, new_api_key, new_tenant, SettingsRequest};
use crate::ApiState;

/// A tenant, as the operator sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantOut {
    pub id: String,
    pub name: String,
    /// `accept`, `flag` or `reject`: what a payload that breaks its event type's schema gets.
    pub schema_validation: String,
    pub created_at: DateTime<Utc>,
    /// Messages per second the tenant may create, per API process; `null` follows the
    /// setting `ingest_rate_limit`, `0` is no limit.
    pub ingest_rate_limit: Option<i32>,
    /// Deliveries the tenant may have waiting before message creation answers `429
    /// backlog_full`; `null` follows the setting `max_backlog`, `0` is no cap.
    pub max_backlog: Option<i64>,
    /// Seconds the tenant's oldest ready delivery may have waited before message
    /// creation answers `429 backlog_full`; `null` follows the setting
    /// `max_backlog_age`, `0` is no cap.
    pub max_backlog_age: Option<i64>,
    /// `false`: no endpoint of the tenant is redriven automatically after an outage;
    /// `null` (the default) or `true`: each endpoint's `autoRedrive` decides.
    pub auto_redrive: Option<bool>,
    /// Seconds a message's payload is kept; `null` follows the setting `payload_retention`.
    pub payload_retention: Option<i64>,
    /// Seconds a message, its deliveries and attempts are kept; `null` follows the
    /// setting `metadata_retention`.
    pub metadata_retention: Option<i64>,
}

impl From<tenant::Model> for TenantOut {
    fn from(model: tenant::Model) -> Self {
        Self {
            id: model.id.to_string(),
            name: model.name,
            schema_validation: model.schema_validation.to_string(),
            created_at: model.created_at,
            ingest_rate_limit: model.ingest_rate_limit,
            max_backlog: model.max_backlog,
            max_backlog_age: model.max_backlog_age_secs,
            auto_redrive: model.auto_redrive,
            payload_retention: model.payload_retention_secs,
            metadata_retention: model.metadata_retention_secs,
        }
    }
}

/// A new tenant and its first API key (shown only here).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantCreatedOut {
    #[serde(flatten)]
    pub tenant: TenantOut,
    pub api_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantIn {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantPatch {
    /// `accept`, `flag` or `reject`.
    #[serde(default)]
    pub schema_validation: Option<String>,
    /// Messages per second the tenant may create, per API process (0 to 1,000,000;
    /// `0` is no limit); `null` goes back to the setting `ingest_rate_limit`.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u32>)]
    pub ingest_rate_limit: Option<Option<u32>>,
    /// Deliveries the tenant may have waiting (0 to 1,000,000,000; `0` is no cap);
    /// `null` goes back to the setting `max_backlog`.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u64>)]
    pub max_backlog: Option<Option<u64>>,
    /// Seconds the oldest ready delivery may have waited (0 to 2,592,000; `0` is no
    /// cap); `null` goes back to the setting `max_backlog_age`.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u64>)]
    pub max_backlog_age: Option<Option<u64>>,
    /// Whether the tenant's endpoints are redriven automatically after an outage;
    /// `null` goes back to the default (on).
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<bool>)]
    pub auto_redrive: Option<Option<bool>>,
    /// Seconds the tenant's payloads are kept (1 to 315,576,000, ten years), for
    /// messages accepted from now on; `null` goes back to the setting `payload_retention`.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u64>)]
    pub payload_retention: Option<Option<u64>>,
    /// Seconds the tenant's messages, deliveries and attempts are kept (1 to
    /// 315,576,000), for messages accepted from now on; `null` goes back to the setting
    /// `metadata_retention`.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u64>)]
    pub metadata_retention: Option<Option<u64>>,
}

/// An API key's record (never the key itself).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyOut {
    fn from(model: api_key::Model) -> Self {
        Self { id: model.id.to_string(), name: model.name, created_at: model.created_at, revoked_at: model.revoked_at }
    }
}

/// A new API key (shown only here).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreatedOut {
    #[serde(flatten)]
    pub record: ApiKeyOut,
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyIn {
    pub name: String,
}

/// The path's tenant id; one that is not a tenant id names no tenant.
fn tenant_id(value: String) -> ApiResult<TenantId> {
    TenantId::parse(&value).map_err(|_| ApiError::NotFound("tenant"))
}

/// Lists every tenant.
#[utoipa::path(get, path = "/admin/v1/tenant", tag = "Admin", operation_id = "admin.tenant.list",
    security(("OperatorToken" = [])), responses((status = 200, body = Vec<TenantOut>), ErrorResponses))]
pub async fn list_tenants(State(state): State<ApiState>, _: Operator) -> ApiResult<Json<Vec<TenantOut>>> {
    Ok(Json(state.store.list_tenants().await?.into_iter().map(TenantOut::from).collect()))
}

/// Creates a tenant and its first API key.
#[utoipa::path(post, path = "/admin/v1/tenant", tag = "Admin", operation_id = "admin.tenant.create",
    request_body = TenantIn, security(("OperatorToken" = [])),
    responses((status = 201, body = TenantCreatedOut), ErrorResponses))]
pub async fn create_tenant(
    State(state): State<ApiState>,
    _: Operator,
    ValidJson(body): ValidJson<TenantIn>,
) -> ApiResult<(StatusCode, Json<TenantCreatedOut>)> {
    let (created, api_key) = new_tenant(&state.store, &body.name).await?;
    Ok((StatusCode::CREATED, Json(TenantCreatedOut { tenant: created.into(), api_key })))
}

/// Changes a tenant's settings.
#[utoipa::path(patch, path = "/admin/v1/tenant/{tenant_id}", tag = "Admin", operation_id = "admin.tenant.patch",
    params(("tenant_id" = String, Path, description = "The tenant's id")), request_body = TenantPatch,
    security(("OperatorToken" = [])), responses((status = 200, body = TenantOut), ErrorResponses))]
pub async fn update_tenant(
    State(state): State<ApiState>,
    _: Operator,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<TenantPatch>,
) -> ApiResult<Json<TenantOut>> {
    let id = tenant_id(id)?;
    let request = SettingsRequest {
        schema_validation: body.schema_validation,
        ingest_rate_limit: body.ingest_rate_limit,
        max_backlog: body.max_backlog,
        max_backlog_age: body.max_backlog_age,
        auto_redrive: body.auto_redrive,
        payload_retention: body.payload_retention,
        metadata_retention: body.metadata_retention,
    };
    let updated = if request.is_empty() {
        state.store.find_tenant(&id).await?.ok_or(ApiError::NotFound("tenant"))?
    } else {
        change_settings(&state.store, &id, request).await?
    };
    Ok(Json(updated.into()))
}

/// Lists a tenant's API keys (records only).
#[utoipa::path(get, path = "/admin/v1/tenant/{tenant_id}/api-key", tag = "Admin", operation_id = "admin.api-key.list",
    params(("tenant_id" = String, Path, description = "The tenant's id")), security(("OperatorToken" = [])),
    responses((status = 200, body = Vec<ApiKeyOut>), ErrorResponses))]
pub async fn list_api_keys(
    State(state): State<ApiState>,
    _: Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ApiKeyOut>>> {
    let id = tenant_id(id)?;
    state.store.find_tenant(&id).await?.ok_or(ApiError::NotFound("tenant"))?;
    Ok(Json(state.store.list_api_keys(&id).await?.into_iter().map(ApiKeyOut::from).collect()))
}

/// Issues an API key for a tenant.
#[utoipa::path(post, path = "/admin/v1/tenant/{tenant_id}/api-key", tag = "Admin", operation_id = "admin.api-key.create",
    params(("tenant_id" = String, Path, description = "The tenant's id")), request_body = ApiKeyIn,
    security(("OperatorToken" = [])), responses((status = 201, body = ApiKeyCreatedOut), ErrorResponses))]
pub async fn create_api_key(
    State(state): State<ApiState>,
    _: Operator,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ApiKeyIn>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreatedOut>)> {
    let (record, key) = new_api_key(&state.store, &tenant_id(id)?, &body.name).await?;
    Ok((StatusCode::CREATED, Json(ApiKeyCreatedOut { record: record.into(), key })))
}

/// Revokes an API key; it stops working at once.
#[utoipa::path(delete, path = "/admin/v1/tenant/{tenant_id}/api-key/{key_id}", tag = "Admin", operation_id = "admin.api-key.revoke",
    params(("tenant_id" = String, Path, description = "The tenant's id"), ("key_id" = String, Path, description = "The key's id")),
    security(("OperatorToken" = [])), responses((status = 204, description = "Revoked."), ErrorResponses))]
pub async fn revoke_api_key(
    State(state): State<ApiState>,
    _: Operator,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if state.store.revoke_api_key(&tenant_id(id)?, &key_id, Utc::now(), &Actor::Operator).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("api key"))
    }
}
