//! Per-tenant ingest backpressure: how many messages a second a tenant may create in
//! this API process (its own `ingest_rate_limit`, or the setting's), with `governor`'s
//! GCRA limiter (a burst of one second's worth is admitted at once); and its backlog
//! caps ([`crate::backlog`]).
//!
//! The check is a middleware outside the idempotency layer, so a refused request
//! writes nothing, not even an idempotency claim: a flooding tenant costs a hash
//! lookup per request, never a database write. It answers `429 rate_limited` or `429
//! backlog_full` with `Retry-After`. The limit is per process: with N API processes a tenant may create
//! up to N times its limit (docs/decisions.md).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_core::TenantId;

use crate::auth::authenticate;
use crate::backlog::{Caps, Over};
use crate::error::ApiError;
use crate::ApiState;

/// Past this many tenants, limiters idle for [`IDLE`] are dropped (an idle limiter is
/// full again, so dropping it changes nothing).
const PRUNE_ABOVE: usize = 10_000;
const IDLE: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Limiter {
    rate: NonZeroU32,
    bucket: Arc<DefaultDirectRateLimiter>,
    used: Instant,
}

/// The ingest rate limiters of one API process, one per tenant that sent lately.
#[derive(Debug, Default)]
pub struct IngestLimits {
    limiters: Mutex<HashMap<TenantId, Limiter>>,
}

impl IngestLimits {
    /// Takes one message from `tenant`'s budget of `per_second` (0: no limit):
    /// `Err(wait)` when it is spent, with how long until one more is admitted.
    pub fn admit(&self, tenant: &TenantId, per_second: u32) -> Result<(), Duration> {
        let Some(rate) = NonZeroU32::new(per_second) else { return Ok(()) };
        let now = Instant::now();
        let bucket = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if limiters.len() > PRUNE_ABOVE {
                limiters.retain(|_, limiter| now.duration_since(limiter.used) < IDLE);
            }
            let fresh = || Limiter { rate, bucket: Arc::new(RateLimiter::direct(Quota::per_second(rate))), used: now };
            let limiter = limiters.entry(tenant.clone()).or_insert_with(fresh);
            if limiter.rate != rate {
                *limiter = fresh();
            }
            limiter.used = now;
            limiter.bucket.clone()
        };
        bucket.check().map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The limit that applies to a tenant: its own, else the setting.
pub fn effective_limit(own: Option<i32>, setting: u32) -> u32 {
    own.map_or(setting, |own| u32::try_from(own).unwrap_or(0))
}

/// Whether a request creates a message: `POST /api/v1/app/{app_id}/msg`.
fn creates_message(request: &Request) -> bool {
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    request.method() == Method::POST && matches!(segments.as_slice(), ["api", "v1", "app", _, "msg"])
}

/// The middleware; install it outside the idempotency layer.
pub async fn limit_ingest(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if !creates_message(&request) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // A failed authentication is answered here, as the handler would answer it: passing
    // the request on would authenticate it a second time, and while the database is away
    // that is a second wait for a connection.
    let caller = match authenticate(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let per_second = effective_limit(caller.tenant.ingest_rate_limit, state.config.ingest_rate_limit);
    let tenant = caller.tenant_id();
    let caps = Caps::of(
        caller.tenant.max_backlog,
        caller.tenant.max_backlog_age_secs,
        state.config.max_backlog,
        state.config.max_backlog_age,
    );
    if let Err(over) = state.backlogs.check(&tenant, caps, chrono::Utc::now().timestamp_millis()) {
        state.metrics.ingest_throttled(tenant.as_str(), "backlog");
        let why = match (over, caps) {
            (Over::Pending(pending), Caps { pending: Some(cap), .. }) => {
                format!("{pending} deliveries are waiting, the cap is {cap}")
            }
            (Over::OldestAge(age), Caps { oldest_age: Some(cap), .. }) => {
                format!("the oldest ready delivery has waited {} s, the cap is {} s", age.as_secs(), cap.as_secs())
            }
            _ => "over a backlog cap".to_owned(),
        };
        return ApiError::BacklogFull(why, crate::backlog::RETRY_AFTER).into_response();
    }
    // After the backlog check: a request refused for its backlog spends no token.
    if let Err(wait) = state.ingest_limits.admit(&tenant, per_second) {
        state.metrics.ingest_throttled(tenant.as_str(), "rate_limit");
        return ApiError::RateLimited(wait).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u8) -> TenantId {
        TenantId::generate(1_700_000_000_000, [n; 10])
    }

    #[test]
    fn a_tenant_gets_a_burst_of_its_rate_then_a_wait_and_others_are_untouched() {
        let limits = IngestLimits::default();
        let admitted = (0..50).take_while(|_| limits.admit(&tenant(1), 10).is_ok()).count();
        assert_eq!(admitted, 10, "a burst of one second's worth");
        let wait = limits.admit(&tenant(1), 10).expect_err("over the limit");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limits.admit(&tenant(2), 10).is_ok(), "another tenant has its own budget");
        assert!(limits.admit(&tenant(1), 0).is_ok(), "0 is no limit");
        assert!(limits.admit(&tenant(1), 1_000).is_ok(), "a changed limit starts a fresh budget");
    }

    #[test]
    fn a_tenants_own_limit_wins_over_the_setting() {
        assert_eq!(effective_limit(None, 100), 100);
        assert_eq!(effective_limit(Some(5), 100), 5);
        assert_eq!(effective_limit(Some(0), 100), 0, "its own 0 is no limit");
        assert_eq!(effective_limit(Some(-1), 100), 0);
    }

    #[test]
    fn only_message_creation_is_limited() {
        let request = |method: Method, path: &str| {
            Request::builder().method(method).uri(path).body(axum::body::Body::empty()).unwrap()
        };
        assert!(creates_message(&request(Method::POST, "/api/v1/app/app_x/msg")));
        assert!(creates_message(&request(Method::POST, "/api/v1/app/my-uid/msg/")));
        assert!(!creates_message(&request(Method::GET, "/api/v1/app/app_x/msg")));
        assert!(!creates_message(&request(Method::POST, "/api/v1/app/app_x/endpoint/ep_x/msg")));
        assert!(!creates_message(&request(Method::POST, "/api/v1/app")));
    }
}
