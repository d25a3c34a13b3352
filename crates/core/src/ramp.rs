//! The recovery ramp: how fast Herald sends to an endpoint that has just come back.
//!
//! An endpoint whose circuit breaker closes after being open has a backlog waiting for
//! it. Unless it has its own `rateLimit`, its sends are paced: `start` per second at
//! first, doubled every `step` in which it did not fail, halved (never below `start`)
//! after a step in which it did, until the pace reaches `full`, when the ramp ends and
//! only the endpoint's concurrency limits it. With the defaults (5/s, one second,
//! 1,000/s) an endpoint that keeps answering `2xx` is at full speed after eight
//! seconds: 5, 10, 20, 40, 80, 160, 320, 640, then unpaced.

use std::time::{Duration, Instant};

/// The ramp's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RampPolicy {
    /// Sends per second right after the endpoint comes back; `0` turns the ramp off.
    pub start: f64,
    /// At this pace the ramp ends.
    pub full: f64,
    /// How long each pace holds before it doubles (or halves).
    pub step: Duration,
}

impl RampPolicy {
    pub const DEFAULT: Self = Self { start: 5.0, full: 1_000.0, step: Duration::from_secs(1) };

    /// A ramp starting now, or `None` when the ramp is off.
    pub fn begin(&self, now: Instant) -> Option<Ramp> {
        (self.start > 0.0 && self.start < self.full).then_some(Ramp {
            pace: self.start,
            stepped_at: now,
            failed: false,
            policy: *self,
        })
    }
}

/// One endpoint's ramp in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    pace: f64,
    stepped_at: Instant,
    /// Whether an attempt failed in the current step.
    failed: bool,
    policy: RampPolicy,
}

impl Ramp {
    /// Counts one attempt's result in the current step.
    pub fn record(&mut self, failed: bool) {
        self.failed |= failed;
    }

    /// The pace at `now` (sends per second), or `None` once the ramp has ended.
    pub fn pace(&mut self, now: Instant) -> Option<f64> {
        while now.duration_since(self.stepped_at) >= self.policy.step {
            self.pace = if self.failed { (self.pace / 2.0).max(self.policy.start) } else { self.pace * 2.0 };
            self.failed = false;
            self.stepped_at += self.policy.step;
            if self.pace >= self.policy.full {
                return None;
            }
        }
        Some(self.pace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_pace_doubles_each_quiet_step_and_ends_at_full() {
        let start = Instant::now();
        let mut ramp = RampPolicy::DEFAULT.begin(start).expect("on by default");
        let paces: Vec<Option<f64>> = (0..9).map(|n| ramp.pace(start + SECOND * n)).collect();
        let expected = [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0].map(Some);
        assert_eq!(paces[..8], expected);
        assert_eq!(paces[8], None, "1,280/s is past full: the ramp is over");
    }

    #[test]
    fn a_step_with_a_failure_halves_the_pace_but_never_below_the_start() {
        let start = Instant::now();
        let mut ramp = RampPolicy::DEFAULT.begin(start).unwrap();
        assert_eq!(ramp.pace(start + SECOND * 3), Some(40.0));
        ramp.record(true);
        ramp.record(false);
        assert_eq!(ramp.pace(start + SECOND * 4), Some(20.0), "a failure in the step halves it");
        assert_eq!(ramp.pace(start + SECOND * 5), Some(40.0), "a quiet step doubles it again");
        ramp.record(true);
        assert_eq!(ramp.pace(start + SECOND * 6), Some(20.0));
        for n in 7..12 {
            ramp.record(true);
            assert_eq!(ramp.pace(start + SECOND * n), Some((20.0 / 2f64.powi(n as i32 - 6)).max(5.0)));
        }
    }

    #[test]
    fn a_long_pause_is_counted_step_by_step() {
        let start = Instant::now();
        let mut ramp = RampPolicy::DEFAULT.begin(start).unwrap();
        ramp.record(true);
        assert_eq!(ramp.pace(start + SECOND * 2), Some(10.0), "halved to the start, then doubled once");
        assert_eq!(ramp.pace(start + SECOND * 60), None);
    }

    #[test]
    fn a_start_of_zero_turns_it_off() {
        let policy = RampPolicy { start: 0.0, ..RampPolicy::DEFAULT };
        assert!(policy.begin(Instant::now()).is_none());
    }
}
