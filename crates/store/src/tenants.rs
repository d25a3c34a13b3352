//! Tenants and their API keys.

use chrono::{DateTime, Utc};
use herald_core::api_key::{api_key_matches, hash_api_key};
use herald_core::{ApiKeyId, SchemaMode, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::entity::{api_key, tenant, Stored};
use crate::{conflict_as, Store, StoreResult};

/// A change to a tenant's settings: `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct TenantSettingsChange {
    /// What happens to payloads that break their event type's schema.
    pub schema_validation: Option<SchemaMode>,
    /// The tenant's ingest rate limit (see `tenant::Model::ingest_rate_limit`);
    /// `Some(None)` goes back to the setting.
    pub ingest_rate_limit: Option<Option<i32>>,
    /// The tenant's backlog cap (see `tenant::Model::max_backlog`).
    pub max_backlog: Option<Option<i64>>,
    /// The tenant's backlog age cap in seconds (see `tenant::Model::max_backlog_age_secs`).
    pub max_backlog_age_secs: Option<Option<i64>>,
    /// Whether the tenant's endpoints are redriven automatically (see
    /// `tenant::Model::auto_redrive`); `Some(None)` goes back to on.
    pub auto_redrive: Option<Option<bool>>,
    /// Seconds the tenant's payloads are kept (see `tenant::Model::payload_retention_secs`).
    pub payload_retention_secs: Option<Option<i64>>,
    /// Seconds the tenant's messages are kept (see `tenant::Model::metadata_retention_secs`).
    pub metadata_retention_secs: Option<Option<i64>>,
}

impl Store {
    /// Creates a tenant and its first API key. Only the key's hash is stored.
    pub async fn create_tenant(
        &self,
        tenant_id: &TenantId,
        name: &str,
        key_id: &ApiKeyId,
        key: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<tenant::Model> {
        let txn = self.db.begin().await?;
        let tenant = tenant::ActiveModel {
            id: Set(tenant_id.clone().into()),
            name: Set(name.to_owned()),
            schema_validation: Set(SchemaMode::default().into()),
            created_at: Set(now),
            ingest_rate_limit: Set(None),
            max_backlog: Set(None),
            max_backlog_age_secs: Set(None),
            auto_redrive: Set(None),
            payload_retention_secs: Set(None),
            metadata_retention_secs: Set(None),
        }
        .insert(&txn)
        .await?;
        insert_api_key(&txn, tenant_id, key_id, key, "default", now).await?;
        let detail = serde_json::json!({ "name": name, "apiKeyId": key_id.as_str() });
        entry(tenant_id, by, Action::TenantCreate, tenant_id.as_str(), detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(tenant)
    }

    /// Adds another API key to a tenant.
    pub async fn create_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
        key: &str,
        name: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<api_key::Model> {
        let txn = self.db.begin().await?;
        let created = insert_api_key(&txn, tenant_id, key_id, key, name, now).await?;
        let detail = serde_json::json!({ "name": name });
        entry(tenant_id, by, Action::ApiKeyCreate, key_id.as_str(), detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn find_tenant(&self, tenant_id: &TenantId) -> StoreResult<Option<tenant::Model>> {
        Ok(tenant::Entity::find_by_id(Stored(tenant_id.clone())).one(&self.db).await?)
    }

    /// The tenant an unrevoked API key belongs to, with the key's id, if any.
    pub async fn authenticate_api_key(&self, key: &str) -> StoreResult<Option<(tenant::Model, String)>> {
        let found = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash_api_key(key)))
            .filter(api_key::Column::RevokedAt.is_null())
            .find_also_related(tenant::Entity)
            .one(&self.db)
            .await?;
        Ok(found
            .filter(|(row, _)| api_key_matches(key, &row.key_hash))
            .and_then(|(row, tenant)| tenant.map(|tenant| (tenant, row.id.to_string()))))
    }

    /// Every tenant, oldest first.
    pub async fn list_tenants(&self) -> StoreResult<Vec<tenant::Model>> {
        Ok(tenant::Entity::find().order_by_asc(tenant::Column::Id).all(&self.db).await?)
    }

    /// Changes a tenant's settings (what `change` names; the rest stay), audited as one
    /// `tenant.settings.update`. `None` when there is no such tenant.
    pub async fn change_tenant_settings(
        &self,
        tenant_id: &TenantId,
        change: TenantSettingsChange,
        by: &Actor,
    ) -> StoreResult<Option<tenant::Model>> {
        let txn = self.db.begin().await?;
        let Some(tenant) = tenant::Entity::find_by_id(Stored(tenant_id.clone())).one(&txn).await? else {
            return Ok(None);
        };
        let mut active = tenant::ActiveModel::from(tenant);
        let mut detail = serde_json::Map::new();
        if let Some(mode) = change.schema_validation {
            active.schema_validation = Set(mode.into());
            detail.insert("schemaValidation".into(), mode.as_str().into());
        }
        if let Some(limit) = change.ingest_rate_limit {
            active.ingest_rate_limit = Set(limit);
            detail.insert("ingestRateLimit".into(), limit.into());
        }
        if let Some(cap) = change.max_backlog {
            active.max_backlog = Set(cap);
            detail.insert("maxBacklog".into(), cap.into());
        }
        if let Some(cap) = change.max_backlog_age_secs {
            active.max_backlog_age_secs = Set(cap);
            detail.insert("maxBacklogAge".into(), cap.into());
        }
        if let Some(on) = change.auto_redrive {
            active.auto_redrive = Set(on);
            detail.insert("autoRedrive".into(), on.into());
        }
        if let Some(secs) = change.payload_retention_secs {
            active.payload_retention_secs = Set(secs);
            detail.insert("payloadRetention".into(), secs.into());
        }
        if let Some(secs) = change.metadata_retention_secs {
            active.metadata_retention_secs = Set(secs);
            detail.insert("metadataRetention".into(), secs.into());
        }
        let updated = active.update(&txn).await?;
        let detail = serde_json::Value::Object(detail);
        entry(tenant_id, by, Action::TenantSettingsUpdate, tenant_id.as_str(), detail, Utc::now()).write(&txn).await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// A tenant's API keys (hashes only), oldest first, revoked ones included.
    pub async fn list_api_keys(&self, tenant_id: &TenantId) -> StoreResult<Vec<api_key::Model>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant_id.as_str()))
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Revokes a tenant's API key; it stops authenticating at once. Returns whether
    /// the key existed (revoking twice is not an error).
    pub async fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<bool> {
        let txn = self.db.begin().await?;
        let Ok(key_id) = ApiKeyId::parse(key_id) else { return Ok(false) };
        let found = api_key::Entity::find_by_id(Stored(key_id.clone()))
            .filter(api_key::Column::TenantId.eq(tenant_id.as_str()))
            .one(&txn)
            .await?;
        let Some(found) = found else { return Ok(false) };
        let mut record = entry(tenant_id, by, Action::ApiKeyRevoke, key_id.as_str(), serde_json::json!({}), now);
        if found.revoked_at.is_none() {
            let mut active = api_key::ActiveModel::from(found);
            active.revoked_at = Set(Some(now));
            active.update(&txn).await?;
        } else {
            record.outcome = Outcome::Unchanged;
        }
        record.write(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }
}

async fn insert_api_key(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &TenantId,
    key_id: &ApiKeyId,
    key: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<api_key::Model> {
    api_key::ActiveModel {
        id: Set(key_id.clone().into()),
        tenant_id: Set(tenant_id.clone().into()),
        key_hash: Set(hash_api_key(key)),
        name: Set(name.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(conflict_as("api key"))
}

fn entry<'a>(
    tenant_id: &'a TenantId,
    actor: &'a Actor,
    action: Action,
    target_id: &'a str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Entry<'a> {
    Entry { tenant_id: tenant_id.as_str(), actor, action, target_id, outcome: Outcome::Changed, detail, now }
}
