//! The `background_tasks` table: work that goes on after its request was answered.

use herald_core::{ApplicationId, BackgroundTaskId, EndpointId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "background_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<BackgroundTaskId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    /// `None` for an application-level task (`application.purge_content`).
    pub endpoint_id: Option<Stored<EndpointId>>,
    /// Svix's task type, e.g. `endpoint.recover`.
    pub task: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// The deliveries (messages) it works on were created in `[since, until)`.
    pub since: DateTimeUtc,
    pub until: DateTimeUtc,
    /// The last delivery (a replay-missing or a purge: message) it took; it goes on after
    /// this one.
    pub cursor: Option<String>,
    /// How many it selected when it started, and how many it has released.
    pub total: i64,
    pub done: i64,
    /// What it selects beyond its endpoint and window (a bulk replay's filters), as
    /// [`crate::tasks::ReplayFilter`].
    pub params: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
