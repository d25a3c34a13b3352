//! Sending deliveries again: one message to one endpoint (resend) and dead letters
//! (replay). Each is committed in the database first and then handed to the queue; if
//! Redis fails at that moment, the reconciler queues what is due. (A recover is a
//! background task: `Store::start_recover_task`, run by the workers' task runner.)

use chrono::{DateTime, Utc};
use herald_core::DeliveryId;
use herald_store::entity::delivery;
use herald_store::{Actor, DeadLetterSelection};

use crate::auth::ScopedApp;
use crate::error::{ApiError, ApiResult};
use crate::ids::fresh;
use crate::validate::Validator;
use crate::ApiState;

/// Sends the application's message `msg_id` (an id or `eventId`) to its endpoint
/// `endpoint_id` (an id or `uid`) again, in a new delivery.
pub async fn resend(state: &ApiState, app: &ScopedApp, msg_id: &str, endpoint_id: &str) -> ApiResult<()> {
    let message =
        state.store.find_message(&app.tenant_id, &app.id, msg_id).await?.ok_or(ApiError::NotFound("message"))?;
    let endpoint = state.store.find_endpoint(&app.id, endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))?;
    Validator::default()
        .check(!message.payload_expunged, &["msg_id"], "the message's content was expunged; there is nothing to send")
        .finish()?;
    let new_id = fresh(DeliveryId::generate);
    let restarted = state.store.resend(&message, &endpoint, &new_id, Utc::now()).await?;
    state.enqueuer.hand_off(&delivery::due(std::slice::from_ref(&restarted)));
    Ok(())
}

/// Replays the selected dead letters of `app`, spread out at the configured rate;
/// returns how many, and when the last is due.
pub async fn replay_dead_letters(
    state: &ApiState,
    app: &ScopedApp,
    selection: &DeadLetterSelection,
    by: &Actor,
) -> ApiResult<(usize, DateTime<Utc>)> {
    let now = Utc::now();
    let replayed = state
        .store
        .replay_dead_letters(&app.tenant_id, &app.id, selection, now, state.config.dead_letter_replay_rate, by)
        .await?;
    let finishes_by = replayed.iter().filter_map(|d| d.next_attempt_at).max().unwrap_or(now);
    let due = delivery::due(&replayed);
    // Waits for Redis, so a replay's answer means it is queued (or left to the reconciler).
    if let Err(error) = state.queue.hand_off(&due).await {
        tracing::warn!(%error, count = due.len(), "could not queue replayed dead letters; the reconciler will");
    }
    Ok((replayed.len(), finishes_by))
}
