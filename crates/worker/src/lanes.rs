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
//! - **Full**: the caller moves the delivery to its endpoint's waiting set in Redis
//!   (attempt count unchanged), so the partition reader never waits on one endpoint.
//!   The lane remembers that deliveries wait there; when it has room again (nothing
//!   waiting in memory), [`Next::release`] says how many to bring back.
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
}

/// Most deliveries one lane keeps waiting in memory, however fast its endpoint.
const MAX_WAITING_PER_LANE: usize = 1_024;

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
    /// How many of the deliveries waiting for the finished slot's endpoint in Redis
    /// to bring back: as many as its lane can run and keep waiting, once nothing waits
    /// in memory; 0 when none are known to wait.
    pub release: usize,
}

#[derive(Debug)]
struct Lane<T> {
    running: usize,
    waiting: VecDeque<(String, T)>,
    /// Moving average of attempt durations, in milliseconds.
    estimate_ms: f64,
    /// Deliveries of this endpoint may wait in its Redis waiting set.
    more_in_redis: bool,
}

impl<T> Lane<T> {
    fn new(estimate_ms: f64) -> Self {
        Self { running: 0, waiting: VecDeque::new(), estimate_ms, more_in_redis: false }
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

    /// Notes that deliveries of this endpoint wait in Redis (this worker parked one
    /// there, or ran one released from there).
    pub fn note_waiting_in_redis(&self, key: LaneKey<'_>) {
        let mut state = self.lock();
        let initial = self.limits.initial_estimate.as_secs_f64() * 1_000.0;
        let lane =
            state.lanes.entry((key.tenant.to_owned(), key.endpoint.to_owned())).or_insert_with(|| Lane::new(initial));
        lane.more_in_redis = true;
    }

    /// Notes that a release found fewer deliveries than it asked for: none are left.
    pub fn note_none_waiting_in_redis(&self, key: LaneKey<'_>) {
        if let Some(lane) = self.lock().lanes.get_mut(&(key.tenant.to_owned(), key.endpoint.to_owned())) {
            lane.more_in_redis = false;
        }
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
        let mut release = 0;
        if let Some(lane) = state.lanes.get_mut(&lane_key) {
            if let Some(took) = took {
                lane.estimate_ms = 0.8 * lane.estimate_ms + 0.2 * took.as_secs_f64() * 1_000.0;
            }
            let allowed = self.allowed_waiting(lane.estimate_ms);
            while lane.waiting.len() > allowed {
                let Some(waiting) = lane.waiting.pop_back() else { break };
                parked.push(waiting);
            }
            if lane.more_in_redis && lane.waiting.is_empty() {
                // This slot frees up: room for it, the other free slots and the waiting allowance.
                let free = self.limits.endpoint.max(1).saturating_sub(lane.running.saturating_sub(1));
                release = free + allowed;
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
        Next { run, park, release }
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
    fn a_lane_with_deliveries_waiting_in_redis_asks_for_what_it_can_take_once_its_memory_is_empty() {
        let lanes = Lanes::new(limits());
        let (first, _) = run(lanes.offer(key("t", "e"), "1", 1));
        let (second, _) = run(lanes.offer(key("t", "e"), "2", 2));
        assert_eq!(lanes.offer(key("t", "e"), "3", 3), Offer::Waiting);
        let next = lanes.finish(first, "1", None);
        assert_eq!(next.release, 0, "nothing is known to wait in Redis");
        let (first, _) = next.run.expect("3 runs next");
        lanes.note_waiting_in_redis(key("t", "e"));
        // Estimate 5 s, bound 10 s, 2 slots: 4 may wait in memory; one slot frees up.
        let next = lanes.finish(first, "3", None);
        assert_eq!((next.run.is_none(), next.release), (true, 1 + 4));
        // An endpoint that hangs: nothing may wait in memory, only the freed slot is asked for.
        let next = lanes.finish(second, "2", Some(Duration::from_secs(600)));
        assert_eq!(next.release, 2, "both slots are free, and nothing may wait");
        lanes.note_none_waiting_in_redis(key("t", "e"));
        let (slot, _) = run(lanes.offer(key("t", "e"), "4", 4));
        assert_eq!(lanes.finish(slot, "4", None).release, 0, "the waiting set was drained");
    }
}
