//! Retention: the pruner's three steps, each over at most `limit` messages per call so a
//! pass is a series of short transactions (see `herald_core::retention` for what the
//! stored instants mean, and docs/decisions.md, "Retention", for the layout).
//!
//! - [`Store::stamp_unexpiring`]: gives messages accepted before retention existed their
//!   expiry, from their tenant's periods now.
//! - [`Store::expunge_expired_payloads`]: payloads past their time become `{}` and the
//!   message reads as expunged, as after `DELETE …/msg/{id}/content`.
//! - [`Store::delete_expired_messages`]: messages past their time go, with their
//!   deliveries and attempts, children first, in one transaction.
//!
//! On PostgreSQL each step locks the rows it takes with `SKIP LOCKED`, so the pruners of
//! several workers share the work instead of queueing behind each other.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::Retention;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};

use crate::entity::{attempt, delivery, message, tenant};
use crate::{DatabaseKind, Store, StoreResult};

impl Store {
    /// Expunges the payloads of up to `limit` messages whose payload expired by `now`.
    /// Returns how many.
    pub async fn expunge_expired_payloads(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let due = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            // Spelled out, so PostgreSQL can use `ix_messages_payload_expires`.
            .filter(Expr::cust("messages.payload_expunged = false"))
            .filter(message::Column::PayloadExpiresAt.lte(now))
            .order_by_asc(message::Column::PayloadExpiresAt)
            .limit(limit);
        let ids = self.take(due, &txn).await?;
        if !ids.is_empty() {
            message::Entity::update_many()
                .col_expr(message::Column::Payload, Expr::value("{}"))
                .col_expr(message::Column::PayloadExpunged, Expr::value(true))
                .filter(message::Column::Id.is_in(ids.clone()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Deletes up to `limit` messages that expired by `now`, with their deliveries and
    /// attempts. Returns how many messages.
    pub async fn delete_expired_messages(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let due = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::ExpiresAt.lte(now))
            .order_by_asc(message::Column::ExpiresAt)
            .limit(limit);
        let ids = self.take(due, &txn).await?;
        if !ids.is_empty() {
            attempt::Entity::delete_many().filter(attempt::Column::MsgId.is_in(ids.clone())).exec(&txn).await?;
            delivery::Entity::delete_many().filter(delivery::Column::MsgId.is_in(ids.clone())).exec(&txn).await?;
            message::Entity::delete_many().filter(message::Column::Id.is_in(ids.clone())).exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Gives up to `limit` messages accepted before retention existed their expiry: from
    /// when they were accepted, by their tenant's periods (`defaults` with the tenant's
    /// overrides). Returns how many.
    pub async fn stamp_unexpiring(&self, defaults: Retention, limit: u64) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let unstamped = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::ExpiresAt.is_null())
            .order_by_asc(message::Column::Id)
            .limit(limit);
        let ids = self.take(unstamped, &txn).await?;
        if ids.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let rows: Vec<(String, String, DateTime<Utc>)> = message::Entity::find()
            .select_only()
            .columns([message::Column::Id, message::Column::TenantId, message::Column::CreatedAt])
            .filter(message::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(&txn)
            .await?;
        let mut periods: HashMap<String, Retention> = HashMap::new();
        for (id, tenant_id, created_at) in rows {
            let retention = match periods.get(&tenant_id) {
                Some(retention) => *retention,
                None => {
                    let found =
                        tenant::Entity::find().filter(tenant::Column::Id.eq(tenant_id.as_str())).one(&txn).await?;
                    let retention = found.map_or(defaults, |tenant| {
                        defaults.overridden(tenant.payload_retention_secs, tenant.metadata_retention_secs)
                    });
                    periods.insert(tenant_id, retention);
                    retention
                }
            };
            let expiry = retention.expiry(created_at, None);
            message::Entity::update_many()
                .col_expr(message::Column::PayloadExpiresAt, Expr::value(expiry.payload_at.trunc_subsecs(6)))
                .col_expr(message::Column::ExpiresAt, Expr::value(expiry.metadata_at.trunc_subsecs(6)))
                .filter(message::Column::Id.eq(id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(ids.len() as u64)
    }

    /// The ids `select` finds, locked for this transaction; on PostgreSQL, rows another
    /// pruner holds are skipped rather than waited for.
    async fn take(&self, select: Select<message::Entity>, txn: &DatabaseTransaction) -> StoreResult<Vec<String>> {
        let select = match self.kind {
            DatabaseKind::Postgres => select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked),
            // One writer at a time: the transaction itself holds the rows.
            DatabaseKind::Sqlite => select,
        };
        Ok(select.into_tuple().all(txn).await?)
    }
}
