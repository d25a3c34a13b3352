//! The `messages` table.

use herald_core::{ApplicationId, MessageId, TenantId};
use sea_orm::entity::prelude::*;

use super::{Names, Stored};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<MessageId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub event_type: String,
    pub event_id: Option<String>,
    /// The payload exactly as it is sent to receivers (compact JSON text).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub channels: Option<Names>,
    pub created_at: DateTimeUtc,
    pub tags: Option<Names>,
    /// Where the payload broke its event type's schema, when the tenant flags rather than rejects.
    #[sea_orm(column_type = "Json", nullable)]
    pub schema_violations: Option<Json>,
    /// The payload was expunged: `payload` is `{}` and no further attempt is made.
    pub payload_expunged: bool,
    /// The producer's ordering key: deliveries to ordered endpoints keep its order.
    pub ordering_key: Option<String>,
    /// The W3C `traceparent` of the request that created the message, when traced.
    pub trace_context: Option<String>,
    /// The message's place in its application's feed (1, 2, 3, … in commit order):
    /// what pull readers page by (`crate::feed`).
    pub feed_seq: i64,
    /// When the sender asked for it to be delivered (`deliverAt`): its deliveries were
    /// created due then. `None`: at once.
    pub deliver_at: Option<DateTimeUtc>,
    /// When the pruner expunges the payload (`herald_core::retention`). `None` only for a
    /// message accepted before retention existed, until the pruner stamps it.
    pub payload_expires_at: Option<DateTimeUtc>,
    /// When the pruner deletes the message with its deliveries and attempts.
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
