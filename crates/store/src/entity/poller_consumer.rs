//! The `poller_consumers` table: where each consumer of a poller has read to.

use herald_core::PollerId;
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "poller_consumers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub poller_id: Stored<PollerId>,
    /// The consumer's own name for itself (Svix's `consumer_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer_id: String,
    /// The feed number of the last message the consumer has committed past: its next
    /// read starts after it.
    pub position: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
