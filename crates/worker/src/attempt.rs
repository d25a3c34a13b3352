//! One delivery, start to finish: load, check it is still wanted, sign, send,
//! decide, record, acknowledge.

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::breaker::counts_as_failure;
use herald_core::delivery::SvixMessageStatus;
use herald_core::signing::signature_header;
use herald_core::{decide, AttemptId, Decision, DeliveryId, EndpointHealth, EndpointSecret, EndpointSigningKey};
use herald_queue::{ReceivedDelivery, Settlement};
use herald_store::entity::{delivery, endpoint, message};
use herald_store::{AttemptRecord, DeliveryTransition, DispatchContext, NewAttempt, Session};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use tracing::Instrument;

use crate::recorder::Recorded;
use crate::{fresh_id, WorkerContext, WorkerError};

/// Waits up to this long in the lane for the endpoint's rate limit; a longer wait
/// parks the delivery instead.
const MAX_RATE_WAIT: Duration = Duration::from_secs(2);

/// On deliveries to an ordered endpoint: the message's ordering key.
pub const ORDERING_KEY_HEADER: HeaderName = HeaderName::from_static("herald-ordering-key");
/// On deliveries to an ordered endpoint: 1 for the key's first delivery to this
/// endpoint, then 2, 3, …; a receiver that sees a number skipped knows that a
/// message of the key was dead-lettered in between.
pub const SEQUENCE_HEADER: HeaderName = HeaderName::from_static("herald-sequence");

/// What processing one delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// An attempt went out. `failed` is the circuit breaker's view of its outcome.
    Sent { failed: bool, took: Duration },
    /// No attempt: stale, deleted, disabled or rate-limited (parked).
    NotSent,
}

/// A prefetched context is used only this fresh; older, the delivery is read again.
const PREFETCH_FRESH: Duration = Duration::from_secs(1);

/// A received delivery, with what the dispatcher loaded for it in one batch.
#[derive(Debug)]
pub struct Dispatch {
    pub received: ReceivedDelivery,
    pub prefetched: Option<(DispatchContext, Instant)>,
}

impl std::ops::Deref for Dispatch {
    type Target = ReceivedDelivery;

    fn deref(&self) -> &ReceivedDelivery {
        &self.received
    }
}

/// Loads the deliveries of one stream read together (see [`herald_store::Store::load_dispatch_batch`]).
/// A failed load only costs speed: each delivery is then read on its own.
pub async fn prefetch(session: &mut Session, batch: Vec<ReceivedDelivery>) -> Vec<Dispatch> {
    let ids: Vec<String> = batch.iter().map(|received| received.delivery.delivery_id.clone()).collect();
    let mut loaded = match session.load_dispatch_batch(&ids).await {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::warn!(%error, "cannot load a batch of deliveries; loading them one by one");
            Default::default()
        }
    };
    let now = Instant::now();
    batch
        .into_iter()
        .map(|received| {
            let prefetched = loaded.remove(&received.delivery.delivery_id).map(|context| (context, now));
            Dispatch { received, prefetched }
        })
        .collect()
}

/// Processes one received delivery. On `Err` the entry is left unacknowledged, so
/// it is retried after reclaim: nothing is lost if the database or Redis hiccups.
pub async fn process(ctx: &WorkerContext, dispatch: &Dispatch) -> Result<Handled, WorkerError> {
    let received = &dispatch.received;
    let delivery_id = &received.delivery.delivery_id;
    let fresh = dispatch.prefetched.as_ref().filter(|(_, at)| at.elapsed() < PREFETCH_FRESH);
    let context = match fresh {
        Some((context, _)) => Some(context.clone()),
        None => match DeliveryId::parse(delivery_id) {
            Ok(id) => ctx.store.load_dispatch(&id).await?,
            Err(_) => None,
        },
    };
    let Some(DispatchContext { delivery, message, endpoint }) = context else {
        tracing::warn!(delivery = %delivery_id, "queued delivery not in the database; dropping the entry");
        ctx.queue.ack(received).await?;
        return Ok(Handled::NotSent);
    };
    let attempts_made = received.delivery.attempts_made as i32;
    let held = delivery.next_attempt_at.is_none();
    if *delivery.status != herald_core::DeliveryStatus::Pending || delivery.attempt_count != attempts_made || held {
        // A stale duplicate: the delivery moved on since this entry was queued. (A held
        // ordered delivery is queued again when its predecessor finishes.)
        ctx.queue.ack(received).await?;
        return Ok(Handled::NotSent);
    }
    let span = tracing::info_span!(
        "attempt",
        tenant = %delivery.tenant_id,
        app = %delivery.app_id,
        msg = %delivery.msg_id,
        endpoint = %delivery.endpoint_id,
        attempt = attempts_made + 1,
    );
    let trace_context = message.trace_context.as_deref();
    herald_observability::trace::record_queue_wait(
        trace_context,
        delivery.next_attempt_at.unwrap_or(message.created_at).into(),
        || {
            vec![
                herald_observability::trace::KeyValue::new("tenant", delivery.tenant_id.to_string()),
                herald_observability::trace::KeyValue::new("endpoint", delivery.endpoint_id.to_string()),
                herald_observability::trace::KeyValue::new("attempt", i64::from(attempts_made + 1)),
            ]
        },
    );
    herald_observability::trace::continue_trace(&span, trace_context);
    // `instrument`, not `span.enter()`: the future moves between threads at every await.
    attempt(ctx, received, delivery, message, endpoint, attempts_made).instrument(span).await
}

/// The attempt itself, inside the delivery's `attempt` span: rate limit, send, decide, record.
async fn attempt(
    ctx: &WorkerContext,
    received: &ReceivedDelivery,
    delivery: delivery::Model,
    message: std::sync::Arc<message::Model>,
    endpoint: Option<std::sync::Arc<endpoint::Model>>,
    attempts_made: i32,
) -> Result<Handled, WorkerError> {
    // Read with the delivery (at most a second before), never cached longer: a rotated
    // secret, a new URL or a disabled endpoint applies to the next stream read.
    let endpoint = endpoint.filter(|endpoint| !endpoint.disabled);
    let Some(endpoint) = endpoint.filter(|_| !message.payload_expunged) else {
        // Deleted or disabled since the message was accepted, or the payload was
        // expunged: dead-letter it without an attempt (a disabled endpoint's
        // deliveries can be replayed once it is back).
        let released = ctx
            .store
            .finish_delivery_without_attempt(&delivery, attempts_made, DeliveryTransition::DeadLettered, Utc::now())
            .await?;
        ctx.queue.ack(received).await?;
        ctx.metrics.delivery_finished(delivery.tenant_id.as_str(), false);
        crate::queue_released(&ctx.queue, &released).await;
        return Ok(Handled::NotSent);
    };

    // The endpoint's pace: a short wait holds this lane slot (the lane is that
    // endpoint's anyway); a long one parks the delivery without spending an attempt.
    // Its pace: its own rate limit, else its recovery ramp if it has just come back.
    let pace = || match endpoint.rate_limit.filter(|limit| *limit > 0) {
        Some(limit) => Some(f64::from(limit)),
        None => ctx.breakers.recovery_pace(endpoint.id.as_str()),
    };
    while let Some(wait) = ctx.limits.wait_time(endpoint.id.as_str(), pace()) {
        if wait > MAX_RATE_WAIT {
            let due = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            ctx.queue.retry_later(received, attempts_made as u32, due.timestamp_millis()).await?;
            return Ok(Handled::NotSent);
        }
        tokio::time::sleep(wait).await;
    }

    let attempt_number = attempts_made + 1;
    // A resend or recover starts a new retry cycle: the schedule counts from there.
    let attempt_in_cycle = (attempt_number - delivery.cycle_start).max(1);
    let mut headers = webhook_headers(&endpoint, &message, ctx.config.send_svix_headers)?;
    if let (Some(key), Some(sequence)) = (&delivery.ordering_key, delivery.sequence) {
        headers.insert(
            ORDERING_KEY_HEADER,
            HeaderValue::from_str(key).map_err(|e| WorkerError::BadEndpoint(e.to_string()))?,
        );
        headers.insert(SEQUENCE_HEADER, HeaderValue::from(sequence));
    }
    let request_headers = crate::sender::headers_json(&headers, usize::MAX);
    let sent = ctx.sender.send(&endpoint.url, headers, message.payload.clone()).await;
    ctx.metrics.attempt(
        delivery.tenant_id.as_str(),
        endpoint.id.as_str(),
        sent.outcome.class(),
        sent.duration.as_secs_f64(),
    );
    let decision =
        decide(&sent.outcome, attempt_in_cycle as u32, &ctx.config.policy, Utc::now(), rand::random::<f64>());
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
        tenant_id: delivery.tenant_id.0.clone(),
        app_id: delivery.app_id.0.clone(),
        msg_id: delivery.msg_id.0.clone(),
        endpoint_id: delivery.endpoint_id.0.clone(),
        delivery_id: delivery.id.0.clone(),
        attempt_number,
        url: endpoint.url.clone(),
        status: if succeeded { SvixMessageStatus::Success } else { SvixMessageStatus::Fail }.code().into(),
        outcome_class: sent.outcome.class().to_owned(),
        response_status_code: sent.outcome.status_code().map_or(0, |code| code as i16),
        response: sent.response,
        response_duration_ms: sent.duration.as_millis() as i64,
        trigger_type: delivery.next_trigger,
        next_attempt_at,
        created_at: Utc::now(),
        request_headers: Some(request_headers),
        response_headers: sent.response_headers,
    };
    tracing::debug!(outcome = sent.outcome.class(), status = ?sent.outcome.status_code(), ?transition, "attempt finished");
    let disable_endpoint = decision == Decision::DisableEndpoint;
    if disable_endpoint {
        tracing::info!("endpoint answered 410 Gone; disabling it");
    }
    let settlement = match transition {
        DeliveryTransition::Retry { at } => {
            Settlement::RetryLater { attempts_made: attempt_number as u32, due_unix_ms: at.timestamp_millis() }
        }
        _ => Settlement::Ack,
    };
    let record = AttemptRecord {
        attempt: record,
        transition,
        expected_attempt_count: attempts_made,
        disable_endpoint,
        health: EndpointHealth::of(&sent.outcome),
        ordering_key: delivery.ordering_key.clone(),
    };
    ctx.recorder.record(Recorded { record, received: received.clone(), settlement }).await?;
    Ok(Handled::Sent { failed: counts_as_failure(&sent.outcome), took: sent.duration })
}

/// The Standard Webhooks headers (and their `svix-*` twins), plus the endpoint's own.
fn webhook_headers(
    endpoint: &endpoint::Model,
    message: &message::Model,
    send_svix_headers: bool,
) -> Result<HeaderMap, WorkerError> {
    let secret = EndpointSecret::parse(&endpoint.secret).map_err(|e| WorkerError::BadEndpoint(e.to_string()))?;
    let now = Utc::now();
    // After a rotation the previous secret signs too, until its grace period ends, so
    // receivers still holding it keep verifying.
    let previous = endpoint
        .previous_secret
        .as_deref()
        .filter(|_| endpoint.previous_secret_expires_at.is_some_and(|expires| expires > now))
        .and_then(|text| EndpointSecret::parse(text).ok());
    let timestamp = now.timestamp();
    let secrets: Vec<&EndpointSecret> = std::iter::once(&secret).chain(previous.as_ref()).collect();
    let mut signature = signature_header(secrets, message.id.as_str(), timestamp, message.payload.as_bytes());
    if let Some(stored) = &endpoint.signing_key {
        // The endpoint opted into asymmetric signatures: a `v1a` entry beside the HMAC ones.
        let key = EndpointSigningKey::parse(stored).map_err(|e| WorkerError::BadEndpoint(e.to_string()))?;
        signature.push(' ');
        signature.push_str(&key.sign(message.id.as_str(), timestamp, message.payload.as_bytes()));
    }
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
