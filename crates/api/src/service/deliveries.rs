//! Sending one message to one endpoint again (resend): committed in the database
//! first and then handed to the queue; if Redis fails at that moment, the reconciler
//! queues what is due. (A recover, a replay and a dead-letter replay are background
//! tasks, run by the workers' task runner.)

use chrono::Utc;
use herald_core::DeliveryId;
use herald_store::entity::delivery;

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
