//! Per-endpoint pacing: the endpoint's `rateLimit` (messages per second), or, without
//! one, its recovery ramp while it comes back ([`herald_core::ramp`]). Sends are spaced
//! evenly, with no burst, 2 % wider than the pace, so no second at the receiver holds
//! more than the pace even when network timing shifts a send by a few milliseconds.
//!
//! This is GCRA with a burst of one, kept by hand rather than with `governor` because
//! the ramp changes an endpoint's pace every second: a `governor` limiter cannot change
//! its quota, and a fresh one would let a send through at each change.
//!
//! The pace is kept per worker process: with several workers an endpoint can receive
//! up to that many times it (docs/decisions.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much wider than the pace sends are spaced.
const MARGIN: f64 = 1.02;

/// The next send time of each paced endpoint in one worker process.
#[derive(Debug, Default)]
pub struct RateLimits {
    next_send: Mutex<HashMap<String, Instant>>,
}

impl RateLimits {
    /// Takes one send from the endpoint's budget: `None` when it may go now, else how
    /// long to wait before asking again. `per_second` is the endpoint's pace now; none
    /// (or zero) means no waiting.
    pub fn wait_time(&self, endpoint_id: &str, per_second: Option<f64>) -> Option<Duration> {
        let per_second = per_second.filter(|rate| *rate > 0.0 && rate.is_finite())?;
        let period = Duration::from_secs_f64(MARGIN / per_second);
        let now = Instant::now();
        let mut next_send = self.next_send.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if next_send.len() > 10_000 {
            next_send.retain(|_, at| *at > now);
        }
        let next = next_send.entry(endpoint_id.to_owned()).or_insert(now);
        if now < *next {
            return Some(*next - now);
        }
        *next = now + period;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_evenly_with_no_burst() {
        let limits = RateLimits::default();
        assert_eq!(limits.wait_time("ep", Some(5.0)), None, "the first goes at once");
        let wait = limits.wait_time("ep", Some(5.0)).expect("the second waits");
        assert!(wait > Duration::from_millis(200) && wait <= Duration::from_millis(204), "{wait:?}");
        assert_eq!(limits.wait_time("ep", None), None, "no pace, no wait");
        assert_eq!(limits.wait_time("ep", Some(0.0)), None);
        // A faster pace applies from the next send on, with no send let through early.
        assert!(limits.wait_time("ep", Some(100.0)).is_some());
        std::thread::sleep(Duration::from_millis(205));
        assert_eq!(limits.wait_time("ep", Some(100.0)), None);
        let wait = limits.wait_time("ep", Some(100.0)).expect("10 ms apart now");
        assert!(wait <= Duration::from_millis(11), "{wait:?}");
    }

    #[test]
    fn no_second_holds_more_than_the_pace() {
        let limits = RateLimits::default();
        let began = std::time::Instant::now();
        let mut sends = Vec::new();
        while began.elapsed() < Duration::from_millis(2_500) {
            match limits.wait_time("ep", Some(20.0)) {
                None => sends.push(began.elapsed()),
                Some(wait) => std::thread::sleep(wait),
            }
        }
        let in_a_second =
            |start: &Duration| sends.iter().filter(|t| **t >= *start && **t < *start + Duration::from_secs(1)).count();
        let most = sends.iter().map(in_a_second).max().unwrap();
        assert!((19..=20).contains(&most), "{most} sends in the busiest second");
    }
}
