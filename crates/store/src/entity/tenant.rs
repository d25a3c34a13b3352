//! The `tenants` table.

use herald_core::{SchemaMode, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<TenantId>,
    pub name: String,
    /// What happens to a payload its event type's schema rejects: `accept`, `flag` or `reject`.
    pub schema_validation: Stored<SchemaMode>,
    pub created_at: DateTimeUtc,
    /// Messages per second the tenant may create, per API process: `None` follows the
    /// setting `ingest_rate_limit`, `Some(0)` is no limit.
    pub ingest_rate_limit: Option<i32>,
    /// Deliveries the tenant may have waiting in Redis before message creation is
    /// refused: `None` follows the setting `max_backlog`, `Some(0)` is no cap.
    pub max_backlog: Option<i64>,
    /// Seconds the tenant's oldest ready delivery may have waited before message
    /// creation is refused: `None` follows the setting `max_backlog_age`, `Some(0)` is no cap.
    pub max_backlog_age_secs: Option<i64>,
    /// `Some(false)`: no endpoint of the tenant is redriven automatically; `None` or
    /// `Some(true)`: each endpoint's own `auto_redrive` decides.
    pub auto_redrive: Option<bool>,
    /// Seconds a message's payload is kept: `None` follows the setting `payload_retention`.
    pub payload_retention_secs: Option<i64>,
    /// Seconds a message, its deliveries and attempts are kept: `None` follows the
    /// setting `metadata_retention`.
    pub metadata_retention_secs: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
