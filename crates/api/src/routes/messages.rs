//! Messages: `POST /api/v1/app/{app_id}/msg`.
//!
//! Creating a message is Herald's most important write. The message and one delivery
//! per matching endpoint are committed in one transaction; only then are the
//! deliveries queued in Redis, and only then does the client get `202`. If Redis is
//! down at that moment the message is still accepted: the reconciler queues it later.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, DeliveryId, MessageId, TenantId};
use herald_queue::{Partition, QueuedDelivery};
use herald_store::entity::{application, message};
use herald_store::{endpoint_accepts, NewMessage, PlannedDelivery};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::applications::{self, ApplicationIn};
use crate::auth::AuthenticatedTenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `MessageIn`. The payload is kept byte for byte as the producer sent it:
/// receivers get, and signatures cover, exactly those bytes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    pub event_type: String,
    pub payload: Box<RawValue>,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub payload_retention_period: Option<i64>,
    /// Creates the application (with the path's `app_id` as its `uid`) if it does not exist.
    #[serde(default)]
    pub application: Option<ApplicationIn>,
}

/// Svix's `MessageOut`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    pub id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub payload: Box<RawValue>,
    pub channels: Option<serde_json::Value>,
    pub timestamp: DateTime<Utc>,
}

impl MessageOut {
    pub fn from_model(model: message::Model, with_content: bool) -> ApiResult<Self> {
        let payload = if with_content { model.payload } else { "{}".to_owned() };
        Ok(Self {
            id: model.id,
            event_type: model.event_type,
            event_id: model.event_id,
            payload: RawValue::from_string(payload).map_err(|e| ApiError::Internal(format!("stored payload: {e}")))?,
            channels: model.channels,
            timestamp: model.created_at,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateMessageQuery {
    #[serde(default = "default_true")]
    with_content: bool,
}

fn default_true() -> bool {
    true
}

impl MessageIn {
    fn validate(&self, max_payload_bytes: usize) -> ApiResult<()> {
        let payload = self.payload.get();
        if payload.len() > max_payload_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "the payload is {} bytes; the limit is {max_payload_bytes} bytes",
                payload.len()
            )));
        }
        Validator::default()
            .slug(&self.event_type, 256, &["eventType"])
            .check(payload.trim_start().starts_with('{'), &["payload"], "must be a JSON object")
            .optional_slug(self.event_id.as_deref(), 256, &["eventId"])
            .slug_list(self.channels.as_deref(), 5, 128, "channels")
            .check(
                self.payload_retention_period.is_none_or(|days| (5..=90).contains(&days)),
                &["payloadRetentionPeriod"],
                "must be between 5 and 90 days",
            )
            .finish()?;
        if let Some(application) = &self.application {
            application.validate()?;
        }
        Ok(())
    }
}

pub async fn create_message(
    State(state): State<ApiState>,
    AuthenticatedTenant(tenant): AuthenticatedTenant,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<CreateMessageQuery>,
    ValidJson(body): ValidJson<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    body.validate(state.config.max_payload_bytes)?;
    let app = find_or_create_application(&state, &tenant, &app_id, body.application.clone()).await?;

    let channels = body.channels.clone();
    let endpoints = state.store.list_application_endpoints(&app.id).await?;
    let deliveries: Vec<PlannedDelivery> = endpoints
        .iter()
        .filter(|endpoint| endpoint_accepts(endpoint, &body.event_type, channels.as_deref()))
        .map(|endpoint| PlannedDelivery { id: fresh(DeliveryId::generate), endpoint_id: endpoint.id.clone() })
        .collect();

    let new = NewMessage {
        id: fresh(MessageId::generate),
        tenant_id: tenant.clone(),
        app_id: ApplicationId::from_trusted(app.id),
        event_type: body.event_type,
        event_id: body.event_id,
        payload: body.payload.get().to_owned(),
        channels,
        now: Utc::now(),
    };
    let (message, _) = state.store.create_message(new, &deliveries).await?;

    // Committed: the message is accepted whatever Redis says next.
    let queued: Vec<QueuedDelivery> =
        deliveries.iter().map(|d| QueuedDelivery { delivery_id: d.id.to_string(), attempts_made: 0 }).collect();
    if let Err(error) = state.queue.enqueue(&Partition::for_tenant(tenant.as_str()), &queued).await {
        tracing::warn!(%error, msg = %message.id, "could not enqueue after commit; the reconciler will");
    }
    Ok((StatusCode::ACCEPTED, Json(MessageOut::from_model(message, query.with_content)?)))
}

async fn find_or_create_application(
    state: &ApiState,
    tenant: &TenantId,
    app_id: &str,
    inline: Option<ApplicationIn>,
) -> ApiResult<application::Model> {
    if let Some(app) = state.store.find_application(tenant, app_id).await? {
        return Ok(app);
    }
    let Some(mut inline) = inline else {
        return Err(ApiError::NotFound("application"));
    };
    inline.uid = Some(app_id.to_owned());
    match applications::create(state, tenant, inline).await {
        // A concurrent request created it first.
        Err(ApiError::Conflict(_)) => {
            state.store.find_application(tenant, app_id).await?.ok_or(ApiError::NotFound("application"))
        }
        other => other,
    }
}
