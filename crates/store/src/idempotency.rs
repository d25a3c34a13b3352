//! Idempotency keys: the first response to a `POST` carrying an `Idempotency-Key`
//! header, replayed to every repeat of that request by the same credential. The
//! response is sealed ([`crate::sealing`]): it may carry a portal token or a secret.

use chrono::{DateTime, Utc};
use herald_core::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};

use crate::entity::{idempotency_key, Stored};
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
        tenant_id: &TenantId,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(tenant_id.as_str()))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::CreatedAt.lt(expired_before))
            .exec(&self.db)
            .await?;
        let inserted = idempotency_key::ActiveModel {
            tenant_id: Set(Stored(tenant_id.clone())),
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
            idempotency_key::Entity::find_by_id((Stored(tenant_id.clone()), key.to_owned())).one(&self.db).await?;
        Ok(match existing {
            None => IdempotencyClaim::InProgress,
            Some(row) if row.request != request => IdempotencyClaim::Mismatch,
            Some(row) => match (row.response_status, row.response_body) {
                (Some(status), Some(body)) => {
                    let body = self.keyring.open(&body, &response_context(tenant_id.as_str(), key))?;
                    IdempotencyClaim::Replay { status: status as u16, body }
                }
                _ => IdempotencyClaim::InProgress,
            },
        })
    }

    /// Records the response to a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        tenant_id: &TenantId,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        let tenant_id = tenant_id.as_str();
        idempotency_key::Entity::update_many()
            .col_expr(idempotency_key::Column::ResponseStatus, Expr::value(status as i16))
            .col_expr(
                idempotency_key::Column::ResponseBody,
                Expr::value(self.keyring.seal(body, &response_context(tenant_id, key))),
            )
            .filter(idempotency_key::Column::TenantId.eq(tenant_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Releases a claimed key without a response (the request failed on our side),
    /// so a retry with the same key is served afresh.
    pub async fn release_idempotency_key(&self, tenant_id: &TenantId, key: &str) -> StoreResult<()> {
        let tenant_id = tenant_id.as_str();
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(tenant_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::ResponseStatus.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Re-seals stored responses (see [`Store::reseal`]).
    pub(crate) async fn reseal_idempotency_responses(&self, which: crate::sealing::Reseal) -> StoreResult<u64> {
        let mut select = idempotency_key::Entity::find().filter(idempotency_key::Column::ResponseBody.is_not_null());
        if which == crate::sealing::Reseal::PlainOnly {
            select = select.filter(idempotency_key::Column::ResponseBody.not_like("hs1:%"));
        }
        let mut changed = 0;
        let mut after = (String::new(), String::new());
        loop {
            let page = select
                .clone()
                .filter(
                    Condition::any().add(idempotency_key::Column::TenantId.gt(after.0.as_str())).add(
                        Condition::all()
                            .add(idempotency_key::Column::TenantId.eq(after.0.as_str()))
                            .add(idempotency_key::Column::Key.gt(after.1.as_str())),
                    ),
                )
                .order_by_asc(idempotency_key::Column::TenantId)
                .order_by_asc(idempotency_key::Column::Key)
                .limit(500)
                .all(&self.db)
                .await?;
            let Some(last) = page.last() else { break };
            after = (last.tenant_id.to_string(), last.key.clone());
            for row in page {
                let Some(stored) = row.response_body else { continue };
                if self.keyring.is_current(&stored) {
                    continue;
                }
                let context = response_context(row.tenant_id.as_str(), &row.key);
                let sealed = self.keyring.seal(&self.keyring.open(&stored, &context)?, &context);
                let result = idempotency_key::Entity::update_many()
                    .col_expr(idempotency_key::Column::ResponseBody, Expr::value(sealed))
                    .filter(idempotency_key::Column::TenantId.eq(row.tenant_id.as_str()))
                    .filter(idempotency_key::Column::Key.eq(row.key.as_str()))
                    .filter(idempotency_key::Column::ResponseBody.eq(stored.as_str()))
                    .exec(&self.db)
                    .await?;
                changed += result.rows_affected;
            }
        }
        Ok(changed)
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

/// Where a sealed response lives.
fn response_context(tenant_id: &str, key: &str) -> String {
    format!("idempotency:{tenant_id}:{key}")
}
