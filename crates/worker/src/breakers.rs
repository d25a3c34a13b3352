//! Every endpoint's circuit breaker, as this worker sees it, shared through Redis.
//!
//! Each worker counts the results it sees in a local [`Breaker`]. When one opens it,
//! the open state goes to Redis ([`Queue::open_breaker`]); every worker reads that
//! state at most once a second per endpoint and adopts it, so all stop sending, and
//! a restarted worker starts from it. When the cool-down ends, one worker claims the
//! probe ([`Queue::claim_probe`]); the others keep waiting. The probe's success
//! deletes the shared state (closed everywhere within a second); its failure opens it
//! again.
//!
//! Redis trouble never blocks a delivery: the local breaker decides alone until Redis
//! answers again.
//!
//! A worker that sees a breaker close after being open (its own probe, or the shared
//! state) puts the endpoint on the recovery ramp ([`herald_core::ramp`]): its backlog
//! comes back at a pace that starts low and doubles while it answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_core::breaker::{Admission, Breaker, BreakerPolicy, BreakerPosition};
use herald_core::ramp::{Ramp, RampPolicy};
use herald_queue::{Queue, SharedBreaker};

/// How often a worker re-reads an endpoint's shared breaker state.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the breaker says about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it. `probe` is true for the half-open probe.
    Go { probe: bool },
    /// Do not send; park the lane's deliveries until this Unix millisecond.
    Wait(i64),
}

#[derive(Debug)]
struct Local {
    breaker: Breaker,
    synced_at: Option<Instant>,
    /// The recovery ramp, from when this worker saw the breaker close after being open.
    ramp: Option<Ramp>,
}

impl Local {
    /// After the breaker moved: a close after an open period starts the ramp, an open
    /// stops it (the next close starts it afresh).
    fn moved(&mut self, was_open: bool, ramp: &RampPolicy) {
        match self.breaker.position() {
            BreakerPosition::Closed if was_open => self.ramp = ramp.begin(Instant::now()),
            BreakerPosition::Open { .. } => self.ramp = None,
            BreakerPosition::Closed => {}
        }
    }
}

fn is_open(breaker: &Breaker) -> bool {
    matches!(breaker.position(), BreakerPosition::Open { .. })
}

/// The breakers of one worker process.
#[derive(Debug)]
pub struct Breakers {
    policy: BreakerPolicy,
    queue: Queue,
    /// How long a claimed probe may take (the request timeout); others wait this long.
    probe_hold: Duration,
    /// How fast an endpoint is sent to when it comes back.
    ramp: RampPolicy,
    local: Mutex<HashMap<String, Local>>,
}

impl Breakers {
    pub fn new(policy: BreakerPolicy, ramp: RampPolicy, queue: Queue, probe_hold: Duration) -> Self {
        Self { policy, queue, probe_hold, ramp, local: Mutex::new(HashMap::new()) }
    }

    fn with_local<R>(&self, endpoint_id: &str, f: impl FnOnce(&mut Local) -> R) -> R {
        let mut local = self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = local.entry(endpoint_id.to_owned()).or_insert_with(|| Local {
            breaker: Breaker::closed(),
            synced_at: None,
            ramp: None,
        });
        f(entry)
    }

    /// May an attempt to `endpoint_id` go now?
    pub async fn admit(&self, endpoint_id: &str) -> Gate {
        let stale = self.with_local(endpoint_id, |local| local.synced_at.is_none_or(|at| at.elapsed() >= SYNC_EVERY));
        if stale {
            match self.queue.breaker(endpoint_id).await {
                Ok(shared) => self.with_local(endpoint_id, |local| {
                    let position = shared.map_or(BreakerPosition::Closed, |shared| BreakerPosition::Open {
                        until_ms: shared.open_until_ms,
                    });
                    let was_open = is_open(&local.breaker);
                    local.breaker.adopt(position, shared.map_or(0, |shared| shared.consecutive_failures));
                    local.moved(was_open, &self.ramp);
                    local.synced_at = Some(Instant::now());
                }),
                Err(error) => tracing::warn!(%error, endpoint = endpoint_id, "cannot read the shared breaker state"),
            }
        }
        let now = now_ms();
        let (admission, position) =
            self.with_local(endpoint_id, |local| (local.breaker.admit(now), local.breaker.position()));
        match admission {
            Admission::Allow => Gate::Go { probe: false },
            Admission::WaitUntil(until) => Gate::Wait(until),
            Admission::Probe => {
                let BreakerPosition::Open { until_ms } = position else { return Gate::Go { probe: false } };
                match self.queue.claim_probe(endpoint_id, until_ms, self.probe_hold).await {
                    Ok(true) => Gate::Go { probe: true },
                    Ok(false) => Gate::Wait(now + millis(self.probe_hold.min(self.policy.cool_down))),
                    Err(error) => {
                        tracing::warn!(%error, endpoint = endpoint_id, "cannot claim the breaker probe; probing anyway");
                        Gate::Go { probe: true }
                    }
                }
            }
        }
    }

    /// The instant an open breaker (as this worker last saw it) lets deliveries try
    /// again, without asking Redis: lets the dispatcher park them before they take a
    /// lane slot.
    pub fn open_until(&self, endpoint_id: &str) -> Option<i64> {
        let local = self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match local.get(endpoint_id)?.breaker.admit(now_ms()) {
            Admission::WaitUntil(until) => Some(until),
            _ => None,
        }
    }

    /// The pace (sends per second) of an endpoint on its recovery ramp; `None` when it
    /// is not ramping (never came back, or the ramp has ended).
    pub fn recovery_pace(&self, endpoint_id: &str) -> Option<f64> {
        let mut local = self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let local = local.get_mut(endpoint_id)?;
        let pace = local.ramp.as_mut()?.pace(Instant::now());
        if pace.is_none() {
            local.ramp = None;
        }
        pace
    }

    /// When a delivery parked behind an open breaker should come back: spread over a
    /// few seconds after `until_ms`, so they do not all return at the probe.
    pub fn return_time(&self, until_ms: i64) -> i64 {
        let spread = millis(self.policy.cool_down.min(Duration::from_secs(5)));
        until_ms + rand::random_range(0..=spread.max(0))
    }

    /// Counts one attempt's result and shares a change of position.
    pub async fn record(&self, endpoint_id: &str, failed: bool) {
        let now = now_ms();
        let change = self.with_local(endpoint_id, |local| {
            if let Some(ramp) = local.ramp.as_mut() {
                ramp.record(failed);
            }
            let was_open = is_open(&local.breaker);
            let change = local.breaker.record(failed, now, &self.policy);
            local.moved(was_open, &self.ramp);
            change.map(|position| (position, local.breaker.consecutive_failures()))
        });
        let shared = match change {
            None => return,
            Some((BreakerPosition::Open { until_ms }, consecutive_failures)) => {
                tracing::info!(endpoint = endpoint_id, consecutive_failures, "circuit breaker opened");
                let state = SharedBreaker { open_until_ms: until_ms, consecutive_failures };
                // Kept past the cool-down so a failed probe's successor finds it; it
                // expires on its own if every worker goes away.
                let keep = self.policy.cool_down * 2 + self.probe_hold + Duration::from_secs(60);
                self.queue.open_breaker(endpoint_id, state, keep).await
            }
            Some((BreakerPosition::Closed, _)) => {
                tracing::info!(endpoint = endpoint_id, "circuit breaker closed");
                self.queue.close_breaker(endpoint_id).await
            }
        };
        if let Err(error) = shared {
            tracing::warn!(%error, endpoint = endpoint_id, "cannot share the breaker state");
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis().min(i64::MAX as u128) as i64
}
