//! The circuit breaker of one endpoint, as a pure state machine.
//!
//! - **Closed**: attempts flow. Each result is counted; the breaker opens after
//!   `failure_threshold` failures in a row, or when at least `min_attempts` attempts
//!   in the current window failed at `failure_ratio` or more.
//! - **Open** until an instant: no attempts. Deliveries wait (parked, attempt count
//!   unchanged) instead of spending their retries on a receiver that is down.
//! - **Half-open** once that instant passes: exactly one attempt, the probe, is let
//!   through (the caller claims it so only one worker sends it). Its success closes
//!   the breaker; its failure opens it for another cool-down.
//!
//! What counts as a failure ([`counts_as_failure`]) is "the receiver is not healthy":
//! no answer, a broken answer, 5xx, 408 and 429. A 4xx is the receiver answering, and
//! a `blocked` attempt never reached it, so neither trips the breaker.
//!
//! Time is passed in as Unix milliseconds, so every rule is a table test.

use std::time::Duration;

use crate::AttemptOutcome;

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerPolicy {
    /// Failures in a row that open the breaker.
    pub failure_threshold: u32,
    /// Share of failed attempts in a window that opens the breaker...
    pub failure_ratio: f64,
    /// ...once the window holds at least this many attempts.
    pub min_attempts: u32,
    /// Length of the counting window.
    pub window: Duration,
    /// How long the breaker stays open before a probe.
    pub cool_down: Duration,
}

/// Whether an attempt's outcome says the receiver is unhealthy.
pub fn counts_as_failure(outcome: &AttemptOutcome) -> bool {
    match outcome {
        AttemptOutcome::Success { .. } | AttemptOutcome::Blocked | AttemptOutcome::BodyTooLarge => false,
        AttemptOutcome::HttpStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        _ => true,
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerPosition {
    Closed,
    /// Open until this Unix millisecond; half-open after it.
    Open {
        until_ms: i64,
    },
}

/// What the breaker says about sending one attempt now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// The cool-down is over: one probe may go (the caller claims it first).
    Probe,
    /// Open: wait until this Unix millisecond.
    WaitUntil(i64),
}

/// One endpoint's breaker: its position and the counts that move it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    position: BreakerPosition,
    consecutive_failures: u32,
    window_start_ms: i64,
    window_attempts: u32,
    window_failures: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Self::closed()
    }
}

impl Breaker {
    pub fn closed() -> Self {
        Self {
            position: BreakerPosition::Closed,
            consecutive_failures: 0,
            window_start_ms: 0,
            window_attempts: 0,
            window_failures: 0,
        }
    }

    pub fn position(&self) -> BreakerPosition {
        self.position
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// May an attempt go now?
    pub fn admit(&self, now_ms: i64) -> Admission {
        match self.position {
            BreakerPosition::Closed => Admission::Allow,
            BreakerPosition::Open { until_ms } if now_ms < until_ms => Admission::WaitUntil(until_ms),
            BreakerPosition::Open { .. } => Admission::Probe,
        }
    }

    /// Counts one attempt's result. Returns the new position when it changed.
    pub fn record(&mut self, failed: bool, now_ms: i64, policy: &BreakerPolicy) -> Option<BreakerPosition> {
        if let BreakerPosition::Open { until_ms } = self.position {
            if now_ms < until_ms {
                // A straggler that started before the breaker opened: it changes nothing.
                return None;
            }
            // The probe's result decides.
            if failed {
                self.consecutive_failures += 1;
                self.position = BreakerPosition::Open { until_ms: now_ms + millis(policy.cool_down) };
            } else {
                *self = Self::closed();
            }
            return Some(self.position);
        }
        if now_ms - self.window_start_ms >= millis(policy.window) {
            self.window_start_ms = now_ms;
            self.window_attempts = 0;
            self.window_failures = 0;
        }
        self.window_attempts += 1;
        if !failed {
            self.consecutive_failures = 0;
            return None;
        }
        self.consecutive_failures += 1;
        self.window_failures += 1;
        let ratio_tripped = self.window_attempts >= policy.min_attempts.max(1)
            && f64::from(self.window_failures) >= policy.failure_ratio * f64::from(self.window_attempts);
        if self.consecutive_failures >= policy.failure_threshold.max(1) || ratio_tripped {
            self.position = BreakerPosition::Open { until_ms: now_ms + millis(policy.cool_down) };
            return Some(self.position);
        }
        None
    }

    /// Adopts a position another worker decided (shared through Redis).
    pub fn adopt(&mut self, position: BreakerPosition, consecutive_failures: u32) {
        if position == BreakerPosition::Closed && self.position != BreakerPosition::Closed {
            *self = Self::closed();
        } else if position != BreakerPosition::Closed {
            self.position = position;
            self.consecutive_failures = self.consecutive_failures.max(consecutive_failures);
        }
    }
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis().min(i64::MAX as u128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failure_threshold: 3,
            failure_ratio: 0.5,
            min_attempts: 10,
            window: Duration::from_secs(60),
            cool_down: Duration::from_secs(30),
        }
    }

    #[test]
    fn consecutive_failures_open_it_and_a_success_resets_the_run() {
        let mut breaker = Breaker::closed();
        assert_eq!(breaker.record(true, 1_000, &policy()), None);
        assert_eq!(breaker.record(true, 1_001, &policy()), None);
        assert_eq!(breaker.record(false, 1_002, &policy()), None);
        assert_eq!(breaker.record(true, 1_003, &policy()), None);
        assert_eq!(breaker.record(true, 1_004, &policy()), None);
        assert_eq!(breaker.record(true, 1_005, &policy()), Some(BreakerPosition::Open { until_ms: 31_005 }));
        assert_eq!(breaker.admit(2_000), Admission::WaitUntil(31_005));
    }

    #[test]
    fn a_failure_ratio_over_the_window_opens_it() {
        let mut breaker = Breaker::closed();
        let mut opened = None;
        // Alternating failure and success never makes three in a row, but is 50 %.
        for i in 0..10 {
            opened = opened.or(breaker.record(i % 2 == 1, 1_000 + i, &policy()));
        }
        assert_eq!(opened, Some(BreakerPosition::Open { until_ms: 1_009 + 30_000 }));
    }

    #[test]
    fn the_window_starts_over_when_it_ends() {
        let mut breaker = Breaker::closed();
        for i in 0..9 {
            assert_eq!(breaker.record(i % 2 == 0, 1_000 + i, &policy()), None);
        }
        // A new window: the earlier attempts no longer count towards the ratio.
        assert_eq!(breaker.record(false, 70_000, &policy()), None);
        assert_eq!(breaker.record(true, 70_001, &policy()), None);
    }

    #[test]
    fn after_the_cool_down_one_probe_decides() {
        let mut breaker = Breaker::closed();
        for i in 0..3 {
            breaker.record(true, i, &policy());
        }
        assert_eq!(breaker.admit(30_002), Admission::Probe);
        assert_eq!(breaker.record(true, 30_500, &policy()), Some(BreakerPosition::Open { until_ms: 60_500 }));
        assert_eq!(breaker.admit(40_000), Admission::WaitUntil(60_500));
        assert_eq!(breaker.record(false, 61_000, &policy()), Some(BreakerPosition::Closed));
        assert_eq!(breaker.admit(61_001), Admission::Allow);
        assert_eq!(breaker.consecutive_failures(), 0);
    }

    #[test]
    fn stragglers_from_before_the_opening_change_nothing() {
        let mut breaker = Breaker::closed();
        for i in 0..3 {
            breaker.record(true, i, &policy());
        }
        assert_eq!(breaker.record(false, 100, &policy()), None);
        assert_eq!(breaker.admit(100), Admission::WaitUntil(30_002));
    }

    #[test]
    fn what_trips_it() {
        let status = |status| AttemptOutcome::HttpStatus { status, retry_after: None };
        assert!(counts_as_failure(&AttemptOutcome::Timeout));
        assert!(counts_as_failure(&AttemptOutcome::Connect));
        assert!(counts_as_failure(&AttemptOutcome::InvalidResponse));
        assert!(counts_as_failure(&status(503)));
        assert!(counts_as_failure(&status(429)));
        assert!(!counts_as_failure(&status(400)));
        assert!(!counts_as_failure(&status(301)));
        assert!(!counts_as_failure(&AttemptOutcome::Blocked));
        assert!(!counts_as_failure(&AttemptOutcome::Success { status: 204 }));
    }

    #[test]
    fn adopting_a_shared_position() {
        let mut breaker = Breaker::closed();
        breaker.adopt(BreakerPosition::Open { until_ms: 5_000 }, 7);
        assert_eq!(breaker.admit(1_000), Admission::WaitUntil(5_000));
        assert_eq!(breaker.consecutive_failures(), 7);
        breaker.adopt(BreakerPosition::Closed, 0);
        assert_eq!(breaker.admit(1_000), Admission::Allow);
    }
}
