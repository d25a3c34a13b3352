//! Per-endpoint lanes and per-tenant shares: the in-process half of isolation.
//!
//! Every delivery the dispatcher reads is offered to its endpoint's lane:
//! - **Run**: the lane has a free slot (at most `endpoint` attempts in flight to one
//!   endpoint) and the tenant is under its share (at most `tenant` in flight). An
//!   endpoint with nothing in flight gets one slot even past the tenant's share, up
//!   to twice it, so one customer's dead endpoints never hold back another
//!   customer's first delivery in the same tenant.
//! - **Waiting**: the lane is busy but its queue is short enough to be worked off soon
//!   (estimated from the lane's recent attempt durations). The task that finishes an
//!   attempt takes the next waiting delivery of its lane.
//! - **Full**: the caller parks the delivery in the delayed set (attempt count
//!   unchanged) until about when the lane can take it ([`Lanes::park_due`]).
//!   So the partition reader never waits on one endpoint.
//! - **Duplicate**: this process already holds the entry (its own reclaimer picked it up
//!   while it waited); the caller drops the copy.
//!
//! Pure bookkeeping behind one mutex; no I/O, so the rules are unit-tested here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// The lane limits (settings `endpoint_concurrency`, `tenant_concurrency`).
#[derive(Debug, Clone)]
pub struct LaneLimits {
    /// Attempts in flight to one endpoint.
    pub endpoint: usize,
    /// Attempts in flight for one tenant (doubled for endpoints with nothing in flight).
    pub tenant: usize,
    /// Deliveries waiting in memory, across all lanes.
    pub waiting_total: usize,
    /// Longest a delivery should wait in memory; beyond that estimate it is parked.
    pub wait_bound: Duration,
    /// The estimate of an attempt's duration before the lane has measured one.
    pub initial_estimate: Duration,
    /// Parking never exceeds this (the request timeout).
    pub max_park: Duration,
}

/// Most deliveries one lane keeps waiting in memory, however fast its endpoint.
const MAX_WAITING_PER_LANE: usize = 1_024;
/// Shortest park: long enough not to spin on a busy lane.
const MIN_PARK: Duration = Duration::from_millis(100);

/// Where a delivery goes in its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LaneKey<'a> {
    pub tenant: &'a str,
    pub endpoint: &'a str,
}

/// A running slot in a lane. Hand it back with [`Lanes::finish`] or [`Lanes::release`].
#[derive(Debug, PartialEq, Eq)]
pub struct LaneSlot {
    tenant: String,
    endpoint: String,
}

impl LaneSlot {
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// The answer to [`Lanes::offer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<T> {
    Run(LaneSlot, T),
    Waiting,
    Full(T),
    Duplicate(T),
}

/// What to do after a slot finished one delivery.
#[derive(Debug, PartialEq, Eq)]
pub struct Next<T> {
    /// Work to continue with on this or another slot (the slot moves with it).
    pub run: Option<(LaneSlot, T)>,
    /// Deliveries that no longer fit the lane's waiting estimate; park them.
    pub park: Vec<T>,
}

#[derive(Debug)]
struct Lane<T> {
    running: usize,
    waiting: VecDeque<(String, T)>,
    /// Moving average of attempt durations, in milliseconds.
    estimate_ms: f64,
    /// The next free place in the virtual queue of parked deliveries (Unix ms).
    park_clock_ms: i64,
}

impl<T> Lane<T> {
    fn new(estimate_ms: f64) -> Self {
        Self { running: 0, waiting: VecDeque::new(), estimate_ms, park_clock_ms: 0 }
    }
}

#[derive(Debug, Default)]
struct TenantShare {
    running: usize,
    waiting: usize,
}

#[derive(Debug)]
struct State<T> {
    lanes: HashMap<(String, String), Lane<T>>,
    tenants: HashMap<String, TenantShare>,
    /// The queue entries this worker holds, as (partition, entry id): stream entry ids
    /// are unique only within one partition's stream, and two tenants' entries written
    /// in the same millisecond share an id.
    held: HashSet<(String, String)>,
    waiting_total: usize,
}

/// All lanes of one worker process.
#[derive(Debug)]
pub struct Lanes<T> {
    limits: LaneLimits,
    state: Mutex<State<T>>,
}

impl<T> Lanes<T> {
    pub fn new(limits: LaneLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                lanes: HashMap::new(),
                tenants: HashMap::new(),
                held: HashSet::new(),
                waiting_total: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers one delivery (`entry` is its queue entry id in the tenant's partition).
    pub fn offer(&self, key: LaneKey<'_>, entry: &str, item: T) -> Offer<T> {
        let mut state = self.lock();
        let held = (key.tenant.to_owned(), entry.to_owned());
        if state.held.contains(&held) {
            return Offer::Duplicate(item);
        }
        let initial = self.limits.initial_estimate.as_secs_f64() * 1_000.0;
        let tenant_running = state.tenants.get(key.tenant).map_or(0, |share| share.running);
        let waiting_total = state.waiting_total;
        let lane_key = (key.tenant.to_owned(), key.endpoint.to_owned());
        let lane = state.lanes.entry(lane_key).or_insert_with(|| Lane::new(initial));
        let under_share = tenant_running < self.limits.tenant
            || (lane.running == 0 && tenant_running < self.limits.tenant.saturating_mul(2));
        if lane.waiting.is_empty() && lane.running < self.limits.endpoint.max(1) && under_share {
            lane.running += 1;
            state.tenants.entry(key.tenant.to_owned()).or_default().running += 1;
            state.held.insert(held);
            return Offer::Run(LaneSlot { tenant: key.tenant.to_owned(), endpoint: key.endpoint.to_owned() }, item);
        }
        let fits = lane.waiting.len() < self.allowed_waiting(lane.estimate_ms);
        if !fits || waiting_total >= self.limits.waiting_total {
            return Offer::Full(item);
        }
        lane.waiting.push_back((entry.to_owned(), item));
        state.tenants.entry(key.tenant.to_owned()).or_default().waiting += 1;
        state.held.insert(held);
        state.waiting_total += 1;
        Offer::Waiting
    }

    /// How many may wait in a lane whose attempts take `estimate_ms`: as many as the
    /// lane works off within `wait_bound`.
    fn allowed_waiting(&self, estimate_ms: f64) -> usize {
        let bound_ms = self.limits.wait_bound.as_secs_f64() * 1_000.0;
        let per_slot = (bound_ms / estimate_ms.max(1.0)).floor();
        let allowed = per_slot * self.limits.endpoint.max(1) as f64;
        (allowed as usize).min(MAX_WAITING_PER_LANE)
    }

    /// When a delivery of a full lane should come back (Unix ms). Each parked
    /// delivery takes the next place in a virtual queue behind the lane, one
    /// `estimate / endpoint` apart, so parked deliveries return about when the lane can
    /// take them rather than all at once. Never more than `max_park` ahead: past that,
    /// deliveries are spread over the last quarter of `max_park` by `draw` (uniform in
    /// `[0, 1)`) and parked again if the lane is still full when they return.
    pub fn park_due(&self, key: LaneKey<'_>, now_ms: i64, draw: f64) -> i64 {
        let mut state = self.lock();
        let initial = self.limits.initial_estimate.as_secs_f64() * 1_000.0;
        let lane =
            state.lanes.entry((key.tenant.to_owned(), key.endpoint.to_owned())).or_insert_with(|| Lane::new(initial));
        let max_park_ms = self.limits.max_park.max(MIN_PARK).as_millis() as i64;
        let step_ms = (lane.estimate_ms / self.limits.endpoint.max(1) as f64).max(1.0) as i64;
        let earliest = now_ms + (lane.estimate_ms as i64).max(MIN_PARK.as_millis() as i64);
        let due = lane.park_clock_ms.max(earliest);
        if due > now_ms + max_park_ms {
            lane.park_clock_ms = now_ms + max_park_ms;
            return now_ms + max_park_ms - (max_park_ms as f64 * 0.25 * draw.clamp(0.0, 1.0)) as i64;
        }
        lane.park_clock_ms = due + step_ms;
        due
    }

    /// The slot finished one delivery in `took` (`entry` is no longer held). Returns
    /// the next work for the slot: its lane's next waiting delivery, else another of
    /// the tenant's lanes that waited for the tenant's share; and whatever no longer
    /// fits the lane's waiting estimate.
    pub fn finish(&self, slot: LaneSlot, entry: &str, took: Option<Duration>) -> Next<T> {
        let mut state = self.lock();
        state.held.remove(&(slot.tenant.clone(), entry.to_owned()));
        let lane_key = (slot.tenant.clone(), slot.endpoint.clone());
        let mut parked = Vec::new();
        if let Some(lane) = state.lanes.get_mut(&lane_key) {
            if let Some(took) = took {
                lane.estimate_ms = 0.8 * lane.estimate_ms + 0.2 * took.as_secs_f64() * 1_000.0;
            }
            let allowed = self.allowed_waiting(lane.estimate_ms);
            while lane.waiting.len() > allowed {
                let Some(waiting) = lane.waiting.pop_back() else { break };
                parked.push(waiting);
            }
        }
        state.waiting_total -= parked.len();
        if let Some(share) = state.tenants.get_mut(&slot.tenant) {
            share.waiting -= parked.len();
        }
        let mut park = Vec::with_capacity(parked.len());
        for (entry, item) in parked {
            state.held.remove(&(slot.tenant.clone(), entry));
            park.push(item);
        }
        let run = Self::continue_lane(&mut state, slot);
        Next { run, park }
    }

    /// Hands a slot back without a next delivery (the breaker opened: the lane's
    /// waiting deliveries are returned to be parked too).
    pub fn release(&self, slot: LaneSlot, entry: &str) -> Vec<T> {
        let mut state = self.lock();
        state.held.remove(&(slot.tenant.clone(), entry.to_owned()));
        let lane_key = (slot.tenant.clone(), slot.endpoint.clone());
        let drained: Vec<(String, T)> =
            state.lanes.get_mut(&lane_key).map(|lane| lane.waiting.drain(..).collect()).unwrap_or_default();
        state.waiting_total -= drained.len();
        if let Some(share) = state.tenants.get_mut(&slot.tenant) {
            share.waiting -= drained.len();
        }
        let mut items = Vec::with_capacity(drained.len());
        for (entry, item) in drained {
            state.held.remove(&(slot.tenant.clone(), entry));
            items.push(item);
        }
        Self::free_slot(&mut state, &slot);
        items
    }

    fn continue_lane(state: &mut State<T>, slot: LaneSlot) -> Option<(LaneSlot, T)> {
        let lane_key = (slot.tenant.clone(), slot.endpoint.clone());
        if let Some((_entry, item)) = state.lanes.get_mut(&lane_key).and_then(|lane| lane.waiting.pop_front()) {
            // The entry stays held, now under the running slot, until `finish` names it.
            state.waiting_total -= 1;
            if let Some(share) = state.tenants.get_mut(&slot.tenant) {
                share.waiting -= 1;
            }
            return Some((slot, item));
        }
        Self::free_slot(state, &slot);
        // Another lane of the tenant may have been waiting for the tenant's share.
        let tenant_waits = state.tenants.get(&slot.tenant).is_some_and(|share| share.waiting > 0);
        if !tenant_waits {
            return None;
        }
        let other = state
            .lanes
            .iter_mut()
            .find(|((tenant, _), lane)| *tenant == slot.tenant && lane.running == 0 && !lane.waiting.is_empty())
            .map(|((_, endpoint), lane)| (endpoint.clone(), lane));
        let (endpoint, lane) = other?;
        let (_entry, item) = lane.waiting.pop_front()?;
        lane.running += 1;
        state.waiting_total -= 1;
        let share = state.tenants.entry(slot.tenant.clone()).or_default();
        share.waiting -= 1;
        share.running += 1;
        Some((LaneSlot { tenant: slot.tenant, endpoint }, item))
    }

    fn free_slot(state: &mut State<T>, slot: &LaneSlot) {
        let lane_key = (slot.tenant.clone(), slot.endpoint.clone());
        if let Some(lane) = state.lanes.get_mut(&lane_key) {
            lane.running = lane.running.saturating_sub(1);
        }
        if let Some(share) = state.tenants.get_mut(&slot.tenant) {
            share.running = share.running.saturating_sub(1);
        }
    }

    /// Empties every lane's waiting queue (shutdown: they are handed back).
    pub fn drain_waiting(&self) -> Vec<T> {
        let mut state = self.lock();
        let mut items = Vec::new();
        let mut entries = Vec::new();
        for ((tenant, _), lane) in state.lanes.iter_mut() {
            for (entry, item) in lane.waiting.drain(..) {
                entries.push((tenant.clone(), entry));
                items.push(item);
            }
        }
        for entry in entries {
            state.held.remove(&entry);
        }
        for share in state.tenants.values_mut() {
            share.waiting = 0;
        }
        state.waiting_total = 0;
        items
    }

    /// Attempts in flight (for tests and metrics).
    pub fn running(&self) -> usize {
        self.lock().tenants.values().map(|share| share.running).sum()
    }

    /// Deliveries waiting in memory.
    pub fn waiting(&self) -> usize {
        self.lock().waiting_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LaneLimits {
        LaneLimits {
            endpoint: 2,
            tenant: 3,
            waiting_total: 100,
            wait_bound: Duration::from_secs(10),
            initial_estimate: Duration::from_secs(5),
            max_park: Duration::from_secs(15),
        }
    }

    fn key<'a>(tenant: &'a str, endpoint: &'a str) -> LaneKey<'a> {
        LaneKey { tenant, endpoint }
    }

    fn run<T: std::fmt::Debug>(offer: Offer<T>) -> (LaneSlot, T) {
        match offer {
            Offer::Run(slot, item) => (slot, item),
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn an_endpoint_runs_its_limit_then_waits_then_is_full() {
        let lanes = Lanes::new(limits());
        let (slot, _) = run(lanes.offer(key("t", "e"), "1", 1));
        run(lanes.offer(key("t", "e"), "2", 2));
        // Estimate 5 s per attempt, bound 10 s, 2 slots: 4 may wait.
        for entry in 3..=6 {
            assert_eq!(lanes.offer(key("t", "e"), &entry.to_string(), entry), Offer::Waiting);
        }
        assert_eq!(lanes.offer(key("t", "e"), "7", 7), Offer::Full(7));
        assert_eq!(lanes.offer(key("t", "e"), "3", 3), Offer::Duplicate(3), "already held");
        // The finishing slot continues with the lane's oldest waiting delivery.
        let next = lanes.finish(slot, "1", None);
        assert_eq!(next.run.map(|(slot, item)| (slot.endpoint().to_owned(), item)), Some(("e".to_owned(), 3)));
        assert_eq!(lanes.running(), 2);
        assert_eq!(lanes.waiting(), 3);
    }

    #[test]
    fn the_same_entry_id_in_two_partitions_is_two_deliveries() {
        // Stream ids are per stream: tenants t and u both wrote entry 1700000000000-0.
        let lanes = Lanes::new(limits());
        let entry = "1700000000000-0";
        let (t_slot, _) = run(lanes.offer(key("t", "e"), entry, 1));
        let (u_slot, _) = run(lanes.offer(key("u", "e"), entry, 2));
        assert_eq!(lanes.offer(key("t", "e"), entry, 3), Offer::Duplicate(3), "t's entry is held once");
        // Waiting entries too: the same id queued behind both tenants' busy lanes.
        run(lanes.offer(key("t", "e"), "1700000000001-0", 4));
        run(lanes.offer(key("u", "e"), "1700000000001-0", 5));
        assert_eq!(lanes.offer(key("t", "e"), "1700000000002-0", 6), Offer::Waiting);
        assert_eq!(lanes.offer(key("u", "e"), "1700000000002-0", 7), Offer::Waiting);
        // Finishing t's entry frees t's hold only.
        let next = lanes.finish(t_slot, entry, None);
        assert_eq!(next.run.map(|(_, item)| item), Some(6));
        assert_eq!(lanes.offer(key("u", "e"), entry, 8), Offer::Duplicate(8), "u still holds its entry");
        let next = lanes.finish(u_slot, entry, None);
        assert_eq!(next.run.map(|(_, item)| item), Some(7));
        assert_eq!(lanes.waiting(), 0);
    }

    #[test]
    fn a_slow_lane_sheds_what_it_cannot_work_off() {
        let lanes = Lanes::new(limits());
        let (slot, _) = run(lanes.offer(key("t", "e"), "1", 1));
        run(lanes.offer(key("t", "e"), "2", 2));
        for entry in 3..=6 {
            assert_eq!(lanes.offer(key("t", "e"), &entry.to_string(), entry), Offer::Waiting);
        }
        // An attempt that hung for 30 s moves the estimate to 10 s: only 2 may wait.
        let next = lanes.finish(slot, "1", Some(Duration::from_secs(30)));
        assert_eq!(next.park, vec![6, 5]);
        assert_eq!(next.run.map(|(_, item)| item), Some(3));
        assert_eq!(lanes.offer(key("t", "e"), "6", 6), Offer::Waiting, "the parked entry is no longer held");
    }

    #[test]
    fn a_tenant_past_its_share_still_gets_one_slot_per_idle_endpoint() {
        let lanes = Lanes::new(limits());
        run(lanes.offer(key("t", "a"), "1", 1));
        run(lanes.offer(key("t", "a"), "2", 2));
        run(lanes.offer(key("t", "b"), "3", 3));
        // The tenant is at its share (3): endpoint b, busy, waits; idle c still runs.
        assert_eq!(lanes.offer(key("t", "b"), "4", 4), Offer::Waiting);
        run(lanes.offer(key("t", "c"), "5", 5));
        run(lanes.offer(key("t", "d"), "6", 6));
        run(lanes.offer(key("t", "e"), "7", 7));
        // At twice the share even an idle endpoint waits.
        assert_eq!(lanes.offer(key("t", "f"), "8", 8), Offer::Waiting);
        // Another tenant is not affected at all.
        run(lanes.offer(key("u", "a"), "9", 9));
        assert_eq!(lanes.running(), 7);
    }

    #[test]
    fn a_freed_tenant_slot_goes_to_a_lane_that_waited_for_the_share() {
        let lanes = Lanes::new(limits());
        let mut slots = Vec::new();
        for (entry, endpoint) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            slots.push(run(lanes.offer(key("t", endpoint), &entry.to_string(), entry)).0);
        }
        assert_eq!(lanes.offer(key("t", "g"), "9", 9), Offer::Waiting);
        let first = slots.remove(0);
        let next = lanes.finish(first, "0", None);
        let (slot, item) = next.run.expect("g takes the freed share");
        assert_eq!((slot.endpoint(), item), ("g", 9));
    }

    #[test]
    fn releasing_a_slot_returns_its_lanes_waiting_deliveries() {
        let lanes = Lanes::new(limits());
        let (slot, _) = run(lanes.offer(key("t", "e"), "1", 1));
        run(lanes.offer(key("t", "e"), "2", 2));
        assert_eq!(lanes.offer(key("t", "e"), "3", 3), Offer::Waiting);
        assert_eq!(lanes.release(slot, "1"), vec![3]);
        assert_eq!(lanes.waiting(), 0);
        assert_eq!(lanes.running(), 1);
    }

    #[test]
    fn parked_deliveries_queue_up_behind_the_lane_within_the_cap() {
        let lanes: Lanes<u32> = Lanes::new(limits());
        // Estimate 5 s, 2 slots: one place every 2.5 s, the first after 5 s.
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.0), 6_000);
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.0), 8_500);
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.0), 11_000);
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.0), 13_500);
        // The cap is 15 s ahead: beyond it, spread over its last quarter.
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.0), 16_000);
        assert_eq!(lanes.park_due(key("t", "e"), 1_000, 0.5), 16_000 - 1_875);
        // Time passes: the clock never puts a delivery before the estimate from now.
        assert_eq!(lanes.park_due(key("t", "e"), 100_000, 0.0), 105_000);
        // A fast lane parks briefly.
        let (slot, _) = run(lanes.offer(key("t", "f"), "1", 1));
        let _ = lanes.finish(slot, "1", Some(Duration::from_micros(10)));
        for _ in 0..40 {
            let (slot, _) = run(lanes.offer(key("t", "f"), "x", 0));
            let _ = lanes.finish(slot, "x", Some(Duration::from_micros(10)));
        }
        assert_eq!(lanes.park_due(key("t", "f"), 1_000, 0.0), 1_000 + MIN_PARK.as_millis() as i64);
    }
}
