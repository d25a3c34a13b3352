//! The `event_types` table.

use herald_core::{EventTypeId, TenantId};
use sea_orm::entity::prelude::*;

use super::{Names, Stored};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_types")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<EventTypeId>,
    pub tenant_id: Stored<TenantId>,
    pub name: String,
    pub description: String,
    #[sea_orm(column_type = "Json", nullable)]
    pub schemas: Option<Json>,
    pub archived: bool,
    pub deprecated: bool,
    pub feature_flag: Option<String>,
    /// Svix's `featureFlags`: the flags that make the event type visible.
    pub feature_flags: Option<Names>,
    /// Svix's `groupName`: how catalogs group event types.
    pub group_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
