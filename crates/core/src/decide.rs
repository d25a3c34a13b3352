//! The one place where the outcome of an attempt becomes a decision.
//!
//! "Should we try again?" ([`Decision`]) is kept apart from "when?" (the
//! [`RetrySchedule`]), and both are pure: the caller passes `now` and a uniform
//! random draw, so every rule below is checked by a one-line table test.
//!
//! Rules, in order:
//! 1. Only 2xx is success. 3xx is a failure (redirects are not followed).
//! 2. 410 Gone dead-letters the delivery and disables the endpoint.
//! 3. An attempt refused by the SSRF guard (`blocked`) is dead-lettered at once:
//!    retrying cannot change a policy decision, and the delivery stays replayable.
//! 4. Anything else is retried on the schedule; a `Retry-After` on 429 or 503 pushes
//!    the retry later (never earlier) than the schedule, capped at
//!    [`DeliveryPolicy::max_retry_after`].
//! 5. When the schedule has no further entry, the delivery is dead-lettered.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::retry::RetrySchedule;

/// What happened when Herald tried to deliver once. Recorded with every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Success { status: u16 },
    /// The receiver answered with a non-2xx status.
    HttpStatus { status: u16, retry_after: Option<Duration> },
    /// No complete response within the configured timeout.
    Timeout,
    /// The connection could not be made or was reset.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The receiver answered something that is not HTTP.
    InvalidResponse,
    /// The response body exceeded the configured cap.
    BodyTooLarge,
    /// The URL resolves to an address the SSRF guard refuses.
    Blocked,
}

impl AttemptOutcome {
    /// The outcome class name stored with the attempt and used as a metric label.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::HttpStatus { .. } => "http_status",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::InvalidResponse => "invalid_response",
            Self::BodyTooLarge => "body_too_large",
            Self::Blocked => "blocked",
        }
    }

    /// The HTTP status the receiver sent, if it sent one.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Self::Success { status } | Self::HttpStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Classifies a received status code.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        if (200..300).contains(&status) {
            Self::Success { status }
        } else {
            Self::HttpStatus { status, retry_after }
        }
    }
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Succeeded,
    /// Try again at this instant.
    RetryAt(DateTime<Utc>),
    /// No further automatic attempts; the delivery goes to the dead-letter queue.
    DeadLetter,
    /// Dead-letter the delivery and disable its endpoint (the receiver answered 410).
    DisableEndpoint,
}

/// The delivery settings `decide` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    pub schedule: RetrySchedule,
    /// The longest `Retry-After` Herald honours.
    pub max_retry_after: Duration,
}

/// Decides the fate of a delivery after attempt number `attempt` (1-based) ended
/// with `outcome`. `draw` is uniform in `[0, 1)` and only feeds the jitter.
pub fn decide(
    outcome: &AttemptOutcome,
    attempt: u32,
    policy: &DeliveryPolicy,
    now: DateTime<Utc>,
    draw: f64,
) -> Decision {
    let retry_after = match outcome {
        AttemptOutcome::Success { .. } => return Decision::Succeeded,
        AttemptOutcome::HttpStatus { status: 410, .. } => return Decision::DisableEndpoint,
        AttemptOutcome::Blocked => return Decision::DeadLetter,
        AttemptOutcome::HttpStatus { status: 429 | 503, retry_after } => *retry_after,
        _ => None,
    };
    let Some(scheduled) = policy.schedule.delay_before(attempt.saturating_add(1), draw) else {
        return Decision::DeadLetter;
    };
    let requested = retry_after.map_or(Duration::ZERO, |asked| asked.min(policy.max_retry_after));
    let delay = scheduled.max(requested);
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    Decision::RetryAt(now.checked_add_signed(delay).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttemptOutcome::*;

    fn policy() -> DeliveryPolicy {
        DeliveryPolicy {
            schedule: RetrySchedule::parse("0s,5s,5m", 0.2).unwrap(),
            max_retry_after: Duration::from_secs(600),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn after(seconds: i64) -> Decision {
        Decision::RetryAt(now() + chrono::Duration::seconds(seconds))
    }

    fn check(outcome: AttemptOutcome, attempt: u32, draw: f64, expected: Decision) {
        assert_eq!(decide(&outcome, attempt, &policy(), now(), draw), expected, "{outcome:?} attempt {attempt}");
    }

    fn status(status: u16) -> AttemptOutcome {
        AttemptOutcome::from_status(status, None)
    }

    fn asked(status: u16, seconds: u64) -> AttemptOutcome {
        AttemptOutcome::from_status(status, Some(Duration::from_secs(seconds)))
    }

    #[test]
    fn decisions() {
        check(status(200), 1, 0.5, Decision::Succeeded);
        check(status(204), 3, 0.5, Decision::Succeeded);
        check(status(500), 1, 0.5, after(5));
        check(status(500), 1, 0.0, after(4));
        check(status(500), 1, 1.0, after(6));
        check(status(500), 2, 0.5, after(300));
        check(status(500), 3, 0.5, Decision::DeadLetter);
        check(status(301), 1, 0.5, after(5));
        check(status(404), 1, 0.5, after(5));
        check(status(410), 1, 0.5, Decision::DisableEndpoint);
        check(Timeout, 1, 0.5, after(5));
        check(Connect, 2, 0.5, after(300));
        check(Dns, 3, 0.5, Decision::DeadLetter);
        check(Tls, 1, 0.5, after(5));
        check(InvalidResponse, 1, 0.5, after(5));
        check(BodyTooLarge, 1, 0.5, after(5));
        check(Blocked, 1, 0.5, Decision::DeadLetter);
    }

    #[test]
    fn retry_after_pushes_later_never_earlier_and_is_capped() {
        check(asked(429, 60), 1, 0.5, after(60));
        check(asked(503, 60), 1, 0.5, after(60));
        check(asked(429, 1), 1, 0.5, after(5));
        check(asked(429, 86_400), 1, 0.5, after(600));
        check(asked(500, 60), 1, 0.5, after(5));
        check(asked(429, 60), 3, 0.5, Decision::DeadLetter);
    }

    #[test]
    fn outcome_classes_and_status_codes() {
        assert_eq!(status(200).class(), "success");
        assert_eq!(status(302).class(), "http_status");
        assert_eq!(status(302).status_code(), Some(302));
        assert_eq!(Timeout.status_code(), None);
        assert_eq!(Blocked.class(), "blocked");
    }
}
