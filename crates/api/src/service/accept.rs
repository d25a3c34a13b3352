//! Accepting a message: the one path every new message takes, whether a tenant sent
//! it (`POST …/msg`) or asked for an example (`POST …/endpoint/{id}/send-example`).
//!
//! In order: a repeated `eventId` answers with the original; the payload is checked
//! against the event type's schema as the tenant's mode says; one delivery is planned
//! per recipient; the message and its deliveries are committed together (batched with
//! other requests' by the message writer); the acceptance is counted; and only then
//! are the deliveries handed to the queue, without waiting for Redis (the reconciler
//! queues them if that fails).

use chrono::Utc;
use herald_core::{DeliveryId, MessageId, TenantId};
use herald_store::entity::{delivery, endpoint, message, tenant};
use herald_store::{endpoint_accepts, NewMessage, PlannedDelivery, StoreError};
use serde_json::value::RawValue;

use crate::auth::ScopedApp;
use crate::error::{ApiError, ApiResult};
use crate::ids::fresh;
use crate::schema::SchemaVerdict;
use crate::ApiState;

/// A message as its sender described it, validated for shape.
#[derive(Debug)]
pub struct Draft {
    pub event_type: String,
    pub event_id: Option<String>,
    pub payload: Box<RawValue>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub ordering_key: Option<String>,
    /// Deliver not before this (`deliverAt`).
    pub deliver_at: Option<chrono::DateTime<Utc>>,
    /// How long the sender asked for the payload to be kept (`payloadRetentionPeriod`).
    pub payload_retention: Option<std::time::Duration>,
}

/// Who a message goes to.
#[derive(Debug, Clone, Copy)]
pub enum Recipients<'a> {
    /// Each of the application's endpoints whose filters take the message.
    Subscribed(&'a [endpoint::Model]),
    /// This endpoint alone, whatever its filters (an example sent to it on purpose).
    Only(&'a endpoint::Model),
}

impl Recipients<'_> {
    fn plan(self, event_type: &str, channels: Option<&[String]>) -> Vec<PlannedDelivery> {
        let planned = |endpoint: &endpoint::Model| PlannedDelivery {
            id: fresh(DeliveryId::generate),
            endpoint_id: endpoint.id.0.clone(),
            ordered: endpoint.ordered,
            receipt_expected: endpoint.receipt_window_secs.is_some(),
        };
        match self {
            Self::Subscribed(endpoints) => endpoints
                .iter()
                .filter(|endpoint| endpoint_accepts(endpoint, event_type, channels))
                .map(planned)
                .collect(),
            Self::Only(endpoint) => vec![planned(endpoint)],
        }
    }
}

/// What became of a draft.
#[derive(Debug)]
pub enum Accepted {
    /// Stored now; its deliveries are on their way to the queue.
    New { message: message::Model, payload: Box<RawValue> },
    /// The application accepted a message with this `eventId` before: nothing new is
    /// stored, and this is the original.
    Duplicate(message::Model),
}

/// Accepts `draft` for `app` (see the module doc).
pub async fn accept_message(
    state: &ApiState,
    tenant: &tenant::Model,
    app: &ScopedApp,
    recipients: Recipients<'_>,
    draft: Draft,
) -> ApiResult<Accepted> {
    let tenant_id = tenant.id.0.clone();
    if let Some(original) = original(state, &tenant_id, app, draft.event_id.as_deref()).await? {
        return Ok(Accepted::Duplicate(original));
    }

    let mode = *tenant.schema_validation;
    let schema_violations =
        match state.schemas.check(&state.store, &tenant_id, mode, &draft.event_type, draft.payload.get()).await? {
            SchemaVerdict::Valid => None,
            SchemaVerdict::Flagged(problems) => Some(problems),
            SchemaVerdict::Rejected(items) => return Err(ApiError::Validation(items)),
        };

    let deliveries = recipients.plan(&draft.event_type, draft.channels.as_deref());
    let event_id = draft.event_id.clone();
    let now = Utc::now();
    let retention = state.config.retention.overridden(tenant.payload_retention_secs, tenant.metadata_retention_secs);
    let expiry = retention.expiry(now, draft.payload_retention);
    if draft.deliver_at.is_some_and(|at| at >= expiry.payload_at) {
        // Its payload would be expunged before its deliveries are due: nothing would be sent.
        return Err(ApiError::validation(
            &["deliverAt"],
            format!("is after the payload's retention ends ({})", expiry.payload_at.to_rfc3339()),
        ));
    }
    let new = NewMessage {
        id: fresh(MessageId::generate),
        tenant_id: tenant_id.clone(),
        app_id: app.id.0.clone(),
        event_type: draft.event_type,
        event_id: draft.event_id,
        payload: draft.payload.get().to_owned(),
        channels: draft.channels,
        tags: draft.tags,
        schema_violations,
        ordering_key: draft.ordering_key,
        trace_context: herald_observability::trace::traceparent_of(&tracing::Span::current()),
        // Only a future one schedules anything (and only it is kept to show).
        deliver_at: draft.deliver_at.filter(|at| *at > now),
        expiry,
        now,
    };
    let (message, rows) = match state.messages.create(new, deliveries).await {
        Ok(created) => created,
        Err(StoreError::Conflict(_)) => {
            // A concurrent request with the same eventId committed first.
            return original(state, &tenant_id, app, event_id.as_deref())
                .await?
                .map(Accepted::Duplicate)
                .ok_or(ApiError::Conflict("message".into()));
        }
        Err(other) => return Err(other.into()),
    };
    state.metrics.message_accepted(tenant_id.as_str());
    state.feed_watch.committed(&app.id, message.feed_seq);

    // Committed: the message is accepted whatever Redis says next.
    state.enqueuer.hand_off(&delivery::due(&rows));
    Ok(Accepted::New { message, payload: draft.payload })
}

/// The application's message with this `eventId`, if there is one.
async fn original(
    state: &ApiState,
    tenant: &TenantId,
    app: &ScopedApp,
    event_id: Option<&str>,
) -> ApiResult<Option<message::Model>> {
    let Some(event_id) = event_id else { return Ok(None) };
    let found = state.store.find_message(tenant, &app.id, event_id).await?;
    Ok(found.filter(|message| message.event_id.as_deref() == Some(event_id)))
}
