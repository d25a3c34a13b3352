//! An endpoint's delivery counts and its circuit breaker.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::find;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidQuery;
use crate::ApiState;

/// Svix's `EndpointStats`: the endpoint's deliveries created in the window, by state.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointStats {
    pub success: u64,
    pub pending: u64,
    /// Always 0: Herald does not persist an in-flight state.
    pub sending: u64,
    pub fail: u64,
    /// Always 0: Herald never cancels a delivery.
    pub canceled: u64,
    /// Herald's addition: the endpoint's circuit breaker.
    pub breaker: BreakerOut,
}

/// Where an endpoint's circuit breaker stands. While it is open nothing is sent to the
/// endpoint and deliveries wait without spending attempts; after `openUntil` one probe
/// decides whether it closes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerOut {
    /// `closed`, `open` or `halfOpen`.
    #[schema(example = "closed")]
    pub state: &'static str,
    /// When the open breaker lets its probe through (absent when closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_until: Option<DateTime<Utc>>,
    /// Failures in a row that led to the opening (0 when closed).
    pub consecutive_failures: u32,
}

impl BreakerOut {
    fn new(shared: Option<herald_queue::SharedBreaker>, now: DateTime<Utc>) -> Self {
        let Some(shared) = shared else {
            return Self { state: "closed", open_until: None, consecutive_failures: 0 };
        };
        let open_until = DateTime::from_timestamp_millis(shared.open_until_ms);
        let state = if open_until.is_some_and(|until| until > now) { "open" } else { "halfOpen" };
        Self { state, open_until, consecutive_failures: shared.consecutive_failures }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start of the window (default 28 days ago).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub since: Option<DateTime<Utc>>,
    /// End of the window (default now).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub until: Option<DateTime<Utc>>,
}

/// Counts the endpoint's deliveries by state.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "Endpoint", operation_id = "v1.endpoint.get-stats",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), StatsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointStats), ErrorResponses))]
pub async fn get_stats(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<StatsQuery>,
) -> ApiResult<Json<EndpointStats>> {
    let app = caller.application(&state, &app_id).await?;
    let existing = find(&state, &app, &endpoint_id).await?;
    let now = Utc::now();
    let until = query.until.unwrap_or(now);
    let since = query.since.unwrap_or(until - Duration::days(28));
    let counts = state.store.endpoint_delivery_counts(&existing.id, since, until).await?;
    let breaker = state.queue.breaker(existing.id.as_str()).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(EndpointStats {
        success: counts.succeeded,
        pending: counts.pending,
        sending: 0,
        fail: counts.failed,
        canceled: 0,
        breaker: BreakerOut::new(breaker, now),
    }))
}
