//! Background tasks: a paced `recover`, `replay-missing` or `bulk-replay` is answered
//! at once and carried out by the workers' task runner, a batch at a time. Each batch restarts its deliveries and
//! moves the task's cursor in one transaction, so a restart in the middle neither loses
//! nor repeats a batch, and two runners cannot both take the same one (the cursor is
//! moved only from the value the batch was read at).

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::{BackgroundTaskId, DeliveryStatus, TenantId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::deliveries::{restart_deliveries, TRIGGER_MANUAL};
use crate::entity::{attempt, background_task, delivery, endpoint, message, tenant, Stored};
use crate::feed::FeedFilter;
use crate::messages::MessageFilter;
use crate::paging::{fetch_page, Listed, Page};
use crate::{Actor, Store, StoreResult};

/// The task type of a paced recover (dead letters restarted), as Svix names it.
pub const RECOVER_TASK: &str = "endpoint.recover";
/// A replay-missing: messages that never went to the endpoint are sent to it.
pub const REPLAY_MISSING_TASK: &str = "endpoint.replay";
/// A bulk replay: the endpoint's deliveries matching a filter are sent again.
pub const BULK_REPLAY_TASK: &str = "endpoint.bulk-replay";
/// An application's payloads expunged (`expunge-all-contents`), as Svix names it.
pub const PURGE_CONTENT_TASK: &str = "application.purge_content";
/// A task still releasing deliveries.
pub const RUNNING: &str = "running";
/// A task that released everything it selected.
pub const FINISHED: &str = "finished";
/// A task that could not finish, e.g. because its endpoint was deleted.
pub const FAILED: &str = "failed";

/// Which of a tenant's tasks to list.
#[derive(Debug, Clone)]
pub struct TaskFilter {
    pub tenant_id: TenantId,
    /// `running`, `finished` or `failed`.
    pub status: Option<String>,
    /// A task type, e.g. `endpoint.recover`.
    pub task: Option<String>,
}

/// What a bulk replay sends again, beyond its endpoint and window: Svix's `BulkReplayIn`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayFilter {
    /// Messages of any of these event types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Messages on this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Messages carrying this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Deliveries in any of these states (`succeeded`, `failed`, `discarded`; pending
    /// ones are on their way and never replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<String>>,
    /// Deliveries with an attempt answered in this class (0: no answer, 100 … 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code_class: Option<i16>,
}

/// What a task works through.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// The endpoint's dead letters created in the window, restarted.
    Recover,
    /// An automatic redrive's recover: the endpoint's dead letters that were
    /// dead-lettered in the window (its outage), whenever they were created. Stored as
    /// an `endpoint.recover` whose params say so.
    Redrive,
    /// The application's messages that never went to the endpoint (and would go to it
    /// now, by its filters), sent to it.
    ReplayMissing,
    /// The endpoint's deliveries matching the filter, sent again.
    BulkReplay(ReplayFilter),
    /// A dead-letter replay (`POST …/dead-letter/replay`): the endpoint's dead letters
    /// dead-lettered in the window, of these messages when given. Stored as an
    /// `endpoint.recover` whose params say so, a type every Svix SDK can read.
    DeadLetterReplay(Option<Vec<String>>),
}

impl TaskKind {
    /// Svix's task type.
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::Recover | TaskKind::Redrive | TaskKind::DeadLetterReplay(_) => RECOVER_TASK,
            TaskKind::ReplayMissing => REPLAY_MISSING_TASK,
            TaskKind::BulkReplay(_) => BULK_REPLAY_TASK,
        }
    }

    fn action(&self) -> crate::Action {
        match self {
            TaskKind::Recover | TaskKind::Redrive => crate::Action::EndpointRecover,
            TaskKind::ReplayMissing => crate::Action::EndpointReplayMissing,
            TaskKind::BulkReplay(_) => crate::Action::EndpointBulkReplay,
            TaskKind::DeadLetterReplay(_) => crate::Action::DeadLetterReplay,
        }
    }

    /// The kind of a stored task; `None` for a type this version does not know, or a
    /// bulk replay whose filter it cannot read (the task fails rather than guess).
    fn of(task: &background_task::Model) -> Option<Self> {
        match task.task.as_str() {
            RECOVER_TASK => {
                let params = task.params.as_ref();
                match params.and_then(|params| params.get("window")) {
                    None => Some(TaskKind::Recover),
                    Some(window) if window == DEAD_LETTER_REPLAY => {
                        match params.and_then(|params| params.get("msgIds")).cloned() {
                            None => Some(TaskKind::DeadLetterReplay(None)),
                            Some(ids) => {
                                serde_json::from_value(ids).ok().map(|ids| TaskKind::DeadLetterReplay(Some(ids)))
                            }
                        }
                    }
                    Some(window) if window == DEAD_LETTERED => Some(TaskKind::Redrive),
                    Some(_) => None,
                }
            }
            REPLAY_MISSING_TASK => Some(TaskKind::ReplayMissing),
            BULK_REPLAY_TASK => {
                let filter = task.params.clone().unwrap_or_else(|| serde_json::json!({}));
                serde_json::from_value(filter).ok().map(TaskKind::BulkReplay)
            }
            _ => None,
        }
    }
}

/// The deliveries of `endpoint_id` created in `[since, until)` that a bulk replay
/// with `filter` sends again.
fn replayed_in_window(
    endpoint_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    filter: &ReplayFilter,
) -> Condition {
    let mut condition = Condition::all()
        .add(delivery::Column::EndpointId.eq(endpoint_id))
        .add(delivery::Column::CreatedAt.gte(since))
        .add(delivery::Column::CreatedAt.lt(until));
    // A pending delivery is queued or being sent: restarting it would queue it twice.
    condition = condition.add(delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()));
    if let Some(statuses) = &filter.statuses {
        condition = condition.add(delivery::Column::Status.is_in(statuses.iter().map(String::as_str)));
    }
    let messages = MessageFilter {
        event_types: filter.event_types.clone(),
        channel: filter.channel.clone(),
        tag: filter.tag.clone(),
        ..MessageFilter::default()
    };
    if !messages.is_empty() {
        condition = condition.add(
            delivery::Column::MsgId.in_subquery(
                Query::select()
                    .column(message::Column::Id)
                    .from(message::Entity)
                    .cond_where(messages.condition())
                    .to_owned(),
            ),
        );
    }
    if let Some(class) = filter.status_code_class {
        let code = if class == 0 {
            Condition::all().add(attempt::Column::ResponseStatusCode.eq(0))
        } else {
            Condition::all()
                .add(attempt::Column::ResponseStatusCode.gte(class))
                .add(attempt::Column::ResponseStatusCode.lt(class + 100))
        };
        condition = condition.add(
            delivery::Column::Id.in_subquery(
                Query::select()
                    .column(attempt::Column::DeliveryId)
                    .from(attempt::Entity)
                    .and_where(attempt::Column::EndpointId.eq(endpoint_id))
                    .cond_where(code)
                    .to_owned(),
            ),
        );
    }
    condition
}

/// The messages of `endpoint`'s application created in `[since, until)` with no
/// delivery to it that its filters (event types, channels) would send to it now.
fn missing_in_window(endpoint: &endpoint::Model, since: DateTime<Utc>, until: DateTime<Utc>) -> Condition {
    let filters = FeedFilter {
        event_types: endpoint.filter_types.clone().map(|names| names.0),
        channels: endpoint.channels.clone().map(|names| names.0),
        ..FeedFilter::default()
    };
    Condition::all()
        .add(message::Column::AppId.eq(endpoint.app_id.as_str()))
        .add(message::Column::CreatedAt.gte(since))
        .add(message::Column::CreatedAt.lt(until))
        // An expunged payload (on request, or its retention is over) has nothing to send,
        // and the pruner deletes such a message soon: never start a delivery of it.
        .add(message::Column::PayloadExpunged.eq(false))
        .add(filters.condition())
        .add(
            message::Column::Id.not_in_subquery(
                Query::select()
                    .column(delivery::Column::MsgId)
                    .from(delivery::Entity)
                    .and_where(delivery::Column::EndpointId.eq(endpoint.id.as_str()))
                    .to_owned(),
            ),
        )
}

/// The longest outage an automatic redrive goes back over.
pub const MAX_REDRIVE: chrono::Duration = chrono::Duration::days(7);

/// How a redrive's params name its window: when its deliveries were dead-lettered.
const DEAD_LETTERED: &str = "deadLettered";

/// The failed deliveries of `endpoint_id` dead-lettered in `[since, until)` (a failed
/// delivery's `updated_at` is when it failed for good).
fn dead_lettered_in_window(endpoint_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(delivery::Column::EndpointId.eq(endpoint_id))
        .add(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()))
        .add(delivery::Column::UpdatedAt.gte(since))
        .add(delivery::Column::UpdatedAt.lt(until))
}

/// How a dead-letter replay's params name its window (when its deliveries were
/// dead-lettered, like a redrive's). A window of its own, not `deadLettered` plus a
/// field: a version before dead-letter replays fails a task whose window it does not
/// know, where it would have read `deadLettered` as a redrive of all the endpoint's
/// dead letters and ignored `msgIds`.
const DEAD_LETTER_REPLAY: &str = "deadLetterReplay";

/// The dead letters of `endpoint_id` a dead-letter replay restarts: dead-lettered in
/// `[since, until)`, of `msg_ids` when given.
fn dead_letters_of(
    endpoint_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    msg_ids: Option<&Vec<String>>,
) -> Condition {
    let mut condition = dead_lettered_in_window(endpoint_id, since, until);
    if let Some(ids) = msg_ids {
        condition = condition.add(delivery::Column::MsgId.is_in(ids.iter().map(String::as_str)));
    }
    condition
}

/// The failed deliveries of `endpoint_id` created in `[since, until)`.
fn failed_in_window(endpoint_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(delivery::Column::EndpointId.eq(endpoint_id))
        .add(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()))
        .add(delivery::Column::CreatedAt.gte(since))
        .add(delivery::Column::CreatedAt.lt(until))
}

/// The ids of the next `batch` deliveries of `selection` after `cursor`, in id order.
async fn next_ids(
    txn: &DatabaseTransaction,
    selection: Condition,
    cursor: Option<&str>,
    batch: u64,
) -> StoreResult<Vec<String>> {
    let mut next = delivery::Entity::find()
        .filter(selection)
        .select_only()
        .column(delivery::Column::Id)
        .order_by_asc(delivery::Column::Id)
        .limit(batch);
    if let Some(cursor) = cursor {
        next = next.filter(delivery::Column::Id.gt(cursor));
    }
    Ok(next.into_tuple().all(txn).await?)
}

/// Starts a manual retry cycle, due `now`, for the deliveries `ids` (those also
/// matching `only`), and returns those it restarted.
async fn restart(
    txn: &DatabaseTransaction,
    ids: &[String],
    only: Option<sea_orm::sea_query::SimpleExpr>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<delivery::Model>> {
    let mut restarted = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let in_chunk = delivery::Column::Id.is_in(chunk.iter().map(String::as_str));
        let mut which = Condition::all().add(in_chunk.clone());
        if let Some(only) = &only {
            which = which.add(only.clone());
        }
        restart_deliveries(txn, which.into(), now, now).await?;
        restarted.extend(
            delivery::Entity::find()
                .filter(in_chunk)
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(delivery::Column::NextTrigger.eq(TRIGGER_MANUAL))
                .filter(delivery::Column::UpdatedAt.eq(now))
                .filter(Expr::col(delivery::Column::CycleStart).equals(delivery::Column::AttemptCount))
                .all(txn)
                .await?,
        );
    }
    Ok(restarted)
}

/// Claims `task` for this runner's batch inside `txn`: writes the row (so two runners
/// queue on it rather than both reading and one failing to upgrade its lock on SQLite),
/// only while it is running at the cursor this runner saw. False when another runner
/// moved it first.
pub(crate) async fn claim(
    txn: &DatabaseTransaction,
    task: &background_task::Model,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let at_cursor = match &task.cursor {
        Some(cursor) => background_task::Column::Cursor.eq(cursor.as_str()),
        None => background_task::Column::Cursor.is_null(),
    };
    let claimed = background_task::Entity::update_many()
        .col_expr(background_task::Column::UpdatedAt, Expr::value(now))
        .filter(background_task::Column::Id.eq(task.id.as_str()))
        .filter(background_task::Column::Status.eq(RUNNING))
        .filter(at_cursor)
        .exec(txn)
        .await?;
    Ok(claimed.rows_affected > 0)
}

/// Records a claimed batch of `task` inside `txn`: its cursor moves to `last`, `done`
/// grows by `counted`, and the task finishes when the batch took fewer than `batch`.
/// Returns the task as it is now.
pub(crate) async fn record_batch(
    txn: &DatabaseTransaction,
    task: &background_task::Model,
    last: Option<String>,
    taken: u64,
    batch: u64,
    counted: u64,
) -> StoreResult<Option<background_task::Model>> {
    let finished = taken < batch;
    background_task::Entity::update_many()
        .col_expr(background_task::Column::Cursor, Expr::value(last.or(task.cursor.clone())))
        .col_expr(background_task::Column::Done, Expr::col(background_task::Column::Done).add(counted as i64))
        .col_expr(background_task::Column::Status, Expr::value(if finished { FINISHED } else { RUNNING }))
        .filter(background_task::Column::Id.eq(task.id.as_str()))
        .exec(txn)
        .await?;
    Ok(background_task::Entity::find_by_id(task.id.clone()).one(txn).await?)
}

/// [`Store::start_task`] inside `txn`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_task_in(
    txn: &DatabaseTransaction,
    id: &BackgroundTaskId,
    endpoint: &endpoint::Model,
    kind: &TaskKind,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    by: &Actor,
) -> StoreResult<background_task::Model> {
    let endpoint_id = endpoint.id.as_str();
    let total = match kind {
        TaskKind::Recover => {
            delivery::Entity::find().filter(failed_in_window(endpoint_id, since, until)).count(txn).await?
        }
        TaskKind::Redrive => {
            delivery::Entity::find().filter(dead_lettered_in_window(endpoint_id, since, until)).count(txn).await?
        }
        TaskKind::DeadLetterReplay(msg_ids) => {
            delivery::Entity::find()
                .filter(dead_letters_of(endpoint_id, since, until, msg_ids.as_ref()))
                .count(txn)
                .await?
        }
        TaskKind::BulkReplay(filter) => {
            delivery::Entity::find().filter(replayed_in_window(endpoint_id, since, until, filter)).count(txn).await?
        }
        TaskKind::ReplayMissing => {
            message::Entity::find().filter(missing_in_window(endpoint, since, until)).count(txn).await?
        }
    };
    let params = match kind {
        TaskKind::BulkReplay(filter) => Some(serde_json::to_value(filter).expect("a filter serializes")),
        TaskKind::Redrive => Some(serde_json::json!({ "window": DEAD_LETTERED })),
        TaskKind::DeadLetterReplay(msg_ids) => {
            let mut params = serde_json::json!({ "window": DEAD_LETTER_REPLAY });
            if let Some(ids) = msg_ids {
                params["msgIds"] = serde_json::json!(ids);
            }
            Some(params)
        }
        _ => None,
    };
    let task = background_task::ActiveModel {
        id: Set(Stored(id.clone())),
        tenant_id: Set(endpoint.tenant_id.clone()),
        app_id: Set(endpoint.app_id.clone()),
        endpoint_id: Set(Some(endpoint.id.clone())),
        task: Set(kind.name().to_owned()),
        status: Set(if total == 0 { FINISHED } else { RUNNING }.to_owned()),
        since: Set(since),
        until: Set(until),
        cursor: Set(None),
        total: Set(total as i64),
        done: Set(0),
        params: Set(params.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    // A dead-letter replay is audited once for its application, by its caller.
    if !matches!(kind, TaskKind::DeadLetterReplay(_)) {
        let mut detail =
            serde_json::json!({ "since": since, "until": until, "taskId": id.as_str(), "selected": total });
        if let Some(params) = params {
            detail["filter"] = params;
        }
        crate::endpoints::audit(endpoint, by, kind.action(), detail, now).write(txn).await?;
    }
    Ok(task)
}

impl Store {
    /// Starts a paced task over `endpoint`'s deliveries (or, for a replay-missing, its
    /// application's messages) created in `[since, until)`: counts what it selects,
    /// records the task and the audit entry. The task runner carries it out
    /// (`advance_task`).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_task(
        &self,
        id: &BackgroundTaskId,
        endpoint: &endpoint::Model,
        kind: &TaskKind,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<background_task::Model> {
        let txn = self.db.begin().await?;
        let task = start_task_in(&txn, id, endpoint, kind, since, until, now, by).await?;
        txn.commit().await?;
        Ok(task)
    }

    /// Marks the start of every outage that has lasted past `failing_before`: the
    /// endpoint's `redrive_from` becomes its `failing_since`. Returns how many.
    pub async fn mark_outages(&self, failing_before: DateTime<Utc>) -> StoreResult<u64> {
        let marked = endpoint::Entity::update_many()
            .col_expr(endpoint::Column::RedriveFrom, Expr::col(endpoint::Column::FailingSince).into())
            .filter(endpoint::Column::RedriveFrom.is_null())
            .filter(endpoint::Column::FailingSince.lte(failing_before))
            .filter(endpoint::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(marked.rows_affected)
    }

    /// Starts the automatic redrive of up to `limit` endpoints back from an outage
    /// (enabled, no longer failing, `redrive_from` set): a recover of what was
    /// dead-lettered during the outage and a replay-missing of the messages created
    /// during it that they were not sent (while disabled), unless the endpoint or its
    /// tenant opted out. Each endpoint is
    /// claimed (its `redrive_from` cleared) in the transaction that records its tasks,
    /// so a redrive starts once. Returns the tasks started.
    pub async fn start_redrives(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<background_task::Model>> {
        let back = endpoint::Entity::find()
            .filter(endpoint::Column::RedriveFrom.is_not_null())
            .filter(endpoint::Column::FailingSince.is_null())
            .filter(endpoint::Column::Disabled.eq(false))
            .filter(endpoint::Column::DeletedAt.is_null())
            .order_by_asc(endpoint::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut started = Vec::new();
        for endpoint in back {
            let Some(since) = endpoint.redrive_from else { continue };
            let txn = self.db.begin().await?;
            // Only if it is still back: a disable that read the endpoint before this
            // claim must not lose its outage.
            let claimed = endpoint::Entity::update_many()
                .col_expr(endpoint::Column::RedriveFrom, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(endpoint::Column::Id.eq(endpoint.id.as_str()))
                .filter(endpoint::Column::RedriveFrom.is_not_null())
                .filter(endpoint::Column::FailingSince.is_null())
                .filter(endpoint::Column::Disabled.eq(false))
                .filter(endpoint::Column::DeletedAt.is_null())
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 0 {
                continue;
            }
            let tenant = tenant::Entity::find_by_id(endpoint.tenant_id.clone()).one(&txn).await?;
            let tenant_on = tenant.and_then(|tenant| tenant.auto_redrive) != Some(false);
            // Never further back than MAX_REDRIVE (an outage recorded while redrive was
            // off must not replay months); the recover a minute early (the first
            // failure's dead letter may carry a time a hair before the failing streak's),
            // the replay-missing not before the endpoint existed.
            let since = since.max(now - MAX_REDRIVE);
            let windows = [
                (TaskKind::Redrive, since - chrono::Duration::minutes(1)),
                (TaskKind::ReplayMissing, since.max(endpoint.created_at)),
            ];
            if endpoint.auto_redrive && tenant_on && since < now {
                for (kind, since) in windows {
                    let millis = now.timestamp_millis().max(0) as u64;
                    let id = BackgroundTaskId::generate(millis, rand::random());
                    started.push(start_task_in(&txn, &id, &endpoint, &kind, since, now, now, &Actor::Herald).await?);
                }
            }
            txn.commit().await?;
        }
        Ok(started)
    }

    /// Running tasks, least recently advanced first, so every task gets its turn.
    pub async fn running_tasks(&self, limit: u64) -> StoreResult<Vec<background_task::Model>> {
        Ok(background_task::Entity::find()
            .filter(background_task::Column::Status.eq(RUNNING))
            .order_by_asc(background_task::Column::UpdatedAt)
            .order_by_asc(background_task::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Carries out the next `batch` of a running task, due now, and moves its cursor
    /// past them, in one transaction; the task finishes when fewer are left. Returns
    /// the deliveries it made due, to be queued. `None` when the task is not running,
    /// or another runner moved it first.
    ///
    /// The task row is claimed (written) before anything is read, so two runners queue
    /// on it rather than both reading and one failing to upgrade its lock (SQLite), and
    /// the claim is taken only at the cursor this runner saw. A recover restarts only
    /// deliveries still failed (one a resend took meanwhile is left alone), and `done`
    /// counts what was actually restarted or created.
    pub async fn advance_task(
        &self,
        task: &background_task::Model,
        endpoint: &endpoint::Model,
        batch: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(background_task::Model, Vec<delivery::Model>)>> {
        let batch = batch.max(1);
        // Stored exactly (microseconds), so the restarted rows can be told by it.
        let now = now.trunc_subsecs(6);
        let txn = self.db.begin().await?;
        if !claim(&txn, task, now).await? {
            return Ok(None);
        }
        let endpoint_id = endpoint.id.as_str();
        let Some(kind) = TaskKind::of(task) else {
            background_task::Entity::update_many()
                .col_expr(background_task::Column::Status, Expr::value(FAILED))
                .filter(background_task::Column::Id.eq(task.id.as_str()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            tracing::warn!(task = %task.id, kind = %task.task, "a background task this version cannot run: it failed");
            return Ok(None);
        };
        let (last, taken, released) = match kind {
            TaskKind::Recover | TaskKind::Redrive | TaskKind::DeadLetterReplay(_) => {
                let selection = match &kind {
                    TaskKind::Redrive => dead_lettered_in_window(endpoint_id, task.since, task.until),
                    TaskKind::DeadLetterReplay(msg_ids) => {
                        dead_letters_of(endpoint_id, task.since, task.until, msg_ids.as_ref())
                    }
                    _ => failed_in_window(endpoint_id, task.since, task.until),
                };
                let ids = next_ids(&txn, selection, task.cursor.as_deref(), batch).await?;
                let still_failed = delivery::Column::Status.eq(DeliveryStatus::Failed.as_str());
                let released = restart(&txn, &ids, Some(still_failed), now).await?;
                (ids.last().cloned(), ids.len(), released)
            }
            TaskKind::BulkReplay(filter) => {
                let selection = replayed_in_window(endpoint_id, task.since, task.until, &filter);
                let ids = next_ids(&txn, selection, task.cursor.as_deref(), batch).await?;
                let released = restart(&txn, &ids, None, now).await?;
                (ids.last().cloned(), ids.len(), released)
            }
            TaskKind::ReplayMissing => {
                let mut next = message::Entity::find()
                    .filter(missing_in_window(endpoint, task.since, task.until))
                    .order_by_asc(message::Column::Id)
                    .limit(batch);
                if let Some(cursor) = &task.cursor {
                    next = next.filter(message::Column::Id.gt(cursor.as_str()));
                }
                let messages = next.all(&txn).await?;
                let released = crate::deliveries::insert_manual_deliveries(&txn, &messages, endpoint, now).await?;
                (messages.last().map(|message| message.id.to_string()), messages.len(), released)
            }
        };
        let updated = record_batch(&txn, task, last, taken as u64, batch, released.len() as u64).await?;
        txn.commit().await?;
        Ok(updated.map(|updated| (updated, released)))
    }

    /// Moves running tasks that got no turn this tick (their endpoint is paused) to the
    /// back of the queue, so tasks that can go are not kept waiting behind them.
    pub async fn pass_over_tasks(&self, ids: &[String], now: DateTime<Utc>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        background_task::Entity::update_many()
            .col_expr(background_task::Column::UpdatedAt, Expr::value(now))
            .filter(background_task::Column::Id.is_in(ids.iter().map(String::as_str)))
            .filter(background_task::Column::Status.eq(RUNNING))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a running task as `failed`, e.g. when its endpoint was deleted.
    pub async fn fail_task(&self, task: &background_task::Model, now: DateTime<Utc>) -> StoreResult<()> {
        background_task::Entity::update_many()
            .col_expr(background_task::Column::Status, Expr::value(FAILED))
            .col_expr(background_task::Column::UpdatedAt, Expr::value(now))
            .filter(background_task::Column::Id.eq(task.id.as_str()))
            .filter(background_task::Column::Status.eq(RUNNING))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A tenant's tasks, newest first by default.
    pub async fn list_tasks(&self, filter: &TaskFilter, page: &Page) -> StoreResult<Listed<background_task::Model>> {
        let mut select =
            background_task::Entity::find().filter(background_task::Column::TenantId.eq(filter.tenant_id.as_str()));
        if let Some(status) = &filter.status {
            select = select.filter(background_task::Column::Status.eq(status.as_str()));
        }
        if let Some(task) = &filter.task {
            select = select.filter(background_task::Column::Task.eq(task.as_str()));
        }
        fetch_page(&self.db, select, background_task::Column::Id, page).await
    }

    /// One of a tenant's tasks.
    pub async fn find_task(&self, tenant_id: &TenantId, id: &str) -> StoreResult<Option<background_task::Model>> {
        let Ok(id) = BackgroundTaskId::parse(id) else { return Ok(None) };
        Ok(background_task::Entity::find_by_id(Stored(id))
            .filter(background_task::Column::TenantId.eq(tenant_id.as_str()))
            .one(&self.db)
            .await?)
    }
}
