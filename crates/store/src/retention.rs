//! Retention: the pruner's three steps, each over at most `limit` messages per call so a
//! pass is a series of short transactions (see `herald_core::retention` for what the
//! stored instants mean, and docs/decisions.md, "Retention", for the layout).
//!
//! - [`Store::stamp_unexpiring`]: gives messages accepted before retention existed their
//!   expiry, from their tenant's periods now.
//! - [`Store::expunge_expired_payloads`]: payloads past their time become `{}` and the
//!   message reads as expunged, as after `DELETE …/msg/{id}/content`.
//! - [`Store::delete_expired_messages`]: messages past their time go, with their
//!   deliveries and attempts, children first, in one transaction, once nothing of theirs
//!   is still on its way (see [`SETTLE`]).
//!
//! On PostgreSQL each step locks the rows it takes with `SKIP LOCKED`, so the pruners of
//! several workers share the work instead of queueing behind each other.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::{DeliveryStatus, Retention};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    TransactionTrait,
};

use crate::entity::{attempt, delivery, message, tenant};
use crate::{DatabaseKind, Store, StoreResult};

/// How long a message's payload must have been expunged, and its deliveries still,
/// before the message may be deleted: longer than a replay task's batch or an attempt's
/// record takes, so nothing writes for a message the pruner has just deleted.
pub const SETTLE: chrono::Duration = chrono::Duration::seconds(10);

/// How much later an expired message that could not be deleted yet is looked at again.
pub const RECHECK: chrono::Duration = chrono::Duration::minutes(1);

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
    /// attempts. A message is deleted only once its payload has been expunged for
    /// [`SETTLE`] and none of its deliveries is pending or moved within [`SETTLE`]: a
    /// delivery in flight, retrying, held behind an ordering key or being replayed is left
    /// to finish (with its payload gone, its next attempt ends it without sending), and
    /// its message is looked at again [`RECHECK`] later. Returns how many messages were
    /// looked at (deleted or put off: a caller tells a full batch by it) and how many of
    /// them were deleted.
    pub async fn delete_expired_messages(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<(u64, u64)> {
        let txn = self.db.begin().await?;
        let settled = now - SETTLE;
        let due = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::ExpiresAt.lte(now))
            // A payload expunged moments ago: its message's turn comes in a few seconds.
            .filter(message::Column::PayloadExpiresAt.lte(settled))
            .order_by_asc(message::Column::ExpiresAt)
            .limit(limit);
        let ids = self.take(due, &txn).await?;
        if ids.is_empty() {
            txn.commit().await?;
            return Ok((0, 0));
        }
        let unsettled: Vec<String> = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::Id.is_in(ids.clone()))
            .filter(
                Condition::any().add(message::Column::PayloadExpunged.eq(false)).add(
                    message::Column::Id.in_subquery(
                        Query::select()
                            .column(delivery::Column::MsgId)
                            .from(delivery::Entity)
                            .and_where(delivery::Column::MsgId.is_in(ids.clone()))
                            .cond_where(
                                Condition::any()
                                    .add(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                                    .add(delivery::Column::UpdatedAt.gt(settled)),
                            )
                            .to_owned(),
                    ),
                ),
            )
            .into_tuple()
            .all(&txn)
            .await?;
        let doomed: Vec<String> = ids.iter().filter(|id| !unsettled.contains(id)).cloned().collect();
        let deleted = doomed.len() as u64;
        if !doomed.is_empty() {
            attempt::Entity::delete_many().filter(attempt::Column::MsgId.is_in(doomed.clone())).exec(&txn).await?;
            delivery::Entity::delete_many().filter(delivery::Column::MsgId.is_in(doomed.clone())).exec(&txn).await?;
            message::Entity::delete_many().filter(message::Column::Id.is_in(doomed)).exec(&txn).await?;
        }
        if !unsettled.is_empty() {
            // Out of the way of the next batches, back when it may have settled.
            message::Entity::update_many()
                .col_expr(message::Column::ExpiresAt, Expr::value((now + RECHECK).trunc_subsecs(6)))
                .filter(message::Column::Id.is_in(unsettled))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok((ids.len() as u64, deleted))
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
