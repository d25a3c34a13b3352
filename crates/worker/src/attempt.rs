//! One delivery, start to finish: load, check it is still wanted, sign, send,
//! decide, record, acknowledge.

use chrono::Utc;
use herald_core::delivery::SvixMessageStatus;
use herald_core::signing::signature_header;
use herald_core::{decide, AttemptId, Decision, EndpointSecret};
use herald_queue::ReceivedDelivery;
use herald_store::entity::{endpoint, message};
use herald_store::{DeliveryTransition, NewAttempt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::{fresh_id, WorkerContext, WorkerError};

/// Svix's `MessageAttemptTriggerType::Scheduled`.
const TRIGGER_SCHEDULED: i16 = 0;

/// Processes one received delivery. On `Err` the entry is left unacknowledged, so
/// it is retried after reclaim: nothing is lost if the database or Redis hiccups.
pub async fn process(ctx: &WorkerContext, received: &ReceivedDelivery) -> Result<(), WorkerError> {
    let delivery_id = &received.delivery.delivery_id;
    let Some(dispatch) = ctx.store.load_dispatch(delivery_id).await? else {
        tracing::warn!(delivery = %delivery_id, "queued delivery not in the database; dropping the entry");
        ctx.queue.ack(received).await?;
        return Ok(());
    };
    let delivery = dispatch.delivery;
    let attempts_made = received.delivery.attempts_made as i32;
    if delivery.status != herald_core::DeliveryStatus::Pending.as_str() || delivery.attempt_count != attempts_made {
        // A stale duplicate: the delivery moved on since this entry was queued.
        ctx.queue.ack(received).await?;
        return Ok(());
    }
    let span = tracing::info_span!(
        "attempt",
        tenant = %delivery.tenant_id,
        app = %delivery.app_id,
        msg = %delivery.msg_id,
        endpoint = %delivery.endpoint_id,
        attempt = attempts_made + 1,
    );
    let _entered = span.enter();

    let Some(endpoint) = dispatch.endpoint.filter(|endpoint| !endpoint.disabled) else {
        // Deleted or disabled since the message was accepted: dead-letter it without
        // an attempt, so it can be replayed once the endpoint is back.
        ctx.store
            .finish_delivery_without_attempt(&delivery.id, attempts_made, DeliveryTransition::DeadLettered, Utc::now())
            .await?;
        ctx.queue.ack(received).await?;
        return Ok(());
    };

    let attempt_number = attempts_made + 1;
    let headers = webhook_headers(&endpoint, &dispatch.message, ctx.config.send_svix_headers)?;
    let sent = ctx.sender.send(&endpoint.url, headers, dispatch.message.payload.clone()).await;
    let decision = decide(&sent.outcome, attempt_number as u32, &ctx.config.policy, Utc::now(), rand::random::<f64>());
    let transition = match decision {
        Decision::Succeeded => DeliveryTransition::Succeeded,
        Decision::RetryAt(at) => DeliveryTransition::Retry { at },
        Decision::DeadLetter | Decision::DisableEndpoint => DeliveryTransition::DeadLettered,
    };
    let next_attempt_at = match transition {
        DeliveryTransition::Retry { at } => Some(at),
        _ => None,
    };
    let succeeded = matches!(transition, DeliveryTransition::Succeeded);
    let record = NewAttempt {
        id: fresh_id(AttemptId::generate),
        tenant_id: delivery.tenant_id.clone(),
        app_id: delivery.app_id.clone(),
        msg_id: delivery.msg_id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        delivery_id: delivery.id.clone(),
        attempt_number,
        url: endpoint.url.clone(),
        status: if succeeded { SvixMessageStatus::Success } else { SvixMessageStatus::Fail }.code().into(),
        outcome_class: sent.outcome.class().to_owned(),
        response_status_code: sent.outcome.status_code().map_or(0, |code| code as i16),
        response: sent.response,
        response_duration_ms: sent.duration.as_millis() as i64,
        trigger_type: TRIGGER_SCHEDULED,
        next_attempt_at,
        created_at: Utc::now(),
    };
    tracing::debug!(outcome = sent.outcome.class(), status = ?sent.outcome.status_code(), ?transition, "attempt finished");
    let disable_endpoint = decision == Decision::DisableEndpoint;
    if disable_endpoint {
        tracing::info!("endpoint answered 410 Gone; disabling it");
    }
    ctx.store.record_attempt(record, transition, attempts_made, disable_endpoint).await?;
    match transition {
        DeliveryTransition::Retry { at } => {
            ctx.queue.retry_later(received, attempt_number as u32, at.timestamp_millis()).await?
        }
        _ => ctx.queue.ack(received).await?,
    }
    Ok(())
}

/// The Standard Webhooks headers (and their `svix-*` twins), plus the endpoint's own.
fn webhook_headers(
    endpoint: &endpoint::Model,
    message: &message::Model,
    send_svix_headers: bool,
) -> Result<HeaderMap, WorkerError> {
    let secret = EndpointSecret::parse(&endpoint.secret).map_err(|e| WorkerError::BadEndpoint(e.to_string()))?;
    let timestamp = Utc::now().timestamp();
    let signature = signature_header([&secret], &message.id, timestamp, message.payload.as_bytes());
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| WorkerError::BadEndpoint(e.to_string()));

    let mut headers = HeaderMap::new();
    if let Some(custom) = endpoint.headers.as_object() {
        for (name, text) in custom {
            let (Ok(name), Some(text)) = (HeaderName::from_bytes(name.as_bytes()), text.as_str()) else { continue };
            headers.insert(name, value(text)?);
        }
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let timestamp = timestamp.to_string();
    let ours = [("id", message.id.as_str()), ("timestamp", timestamp.as_str()), ("signature", signature.as_str())];
    for (suffix, text) in ours {
        headers
            .insert(HeaderName::from_bytes(format!("webhook-{suffix}").as_bytes()).expect("static name"), value(text)?);
        if send_svix_headers {
            headers.insert(
                HeaderName::from_bytes(format!("svix-{suffix}").as_bytes()).expect("static name"),
                value(text)?,
            );
        }
    }
    Ok(headers)
}
