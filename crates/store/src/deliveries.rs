//! Deliveries: what the worker loads, and how an attempt moves a delivery along.

use herald_core::TenantId;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::{DeliveryId, DeliveryStatus, EndpointHealth, EndpointId, MessageId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use crate::attempts::{attempt_row, NewAttempt};
use crate::entity::{attempt, delivery, endpoint, message, Stored};
use crate::messages::MessageFilter;
use crate::ordering::{finished_keys, release_next, OrderKey};
use crate::outbox::{write_notices, OperationalNotice};
use crate::paging::{fetch_page, Listed, Page};
use crate::{bulk, DatabaseKind, Session, Store, StoreResult};

/// Svix's trigger type of an attempt someone asked for (resend, recover).
pub const TRIGGER_MANUAL: i16 = 1;

/// How many deliveries an endpoint has in each state (Svix's `EndpointStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub succeeded: u64,
    pub pending: u64,
    pub failed: u64,
}

/// Everything the worker needs to attempt one delivery. The message and endpoint are
/// shared among the deliveries of one batch load (a fan-out shares its message).
#[derive(Debug, Clone)]
pub struct DispatchContext {
    pub delivery: delivery::Model,
    pub message: Arc<message::Model>,
    /// `None` when the endpoint has been deleted since the message was accepted.
    pub endpoint: Option<Arc<endpoint::Model>>,
}

/// One attempt to record, with how it moves its delivery (see [`Store::record_attempts`]).
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: NewAttempt,
    pub transition: DeliveryTransition,
    /// The delivery moves only if it still has this many attempts behind it.
    pub expected_attempt_count: i32,
    /// The receiver answered 410 Gone: disable the endpoint too.
    pub disable_endpoint: bool,
    /// What the attempt says about its endpoint (`herald_core::EndpointHealth::of`):
    /// a `Failing` one starts or extends the endpoint's failure streak, a `Healthy`
    /// one ends it.
    pub health: EndpointHealth,
    /// The delivery's ordering key (ordered endpoints only): when it finishes, the
    /// key's next delivery is released.
    pub ordering_key: Option<String>,
}

/// What recording a batch of attempts changed besides the attempts themselves.
#[derive(Debug, Clone, Default)]
pub struct RecordedBatch {
    /// Endpoints disabled by this batch (by a `410`, or by failing too long).
    pub disabled: Vec<DisabledEndpoint>,
    /// Ordered deliveries released because their predecessor finished: due now, to be
    /// queued by the caller.
    pub released: Vec<delivery::Model>,
}

/// Why an endpoint was disabled while attempts were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableReason {
    /// The receiver answered `410 Gone`.
    Gone,
    /// Every attempt failed for longer than the endpoint may fail.
    FailingTooLong,
}

/// An endpoint that [`Store::record_attempts`] disabled (it was enabled before).
#[derive(Debug, Clone)]
pub struct DisabledEndpoint {
    pub endpoint: endpoint::Model,
    pub reason: DisableReason,
}

/// Most attempt rows in one INSERT (well under every database's parameter limit).
const INSERT_CHUNK: usize = 500;

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
    pub(crate) fn status(self) -> DeliveryStatus {
        match self {
            Self::Retry { .. } => DeliveryStatus::Pending,
            Self::Succeeded => DeliveryStatus::Succeeded,
            Self::DeadLettered => DeliveryStatus::Failed,
        }
    }

    pub(crate) fn next_attempt_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Retry { at } => Some(at),
            _ => None,
        }
    }
}

impl Store {
    /// Loads a delivery with its message and endpoint. `None` when the delivery does not exist.
    pub async fn load_dispatch(&self, delivery_id: &DeliveryId) -> StoreResult<Option<DispatchContext>> {
        let Some((delivery, message)) = self.load_delivery(delivery_id).await? else { return Ok(None) };
        let endpoint = self.find_dispatch_endpoint(&delivery.endpoint_id).await?.map(Arc::new);
        Ok(Some(DispatchContext { delivery, message: Arc::new(message), endpoint }))
    }

    /// Loads many deliveries at once, in three queries whatever their number: the
    /// deliveries, their messages (each read once, however many deliveries share it),
    /// their endpoints. Deliveries that do not exist (or lost their message) are absent.
    pub async fn load_dispatch_batch(&self, delivery_ids: &[String]) -> StoreResult<HashMap<String, DispatchContext>> {
        self.session().load_dispatch_batch(delivery_ids).await
    }

    /// A delivery with its message, in one query. `None` when either is gone.
    pub async fn load_delivery(
        &self,
        delivery_id: &DeliveryId,
    ) -> StoreResult<Option<(delivery::Model, message::Model)>> {
        let found = delivery::Entity::find_by_id(Stored(delivery_id.clone()))
            .find_also_related(message::Entity)
            .one(&self.db)
            .await?;
        Ok(found.and_then(|(delivery, message)| Some((delivery, message?))))
    }

    /// An endpoint as the worker needs it: `None` once deleted.
    pub async fn find_dispatch_endpoint(&self, endpoint_id: &EndpointId) -> StoreResult<Option<endpoint::Model>> {
        let found = endpoint::Entity::find_by_id(Stored(endpoint_id.clone()))
            .one(&self.db)
            .await?
            .filter(|e| e.deleted_at.is_none());
        found.map(|model| self.open_endpoint(model)).transpose()
    }

    /// Records a batch of attempts and moves their deliveries, in one transaction: the
    /// attempts go in multi-row inserts, and deliveries moving the same way (most often:
    /// succeeded at the first attempt) in one update each. On PostgreSQL a batch that
    /// disables, announces and releases nothing is one statement instead
    /// ([`bulk::record_attempts`]). All or nothing, so a caller acknowledges the batch's
    /// queue entries only after this returns `Ok`.
    ///
    /// A delivery moves only if it is still pending with the record's
    /// `expected_attempt_count`: when two workers raced on one delivery (a redelivered
    /// stream entry), both attempts are recorded but only the first moves it.
    ///
    /// A `410` (`disable_endpoint`) disables the endpoint in the same transaction, so
    /// nobody sees the dead-lettered delivery with its endpoint still enabled. An ordered
    /// delivery that finishes releases its key's next one (see `crate::ordering`), also
    /// in the same transaction.
    ///
    /// It also keeps each endpoint's failure streak (`failing_since`): a success ends
    /// it, a failure starts it, and an endpoint whose streak is older than
    /// `disable_after` is disabled, in the same transaction. Returns the endpoints this
    /// call disabled (by a `410` or by failing too long), for operational webhooks.
    pub async fn record_attempts(
        &self,
        records: Vec<AttemptRecord>,
        disable_after: Option<chrono::Duration>,
    ) -> StoreResult<RecordedBatch> {
        self.session().record_attempts(records, disable_after).await
    }

    /// [`Store::record_attempts`] in one transaction, whatever the batch holds.
    /// `outcomes` and `finished_keys` are [`endpoint_outcomes`] and
    /// [`batch_finished_keys`] of `records`.
    async fn record_attempts_in_transaction(
        &self,
        records: Vec<AttemptRecord>,
        (succeeded_endpoints, failed_endpoints): (HashSet<String>, HashSet<String>),
        finished_keys: BTreeSet<OrderKey>,
        disable_after: Option<chrono::Duration>,
    ) -> StoreResult<RecordedBatch> {
        let batch_now = records.iter().map(|r| r.attempt.created_at).max().unwrap_or_else(Utc::now);
        type MoveKey = (&'static str, Option<DateTime<Utc>>, i32);
        let mut moves: std::collections::BTreeMap<MoveKey, (Vec<String>, DateTime<Utc>)> = Default::default();
        let mut disable: Vec<String> = Vec::new();
        let mut rows = Vec::with_capacity(records.len());
        let mut notices = Vec::new();
        for record in records {
            if record.transition == DeliveryTransition::DeadLettered && !record.disable_endpoint {
                let attempt = &record.attempt;
                notices.push((
                    attempt.tenant_id.clone(),
                    OperationalNotice::AttemptExhausted {
                        app_id: attempt.app_id.to_string(),
                        msg_id: attempt.msg_id.to_string(),
                        endpoint_id: attempt.endpoint_id.to_string(),
                        attempt_id: attempt.id.as_str().to_owned(),
                        response_status_code: attempt.response_status_code,
                        at: attempt.created_at,
                    },
                ));
            }
            let key = (
                record.transition.status().as_str(),
                record.transition.next_attempt_at(),
                record.expected_attempt_count,
            );
            let now = record.attempt.created_at;
            let entry = moves.entry(key).or_insert_with(|| (Vec::new(), now));
            entry.0.push(record.attempt.delivery_id.to_string());
            entry.1 = entry.1.max(now);
            if record.disable_endpoint {
                disable.push(record.attempt.endpoint_id.to_string());
            }
            rows.push(attempt_row(record.attempt));
        }
        let txn = self.db.begin().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            attempt::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        for ((status, next_attempt_at, expected), (ids, now)) in moves {
            for ids in ids.chunks(INSERT_CHUNK) {
                delivery::Entity::update_many()
                    .col_expr(delivery::Column::Status, Expr::value(status))
                    .col_expr(delivery::Column::AttemptCount, Expr::value(expected + 1))
                    .col_expr(delivery::Column::NextAttemptAt, Expr::value(next_attempt_at))
                    .col_expr(delivery::Column::NextTrigger, Expr::value(0i16))
                    .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                    .filter(delivery::Column::Id.is_in(ids.iter().map(String::as_str)))
                    .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                    .filter(delivery::Column::AttemptCount.eq(expected))
                    .exec(&txn)
                    .await?;
            }
        }
        if !succeeded_endpoints.is_empty() {
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::FailingSince, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(endpoint::Column::Id.is_in(succeeded_endpoints.iter().map(String::as_str)))
                .filter(endpoint::Column::FailingSince.is_not_null())
                .exec(&txn)
                .await?;
        }
        let mut disabled = Vec::new();
        if !failed_endpoints.is_empty() {
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::FailingSince, Expr::value(batch_now))
                .filter(endpoint::Column::Id.is_in(failed_endpoints.iter().map(String::as_str)))
                .filter(endpoint::Column::FailingSince.is_null())
                .exec(&txn)
                .await?;
            if let Some(disable_after) = disable_after {
                let too_long = endpoint::Entity::find()
                    .filter(endpoint::Column::Id.is_in(failed_endpoints.iter().map(String::as_str)))
                    .filter(endpoint::Column::Disabled.eq(false))
                    .filter(endpoint::Column::FailingSince.lte(batch_now - disable_after))
                    .all(&txn)
                    .await?;
                disabled.extend(
                    too_long
                        .into_iter()
                        .map(|endpoint| DisabledEndpoint { endpoint, reason: DisableReason::FailingTooLong }),
                );
            }
        }
        if !disable.is_empty() {
            let gone = endpoint::Entity::find()
                .filter(endpoint::Column::Id.is_in(disable.iter().map(String::as_str)))
                .filter(endpoint::Column::Disabled.eq(false))
                .all(&txn)
                .await?;
            for endpoint in gone {
                disabled.retain(|d: &DisabledEndpoint| d.endpoint.id != endpoint.id);
                disabled.push(DisabledEndpoint { endpoint, reason: DisableReason::Gone });
            }
        }
        if !disabled.is_empty() {
            // Disabled, it is in an outage (from when it started failing): what it misses
            // is redriven when it is enabled again.
            let outage_from = sea_orm::sea_query::Func::coalesce([
                Expr::col(endpoint::Column::RedriveFrom).into(),
                Expr::col(endpoint::Column::FailingSince).into(),
                Expr::value(batch_now),
            ]);
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Disabled, Expr::value(true))
                .col_expr(endpoint::Column::UpdatedAt, Expr::value(batch_now))
                .col_expr(endpoint::Column::RedriveFrom, Expr::expr(outage_from).into())
                .filter(endpoint::Column::Id.is_in(disabled.iter().map(|d| d.endpoint.id.as_str())))
                .exec(&txn)
                .await?;
            for entry in &mut disabled {
                entry.endpoint.disabled = true;
            }
        }
        notices.extend(
            disabled
                .iter()
                .map(|d| (d.endpoint.tenant_id.0.clone(), OperationalNotice::disabled(&d.endpoint, d.reason))),
        );
        write_notices(&txn, notices, batch_now).await?;
        let released = release_next(&txn, finished_keys, batch_now).await?;
        txn.commit().await?;
        Ok(RecordedBatch { disabled, released })
    }

    /// Moves a delivery without an attempt (its endpoint is gone or disabled). Returns
    /// the ordered delivery this released, if any, for the caller to queue.
    pub async fn finish_delivery_without_attempt(
        &self,
        delivery: &delivery::Model,
        expected_attempt_count: i32,
        transition: DeliveryTransition,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<delivery::Model>> {
        let txn = self.db.begin().await?;
        move_delivery(&txn, delivery.id.as_str(), expected_attempt_count, expected_attempt_count, transition, now)
            .await?;
        let keys = if transition.status().is_terminal() {
            finished_keys(std::iter::once((delivery.endpoint_id.as_str(), delivery.ordering_key.as_deref())))
        } else {
            Default::default()
        };
        let released = release_next(&txn, keys, now).await?;
        txn.commit().await?;
        Ok(released)
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
            .filter(crate::conditions::delivery_status_is(DeliveryStatus::Pending))
            .filter(delivery::Column::NextAttemptAt.lte(due_before));
        if let Some(after_id) = after_id {
            query = query.filter(delivery::Column::Id.gt(after_id));
        }
        Ok(query.order_by_asc(delivery::Column::Id).limit(limit).all(&self.db).await?)
    }

    /// An endpoint's deliveries, newest first, filtered by status and by their message.
    pub async fn list_endpoint_deliveries(
        &self,
        tenant_id: &TenantId,
        endpoint_id: &EndpointId,
        status: Option<DeliveryStatus>,
        filter: &MessageFilter,
        page: &Page,
    ) -> StoreResult<Listed<delivery::Model>> {
        let tenant_id = tenant_id.as_str();
        let mut select = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()));
        if let Some(status) = status {
            select = select.filter(delivery::Column::Status.eq(status.as_str()));
        }
        if !filter.is_empty() {
            select = select.filter(filter.message_ids_in(delivery::Column::MsgId, tenant_id));
        }
        fetch_page(&self.db, select, delivery::Column::Id, page).await
    }

    /// A message's deliveries, one page at a time (the endpoints it was sent to).
    pub async fn list_message_deliveries(
        &self,
        msg_id: &MessageId,
        page: &Page,
    ) -> StoreResult<Listed<delivery::Model>> {
        let select = delivery::Entity::find().filter(delivery::Column::MsgId.eq(msg_id.as_str()));
        fetch_page(&self.db, select, delivery::Column::Id, page).await
    }

    /// Endpoints by id, deleted ones included (they still label old deliveries).
    pub async fn endpoints_by_id(&self, ids: Vec<String>) -> StoreResult<Vec<endpoint::Model>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.open_endpoints(endpoint::Entity::find().filter(endpoint::Column::Id.is_in(ids)).all(&self.db).await?)
    }

    /// Starts a manual retry cycle for a message to an endpoint, creating the
    /// delivery if the message never went there (a new endpoint, or a filter that
    /// excluded it). The returned delivery is pending and due now; the caller queues it.
    pub async fn resend(
        &self,
        message: &message::Model,
        endpoint: &endpoint::Model,
        new_delivery_id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<delivery::Model> {
        let endpoint_id = &endpoint.id.0;
        let existing = delivery::Entity::find()
            .filter(delivery::Column::MsgId.eq(message.id.as_str()))
            .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
            .one(&self.db)
            .await?;
        match existing {
            Some(existing) => {
                restart_deliveries(&self.db, delivery::Column::Id.eq(existing.id.as_str()), now, now).await?;
                // Gone meanwhile only if the pruner deleted the message with it.
                delivery::Entity::find_by_id(existing.id)
                    .one(&self.db)
                    .await?
                    .ok_or(crate::StoreError::Conflict("a deletion of this message"))
            }
            None => {
                let row = manual_delivery(message, endpoint, new_delivery_id.clone(), now);
                delivery::Entity::insert(delivery::ActiveModel::from(row.clone()))
                    .on_conflict(one_per_endpoint())
                    .do_nothing()
                    .exec_without_returning(&self.db)
                    .await?;
                // Another writer may have created it meanwhile: restart that one.
                let stored = delivery::Entity::find()
                    .filter(delivery::Column::MsgId.eq(message.id.as_str()))
                    .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
                    .one(&self.db)
                    .await?
                    .ok_or(sea_orm::DbErr::RecordNotFound("the delivery just written".into()))?;
                if stored.id != row.id {
                    restart_deliveries(&self.db, delivery::Column::Id.eq(stored.id.as_str()), now, now).await?;
                    return Ok(delivery::Entity::find_by_id(stored.id.clone()).one(&self.db).await?.unwrap_or(stored));
                }
                Ok(stored)
            }
        }
    }

    /// How many of an endpoint's deliveries created in `[since, until)` are in each state.
    pub async fn endpoint_delivery_counts(
        &self,
        endpoint_id: &EndpointId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<DeliveryCounts> {
        let rows: Vec<(String, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Status)
            .column_as(delivery::Column::Id.count(), "count")
            .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
            .filter(delivery::Column::CreatedAt.gte(since))
            .filter(delivery::Column::CreatedAt.lt(until))
            .group_by(delivery::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut counts = DeliveryCounts::default();
        for (status, count) in rows {
            let count = count.max(0) as u64;
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Succeeded) => counts.succeeded += count,
                Some(DeliveryStatus::Pending) => counts.pending += count,
                Some(DeliveryStatus::Failed) => counts.failed += count,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The deliveries of one message, for tests and the attempt views.
    pub async fn message_deliveries(&self, msg_id: &MessageId) -> StoreResult<Vec<delivery::Model>> {
        Ok(delivery::Entity::find()
            .filter(delivery::Column::MsgId.eq(msg_id.as_str()))
            .order_by_asc(delivery::Column::Id)
            .all(&self.db)
            .await?)
    }
}

impl Session {
    /// [`Store::load_dispatch_batch`] on this session's connection.
    pub async fn load_dispatch_batch(
        &mut self,
        delivery_ids: &[String],
    ) -> StoreResult<HashMap<String, DispatchContext>> {
        if delivery_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let deliveries = if self.store.kind == DatabaseKind::Postgres {
            let result = bulk::deliveries_by_id(self.connection().await?, delivery_ids.to_vec()).await;
            self.release_on_error(&result);
            result?
        } else {
            let ids = delivery_ids.iter().cloned();
            delivery::Entity::find().filter(delivery::Column::Id.is_in(ids)).all(&self.store.db).await?
        };
        let msg_ids: HashSet<&str> = deliveries.iter().map(|d| d.msg_id.as_str()).collect();
        let endpoint_ids: HashSet<&str> = deliveries.iter().map(|d| d.endpoint_id.as_str()).collect();
        let (messages, endpoints) = if self.store.kind == DatabaseKind::Postgres {
            let owned = |ids: HashSet<&str>| ids.into_iter().map(str::to_owned).collect();
            let connection = self.connection().await?;
            let result = async {
                let messages = bulk::messages_by_id(&mut *connection, owned(msg_ids)).await?;
                Ok((messages, bulk::live_endpoints_by_id(connection, owned(endpoint_ids)).await?))
            }
            .await;
            self.release_on_error(&result);
            result?
        } else {
            let db = &self.store.db;
            let messages = message::Entity::find().filter(message::Column::Id.is_in(msg_ids)).all(db).await?;
            let endpoints = endpoint::Entity::find()
                .filter(endpoint::Column::Id.is_in(endpoint_ids))
                .filter(endpoint::Column::DeletedAt.is_null())
                .all(db)
                .await?;
            (messages, endpoints)
        };
        let messages: HashMap<String, Arc<message::Model>> =
            messages.into_iter().map(|m| (m.id.to_string(), Arc::new(m))).collect();
        let endpoints: HashMap<String, Arc<endpoint::Model>> =
            self.store.open_endpoints(endpoints)?.into_iter().map(|e| (e.id.to_string(), Arc::new(e))).collect();
        Ok(deliveries
            .into_iter()
            .filter_map(|delivery| {
                let message = messages.get(delivery.msg_id.as_str())?.clone();
                let endpoint = endpoints.get(delivery.endpoint_id.as_str()).cloned();
                Some((delivery.id.to_string(), DispatchContext { delivery, message, endpoint }))
            })
            .collect())
    }

    /// [`Store::record_attempts`] on this session's connection. On PostgreSQL a batch
    /// that disables, announces and releases nothing (most often a batch of
    /// first-attempt successes) is one statement ([`bulk::record_attempts`]).
    pub async fn record_attempts(
        &mut self,
        records: Vec<AttemptRecord>,
        disable_after: Option<chrono::Duration>,
    ) -> StoreResult<RecordedBatch> {
        if records.is_empty() {
            return Ok(RecordedBatch::default());
        }
        let outcomes = endpoint_outcomes(&records);
        let finished_keys = batch_finished_keys(&records);
        let nothing_else = outcomes.1.is_empty()
            && finished_keys.is_empty()
            && records.iter().all(|r| r.transition != DeliveryTransition::DeadLettered && !r.disable_endpoint);
        if self.store.kind == DatabaseKind::Postgres && nothing_else {
            let succeeded = outcomes.0.into_iter().collect();
            let result = bulk::record_attempts(self.connection().await?, &records, succeeded).await;
            self.release_on_error(&result);
            result?;
            return Ok(RecordedBatch::default());
        }
        self.store.record_attempts_in_transaction(records, outcomes, finished_keys, disable_after).await
    }
}

/// The ordering keys whose delivery in this batch finished (their next one is released).
fn batch_finished_keys(records: &[AttemptRecord]) -> BTreeSet<OrderKey> {
    finished_keys(
        records
            .iter()
            .filter(|r| r.transition.status().is_terminal())
            .map(|r| (r.attempt.endpoint_id.as_str(), r.ordering_key.as_deref())),
    )
}

/// The endpoints of a batch that had a healthy attempt, and those that only failed.
fn endpoint_outcomes(records: &[AttemptRecord]) -> (HashSet<String>, HashSet<String>) {
    let mut succeeded: HashSet<String> = HashSet::new();
    let mut failed: HashSet<String> = HashSet::new();
    for record in records {
        let endpoint_id = &record.attempt.endpoint_id;
        match record.health {
            EndpointHealth::Healthy => succeeded.insert(endpoint_id.to_string()),
            EndpointHealth::Failing => failed.insert(endpoint_id.to_string()),
            EndpointHealth::Untried => false,
        };
    }
    // An endpoint that also succeeded in this batch is not failing.
    failed.retain(|id| !succeeded.contains(id));
    (succeeded, failed)
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
        .col_expr(delivery::Column::NextTrigger, Expr::value(0i16))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(delivery_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(delivery::Column::AttemptCount.eq(expected_attempt_count))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts deliveries back to pending, due at `due`, in a new manual retry cycle. A held
/// ordered delivery stays held: it goes out in its turn.
/// A new delivery of `message` to `endpoint` (one it never went to), pending and
/// due `now`, its first attempt manual.
fn manual_delivery(
    message: &message::Model,
    endpoint: &endpoint::Model,
    id: DeliveryId,
    now: DateTime<Utc>,
) -> delivery::Model {
    delivery::Model {
        id: id.into(),
        tenant_id: message.tenant_id.clone(),
        app_id: message.app_id.clone(),
        msg_id: message.id.clone(),
        endpoint_id: endpoint.id.clone(),
        status: DeliveryStatus::Pending.into(),
        attempt_count: 0,
        next_attempt_at: Some(now),
        cycle_start: 0,
        next_trigger: TRIGGER_MANUAL,
        created_at: now,
        updated_at: now,
        ordering_key: None,
        sequence: None,
        receipt_expected: endpoint.receipt_window_secs.is_some(),
        processed_at: None,
    }
}

/// Creates a manual delivery of each of `messages` to `endpoint`, due `now` (or at
/// the message's `deliverAt`, if later), and returns those created: a message that
/// meanwhile got a delivery there (a resend committed first) keeps that one alone.
pub(crate) async fn insert_manual_deliveries(
    db: &impl ConnectionTrait,
    messages: &[message::Model],
    endpoint: &endpoint::Model,
    now: DateTime<Utc>,
) -> StoreResult<Vec<delivery::Model>> {
    let millis = now.timestamp_millis().max(0) as u64;
    let rows: Vec<delivery::Model> = messages
        .iter()
        .map(|message| {
            let due = message.deliver_at.map_or(now, |at| at.max(now));
            let mut row = manual_delivery(message, endpoint, DeliveryId::generate(millis, rand::random()), now);
            row.next_attempt_at = Some(due);
            row
        })
        .collect();
    let mut created = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        delivery::Entity::insert_many(chunk.iter().cloned().map(delivery::ActiveModel::from))
            .on_conflict(one_per_endpoint())
            .do_nothing()
            .exec_without_returning(db)
            .await?;
        let ids = chunk.iter().map(|row| row.id.as_str());
        created.extend(delivery::Entity::find().filter(delivery::Column::Id.is_in(ids)).all(db).await?);
    }
    Ok(created)
}

/// The unique `(msg_id, endpoint_id)` of deliveries, as a conflict target.
fn one_per_endpoint() -> sea_orm::sea_query::OnConflict {
    sea_orm::sea_query::OnConflict::columns([delivery::Column::MsgId, delivery::Column::EndpointId])
        .do_nothing()
        .to_owned()
}

/// Starts a manual retry cycle, due `due`, for the deliveries `which` selects. A
/// pending delivery without a due time (held behind an earlier ordered delivery) keeps
/// waiting its turn.
pub(crate) async fn restart_deliveries(
    db: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Pending.as_str()))
        .col_expr(delivery::Column::CycleStart, Expr::col(delivery::Column::AttemptCount).into())
        .col_expr(delivery::Column::NextTrigger, Expr::value(TRIGGER_MANUAL))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(due))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(which)
        .filter(
            sea_orm::Condition::any()
                .add(delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()))
                .add(delivery::Column::NextAttemptAt.is_not_null()),
        )
        .exec(db)
        .await?;
    Ok(())
}
