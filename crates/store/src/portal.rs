//! Portal tokens: short-lived bearer tokens scoped to one application, for the
//! customer portal. Only their hashes are stored.

use chrono::{DateTime, Utc};
use herald_core::api_key::{api_key_matches, hash_api_key};
use herald_core::{ApplicationId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::entity::portal_token;
use crate::{Store, StoreResult};

/// What creating a portal token needs.
#[derive(Debug, Clone)]
pub struct NewPortalToken {
    pub id: String,
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    /// The token itself; only its hash is written.
    pub token: String,
    pub read_only: bool,
    pub expires_at: DateTime<Utc>,
    /// Svix's `sessionId`, for expiring one session's tokens.
    pub session_id: Option<String>,
    /// The feature flags whose event types it may see.
    pub feature_flags: Option<Vec<String>>,
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn create_portal_token(&self, new: NewPortalToken, by: &Actor) -> StoreResult<portal_token::Model> {
        let txn = self.db.begin().await?;
        let created = portal_token::ActiveModel {
            id: Set(new.id),
            tenant_id: Set(new.tenant_id.into()),
            app_id: Set(new.app_id.into()),
            token_hash: Set(hash_api_key(&new.token)),
            read_only: Set(new.read_only),
            expires_at: Set(new.expires_at),
            revoked_at: Set(None),
            created_at: Set(new.now),
            session_id: Set(new.session_id),
            feature_flags: Set(new.feature_flags.map(crate::entity::Names::from)),
        }
        .insert(&txn)
        .await?;
        let detail = serde_json::json!({
            "appId": created.app_id,
            "readOnly": created.read_only,
            "expiresAt": created.expires_at,
        });
        Entry {
            tenant_id: created.tenant_id.as_str(),
            actor: by,
            action: Action::PortalTokenIssue,
            target_id: &created.id,
            outcome: Outcome::Changed,
            detail,
            now: new.now,
        }
        .write(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// The portal token `token` is, if it is neither revoked nor expired at `now`.
    pub async fn authenticate_portal_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<portal_token::Model>> {
        let found = portal_token::Entity::find()
            .filter(portal_token::Column::TokenHash.eq(hash_api_key(token)))
            .filter(portal_token::Column::RevokedAt.is_null())
            .filter(portal_token::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        Ok(found.filter(|row| api_key_matches(token, &row.token_hash)))
    }

    /// Revokes a portal token of `tenant_id` (logout).
    pub async fn revoke_portal_token(
        &self,
        tenant_id: &TenantId,
        token_id: &str,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<()> {
        let tenant_id = tenant_id.as_str();
        let txn = self.db.begin().await?;
        let revoked = portal_token::Entity::update_many()
            .col_expr(portal_token::Column::RevokedAt, Expr::value(now))
            .filter(portal_token::Column::Id.eq(token_id))
            .filter(portal_token::Column::TenantId.eq(tenant_id))
            .filter(portal_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        let outcome = if revoked.rows_affected > 0 { Outcome::Changed } else { Outcome::Unchanged };
        let detail = serde_json::json!({});
        let action = Action::PortalTokenLogout;
        Entry { tenant_id, actor: by, action, target_id: token_id, outcome, detail, now }.write(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Makes every live portal token of an application (of those sessions, when
    /// given) expire at `at`, unless it expires sooner. Returns how many were cut short.
    #[allow(clippy::too_many_arguments)]
    pub async fn expire_portal_tokens(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        session_ids: Option<&[String]>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let mut update = portal_token::Entity::update_many()
            .col_expr(portal_token::Column::ExpiresAt, Expr::value(at))
            .filter(portal_token::Column::TenantId.eq(tenant_id.as_str()))
            .filter(portal_token::Column::AppId.eq(app_id.as_str()))
            .filter(portal_token::Column::RevokedAt.is_null())
            .filter(portal_token::Column::ExpiresAt.gt(at));
        if let Some(sessions) = session_ids {
            update = update.filter(portal_token::Column::SessionId.is_in(sessions.iter().map(String::as_str)));
        }
        let expired = update.exec(&txn).await?.rows_affected;
        let outcome = if expired > 0 { Outcome::Changed } else { Outcome::Unchanged };
        let detail =
            serde_json::json!({ "expiresAt": at, "tokens": expired, "sessions": session_ids.map(<[String]>::len) });
        let (tenant_id, action) = (tenant_id.as_str(), Action::PortalTokenExpireAll);
        Entry { tenant_id, actor: by, action, target_id: app_id.as_str(), outcome, detail, now }.write(&txn).await?;
        txn.commit().await?;
        Ok(expired)
    }
}
