//! Operational webhooks: Herald tells a tenant about its own deliveries going wrong
//! (`endpoint.disabled`, `message.attempt.exhausted`), in Svix's payload shapes.
//!
//! They travel as ordinary Herald messages to the tenant's *operational application*:
//! the application whose `uid` is the `operational_app_uid` setting (default
//! `herald-operational`). The tenant creates it and its endpoints with the normal API,
//! so operational events are signed, retried, listed and replayable like any others.
//! A tenant without that application gets none. Events about the operational
//! application itself are never emitted, so a failing operational endpoint cannot
//! feed itself.
//!
//! Emitted after the attempts behind them are committed; a crash between the commit
//! and the emission loses the notice (the delivery's state itself is durable).

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, DeliveryId, MessageId, TenantId};
use herald_queue::{Partition, QueuedDelivery};
use herald_store::entity::endpoint;
use herald_store::{endpoint_accepts, DisableReason, NewMessage, PlannedDelivery};
use serde_json::json;

use crate::{fresh_id, WorkerError};

/// Something a tenant's operational endpoints hear about.
#[derive(Debug, Clone)]
pub enum OperationalEvent {
    EndpointDisabled { endpoint: Box<endpoint::Model>, reason: DisableReason, failing_since: Option<DateTime<Utc>> },
    AttemptExhausted(ExhaustedAttempt),
}

/// The last attempt of a delivery that was dead-lettered after its retry schedule ran out.
#[derive(Debug, Clone)]
pub struct ExhaustedAttempt {
    pub tenant_id: String,
    pub app_id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub attempt_id: String,
    pub response_status_code: i16,
    pub at: DateTime<Utc>,
}

impl OperationalEvent {
    fn tenant_and_app(&self) -> (&str, &str) {
        match self {
            Self::EndpointDisabled { endpoint, .. } => (&endpoint.tenant_id, &endpoint.app_id),
            Self::AttemptExhausted(attempt) => (&attempt.tenant_id, &attempt.app_id),
        }
    }

    fn event_type(&self) -> &'static str {
        match self {
            Self::EndpointDisabled { .. } => "endpoint.disabled",
            Self::AttemptExhausted(_) => "message.attempt.exhausted",
        }
    }
}

/// Emits operational events; cheap to clone.
#[derive(Debug, Clone)]
pub struct OperationalWebhooks {
    pub store: herald_store::Store,
    pub queue: herald_queue::Queue,
    /// The `uid` of each tenant's operational application; `None` turns them off.
    pub app_uid: Option<String>,
}

impl OperationalWebhooks {
    /// Emits each event; failures are logged, never raised (the deliveries behind
    /// them are already recorded).
    pub async fn emit(&self, events: Vec<OperationalEvent>) {
        if self.app_uid.is_none() {
            return;
        }
        for event in events {
            let event_type = event.event_type();
            if let Err(error) = self.emit_one(event).await {
                tracing::warn!(%error, event_type, "cannot emit an operational webhook");
            }
        }
    }

    async fn emit_one(&self, event: OperationalEvent) -> Result<(), WorkerError> {
        let Some(app_uid) = self.app_uid.as_deref() else { return Ok(()) };
        let (tenant_id, about_app) = event.tenant_and_app();
        let tenant = TenantId::from_trusted(tenant_id.to_owned());
        let Some(operational_app) = self.store.find_application(&tenant, app_uid).await? else { return Ok(()) };
        if operational_app.id == about_app {
            return Ok(());
        }
        let about = self.store.find_application(&tenant, about_app).await?;
        let about_uid = about.and_then(|app| app.uid);
        let event_type = event.event_type();
        let payload = match &event {
            OperationalEvent::EndpointDisabled { endpoint, reason, failing_since } => json!({
                "type": event_type,
                "data": {
                    "appId": endpoint.app_id,
                    "appUid": about_uid,
                    "endpointId": endpoint.id,
                    "endpointUid": endpoint.uid,
                    "failSince": failing_since,
                    "trigger": "automatic",
                    "reason": match reason { DisableReason::Gone => "gone", DisableReason::FailingTooLong => "failing" },
                }
            }),
            OperationalEvent::AttemptExhausted(attempt) => {
                let event_id = self
                    .store
                    .messages_by_id(vec![attempt.msg_id.clone()])
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|message| message.event_id);
                json!({
                    "type": event_type,
                    "data": {
                        "appId": attempt.app_id,
                        "appUid": about_uid,
                        "msgId": attempt.msg_id,
                        "msgEventId": event_id,
                        "endpointId": attempt.endpoint_id,
                        "lastAttempt": {
                            "id": attempt.attempt_id,
                            "timestamp": attempt.at,
                            "responseStatusCode": attempt.response_status_code,
                        }
                    }
                })
            }
        };
        let endpoints = self.store.list_application_endpoints(&operational_app.id).await?;
        let planned: Vec<PlannedDelivery> = endpoints
            .iter()
            .filter(|endpoint| endpoint_accepts(endpoint, event_type, None))
            .map(|endpoint| PlannedDelivery {
                id: fresh_id(DeliveryId::generate),
                endpoint_id: endpoint.id.clone(),
                ordered: false,
            })
            .collect();
        let message = NewMessage {
            id: fresh_id(MessageId::generate),
            tenant_id: tenant.clone(),
            app_id: ApplicationId::from_trusted(operational_app.id.clone()),
            event_type: event_type.to_owned(),
            event_id: None,
            payload: payload.to_string(),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            now: Utc::now(),
        };
        let (_, deliveries) = self.store.create_message(message, &planned).await?;
        let queued: Vec<QueuedDelivery> = deliveries
            .iter()
            .map(|d| QueuedDelivery { delivery_id: d.id.clone(), attempts_made: 0, endpoint_id: d.endpoint_id.clone() })
            .collect();
        if let Err(error) = self.queue.enqueue(&Partition::for_tenant(tenant.as_str()), &queued).await {
            // Committed: the reconciler queues it once it is overdue.
            tracing::warn!(%error, "cannot queue an operational webhook; the reconciler will");
        }
        Ok(())
    }
}
