//! Background tasks: a paced `recover` is answered at once and carried out by the
//! workers' task runner, a batch at a time. Each batch restarts its deliveries and
//! moves the task's cursor in one transaction, so a restart in the middle neither loses
//! nor repeats a batch, and two runners cannot both take the same one (the cursor is
//! moved only from the value the batch was read at).

use chrono::{DateTime, Utc};
use herald_core::{BackgroundTaskId, DeliveryStatus, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use crate::deliveries::restart_deliveries;
use crate::entity::{background_task, delivery, endpoint, Stored};
use crate::paging::{fetch_page, Listed, Page};
use crate::{Actor, Store, StoreResult};

/// The task type of a paced recover, as Svix names it.
pub const RECOVER_TASK: &str = "endpoint.recover";
/// A task still releasing deliveries.
pub const RUNNING: &str = "running";
/// A task that released everything it selected.
pub const FINISHED: &str = "finished";

/// Which of a tenant's tasks to list.
#[derive(Debug, Clone)]
pub struct TaskFilter {
    pub tenant_id: TenantId,
    /// `running`, `finished` or `failed`.
    pub status: Option<String>,
    /// A task type, e.g. `endpoint.recover`.
    pub task: Option<String>,
}

/// The failed deliveries of `endpoint_id` created in `[since, until)`.
fn failed_in_window(endpoint_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(delivery::Column::EndpointId.eq(endpoint_id))
        .add(delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()))
        .add(delivery::Column::CreatedAt.gte(since))
        .add(delivery::Column::CreatedAt.lt(until))
}

impl Store {
    /// Starts a paced recover of every dead-lettered delivery of `endpoint` created in
    /// `[since, until)`: counts them, records the task and the audit entry. The task
    /// runner restarts them (`advance_recover_task`).
    pub async fn start_recover_task(
        &self,
        id: &BackgroundTaskId,
        endpoint: &endpoint::Model,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        by: &Actor,
    ) -> StoreResult<background_task::Model> {
        let txn = self.db.begin().await?;
        let total =
            delivery::Entity::find().filter(failed_in_window(endpoint.id.as_str(), since, until)).count(&txn).await?;
        let task = background_task::ActiveModel {
            id: Set(Stored(id.clone())),
            tenant_id: Set(endpoint.tenant_id.clone()),
            app_id: Set(endpoint.app_id.clone()),
            endpoint_id: Set(endpoint.id.clone()),
            task: Set(RECOVER_TASK.to_owned()),
            status: Set(if total == 0 { FINISHED } else { RUNNING }.to_owned()),
            since: Set(since),
            until: Set(until),
            cursor: Set(None),
            total: Set(total as i64),
            done: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let detail = serde_json::json!({ "since": since, "until": until, "taskId": id.as_str(), "selected": total });
        crate::endpoints::audit(endpoint, by, crate::Action::EndpointRecover, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(task)
    }

    /// Running tasks, oldest first.
    pub async fn running_tasks(&self, limit: u64) -> StoreResult<Vec<background_task::Model>> {
        Ok(background_task::Entity::find()
            .filter(background_task::Column::Status.eq(RUNNING))
            .order_by_asc(background_task::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Restarts the next `batch` deliveries of a running recover task, due now, and
    /// moves its cursor past them, in one transaction; the task finishes when fewer are
    /// left. `None` when the task is not running, or another runner moved it first.
    pub async fn advance_recover_task(
        &self,
        task: &background_task::Model,
        batch: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(background_task::Model, Vec<delivery::Model>)>> {
        let txn = self.db.begin().await?;
        let mut next = delivery::Entity::find()
            .filter(failed_in_window(task.endpoint_id.as_str(), task.since, task.until))
            .select_only()
            .column(delivery::Column::Id)
            .order_by_asc(delivery::Column::Id)
            .limit(batch.max(1));
        if let Some(cursor) = &task.cursor {
            next = next.filter(delivery::Column::Id.gt(cursor.as_str()));
        }
        let ids: Vec<String> = next.into_tuple().all(&txn).await?;
        let finished = (ids.len() as u64) < batch.max(1);
        // Moved only from the cursor this batch was read at: a second runner's move
        // finds it changed and takes nothing.
        let at_cursor = match &task.cursor {
            Some(cursor) => background_task::Column::Cursor.eq(cursor.as_str()),
            None => background_task::Column::Cursor.is_null(),
        };
        let moved = background_task::Entity::update_many()
            .col_expr(background_task::Column::Cursor, Expr::value(ids.last().cloned().or(task.cursor.clone())))
            .col_expr(background_task::Column::Done, Expr::col(background_task::Column::Done).add(ids.len() as i64))
            .col_expr(background_task::Column::Status, Expr::value(if finished { FINISHED } else { RUNNING }))
            .col_expr(background_task::Column::UpdatedAt, Expr::value(now))
            .filter(background_task::Column::Id.eq(task.id.as_str()))
            .filter(background_task::Column::Status.eq(RUNNING))
            .filter(at_cursor)
            .exec(&txn)
            .await?;
        if moved.rows_affected == 0 {
            return Ok(None);
        }
        let mut restarted = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let in_chunk = delivery::Column::Id.is_in(chunk.iter().map(String::as_str));
            restart_deliveries(&txn, in_chunk.clone(), now, now).await?;
            restarted.extend(delivery::Entity::find().filter(in_chunk).all(&txn).await?);
        }
        let updated = background_task::Entity::find_by_id(task.id.clone()).one(&txn).await?;
        txn.commit().await?;
        Ok(updated.map(|updated| (updated, restarted)))
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
