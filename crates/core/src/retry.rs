//! The retry schedule and its jitter.
//!
//! A schedule lists the delay before each attempt: the default
//! `0s,5s,5m,30m,2h,5h,10h,10h` (Svix's) means "try now, then 5 seconds after the
//! first failure, …", eight attempts in all; after the last one the delivery is
//! dead-lettered. Every delay is spread uniformly over
//! `[delay × (1 − band), delay × (1 + band)]` so that a receiver that failed for many
//! deliveries at once is not hit by all their retries in the same instant.

use std::time::Duration;

/// Why a schedule string could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryScheduleError {
    #[error("the retry schedule is empty; it needs at least one entry (the first attempt)")]
    Empty,
    #[error("`{0}` is not a duration; use a number and a unit such as 500ms, 5s, 5m, 2h or 1d")]
    BadDuration(String),
    #[error("the jitter band must be between 0 and 1, got {0}")]
    BadJitter(String),
}

/// The delays before each attempt, and the jitter band applied to them.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter_band: f64,
}

impl RetrySchedule {
    /// Svix's schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub const DEFAULT: &'static str = "0s,5s,5m,30m,2h,5h,10h,10h";

    pub fn new(delays: Vec<Duration>, jitter_band: f64) -> Result<Self, RetryScheduleError> {
        if delays.is_empty() {
            return Err(RetryScheduleError::Empty);
        }
        if !(0.0..=1.0).contains(&jitter_band) {
            return Err(RetryScheduleError::BadJitter(jitter_band.to_string()));
        }
        Ok(Self { delays, jitter_band })
    }

    /// Parses a comma-separated list such as `0s,5s,5m,30m`.
    pub fn parse(schedule: &str, jitter_band: f64) -> Result<Self, RetryScheduleError> {
        let delays = schedule
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays, jitter_band)
    }

    /// How many attempts a delivery gets before it is dead-lettered.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32
    }

    /// The nominal delays, without jitter.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// When the rest of a retry cycle would be tried if every attempt failed: the next
    /// attempt, number `next` of its cycle (1-based), due at `next_at`, then each later
    /// one after its nominal delay (each really lands within the jitter band of it, and
    /// later still if a receiver asks with `Retry-After`). Empty past the schedule's end.
    pub fn upcoming(&self, next: u32, next_at: chrono::DateTime<chrono::Utc>) -> Vec<chrono::DateTime<chrono::Utc>> {
        if next == 0 || next > self.max_attempts() {
            return Vec::new();
        }
        let mut due = next_at;
        let mut times = vec![due];
        for delay in &self.delays[next as usize..] {
            due += chrono::Duration::from_std(*delay).unwrap_or(chrono::Duration::MAX);
            times.push(due);
        }
        times
    }

    /// The delay before attempt number `attempt` (1-based), with jitter from `draw`
    /// (uniform in `[0, 1)`). `None` once the schedule is exhausted.
    pub fn delay_before(&self, attempt: u32, draw: f64) -> Option<Duration> {
        let nominal = *self.delays.get(attempt.checked_sub(1)? as usize)?;
        let factor = 1.0 - self.jitter_band + 2.0 * self.jitter_band * draw.clamp(0.0, 1.0);
        Some(nominal.mul_f64(factor.max(0.0)))
    }
}

/// Parses one duration: an unsigned integer followed by `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(value: &str) -> Result<Duration, RetryScheduleError> {
    let bad = || RetryScheduleError::BadDuration(value.to_owned());
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = |factor: u64| number.checked_mul(factor).map(Duration::from_secs).ok_or_else(bad);
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3_600),
        "d" => seconds(86_400),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_upcoming_attempts_follow_the_rest_of_the_schedule() {
        let schedule = RetrySchedule::parse("0s,5s,5m,30m", 0.2).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        let seconds = |times: Vec<chrono::DateTime<chrono::Utc>>| -> Vec<i64> {
            times.iter().map(|t| (*t - at).num_seconds()).collect()
        };
        // The second attempt is next: then 5 min after it, then 30 min after that.
        assert_eq!(seconds(schedule.upcoming(2, at)), [0, 300, 2_100]);
        assert_eq!(seconds(schedule.upcoming(4, at)), [0], "the last attempt has nothing after it");
        assert!(schedule.upcoming(5, at).is_empty(), "past the schedule");
        assert!(schedule.upcoming(0, at).is_empty());
    }

    use super::*;

    fn check(schedule: &str, band: f64, attempt: u32, draw: f64, expected: Option<Duration>) {
        let parsed = RetrySchedule::parse(schedule, band).unwrap();
        assert_eq!(parsed.delay_before(attempt, draw), expected, "{schedule} attempt {attempt} draw {draw}");
    }

    #[test]
    fn delays_with_jitter() {
        let s = Duration::from_secs;
        check("0s,5s,5m", 0.0, 1, 0.7, Some(s(0)));
        check("0s,5s,5m", 0.0, 2, 0.7, Some(s(5)));
        check("0s,5s,5m", 0.0, 3, 0.0, Some(s(300)));
        check("0s,5s,5m", 0.0, 4, 0.0, None);
        check("0s,5s,5m", 0.0, 0, 0.0, None);
        check("0s,10s", 0.5, 2, 0.0, Some(s(5)));
        check("0s,10s", 0.5, 2, 0.5, Some(s(10)));
        check("0s,10s", 0.5, 2, 1.0, Some(s(15)));
        check("0s,10s", 1.0, 2, 0.0, Some(s(0)));
        check("0s,10s", 0.2, 2, 7.0, Some(s(12)));
    }

    #[test]
    fn parses_units_and_rejects_garbage() {
        let parsed = RetrySchedule::parse(RetrySchedule::DEFAULT, 0.2).unwrap();
        assert_eq!(parsed.max_attempts(), 8);
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "5", "s", "5x", "-5s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(RetrySchedule::parse(" , ", 0.0), Err(RetryScheduleError::Empty));
        assert!(RetrySchedule::parse("1s", 1.5).is_err());
    }
}
