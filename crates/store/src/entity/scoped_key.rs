//! The `scoped_keys` table: keys that reach one endpoint and nothing else, a polling
//! endpoint's reads (poller keys) or a webhook endpoint's message list and receipts
//! (endpoint keys).

use herald_core::api_key::KeyScope;
use herald_core::{ApplicationId, ScopedKeyId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scoped_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<ScopedKeyId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    /// The endpoint the key reaches (its id tells which kind).
    pub scope_id: Stored<KeyScope>,
    /// The SHA-256 digest of the key (`herald_core::api_key::hash_api_key`); the key
    /// itself is shown once, when it is created.
    pub key_hash: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
