//! The `ordering_keys` table: per endpoint and ordering key, the last sequence number
//! handed out. Its row doubles as the lock that serialises a key's new deliveries
//! against the release of its next one (see `crate::ordering`).

use herald_core::EndpointId;
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ordering_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint_id: Stored<EndpointId>,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ordering_key: String,
    pub last_sequence: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
