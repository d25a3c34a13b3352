//! Scoped keys: keys that reach one endpoint and nothing else. A poller key
//! (`sk_poll_…`) reads one polling endpoint; an endpoint key (`sk_ep_…`) reads one
//! webhook endpoint's messages and confirms their receipt. Each is shown once and
//! stored as its SHA-256 digest; creating and revoking one is audited on its endpoint.

use chrono::{DateTime, Utc};
use herald_core::api_key::{api_key_matches, hash_api_key, KeyScope};
use herald_core::{ApplicationId, ScopedKeyId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::entity::{endpoint, poller, scoped_key, tenant, Stored};
use crate::{Store, StoreResult};

/// The endpoint a scoped key reaches, with its owners.
#[derive(Debug, Clone)]
pub struct KeyTarget {
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    pub scope: KeyScope,
}

impl From<&poller::Model> for KeyTarget {
    fn from(poller: &poller::Model) -> Self {
        KeyTarget {
            tenant_id: poller.tenant_id.0.clone(),
            app_id: poller.app_id.0.clone(),
            scope: KeyScope::Poller(poller.id.0.clone()),
        }
    }
}

impl From<&endpoint::Model> for KeyTarget {
    fn from(endpoint: &endpoint::Model) -> Self {
        KeyTarget {
            tenant_id: endpoint.tenant_id.0.clone(),
            app_id: endpoint.app_id.0.clone(),
            scope: KeyScope::Endpoint(endpoint.id.0.clone()),
        }
    }
}

impl KeyTarget {
    fn audit<'a>(&'a self, by: &'a Actor, created: bool, key_id: &str, now: DateTime<Utc>) -> Entry<'a> {
        let action = match (&self.scope, created) {
            (KeyScope::Poller(_), true) => Action::PollerKeyCreate,
            (KeyScope::Poller(_), false) => Action::PollerKeyRevoke,
            (KeyScope::Endpoint(_), true) => Action::EndpointKeyCreate,
            (KeyScope::Endpoint(_), false) => Action::EndpointKeyRevoke,
        };
        Entry {
            tenant_id: self.tenant_id.as_str(),
            actor: by,
            action,
            target_id: herald_core::TextForm::text(&self.scope),
            outcome: Outcome::Changed,
            detail: serde_json::json!({ "keyId": key_id }),
            now,
        }
    }
}

/// Revokes every key of `scope` (its endpoint is being deleted), in the caller's
/// transaction.
pub(crate) async fn revoke_keys_of(
    conn: &impl ConnectionTrait,
    scope: &KeyScope,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    scoped_key::Entity::update_many()
        .col_expr(scoped_key::Column::RevokedAt, Expr::value(now))
        .filter(scoped_key::Column::ScopeId.eq(Stored(scope.clone())))
        .filter(scoped_key::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Stores a new key for `target` (its SHA-256 digest only: `key` is shown once).
    pub async fn create_scoped_key(
        &self,
        target: &KeyTarget,
        id: ScopedKeyId,
        key: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<scoped_key::Model> {
        let txn = self.db.begin().await?;
        let inserted = scoped_key::ActiveModel {
            id: Set(id.into()),
            tenant_id: Set(target.tenant_id.clone().into()),
            app_id: Set(target.app_id.clone().into()),
            scope_id: Set(Stored(target.scope.clone())),
            key_hash: Set(hash_api_key(key)),
            created_at: Set(now),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        target.audit(by, true, inserted.id.as_str(), now).write(&txn).await?;
        txn.commit().await?;
        Ok(inserted)
    }

    /// The keys of `scope` that still work, oldest first.
    pub async fn list_scoped_keys(&self, scope: &KeyScope) -> StoreResult<Vec<scoped_key::Model>> {
        Ok(scoped_key::Entity::find()
            .filter(scoped_key::Column::ScopeId.eq(Stored(scope.clone())))
            .filter(scoped_key::Column::RevokedAt.is_null())
            .order_by_asc(scoped_key::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Revokes one of `target`'s keys; whether there was such a key still working.
    pub async fn revoke_scoped_key(
        &self,
        target: &KeyTarget,
        key_id: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<bool> {
        let txn = self.db.begin().await?;
        let revoked = scoped_key::Entity::update_many()
            .col_expr(scoped_key::Column::RevokedAt, Expr::value(now))
            .filter(scoped_key::Column::Id.eq(key_id))
            .filter(scoped_key::Column::ScopeId.eq(Stored(target.scope.clone())))
            .filter(scoped_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if revoked.rows_affected == 0 {
            return Ok(false);
        }
        target.audit(by, false, key_id, now).write(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The tenant and the key a presented scoped key belongs to, while the key is not
    /// revoked and its endpoint not deleted.
    pub async fn authenticate_scoped_key(&self, key: &str) -> StoreResult<Option<(tenant::Model, scoped_key::Model)>> {
        let Some(found) = scoped_key::Entity::find()
            .filter(scoped_key::Column::KeyHash.eq(hash_api_key(key)))
            .filter(scoped_key::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .filter(|row| api_key_matches(key, &row.key_hash))
        else {
            return Ok(None);
        };
        let live = match &*found.scope_id {
            KeyScope::Poller(id) => poller::Entity::find_by_id(Stored(id.clone()))
                .filter(poller::Column::DeletedAt.is_null())
                .one(&self.db)
                .await?
                .is_some(),
            KeyScope::Endpoint(id) => endpoint::Entity::find_by_id(Stored(id.clone()))
                .filter(endpoint::Column::DeletedAt.is_null())
                .one(&self.db)
                .await?
                .is_some(),
        };
        let tenant = tenant::Entity::find_by_id(found.tenant_id.clone()).one(&self.db).await?;
        Ok(tenant.filter(|_| live).map(|tenant| (tenant, found)))
    }
}
