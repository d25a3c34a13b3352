//! Background tasks (Svix's `background-task` routes): what a paced `recover`, a
//! replay or an application's purge is doing. A tenant reads its own with an API key; portal tokens get `403`.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use herald_store::entity::background_task;
use herald_store::{Order, TaskFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{envelope, page_of, ListResponse, Ordering};
use crate::auth::TenantCaller;
use crate::error::{ApiError, ApiResult, ErrorResponses, ValidationItem};
use crate::extract::ValidQuery;
use crate::ApiState;

/// What a task works on and how far it is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundTaskData {
    pub app_id: String,
    /// Absent for an application-level task (`application.purge_content`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// The deliveries (messages) it works on were created in `[since, until)`.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// How many it selected when it started.
    pub total: i64,
    /// How many it has released (a purge: expunged) so far.
    pub done: i64,
    /// A purge's payloads expunged so far (Svix's name for `done` of that task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_purged: Option<i64>,
}

/// Svix's `BackgroundTaskOut`, with `updatedAt` (Herald's addition).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundTaskOut {
    /// `qtask_…`.
    pub id: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// e.g. `endpoint.recover`.
    pub task: String,
    pub data: BackgroundTaskData,
    pub updated_at: DateTime<Utc>,
}

impl From<background_task::Model> for BackgroundTaskOut {
    fn from(row: background_task::Model) -> Self {
        let purge = row.task == herald_store::PURGE_CONTENT_TASK;
        Self {
            id: row.id.to_string(),
            status: row.status,
            task: row.task,
            data: BackgroundTaskData {
                app_id: row.app_id.to_string(),
                endpoint_id: row.endpoint_id.map(|id| id.to_string()),
                since: row.since,
                until: row.until,
                total: row.total,
                done: row.done,
                messages_purged: purge.then_some(row.done),
            },
            updated_at: row.updated_at,
        }
    }
}

/// Paging and filters of a tenant's background tasks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackgroundTaskQuery {
    /// How many tasks to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// Default `descending`, newest first.
    pub order: Option<Ordering>,
    /// Only tasks in this status: `running`, `finished` or `failed`.
    pub status: Option<String>,
    /// Only tasks of this type, e.g. `endpoint.recover`.
    pub task: Option<String>,
}

/// The tenant's background tasks, newest first.
#[utoipa::path(get, path = "/api/v1/background-task", tag = "Background Tasks", operation_id = "v1.background-task.list",
    params(BackgroundTaskQuery), security(("HTTPBearer" = [])),
    responses((status = 200, body = ListResponse<BackgroundTaskOut>), ErrorResponses))]
pub async fn list_background_tasks(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidQuery(query): ValidQuery<BackgroundTaskQuery>,
) -> ApiResult<Json<ListResponse<BackgroundTaskOut>>> {
    let status_known = query.status.as_deref().is_none_or(|status| matches!(status, "running" | "finished" | "failed"));
    if !status_known {
        return Err(ApiError::Validation(vec![ValidationItem {
            loc: vec!["query".into(), "status".into()],
            msg: "must be `running`, `finished` or `failed`".into(),
            kind: "value_error".into(),
        }]));
    }
    let order = match query.order {
        Some(Ordering::Ascending) => Order::Ascending,
        _ => Order::Descending,
    };
    let page = page_of(query.limit, query.iterator.as_deref(), order)?;
    let filter = TaskFilter { tenant_id: caller.tenant_id(), status: query.status, task: query.task };
    let listed = state.store.list_tasks(&filter, &page).await?;
    Ok(Json(envelope(listed, &page, |row| row.id.to_string(), BackgroundTaskOut::from)))
}

/// One of the tenant's background tasks.
#[utoipa::path(get, path = "/api/v1/background-task/{task_id}", tag = "Background Tasks", operation_id = "v1.background-task.get",
    params(("task_id" = String, Path, description = "The task's id")), security(("HTTPBearer" = [])),
    responses((status = 200, body = BackgroundTaskOut), ErrorResponses))]
pub async fn get_background_task(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<BackgroundTaskOut>> {
    let task =
        state.store.find_task(&caller.tenant_id(), &task_id).await?.ok_or(ApiError::NotFound("background task"))?;
    Ok(Json(task.into()))
}
