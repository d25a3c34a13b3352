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
/// The highest per-tenant backlog cap, deliveries.
pub const MAX_BACKLOG: u64 = 1_000_000_000;
/// The highest per-tenant backlog age cap, seconds (thirty days).
pub const MAX_BACKLOG_AGE_SECS: u64 = 30 * 24 * 3600;

/// The longest retention a tenant may have: ten years of 365.25 days (what `10y` means
/// to the CLI's duration parser).
pub const MAX_RETENTION_SECS: u64 = 315_576_000;

/// What an operator asks to change of a tenant's settings; `None` fields stay as they
/// are, `Some(None)` goes back to the setting, `Some(Some(0))` is no limit.
#[derive(Debug, Clone, Default)]
pub struct SettingsRequest {
    /// `accept`, `flag` or `reject`.
    pub schema_validation: Option<String>,
    /// Messages per second per API process.
    pub ingest_rate_limit: Option<Option<u32>>,
    /// Deliveries waiting in Redis.
    pub max_backlog: Option<Option<u64>>,
    /// Seconds the oldest ready delivery may have waited.
    pub max_backlog_age: Option<Option<u64>>,
    /// Whether endpoints are redriven automatically after an outage; `Some(None)` is
    /// the default (on).
    pub auto_redrive: Option<Option<bool>>,
    /// Seconds payloads are kept (messages accepted from now on).
    pub payload_retention: Option<Option<u64>>,
    /// Seconds messages, deliveries and attempts are kept (messages accepted from now on).
    pub metadata_retention: Option<Option<u64>>,
}

impl SettingsRequest {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.schema_validation.is_none()
            && self.ingest_rate_limit.is_none()
            && self.max_backlog.is_none()
            && self.max_backlog_age.is_none()
            && self.auto_redrive.is_none()
            && self.payload_retention.is_none()
            && self.metadata_retention.is_none()
    }
}

/// Changes what is given of a tenant's settings, after checking all of it.
pub async fn change_settings(
    store: &Store,
    tenant_id: &TenantId,
    request: SettingsRequest,
) -> ApiResult<tenant::Model> {
    let mode = request.schema_validation.as_deref().map(SchemaMode::parse);
    let within = |value: Option<Option<u64>>, most: u64| value.flatten().is_none_or(|value| value <= most);
    let positive_within =
        |value: Option<Option<u64>>, most: u64| value.flatten().is_none_or(|value| (1..=most).contains(&value));
    Validator::default()
        .check(!matches!(mode, Some(None)), &["schemaValidation"], "must be `accept`, `flag` or `reject`")
        .check(
            within(request.ingest_rate_limit.map(|limit| limit.map(u64::from)), u64::from(MAX_INGEST_RATE_LIMIT)),
            &["ingestRateLimit"],
            "must be from 0 (no limit) to 1000000 per second",
        )
        .check(within(request.max_backlog, MAX_BACKLOG), &["maxBacklog"], "must be from 0 (no cap) to 1000000000")
        .check(
            within(request.max_backlog_age, MAX_BACKLOG_AGE_SECS),
            &["maxBacklogAge"],
            "must be from 0 (no cap) to 2592000 seconds",
        )
        .check(
            positive_within(request.payload_retention, MAX_RETENTION_SECS),
            &["payloadRetention"],
            "must be from 1 to 315576000 seconds (ten years)",
        )
        .check(
            positive_within(request.metadata_retention, MAX_RETENTION_SECS),
            &["metadataRetention"],
            "must be from 1 to 315576000 seconds (ten years)",
        )
        .finish()?;
    // Each value was checked to fit above.
    let stored = |value: Option<Option<u64>>| value.map(|value| value.map(|value| value as i64));
    let change = TenantSettingsChange {
        schema_validation: mode.flatten(),
        ingest_rate_limit: request.ingest_rate_limit.map(|limit| limit.map(|per_second| per_second as i32)),
        max_backlog: stored(request.max_backlog),
        max_backlog_age_secs: stored(request.max_backlog_age),
        auto_redrive: request.auto_redrive,
        payload_retention_secs: stored(request.payload_retention),
        metadata_retention_secs: stored(request.metadata_retention),
    };
    store.change_tenant_settings(tenant_id, change, &Actor::Operator).await?.ok_or(ApiError::NotFound("tenant"))
}
