//! The `poller_keys` table: keys that read one polling endpoint and nothing else.

use herald_core::{ApplicationId, PollerId, PollerKeyId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "poller_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<PollerKeyId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub poller_id: Stored<PollerId>,
    /// The SHA-256 digest of the key (`herald_core::api_key::hash_api_key`); the key
    /// itself is shown once, when it is created.
    pub key_hash: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
