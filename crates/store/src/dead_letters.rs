//! The dead-letter queue: an application's deliveries that exhausted their retry
//! schedule (status `failed`), listed, replayed (throttled) or discarded.
//!
//! A dead letter is not a separate row: it is a delivery in the `failed` state, so
//! replaying one is putting it back to `pending` in a new manual retry cycle, and the
//! attempt history stays with it.

use herald_core::{ApplicationId, DeliveryId, EndpointId, TenantId};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_core::DeliveryStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::deliveries::{restart_deliveries, TRIGGER_MANUAL};
use crate::entity::{attempt, delivery, message};
use crate::paging::{fetch_page, Listed, Page};
use crate::{Store, StoreResult};

/// Which of an application's dead letters an operation covers. Every narrowing is
/// optional; the ones given all apply. Times are when the delivery was dead-lettered.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterSelection {
    pub endpoint_id: Option<EndpointId>,
    pub msg_ids: Option<Vec<String>>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One dead letter as listed: the delivery, a little of its message, and its last attempt.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub delivery: delivery::Model,
    pub event_type: String,
    pub event_id: Option<String>,
    pub last_attempt: Option<attempt::Model>,
}

/// Most deliveries one replay or discard call moves; larger selections are done in
/// several calls (each answers how many it moved).
pub const MAX_DEAD_LETTERS_PER_CALL: u64 = 10_000;

impl DeadLetterSelection {
    fn condition(&self, tenant_id: &TenantId, app_id: &ApplicationId) -> Condition {
        let mut condition = Condition::all()
            .add(delivery::Column::TenantId.eq(tenant_id.as_str()))
            .add(delivery::Column::AppId.eq(app_id.as_str()))
            .add(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()));
        if let Some(endpoint_id) = &self.endpoint_id {
            condition = condition.add(delivery::Column::EndpointId.eq(endpoint_id.as_str()));
        }
        if let Some(msg_ids) = &self.msg_ids {
            condition = condition.add(delivery::Column::MsgId.is_in(msg_ids.iter().map(String::as_str)));
        }
        if let Some(since) = self.since {
            condition = condition.add(delivery::Column::UpdatedAt.gte(since));
        }
        if let Some(until) = self.until {
            condition = condition.add(delivery::Column::UpdatedAt.lt(until));
        }
        condition
    }
}

impl Store {
    /// One page of an application's dead letters, newest delivery first.
    pub async fn list_dead_letters(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        selection: &DeadLetterSelection,
        page: &Page,
    ) -> StoreResult<Listed<DeadLetter>> {
        let select = delivery::Entity::find().filter(selection.condition(tenant_id, app_id));
        let listed = fetch_page(&self.db, select, delivery::Column::Id, page).await?;
        let msg_ids: Vec<&str> = listed.items.iter().map(|d| d.msg_id.as_str()).collect();
        let messages: HashMap<String, (String, Option<String>)> = if msg_ids.is_empty() {
            HashMap::new()
        } else {
            message::Entity::find()
                .select_only()
                .column(message::Column::Id)
                .column(message::Column::EventType)
                .column(message::Column::EventId)
                .filter(message::Column::Id.is_in(msg_ids))
                .into_tuple::<(String, String, Option<String>)>()
                .all(&self.db)
                .await?
                .into_iter()
                .map(|(id, event_type, event_id)| (id, (event_type, event_id)))
                .collect()
        };
        let delivery_ids: Vec<&str> = listed.items.iter().map(|d| d.id.as_str()).collect();
        let mut last_attempts: HashMap<DeliveryId, attempt::Model> = HashMap::new();
        if !delivery_ids.is_empty() {
            let attempts = attempt::Entity::find()
                .filter(attempt::Column::DeliveryId.is_in(delivery_ids))
                .order_by_asc(attempt::Column::AttemptNumber)
                .all(&self.db)
                .await?;
            for attempt in attempts {
                last_attempts.insert(attempt.delivery_id.0.clone(), attempt);
            }
        }
        Ok(listed.map(|delivery| {
            let (event_type, event_id) = messages.get(delivery.msg_id.as_str()).cloned().unwrap_or_default();
            let last_attempt = last_attempts.remove(&*delivery.id);
            DeadLetter { delivery, event_type, event_id, last_attempt }
        }))
    }

    /// Puts selected dead letters back to `pending` in a new manual retry cycle, at
    /// most [`MAX_DEAD_LETTERS_PER_CALL`]. Throttled: each endpoint's replays are due
    /// `1 / per_endpoint_per_second` apart from `now`, so a bulk replay never storms a
    /// receiver, and the queue's fair scheduling keeps other tenants unaffected.
    /// Returns the replayed deliveries with their due times, for queueing.
    pub async fn replay_dead_letters(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        selection: &DeadLetterSelection,
        now: DateTime<Utc>,
        per_endpoint_per_second: f64,
        by: &Actor,
    ) -> StoreResult<Vec<delivery::Model>> {
        let txn = self.db.begin().await?;
        let chosen = delivery::Entity::find()
            .filter(selection.condition(tenant_id, app_id))
            .order_by_asc(delivery::Column::Id)
            .limit(MAX_DEAD_LETTERS_PER_CALL)
            .all(&txn)
            .await?;
        let spacing_us = (1_000_000.0 / per_endpoint_per_second.max(0.001)) as i64;
        let mut next_slot: HashMap<EndpointId, i64> = HashMap::new();
        let mut replayed = Vec::with_capacity(chosen.len());
        // One update per due time; the spacing puts each delivery of an endpoint in a slot
        // of its own, but deliveries of different endpoints share slots.
        let mut by_due: std::collections::BTreeMap<DateTime<Utc>, Vec<String>> = Default::default();
        for mut delivery in chosen {
            let slot = next_slot.entry(delivery.endpoint_id.0.clone()).or_insert(0);
            let due = now + chrono::Duration::microseconds(*slot * spacing_us);
            *slot += 1;
            by_due.entry(due).or_default().push(delivery.id.to_string());
            delivery.status = DeliveryStatus::Pending.into();
            delivery.cycle_start = delivery.attempt_count;
            delivery.next_trigger = TRIGGER_MANUAL;
            delivery.next_attempt_at = Some(due);
            delivery.updated_at = now;
            replayed.push(delivery);
        }
        for (due, ids) in by_due {
            for ids in ids.chunks(500) {
                let still_dead = Condition::all()
                    .add(delivery::Column::Id.is_in(ids.iter().map(String::as_str)))
                    .add(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()));
                restart_deliveries(&txn, still_dead.into(), due, now).await?;
            }
        }
        let detail = serde_json::json!({ "replayed": replayed.len() });
        audit(tenant_id, app_id, by, Action::DeadLetterReplay, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(replayed)
    }

    /// Takes selected dead letters out of the queue for good (status `discarded`; the
    /// delivery and its attempts stay on record), at most [`MAX_DEAD_LETTERS_PER_CALL`].
    /// Returns how many were discarded.
    pub async fn discard_dead_letters(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        selection: &DeadLetterSelection,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let ids: Vec<String> = delivery::Entity::find()
            .filter(selection.condition(tenant_id, app_id))
            .select_only()
            .column(delivery::Column::Id)
            .order_by_asc(delivery::Column::Id)
            .limit(MAX_DEAD_LETTERS_PER_CALL)
            .into_tuple()
            .all(&txn)
            .await?;
        let mut discarded = 0;
        for ids in ids.chunks(500) {
            let result = delivery::Entity::update_many()
                .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Discarded.as_str()))
                .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                .filter(delivery::Column::Id.is_in(ids.iter().map(String::as_str)))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()))
                .exec(&txn)
                .await?;
            discarded += result.rows_affected;
        }
        let detail = serde_json::json!({ "discarded": discarded });
        audit(tenant_id, app_id, by, Action::DeadLetterDiscard, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(discarded)
    }
}

fn audit<'a>(
    tenant_id: &'a TenantId,
    app_id: &'a ApplicationId,
    actor: &'a Actor,
    action: Action,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Entry<'a> {
    Entry {
        tenant_id: tenant_id.as_str(),
        actor,
        action,
        target_id: app_id.as_str(),
        outcome: Outcome::Changed,
        detail,
        now,
    }
}
