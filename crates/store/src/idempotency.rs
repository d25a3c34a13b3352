//! Idempotency keys: the first response to a `POST` carrying an `Idempotency-Key`
//! header, replayed to every repeat of that request by the same tenant.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, SqlErr};

use crate::entity::idempotency_key;
use crate::{Store, StoreResult};

/// What a request with an idempotency key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is new (or expired): serve the request, then record its response.
    Claimed,
    /// The key was used for this request before: answer with the recorded response.
    Replay { status: u16, body: String },
    /// The first request with this key is still being served.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

impl Store {
    /// Claims `key` for `request` (`METHOD path?query`). Keys created before
    /// `expired_before` are forgotten and may be claimed again.
    pub async fn claim_idempotency_key(
        &self,
        tenant_id: &str,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(tenant_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::CreatedAt.lt(expired_before))
            .exec(&self.db)
            .await?;
        let inserted = idempotency_key::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            key: Set(key.to_owned()),
            request: Set(request.to_owned()),
            response_status: Set(None),
            response_body: Set(None),
            created_at: Set(now),
        }
        .insert(&self.db)
        .await;
        match inserted {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
            Err(error) => return Err(error.into()),
        }
        let existing =
            idempotency_key::Entity::find_by_id((tenant_id.to_owned(), key.to_owned())).one(&self.db).await?;
        Ok(match existing {
            None => IdempotencyClaim::InProgress,
            Some(row) if row.request != request => IdempotencyClaim::Mismatch,
            Some(row) => match (row.response_status, row.response_body) {
                (Some(status), Some(body)) => IdempotencyClaim::Replay { status: status as u16, body },
                _ => IdempotencyClaim::InProgress,
            },
        })
    }

    /// Records the response to a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        tenant_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        idempotency_key::Entity::update_many()
            .col_expr(idempotency_key::Column::ResponseStatus, Expr::value(status as i16))
            .col_expr(idempotency_key::Column::ResponseBody, Expr::value(body))
            .filter(idempotency_key::Column::TenantId.eq(tenant_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Releases a claimed key without a response (the request failed on our side),
    /// so a retry with the same key is served afresh.
    pub async fn release_idempotency_key(&self, tenant_id: &str, key: &str) -> StoreResult<()> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(tenant_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::ResponseStatus.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Forgets every key created before `expired_before`. Returns how many.
    pub async fn prune_idempotency_keys(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
        let result = idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(expired_before))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }
}
