//! Per-endpoint rate limits (the endpoint's `rateLimit`, messages per second), with
//! `governor`'s GCRA limiter. One limiter per endpoint per worker process; it is
//! rebuilt when the endpoint's limit changes.
//!
//! The limit is enforced per worker process: with several workers an endpoint can
//! receive up to that many times its limit (docs/decisions.md).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The rate limiters of one worker process.
#[derive(Debug, Default)]
pub struct RateLimits {
    limiters: Mutex<HashMap<String, (NonZeroU32, Arc<DefaultDirectRateLimiter>)>>,
}

impl RateLimits {
    /// Takes one send from the endpoint's budget: `None` when it may go now, else how
    /// long to wait before asking again. `per_second` is the endpoint's `rateLimit`;
    /// no limit (or zero) means no waiting.
    pub fn wait_time(&self, endpoint_id: &str, per_second: Option<i32>) -> Option<Duration> {
        let rate = NonZeroU32::new(u32::try_from(per_second?).ok()?)?;
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let entry = limiters
                .entry(endpoint_id.to_owned())
                .or_insert_with(|| (rate, Arc::new(RateLimiter::direct(Quota::per_second(rate)))));
            if entry.0 != rate {
                *entry = (rate, Arc::new(RateLimiter::direct(Quota::per_second(rate))));
            }
            entry.1.clone()
        };
        match limiter.check() {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(DefaultClock::default().now())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_admits_a_burst_of_its_rate_then_asks_to_wait() {
        let limits = RateLimits::default();
        let admitted = (0..20).take_while(|_| limits.wait_time("ep", Some(5)).is_none()).count();
        assert_eq!(admitted, 5);
        let wait = limits.wait_time("ep", Some(5)).expect("over the limit");
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert_eq!(limits.wait_time("ep", None), None, "no limit, no wait");
        assert_eq!(limits.wait_time("ep", Some(0)), None);
        // A changed limit starts a fresh budget.
        assert_eq!(limits.wait_time("ep", Some(100)), None);
    }
}
