//! The `deliveries` table.

use herald_core::{ApplicationId, DeliveryId, DeliveryStatus, EndpointId, MessageId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<DeliveryId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub msg_id: Stored<MessageId>,
    pub endpoint_id: Stored<EndpointId>,
    /// `pending`, `succeeded`, `failed` (dead-lettered) or `discarded`.
    pub status: Stored<DeliveryStatus>,
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
    /// The endpoint expected receipts when this delivery was created: until one comes,
    /// a delivery that succeeded is "delivered, not confirmed".
    pub receipt_expected: bool,
    /// When the endpoint's consumer confirmed it processed the message (a receipt).
    pub processed_at: Option<DateTimeUtc>,
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

impl Model {
    /// The delivery as the queue takes it. `None` when it has no due time: final, or
    /// an ordered delivery held behind an earlier one of its key (handed over when
    /// that one finishes). This is the one place that decides what gets queued.
    pub fn due(&self) -> Option<herald_core::DueDelivery> {
        let due = self.next_attempt_at?;
        Some(herald_core::DueDelivery {
            tenant_id: self.tenant_id.0.clone(),
            delivery_id: self.id.0.clone(),
            endpoint_id: self.endpoint_id.0.clone(),
            attempts_made: self.attempt_count.max(0) as u32,
            due_unix_ms: due.timestamp_millis(),
        })
    }
}

/// The deliveries among `rows` that are to be queued (see [`Model::due`]).
pub fn due(rows: &[Model]) -> Vec<herald_core::DueDelivery> {
    rows.iter().filter_map(Model::due).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn row(next_attempt_at: Option<DateTimeUtc>, attempt_count: i32) -> Model {
        let at = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
        Model {
            id: DeliveryId::generate(1, [1; 10]).into(),
            tenant_id: TenantId::generate(1, [2; 10]).into(),
            app_id: ApplicationId::generate(1, [3; 10]).into(),
            msg_id: MessageId::generate(1, [4; 10]).into(),
            endpoint_id: EndpointId::generate(1, [5; 10]).into(),
            status: DeliveryStatus::Pending.into(),
            attempt_count,
            next_attempt_at,
            cycle_start: 0,
            next_trigger: 0,
            created_at: at,
            updated_at: at,
            ordering_key: None,
            sequence: None,
            receipt_expected: false,
            processed_at: None,
        }
    }

    #[test]
    fn a_delivery_with_a_due_time_is_queued_with_its_attempts_and_tenant() {
        let at = Utc.timestamp_millis_opt(1_700_000_005_000).unwrap();
        let due = row(Some(at), 3).due().unwrap();
        assert_eq!(due.tenant_id, TenantId::generate(1, [2; 10]));
        assert_eq!(due.delivery_id, DeliveryId::generate(1, [1; 10]));
        assert_eq!(due.endpoint_id, EndpointId::generate(1, [5; 10]));
        assert_eq!(due.attempts_made, 3);
        assert_eq!(due.due_unix_ms, 1_700_000_005_000);
        assert!(due.is_due(1_700_000_005_000) && !due.is_due(1_700_000_004_999));
    }

    #[test]
    fn a_held_or_final_delivery_is_not_queued() {
        assert_eq!(row(None, 0).due(), None);
        let at = Utc.timestamp_millis_opt(1_700_000_005_000).unwrap();
        assert_eq!(due(&[row(None, 1), row(Some(at), 0)]).len(), 1);
    }
}
