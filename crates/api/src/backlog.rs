//! Per-tenant backlog caps: message creation is refused (`429 backlog_full`) while a
//! tenant has more deliveries waiting in Redis than its cap, or while its oldest ready
//! delivery has waited longer than its age cap.
//!
//! A request never waits on Redis for this: each API process keeps the last backlog it
//! read of every tenant that sent it messages lately, and a task reads them again once a
//! second (the same partition statistics `/metrics` reads). So a cap may be passed by
//! about a second's worth of messages, and a tenant's first message in a while is
//! admitted on no reading at all. A reading older than [`STALE`] (Redis away) counts
//! as none: ingest keeps working while Redis is down, as it does without caps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use herald_core::TenantId;
use herald_queue::{Partition, PartitionStats, Queue};

/// How often the backlogs of recent senders are read.
const REFRESH: Duration = Duration::from_secs(1);
/// A tenant that has not sent for this long is no longer read.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// A reading older than this is not used.
const STALE: Duration = Duration::from_secs(10);
/// What `Retry-After` says when a backlog is full: a backlog drains at the pace of its
/// receivers, so a client retrying sooner would mostly be refused again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The caps that apply to one tenant; `None` is no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub pending: Option<u64>,
    pub oldest_age: Option<Duration>,
}

impl Caps {
    /// The tenant's own caps (`0` is none), else the settings'.
    pub fn of(own_pending: Option<i64>, own_age_secs: Option<i64>, pending: u64, age: Option<Duration>) -> Self {
        let own_age = own_age_secs.map(|secs| Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
        Self {
            pending: Some(own_pending.map_or(pending, |own| u64::try_from(own).unwrap_or(0))).filter(|cap| *cap > 0),
            oldest_age: own_age.or(age).filter(|age| !age.is_zero()),
        }
    }

    fn any(&self) -> bool {
        self.pending.is_some() || self.oldest_age.is_some()
    }
}

/// Which cap a tenant is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// More deliveries waiting than the cap: how many.
    Pending(u64),
    /// The oldest ready delivery has waited longer than the cap: how long.
    OldestAge(Duration),
}

#[derive(Debug)]
struct Reading {
    pending: u64,
    oldest_entry_ms: Option<i64>,
    read_at: Instant,
}

#[derive(Debug)]
struct Sender {
    last_sent: Instant,
    reading: Option<Reading>,
}

/// The backlogs of the tenants that sent to this process lately.
#[derive(Debug, Default)]
pub struct Backlogs {
    senders: Mutex<HashMap<TenantId, Sender>>,
}

impl Backlogs {
    /// Starts reading the backlogs of recent senders from `queue` once a second, for as
    /// long as the returned value lives.
    pub fn start(queue: Queue) -> Arc<Self> {
        let backlogs = Arc::new(Self::default());
        tokio::spawn(refresh(Arc::downgrade(&backlogs), queue));
        backlogs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Sender>> {
        self.senders.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `tenant` may create a message under `caps`, on the last reading of its
    /// backlog; remembers it as a sender whose backlog is worth reading.
    pub fn check(&self, tenant: &TenantId, caps: Caps, now_ms: i64) -> Result<(), Over> {
        if !caps.any() {
            return Ok(());
        }
        let now = Instant::now();
        let mut senders = self.lock();
        let sender = senders.entry(tenant.clone()).or_insert(Sender { last_sent: now, reading: None });
        sender.last_sent = now;
        let Some(reading) = sender.reading.as_ref().filter(|reading| now.duration_since(reading.read_at) < STALE)
        else {
            return Ok(());
        };
        over(reading.pending, reading.oldest_entry_ms, caps, now_ms).map_or(Ok(()), Err)
    }

    /// The tenants to read, forgetting those that stopped sending.
    fn senders(&self) -> Vec<TenantId> {
        let now = Instant::now();
        let mut senders = self.lock();
        senders.retain(|_, sender| now.duration_since(sender.last_sent) < FORGET_AFTER);
        senders.keys().cloned().collect()
    }

    fn record(&self, tenant: &TenantId, stats: &PartitionStats) {
        if let Some(sender) = self.lock().get_mut(tenant) {
            sender.reading = Some(Reading {
                pending: stats.stream_length + stats.delayed,
                oldest_entry_ms: stats.oldest_entry_ms,
                read_at: Instant::now(),
            });
        }
    }
}

/// Which cap, if any, a backlog of `pending` deliveries whose oldest ready one was
/// queued at `oldest_entry_ms` is over at `now_ms`.
fn over(pending: u64, oldest_entry_ms: Option<i64>, caps: Caps, now_ms: i64) -> Option<Over> {
    if caps.pending.is_some_and(|cap| pending >= cap) {
        return Some(Over::Pending(pending));
    }
    let age = oldest_entry_ms.map(|at| Duration::from_millis(u64::try_from(now_ms - at).unwrap_or(0)));
    match (age, caps.oldest_age) {
        (Some(age), Some(cap)) if age > cap => Some(Over::OldestAge(age)),
        _ => None,
    }
}

async fn refresh(backlogs: Weak<Backlogs>, queue: Queue) {
    let mut ticks = tokio::time::interval(REFRESH);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(senders) = backlogs.upgrade().map(|backlogs| backlogs.senders()) else { return };
        for tenant in senders {
            match queue.partition_stats(&Partition::for_tenant(tenant.as_str())).await {
                Ok(stats) => match backlogs.upgrade() {
                    Some(backlogs) => backlogs.record(&tenant, &stats),
                    None => return,
                },
                Err(error) => {
                    // The readings go stale and stop counting; ingest goes on.
                    tracing::debug!(%error, "cannot read tenant backlogs");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u8) -> TenantId {
        TenantId::generate(1_700_000_000_000, [n; 10])
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_tenants_own_caps_win_over_the_settings_and_zero_is_none() {
        let setting = Caps::of(None, None, 1_000, Some(60 * SECOND));
        assert_eq!(setting, Caps { pending: Some(1_000), oldest_age: Some(60 * SECOND) });
        assert_eq!(Caps::of(Some(5), Some(2), 1_000, None), Caps { pending: Some(5), oldest_age: Some(2 * SECOND) });
        assert_eq!(Caps::of(Some(0), Some(0), 1_000, Some(SECOND)), Caps { pending: None, oldest_age: None });
        assert_eq!(Caps::of(None, None, 0, None), Caps { pending: None, oldest_age: None });
    }

    #[test]
    fn a_backlog_is_over_at_its_count_or_past_its_age() {
        let caps = Caps { pending: Some(10), oldest_age: Some(30 * SECOND) };
        let now = 1_000_000;
        assert_eq!(over(9, None, caps, now), None);
        assert_eq!(over(10, None, caps, now), Some(Over::Pending(10)), "the cap itself is full");
        assert_eq!(over(1, Some(now - 30_000), caps, now), None, "exactly the age is allowed");
        assert_eq!(over(1, Some(now - 31_000), caps, now), Some(Over::OldestAge(31 * SECOND)));
        assert_eq!(over(1, Some(now + 5_000), caps, now), None, "a clock ahead counts as no wait");
        let none = Caps { pending: None, oldest_age: None };
        assert_eq!(over(u64::MAX, Some(0), none, now), None);
    }

    #[test]
    fn only_a_fresh_reading_of_a_recent_sender_refuses() {
        let backlogs = Backlogs::default();
        let caps = Caps { pending: Some(10), oldest_age: None };
        assert_eq!(backlogs.check(&tenant(1), caps, 0), Ok(()), "no reading yet: admitted");
        assert_eq!(backlogs.senders(), vec![tenant(1)], "and now worth reading");
        let full = PartitionStats { stream_length: 6, oldest_entry_ms: Some(0), delayed: 4 };
        backlogs.record(&tenant(1), &full);
        backlogs.record(&tenant(2), &full);
        assert_eq!(backlogs.check(&tenant(1), caps, 0), Err(Over::Pending(10)), "stream and parked together");
        assert_eq!(backlogs.check(&tenant(2), caps, 0), Ok(()), "a tenant that never sent was not recorded");
        let no_caps = Caps { pending: None, oldest_age: None };
        assert_eq!(backlogs.check(&tenant(1), no_caps, 0), Ok(()));
        backlogs.lock().get_mut(&tenant(1)).unwrap().reading.as_mut().unwrap().read_at -= STALE;
        assert_eq!(backlogs.check(&tenant(1), caps, 0), Ok(()), "a stale reading is none");
    }
}
