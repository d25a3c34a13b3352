//! The `pollers` table: polling endpoints.

use herald_core::{ApplicationId, PollerId, TenantId};
use sea_orm::entity::prelude::*;

use super::{Names, Stored};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pollers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<PollerId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub uid: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Event types this poller shows; `None` means all of them.
    pub filter_types: Option<Names>,
    /// Channels this poller shows; `None` means it ignores channels.
    pub channels: Option<Names>,
    #[sea_orm(column_type = "Json")]
    pub metadata: Json,
    /// A disabled poller answers reads with `409`; its consumers keep their places.
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when the poller is deleted; deleted rows are invisible to the API.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
