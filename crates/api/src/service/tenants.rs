//! Tenants and their API keys, as the operator manages them: through `/admin/v1` and
//! through the `herald tenant` and `herald api-key` commands alike.

use chrono::Utc;
use herald_core::api_key::format_api_key;
use herald_core::{ApiKeyId, SchemaMode, TenantId};
use herald_store::entity::{api_key, tenant};
use herald_store::{Actor, Store, TenantSettingsChange};

use crate::error::{ApiError, ApiResult};
use crate::ids::fresh;
use crate::validate::Validator;

/// Creates a tenant and its first API key.
pub async fn new_tenant(store: &Store, name: &str) -> ApiResult<(tenant::Model, String)> {
    Validator::default()
        .check(!name.trim().is_empty() && name.len() <= 256, &["name"], "must be 1 to 256 characters")
        .finish()?;
    let key = format_api_key(rand::random());
    let created = store
        .create_tenant(&fresh(TenantId::generate), name, &fresh(ApiKeyId::generate), &key, Utc::now(), &Actor::Operator)
        .await?;
    Ok((created, key))
}

/// Issues another API key for a tenant.
pub async fn new_api_key(store: &Store, tenant_id: &TenantId, name: &str) -> ApiResult<(api_key::Model, String)> {
    Validator::default()
        .check(!name.trim().is_empty() && name.len() <= 256, &["name"], "must be 1 to 256 characters")
        .finish()?;
    store.find_tenant(tenant_id).await?.ok_or(ApiError::NotFound("tenant"))?;
    let key = format_api_key(rand::random());
    let created =
        store.create_api_key(tenant_id, &fresh(ApiKeyId::generate), &key, name, Utc::now(), &Actor::Operator).await?;
    Ok((created, key))
}

/// The highest per-tenant ingest rate limit, messages per second.
pub const MAX_INGEST_RATE_LIMIT: u32 = 1_000_000;

/// Changes what is given of a tenant's settings, after checking all of it: the schema
/// mode (`accept`, `flag`, `reject`) and the ingest rate limit (`Some(None)`: back to
/// the setting; `Some(Some(0))`: no limit).
pub async fn change_settings(
    store: &Store,
    tenant_id: &TenantId,
    schema_validation: Option<&str>,
    ingest_rate_limit: Option<Option<u32>>,
) -> ApiResult<tenant::Model> {
    let mode = schema_validation.map(SchemaMode::parse);
    let limit = ingest_rate_limit.flatten().unwrap_or(0);
    Validator::default()
        .check(!matches!(mode, Some(None)), &["schemaValidation"], "must be `accept`, `flag` or `reject`")
        .check(limit <= MAX_INGEST_RATE_LIMIT, &["ingestRateLimit"], "must be from 0 (no limit) to 1000000 per second")
        .finish()?;
    let change = TenantSettingsChange {
        schema_validation: mode.flatten(),
        ingest_rate_limit: ingest_rate_limit.map(|limit| limit.map(|per_second| per_second as i32)),
    };
    store.change_tenant_settings(tenant_id, change, &Actor::Operator).await?.ok_or(ApiError::NotFound("tenant"))
}
