//! The dead-letter queue: an application's deliveries that exhausted their retry
//! schedule (status `failed`), listed, replayed (by paced background tasks) or discarded.
//!
//! A dead letter is not a separate row: it is a delivery in the `failed` state, so
//! replaying one is putting it back to `pending` in a new manual retry cycle, and the
//! attempt history stays with it.

use herald_core::{ApplicationId, BackgroundTaskId, DeliveryId, EndpointId, TenantId};
use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::DeliveryStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::entity::{attempt, background_task, delivery, endpoint, message};
use crate::paging::{fetch_page, Listed, Page};
use crate::tasks::{start_task_in, TaskKind};
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

/// Most deliveries one discard call moves; larger selections are done in several calls
/// (each answers how many it moved). A replay has no such cap: its tasks work through
/// any number.
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

    /// Starts the replay of selected dead letters: one background task per endpoint
    /// that has any (an `endpoint.recover` over what was dead-lettered in the selection's
    /// window, up to now), which the task runner carries out at the endpoint's pace (its
    /// `rateLimit`, else the recovery ramp), each delivery in a new manual retry cycle.
    /// The tasks and one audit entry for the application commit together. Returns how
    /// many dead letters the tasks selected, and the tasks.
    pub async fn start_dead_letter_replay(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        selection: &DeadLetterSelection,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<(u64, Vec<background_task::Model>)> {
        let now = now.trunc_subsecs(6);
        let txn = self.db.begin().await?;
        let endpoint_ids: Vec<String> = delivery::Entity::find()
            .filter(selection.condition(tenant_id, app_id))
            .select_only()
            .column(delivery::Column::EndpointId)
            .distinct()
            .order_by_asc(delivery::Column::EndpointId)
            .into_tuple()
            .all(&txn)
            .await?;
        // Up to now, so what fails for good while the tasks run is not replayed unasked.
        let since = selection.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let up_to_now = now + chrono::Duration::microseconds(1);
        let until = selection.until.map_or(up_to_now, |until| until.min(up_to_now));
        let kind = TaskKind::DeadLetterReplay(selection.msg_ids.clone());
        let mut tasks = Vec::with_capacity(endpoint_ids.len());
        for endpoint_id in endpoint_ids {
            let found = endpoint::Entity::find()
                .filter(endpoint::Column::Id.eq(endpoint_id.as_str()))
                .filter(endpoint::Column::AppId.eq(app_id.as_str()))
                .filter(endpoint::Column::DeletedAt.is_null())
                .one(&txn)
                .await?;
            // A deleted endpoint's dead letters have nowhere to go.
            let Some(endpoint) = found else { continue };
            let id = BackgroundTaskId::generate(now.timestamp_millis().max(0) as u64, rand::random());
            tasks.push(start_task_in(&txn, &id, &endpoint, &kind, since, until, now, by).await?);
        }
        let selected: u64 = tasks.iter().map(|task| task.total as u64).sum();
        let task_ids: Vec<String> = tasks.iter().map(|task| task.id.to_string()).collect();
        let detail = serde_json::json!({ "replayed": selected, "taskIds": task_ids });
        audit(tenant_id, app_id, by, Action::DeadLetterReplay, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok((selected, tasks))
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

pub(crate) fn audit<'a>(
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
