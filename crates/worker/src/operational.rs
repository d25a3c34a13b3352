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
//! The notices are written to the outbox in the transaction that records the attempt
//! behind them (`herald_store::OperationalNotice`); the relay here sends them every
//! `operational_relay_interval` and removes them once sent. The message carries the
//! notice's id as its `eventId`, so a notice is sent once even if two workers relay it
//! or a worker dies between sending and removing.

use chrono::Utc;
use herald_core::{DeliveryId, MessageId};
use herald_store::entity::delivery;
use herald_store::{endpoint_accepts, NewMessage, OperationalNotice, OutboxEntry, PlannedDelivery, StoreError};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::dispatcher::pause;
use crate::{fresh_id, WorkerError};

/// Notices sent per relay pass.
const RELAY_BATCH: u64 = 100;

/// Sends the outbox's notices; cheap to clone.
#[derive(Debug, Clone)]
pub struct OperationalWebhooks {
    pub store: herald_store::Store,
    pub queue: herald_queue::Queue,
    /// The `uid` of each tenant's operational application; `None` turns them off.
    pub app_uid: Option<String>,
    /// How long notices are kept (the tenant's own periods where it set them).
    pub retention: herald_core::Retention,
}

/// Relays the outbox every `interval` until `stop`.
pub async fn relay_loop(webhooks: OperationalWebhooks, interval: std::time::Duration, stop: CancellationToken) {
    while !stop.is_cancelled() {
        pause(&stop, interval).await;
        if stop.is_cancelled() {
            break;
        }
        if let Err(error) = webhooks.relay_once().await {
            tracing::warn!(%error, "cannot relay operational webhooks; trying again");
        }
    }
}

impl OperationalWebhooks {
    /// One pass over the outbox, until it is empty or a batch had a notice that could
    /// not be sent (it stays for the next pass; the others in its batch still go, so
    /// one bad notice does not hold back the rest). Returns how many were sent or dropped.
    pub async fn relay_once(&self) -> Result<usize, WorkerError> {
        let mut done = 0;
        loop {
            let batch = self.store.outbox_batch(RELAY_BATCH).await?;
            let full = batch.len() as u64 == RELAY_BATCH;
            let mut sent = Vec::with_capacity(batch.len());
            let mut failed = false;
            for entry in batch {
                match self.send(&entry).await {
                    Ok(()) => sent.push(entry.id),
                    Err(error) => {
                        failed = true;
                        tracing::warn!(%error, notice = %entry.id, "cannot send an operational notice; it stays in the outbox");
                    }
                }
            }
            done += sent.len();
            self.store.remove_from_outbox(&sent).await?;
            if !full || failed {
                return Ok(done);
            }
        }
    }

    /// Sends one notice, or drops it when nobody is to hear it (operational webhooks
    /// off, no operational application, or it is about that application itself).
    async fn send(&self, entry: &OutboxEntry) -> Result<(), WorkerError> {
        let Some(app_uid) = self.app_uid.as_deref() else { return Ok(()) };
        let notice = &entry.notice;
        let tenant = entry.tenant_id.clone();
        let Some(operational_app) = self.store.find_application(&tenant, app_uid).await? else { return Ok(()) };
        if operational_app.id.as_str() == notice.app_id() {
            return Ok(());
        }
        let about = self.store.find_application(&tenant, notice.app_id()).await?;
        let about_uid = about.and_then(|app| app.uid);
        let event_type = notice.event_type();
        let payload = match notice {
            OperationalNotice::EndpointDisabled { app_id, endpoint_id, endpoint_uid, reason, failing_since } => json!({
                "type": event_type,
                "data": {
                    "appId": app_id,
                    "appUid": about_uid,
                    "endpointId": endpoint_id,
                    "endpointUid": endpoint_uid,
                    "failSince": failing_since,
                    "trigger": "automatic",
                    "reason": reason,
                }
            }),
            OperationalNotice::AttemptExhausted {
                app_id,
                msg_id,
                endpoint_id,
                attempt_id,
                response_status_code,
                at,
            } => {
                let event_id = self
                    .store
                    .messages_by_id(vec![msg_id.clone()])
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|message| message.event_id);
                json!({
                    "type": event_type,
                    "data": {
                        "appId": app_id,
                        "appUid": about_uid,
                        "msgId": msg_id,
                        "msgEventId": event_id,
                        "endpointId": endpoint_id,
                        "lastAttempt": {
                            "id": attempt_id,
                            "timestamp": at,
                            "responseStatusCode": response_status_code,
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
                endpoint_id: endpoint.id.0.clone(),
                ordered: false,
                receipt_expected: endpoint.receipt_window_secs.is_some(),
            })
            .collect();
        let retention = match self.store.find_tenant(&tenant).await? {
            Some(found) => self.retention.overridden(found.payload_retention_secs, found.metadata_retention_secs),
            None => self.retention,
        };
        let now = Utc::now();
        let message = NewMessage {
            id: fresh_id(MessageId::generate),
            tenant_id: tenant.clone(),
            app_id: operational_app.id.0.clone(),
            event_type: event_type.to_owned(),
            // The notice's id: a second send of it conflicts instead of duplicating.
            event_id: Some(entry.id.clone()),
            payload: payload.to_string(),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            deliver_at: None,
            expiry: retention.expiry(now, None),
            now,
        };
        let deliveries = match self.store.create_message(message, &planned).await {
            Ok((_, deliveries)) => deliveries,
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        if let Err(error) = self.queue.hand_off(&delivery::due(&deliveries)).await {
            // Committed: the reconciler queues it once it is overdue.
            tracing::warn!(%error, "cannot queue an operational webhook; the reconciler will");
        }
        Ok(())
    }
}
