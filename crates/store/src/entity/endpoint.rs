//! The `endpoints` table.

use herald_core::{ApplicationId, EndpointId, TenantId};
use sea_orm::entity::prelude::*;

use super::{Names, Stored};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Stored<EndpointId>,
    pub tenant_id: Stored<TenantId>,
    pub app_id: Stored<ApplicationId>,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    pub rate_limit: Option<i32>,
    /// Event types this endpoint receives; `None` means all of them.
    pub filter_types: Option<Names>,
    /// Channels this endpoint listens on; `None` means it ignores channels.
    pub channels: Option<Names>,
    #[sea_orm(column_type = "Json")]
    pub metadata: Json,
    /// Custom headers sent with every delivery, as a JSON object of strings. Each value
    /// is sealed in the database (`crate::sealing`); models the store hands out hold
    /// them open.
    #[sea_orm(column_type = "Json")]
    pub headers: Json,
    /// The signing secret, `whsec_…` (sealed in the database, open in models).
    pub secret: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when the endpoint is deleted; deleted rows are invisible to the API.
    pub deleted_at: Option<DateTimeUtc>,
    /// The secret before the last rotation; it keeps signing until it expires.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Since when every attempt to this endpoint has failed; `None` while it succeeds.
    /// An endpoint failing for `endpoint_disable_after` is disabled.
    pub failing_since: Option<DateTimeUtc>,
    /// Ordered mode: messages with the same ordering key reach this endpoint strictly
    /// one after another.
    pub ordered: bool,
    /// The ed25519 private key (`whsk_…`) of an endpoint that signs asymmetrically
    /// (`v1a`), sealed in the database; `None` for HMAC-only endpoints.
    #[sea_orm(column_type = "Text", nullable)]
    pub signing_key: Option<String>,
    /// Set, the endpoint's consumer is expected to confirm each delivery it processed
    /// (a receipt) within this many seconds; deliveries created while it is set wait
    /// for their receipt.
    pub receipt_window_secs: Option<i32>,
    /// Whether its dead letters are redriven when it comes back after an outage (on
    /// unless turned off for the endpoint or its tenant).
    pub auto_redrive: bool,
    /// When the outage to redrive began: set once it has failed for longer than
    /// `auto_redrive_after` or was disabled; cleared when the redrive starts.
    pub redrive_from: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
