//! The `audit_log` table: management actions, with who did them, to what, and how
//! it ended (see `crate::audit`). No secret value is ever written here.

use herald_core::{AuditId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// `audit_…`, time-sortable.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<AuditId>,
    /// `None` for installation-wide actions (creating a tenant).
    pub tenant_id: Option<Stored<TenantId>>,
    /// `api_key`, `portal_token` or `operator`.
    pub actor_kind: String,
    /// The API key's or portal token's id; `operator` for the operator token or CLI.
    pub actor_id: String,
    /// What was done, e.g. `endpoint.secret.rotate`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    /// `success`, or `refused` for a change that was not made.
    pub outcome: String,
    /// Non-secret facts about the change (which fields), as JSON.
    #[sea_orm(column_type = "Json")]
    pub detail: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
