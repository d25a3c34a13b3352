//! The `applications` table.

use herald_core::{ApplicationId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<ApplicationId>,
    pub tenant_id: Stored<TenantId>,
    pub uid: Option<String>,
    pub name: String,
    pub rate_limit: Option<i32>,
    #[sea_orm(column_type = "Json")]
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when the application is deleted; deleted rows are invisible to the API.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
