//! Ordered delivery: sequence numbers, holding, releasing.
//!
//! A delivery to an ordered endpoint whose message has an ordering key gets the next
//! sequence number of that key at that endpoint. It is *held* (pending, with no due
//! time, so nothing queues it) while an earlier delivery of the key is pending. When
//! that one finishes (succeeds, or is dead-lettered), the transaction that records it
//! also releases the key's next held delivery: it becomes due now, and the caller
//! queues it after commit. A crash in between costs nothing: the released delivery is
//! due and unknown to Redis, which is what the reconciler looks for.
//!
//! Both sides take the key's `ordering_keys` row first, keys in sorted order, so two
//! transactions never wait on each other in a circle. A new delivery therefore either
//! sees its predecessor still pending (and the predecessor's release will see it), or
//! sees it finished (and goes out at once); it is never left held with nobody to
//! release it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use herald_core::DeliveryStatus;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::entity::{delivery, ordering_key};
use crate::{StoreError, StoreResult};

/// An endpoint id and an ordering key.
pub(crate) type OrderKey = (String, String);

/// Numbers the ordered rows among `rows` (rows of one transaction, in the order their
/// messages were accepted) and holds every one that has a pending predecessor.
/// Called before the rows are inserted.
pub(crate) async fn sequence_deliveries(db: &impl ConnectionTrait, rows: &mut [delivery::Model]) -> StoreResult<()> {
    let mut keys: BTreeMap<OrderKey, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        if let Some(key) = &row.ordering_key {
            keys.entry((row.endpoint_id.to_string(), key.clone())).or_default().push(index);
        }
    }
    for ((endpoint_id, key), indices) in keys {
        let count = indices.len() as i64;
        let last = take_sequences(db, &endpoint_id, &key, count).await?;
        let mut held = pending_of_key(&endpoint_id, &key)
            .select_only()
            .column(delivery::Column::Id)
            .into_tuple::<String>()
            .one(db)
            .await?
            .is_some();
        for (offset, index) in indices.into_iter().enumerate() {
            let row = &mut rows[index];
            row.sequence = Some(last - count + 1 + offset as i64);
            if held {
                row.next_attempt_at = None;
            }
            // Within one transaction, each row waits for the one before it.
            held = true;
        }
    }
    Ok(())
}

/// Releases the next held delivery of each key, unless one of the key's deliveries is
/// still on its way (a replay sent out of turn). Returns the released deliveries, due
/// at `now`, for the caller to queue after commit.
pub(crate) async fn release_next(
    db: &impl ConnectionTrait,
    keys: BTreeSet<OrderKey>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<delivery::Model>> {
    let mut released = Vec::new();
    for (endpoint_id, key) in keys {
        // Take the key's row: a message joining this key waits until we commit.
        ordering_key::Entity::update_many()
            .col_expr(ordering_key::Column::LastSequence, Expr::col(ordering_key::Column::LastSequence).into())
            .filter(ordering_key::Column::EndpointId.eq(endpoint_id.as_str()))
            .filter(ordering_key::Column::OrderingKey.eq(key.as_str()))
            .exec(db)
            .await?;
        let on_its_way = pending_of_key(&endpoint_id, &key)
            .filter(delivery::Column::NextAttemptAt.is_not_null())
            .select_only()
            .column(delivery::Column::Id)
            .into_tuple::<String>()
            .one(db)
            .await?
            .is_some();
        if on_its_way {
            continue;
        }
        let next = pending_of_key(&endpoint_id, &key)
            .filter(delivery::Column::NextAttemptAt.is_null())
            .order_by_asc(delivery::Column::Sequence)
            .one(db)
            .await?;
        let Some(mut next) = next else { continue };
        delivery::Entity::update_many()
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(Some(now)))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::Id.eq(next.id.as_str()))
            .exec(db)
            .await?;
        next.next_attempt_at = Some(now);
        next.updated_at = now;
        released.push(next);
    }
    Ok(released)
}

/// Hands out `count` sequence numbers of a key and returns the last of them.
async fn take_sequences(db: &impl ConnectionTrait, endpoint_id: &str, key: &str, count: i64) -> StoreResult<i64> {
    use ordering_key::Column;
    let statement = Query::insert()
        .into_table(ordering_key::Entity)
        .columns([Column::EndpointId, Column::OrderingKey, Column::LastSequence])
        .values_panic([Expr::value(endpoint_id), Expr::value(key), Expr::value(count)])
        .on_conflict(
            OnConflict::columns([Column::EndpointId, Column::OrderingKey])
                .value(Column::LastSequence, Expr::col((ordering_key::Entity, Column::LastSequence)).add(count))
                .to_owned(),
        )
        .returning_col(Column::LastSequence)
        .to_owned();
    let row = db
        .query_one(db.get_database_backend().build(&statement))
        .await?
        .ok_or_else(|| StoreError::Unavailable("the sequence upsert returned no row".into()))?;
    Ok(row.try_get::<i64>("", "last_sequence")?)
}

/// The key's pending deliveries at this endpoint.
fn pending_of_key(endpoint_id: &str, key: &str) -> Select<delivery::Entity> {
    delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(endpoint_id))
        .filter(delivery::Column::OrderingKey.eq(key))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
}

/// The keys whose head a batch of finished deliveries may have been.
pub(crate) fn finished_keys<'a>(finished: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> BTreeSet<OrderKey> {
    finished.filter_map(|(endpoint_id, key)| Some((endpoint_id.to_owned(), key?.to_owned()))).collect()
}
