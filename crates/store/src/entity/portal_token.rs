//! The `portal_tokens` table: short-lived tokens scoped to one application.

use herald_core::{ApplicationId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "portal_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    /// SHA-256 hex digest of the token; the token itself is never stored.
    pub token_hash: String,
    pub read_only: bool,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The `sessionId` it was issued with, if any (for `expire-all` of one session).
    pub session_id: Option<String>,
    /// The feature flags it was issued with: event types behind one of them are shown
    /// to it; those behind others are not.
    pub feature_flags: Option<super::Names>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
