//! Tenants and their API keys.

use chrono::{DateTime, Utc};
use herald_core::api_key::{api_key_matches, hash_api_key};
use herald_core::{ApiKeyId, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::entity::{api_key, tenant};
use crate::{conflict_as, Store, StoreResult};

impl Store {
    /// Creates a tenant and its first API key. Only the key's hash is stored.
    pub async fn create_tenant(
        &self,
        tenant_id: &TenantId,
        name: &str,
        key_id: &ApiKeyId,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<tenant::Model> {
        let txn = self.db.begin().await?;
        let tenant =
            tenant::ActiveModel { id: Set(tenant_id.to_string()), name: Set(name.to_owned()), created_at: Set(now) }
                .insert(&txn)
                .await?;
        insert_api_key(&txn, tenant_id, key_id, key, "default", now).await?;
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
    ) -> StoreResult<api_key::Model> {
        insert_api_key(&self.db, tenant_id, key_id, key, name, now).await
    }

    pub async fn find_tenant(&self, tenant_id: &TenantId) -> StoreResult<Option<tenant::Model>> {
        Ok(tenant::Entity::find_by_id(tenant_id.as_str()).one(&self.db).await?)
    }

    /// The tenant an unrevoked API key belongs to, if any.
    pub async fn authenticate_api_key(&self, key: &str) -> StoreResult<Option<TenantId>> {
        let found = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash_api_key(key)))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(found.filter(|row| api_key_matches(key, &row.key_hash)).map(|row| TenantId::from_trusted(row.tenant_id)))
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
        id: Set(key_id.to_string()),
        tenant_id: Set(tenant_id.to_string()),
        key_hash: Set(hash_api_key(key)),
        name: Set(name.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(conflict_as("api key"))
}
