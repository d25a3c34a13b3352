//! Expunging every payload of an application (Svix's `expunge-all-contents`): an
//! application-level background task, `application.purge_content`, that the task
//! runner carries out a batch at a time. It covers the messages accepted before it
//! started; each batch expunges and moves the task's cursor in one transaction, so a
//! restart neither loses nor repeats one.

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::{ApplicationId, BackgroundTaskId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use crate::audit::Action;
use crate::dead_letters::audit;
use crate::entity::{background_task, message, Stored};
use crate::tasks::{claim, record_batch, FINISHED, PURGE_CONTENT_TASK, RUNNING};
use crate::{Actor, Store, StoreResult};

/// The messages of `app_id` accepted in `[since, until)`.
fn accepted_in(app_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(message::Column::AppId.eq(app_id))
        .add(message::Column::CreatedAt.gte(since))
        .add(message::Column::CreatedAt.lt(until))
}

impl Store {
    /// Starts expunging the payloads of every message of `app_id` accepted until now:
    /// records the task (its total: the payloads not yet expunged) and the audit entry
    /// together. While one is running for the application, that one is stretched to now
    /// instead (its cursor follows ids, which follow time, so it reaches the newer
    /// messages too): repeated calls never pile up tasks.
    pub async fn start_purge_content(
        &self,
        id: &BackgroundTaskId,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<background_task::Model> {
        let now = now.trunc_subsecs(6);
        let (since, until) = (DateTime::<Utc>::UNIX_EPOCH, now + chrono::Duration::microseconds(1));
        let txn = self.db.begin().await?;
        let running = background_task::Entity::find()
            .filter(background_task::Column::AppId.eq(app_id.as_str()))
            .filter(background_task::Column::Task.eq(PURGE_CONTENT_TASK))
            .filter(background_task::Column::Status.eq(RUNNING))
            .one(&txn)
            .await?;
        if let Some(running) = running {
            let added = message::Entity::find()
                .filter(accepted_in(app_id.as_str(), running.until, until))
                .filter(message::Column::PayloadExpunged.eq(false))
                .count(&txn)
                .await?;
            let mut stretched: background_task::ActiveModel = running.into();
            stretched.until = Set(until);
            stretched.total = Set(stretched.total.as_ref() + added as i64);
            stretched.updated_at = Set(now);
            let stretched = stretched.update(&txn).await?;
            let detail =
                serde_json::json!({ "taskId": stretched.id.as_str(), "stretchedTo": until, "selected": added });
            audit(tenant_id, app_id, by, Action::ApplicationPurgeContent, detail, now).write(&txn).await?;
            txn.commit().await?;
            return Ok(stretched);
        }
        let total = message::Entity::find()
            .filter(accepted_in(app_id.as_str(), since, until))
            .filter(message::Column::PayloadExpunged.eq(false))
            .count(&txn)
            .await?;
        let task = background_task::ActiveModel {
            id: Set(Stored(id.clone())),
            tenant_id: Set(Stored(tenant_id.clone())),
            app_id: Set(Stored(app_id.clone())),
            endpoint_id: Set(None),
            task: Set(PURGE_CONTENT_TASK.to_owned()),
            status: Set(if total == 0 { FINISHED } else { RUNNING }.to_owned()),
            since: Set(since),
            until: Set(until),
            cursor: Set(None),
            total: Set(total as i64),
            done: Set(0),
            params: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let detail = serde_json::json!({ "taskId": id.as_str(), "selected": total });
        audit(tenant_id, app_id, by, Action::ApplicationPurgeContent, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(task)
    }

    /// Expunges the next `batch` messages of a running purge task and moves its cursor,
    /// in one transaction; `done` counts the payloads this task expunged (one expunged
    /// meanwhile by other means is passed over). The task finishes when fewer are left.
    /// `None` when the task is not running or another runner moved it first.
    pub async fn advance_purge(
        &self,
        task: &background_task::Model,
        batch: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<background_task::Model>> {
        let batch = batch.max(1);
        let txn = self.db.begin().await?;
        if !claim(&txn, task, now.trunc_subsecs(6)).await? {
            return Ok(None);
        }
        // Read again under the claim: a later call may have stretched its window.
        let Some(current) = background_task::Entity::find_by_id(task.id.clone()).one(&txn).await? else {
            return Ok(None);
        };
        let mut next = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(accepted_in(current.app_id.as_str(), current.since, current.until))
            .order_by_asc(message::Column::Id)
            .limit(batch);
        if let Some(cursor) = &task.cursor {
            next = next.filter(message::Column::Id.gt(cursor.as_str()));
        }
        let ids: Vec<String> = next.into_tuple().all(&txn).await?;
        let expunged = if ids.is_empty() {
            0
        } else {
            message::Entity::update_many()
                .col_expr(message::Column::Payload, Expr::value("{}"))
                .col_expr(message::Column::PayloadExpunged, Expr::value(true))
                .filter(message::Column::Id.is_in(ids.iter().map(String::as_str)))
                .filter(message::Column::PayloadExpunged.eq(false))
                .exec(&txn)
                .await?
                .rows_affected
        };
        let updated = record_batch(&txn, task, ids.last().cloned(), ids.len() as u64, batch, expunged).await?;
        txn.commit().await?;
        Ok(updated)
    }
}
