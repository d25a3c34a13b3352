//! What one attempt says about its endpoint's health: the failure streak that
//! disables an endpoint failing for `endpoint_disable_after` (its `failing_since`).
//!
//! This is not the circuit breaker's rule ([`crate::breaker::counts_as_failure`]). The
//! breaker asks "is the receiver up?", so a 4xx (the receiver answering) does not
//! trip it. The streak asks "is this endpoint taking our webhooks?", as Svix's
//! automatic disabling does: any attempt that did not end in a 2xx keeps it going.
//! Neither counts an attempt the SSRF guard blocked, which never reached the receiver.

use crate::AttemptOutcome;

/// One attempt's verdict on its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointHealth {
    /// The receiver took the webhook (2xx): a failure streak ends.
    Healthy,
    /// The webhook was not taken: a failure streak starts or goes on.
    Failing,
    /// The attempt never reached the receiver: it says nothing about it.
    Untried,
}

impl EndpointHealth {
    pub fn of(outcome: &AttemptOutcome) -> Self {
        match outcome {
            AttemptOutcome::Success { .. } => Self::Healthy,
            AttemptOutcome::Blocked => Self::Untried,
            _ => Self::Failing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::counts_as_failure;

    #[test]
    fn only_a_2xx_is_healthy_and_only_a_blocked_attempt_is_untried() {
        let http = |status| AttemptOutcome::HttpStatus { status, retry_after: None };
        let check = |outcome: AttemptOutcome, health, breaker_failure| {
            assert_eq!(EndpointHealth::of(&outcome), health, "{outcome:?}");
            assert_eq!(counts_as_failure(&outcome), breaker_failure, "{outcome:?}");
        };
        check(AttemptOutcome::Success { status: 204 }, EndpointHealth::Healthy, false);
        check(AttemptOutcome::Blocked, EndpointHealth::Untried, false);
        // The receiver answered: failing for the streak, healthy for the breaker.
        check(http(400), EndpointHealth::Failing, false);
        check(http(410), EndpointHealth::Failing, false);
        check(AttemptOutcome::BodyTooLarge, EndpointHealth::Failing, false);
        // The receiver is down: failing for both.
        check(http(503), EndpointHealth::Failing, true);
        check(http(429), EndpointHealth::Failing, true);
        check(AttemptOutcome::Timeout, EndpointHealth::Failing, true);
        check(AttemptOutcome::Connect, EndpointHealth::Failing, true);
    }
}
