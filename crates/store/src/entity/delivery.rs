//! The `deliveries` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    /// `pending`, `succeeded` or `failed` (dead-lettered); see `herald_core::DeliveryStatus`.
    pub status: String,
    /// How many attempts have been made so far.
    pub attempt_count: i32,
    /// When the next attempt is due; `None` once the delivery is final, and while a
    /// pending ordered delivery is *held* behind an earlier one of its key.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// `attempt_count` when the current retry cycle began: a resend or recover starts
    /// a new cycle, and the retry schedule counts attempts from here.
    pub cycle_start: i32,
    /// Svix's trigger type for the next attempt: 0 scheduled, 1 manual (resend, recover).
    pub next_trigger: i16,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The message's ordering key, on deliveries to an ordered endpoint only.
    pub ordering_key: Option<String>,
    /// With `ordering_key`: this key's deliveries to this endpoint count 1, 2, 3, ….
    pub sequence: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::message::Entity", from = "Column::MsgId", to = "super::message::Column::Id")]
    Message,
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
