//! The `idempotency_keys` table: the first response to each `Idempotency-Key`.

use herald_core::TenantId;
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Stored<TenantId>,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// `METHOD path?query` of the first request: the key only replays for the same request.
    #[sea_orm(column_type = "Text")]
    pub request: String,
    /// `None` while the first request is still being served.
    pub response_status: Option<i16>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
