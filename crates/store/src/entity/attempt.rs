//! The `attempts` table.

use herald_core::{ApplicationId, AttemptId, DeliveryId, EndpointId, MessageId, TenantId};
use sea_orm::entity::prelude::*;

use super::Stored;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<AttemptId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub msg_id: Stored<MessageId>,
    pub endpoint_id: Stored<EndpointId>,
    pub delivery_id: Stored<DeliveryId>,
    pub attempt_number: i32,
    pub url: String,
    /// Svix's MessageStatus code: 0 success, 2 failed.
    pub status: i16,
    /// The outcome class (`success`, `http_status`, `timeout`, …).
    pub outcome_class: String,
    /// The HTTP status received, or 0 when none was.
    pub response_status_code: i16,
    /// The response body (truncated) or a description of the failure.
    #[sea_orm(column_type = "Text")]
    pub response: String,
    pub response_duration_ms: i64,
    /// Svix's MessageAttemptTriggerType: 0 scheduled, 1 manual.
    pub trigger_type: i16,
    /// When the delivery's next attempt was scheduled after this one, if any.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The request headers sent, as a JSON object of name → value.
    #[sea_orm(column_type = "Text", nullable)]
    pub request_headers: Option<String>,
    /// The response headers received (none when no response came), as a JSON object.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_headers: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
