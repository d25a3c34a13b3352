//! Tenants and their API keys, as the operator manages them: through `/admin/v1` and
//! through the `herald tenant` and `herald api-key` commands alike.

use chrono::Utc;
use herald_core::api_key::format_api_key;
use herald_core::{ApiKeyId, SchemaMode, TenantId};
use herald_store::entity::{api_key, tenant};
use herald_store::{Actor, Store};

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

/// Sets a tenant's schema validation mode.
pub async fn set_schema_validation(store: &Store, tenant_id: &TenantId, mode: &str) -> ApiResult<tenant::Model> {
    let parsed = SchemaMode::parse(mode);
    Validator::default()
        .check(parsed.is_some(), &["schemaValidation"], "must be `accept`, `flag` or `reject`")
        .finish()?;
    let mode = parsed.expect("checked above");
    store.set_schema_validation(tenant_id, mode, &Actor::Operator).await?.ok_or(ApiError::NotFound("tenant"))
}
