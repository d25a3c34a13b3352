//! The audit log, read: a tenant reads its own entries with an API key
//! (`/api/v1/audit-log`; portal tokens get `403`), the operator reads every tenant's
//! (`/admin/v1/audit-log`). Entries are written by the store with each change; see
//! `herald_store::Action` for what is recorded.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_store::entity::audit_entry;
use herald_store::{Action, AuditFilter, Order};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{envelope, page_of, ListResponse, Ordering};
use crate::auth::{Operator, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorResponses, ValidationItem};
use crate::extract::ValidQuery;
use crate::ApiState;

/// One management action.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryOut {
    /// `audit_…`, time-sortable.
    pub id: String,
    pub tenant_id: Option<String>,
    /// `api_key`, `portal_token` or `operator`.
    pub actor_kind: String,
    /// The API key's (`key_…`) or portal token's (`ptk_…`) id, or `operator`.
    pub actor_id: String,
    /// e.g. `endpoint.secret.rotate`.
    pub action: String,
    /// `tenant`, `api_key`, `endpoint`, `portal_token` or `application`.
    pub target_kind: String,
    pub target_id: String,
    /// `success`, or `unchanged` when there was nothing to change (revoking twice).
    pub outcome: String,
    /// Non-secret facts about the change: header names, counts, a mode.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub timestamp: DateTime<Utc>,
}

impl From<audit_entry::Model> for AuditEntryOut {
    fn from(row: audit_entry::Model) -> Self {
        Self {
            id: row.id.to_string(),
            tenant_id: row.tenant_id.map(|id| id.to_string()),
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            outcome: row.outcome,
            detail: row.detail,
            timestamp: row.created_at,
        }
    }
}

/// Paging and filters of a tenant's audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many entries to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// Default `descending`, newest first.
    pub order: Option<Ordering>,
    /// Only this action, e.g. `endpoint.secret.rotate`.
    pub action: Option<String>,
}

/// The operator's query: a tenant's query, plus which tenant.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AdminAuditQuery {
    pub limit: Option<u64>,
    pub iterator: Option<String>,
    pub order: Option<Ordering>,
    pub action: Option<String>,
    /// Only this tenant's entries (default every tenant's).
    pub tenant_id: Option<String>,
}

async fn list(
    state: &ApiState,
    tenant_id: Option<String>,
    limit: Option<u64>,
    iterator: Option<&str>,
    order: Option<Ordering>,
    action: Option<&str>,
) -> ApiResult<ListResponse<AuditEntryOut>> {
    let action = action
        .map(|name| {
            Action::parse(name).ok_or_else(|| {
                ApiError::Validation(vec![ValidationItem {
                    loc: vec!["query".into(), "action".into()],
                    msg: "is not an action the audit log records".into(),
                    kind: "value_error".into(),
                }])
            })
        })
        .transpose()?;
    let order = match order {
        Some(Ordering::Ascending) => Order::Ascending,
        _ => Order::Descending,
    };
    let page = page_of(limit, iterator, order)?;
    let listed = state.store.list_audit(&AuditFilter { tenant_id, action }, &page).await?;
    Ok(envelope(listed, &page, |row| row.id.to_string(), AuditEntryOut::from))
}

/// The tenant's audit log: every management action on its objects, newest first.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "Audit", operation_id = "v1.audit-log.list",
    params(AuditQuery), security(("HTTPBearer" = [])),
    responses((status = 200, body = ListResponse<AuditEntryOut>), ErrorResponses))]
pub async fn list_tenant_audit(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> ApiResult<Json<ListResponse<AuditEntryOut>>> {
    let tenant = Some(caller.0.id.clone());
    let listed = list(
        &state,
        tenant.map(|id| id.to_string()),
        query.limit,
        query.iterator.as_deref(),
        query.order,
        query.action.as_deref(),
    )
    .await?;
    Ok(Json(listed))
}

/// Every tenant's audit log (or one tenant's), newest first.
#[utoipa::path(get, path = "/admin/v1/audit-log", tag = "Admin", operation_id = "admin.audit-log.list",
    params(AdminAuditQuery), security(("OperatorToken" = [])),
    responses((status = 200, body = ListResponse<AuditEntryOut>), ErrorResponses))]
pub async fn list_all_audit(
    State(state): State<ApiState>,
    _: Operator,
    ValidQuery(query): ValidQuery<AdminAuditQuery>,
) -> ApiResult<Json<ListResponse<AuditEntryOut>>> {
    let (limit, iterator, order, action) =
        (query.limit, query.iterator.as_deref(), query.order, query.action.as_deref());
    Ok(Json(list(&state, query.tenant_id, limit, iterator, order, action).await?))
}
