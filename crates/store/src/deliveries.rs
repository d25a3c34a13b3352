//! Deliveries: what the worker loads, and how an attempt moves a delivery along.

use chrono::{DateTime, Utc};
use herald_core::DeliveryStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use crate::attempts::{attempt_row, NewAttempt};
use crate::entity::{attempt, delivery, endpoint, message};
use crate::{Store, StoreResult};

/// Everything the worker needs to attempt one delivery.
#[derive(Debug, Clone)]
pub struct DispatchContext {
    pub delivery: delivery::Model,
    pub message: message::Model,
    /// `None` when the endpoint has been deleted since the message was accepted.
    pub endpoint: Option<endpoint::Model>,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryTransition {
    /// Stay pending; the next attempt is due at this instant.
    Retry {
        at: DateTime<Utc>,
    },
    Succeeded,
    /// Dead-lettered: no further automatic attempts.
    DeadLettered,
}

impl DeliveryTransition {
    fn status(self) -> DeliveryStatus {
        match self {
            Self::Retry { .. } => DeliveryStatus::Pending,
            Self::Succeeded => DeliveryStatus::Succeeded,
            Self::DeadLettered => DeliveryStatus::Failed,
        }
    }

    fn next_attempt_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Retry { at } => Some(at),
            _ => None,
        }
    }
}

impl Store {
    /// Loads a delivery with its message and endpoint. `None` when the delivery does not exist.
    pub async fn load_dispatch(&self, delivery_id: &str) -> StoreResult<Option<DispatchContext>> {
        let Some(delivery) = delivery::Entity::find_by_id(delivery_id).one(&self.db).await? else {
            return Ok(None);
        };
        let Some(message) = message::Entity::find_by_id(delivery.msg_id.as_str()).one(&self.db).await? else {
            return Ok(None);
        };
        let endpoint = endpoint::Entity::find_by_id(delivery.endpoint_id.as_str()).one(&self.db).await?;
        Ok(Some(DispatchContext { delivery, message, endpoint }))
    }

    /// Records an attempt and moves its delivery on, in one transaction.
    ///
    /// The delivery moves only if it is still pending with `expected_attempt_count`
    /// attempts behind it: when two workers raced on one delivery (a redelivered
    /// stream entry), both attempts are recorded but only the first moves the
    /// delivery. Returns whether this call moved it.
    ///
    /// With `disable_endpoint` (the receiver answered 410 Gone) the endpoint is
    /// disabled in the same transaction, so nobody sees the dead-lettered delivery
    /// with its endpoint still enabled.
    pub async fn record_attempt(
        &self,
        attempt: NewAttempt,
        transition: DeliveryTransition,
        expected_attempt_count: i32,
        disable_endpoint: bool,
    ) -> StoreResult<bool> {
        let txn = self.db.begin().await?;
        let delivery_id = attempt.delivery_id.clone();
        let endpoint_id = attempt.endpoint_id.clone();
        let now = attempt.created_at;
        attempt::Entity::insert(attempt_row(attempt)).exec_without_returning(&txn).await?;
        let moved =
            move_delivery(&txn, &delivery_id, expected_attempt_count, expected_attempt_count + 1, transition, now)
                .await?;
        if disable_endpoint {
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Disabled, Expr::value(true))
                .col_expr(endpoint::Column::UpdatedAt, Expr::value(now))
                .filter(endpoint::Column::Id.eq(endpoint_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(moved)
    }

    /// Moves a delivery without an attempt (its endpoint is gone or disabled).
    pub async fn finish_delivery_without_attempt(
        &self,
        delivery_id: &str,
        expected_attempt_count: i32,
        transition: DeliveryTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        move_delivery(&self.db, delivery_id, expected_attempt_count, expected_attempt_count, transition, now).await
    }

    /// Pending deliveries whose next attempt was due at or before `due_before`, in id
    /// order after `after_id`, at most `limit`. The reconciler pages through these and
    /// checks them against Redis.
    pub async fn overdue_deliveries(
        &self,
        due_before: DateTime<Utc>,
        after_id: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<delivery::Model>> {
        let mut query = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(delivery::Column::NextAttemptAt.lte(due_before));
        if let Some(after_id) = after_id {
            query = query.filter(delivery::Column::Id.gt(after_id));
        }
        Ok(query.order_by_asc(delivery::Column::Id).limit(limit).all(&self.db).await?)
    }

    /// The deliveries of one message, for tests and the attempt views.
    pub async fn message_deliveries(&self, msg_id: &str) -> StoreResult<Vec<delivery::Model>> {
        Ok(delivery::Entity::find()
            .filter(delivery::Column::MsgId.eq(msg_id))
            .order_by_asc(delivery::Column::Id)
            .all(&self.db)
            .await?)
    }
}

async fn move_delivery(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    expected_attempt_count: i32,
    new_attempt_count: i32,
    transition: DeliveryTransition,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(transition.status().as_str()))
        .col_expr(delivery::Column::AttemptCount, Expr::value(new_attempt_count))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(transition.next_attempt_at()))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(delivery_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(delivery::Column::AttemptCount.eq(expected_attempt_count))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
