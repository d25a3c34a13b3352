//! The `operational_outbox` table: notices for tenants written with the attempts behind
//! them, waiting for the worker's relay (see `crate::outbox`).

use herald_core::TenantId;
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "operational_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Stored<TenantId>,
    /// An [`crate::OperationalNotice`] as JSON.
    #[sea_orm(column_type = "Json")]
    pub notice: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
