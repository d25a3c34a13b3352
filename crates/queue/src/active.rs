//! The indexes that make a worker's work proportional to the partitions with work,
//! and worker liveness.
//!
//! - **Ready** ([`KeyLayout::ready`]): partitions whose stream may hold unread
//!   entries. Every append is followed by an `SADD`; a reader that finds a partition
//!   empty removes it and reads once more, so an append racing the removal is never
//!   stranded (the append happened before the second read, or its `SADD` after the
//!   removal).
//! - **Due** ([`KeyLayout::due`]): partitions with parked deliveries, scored by the
//!   earliest due time (of a retry, or of a wake of deliveries waiting for an endpoint:
//!   `crate::waiting`). A park lowers the score (`ZADD … LT`) *after* its delayed
//!   member is written. A promoter claims a due partition by pushing its score one
//!   claim period ahead, promotes, then sets the score to the next due time only if it
//!   is still its claim; a park in between lowered it, and then only `LT` applies. A
//!   promoter that dies mid-way leaves the claim, which comes due again after
//!   [`PROMOTE_CLAIM`].
//! - **Signal** ([`KeyLayout::signal`]): idle readers block on it, so new work wakes
//!   them without polling.
//! - **Workers** and **held** ([`KeyLayout::workers`], [`KeyLayout::held`]): each
//!   worker renews a lease and lists the partitions where it may hold entries. When a
//!   lease lapses, one survivor hands every entry the dead worker held back to its
//!   stream at once.
//!
//! The indexes are hints kept beside the partitions' own keys, in other slots: a
//! failover that loses a master's last writes, or an error between an append and its
//! `SADD`, can leave a partition with work that no index lists. The reconciler finds
//! such partitions through the database (deliveries overdue that Redis still tracks)
//! and lists them again ([`Queue::reindex`]).
//!
//! Every command touches one key or keys of one partition (one Cluster slot), and two
//! steps whose order matters are separate round trips rather than one pipeline, since
//! a Cluster pipeline may reach different nodes in any order.

use std::time::Duration;

use redis::{AsyncCommands, Script};

use crate::conn::SlotBatch;
use crate::keys::{Partition, CONSUMER_GROUP};
use crate::queue::Queue;
use crate::waiting::Wake;
use crate::QueueResult;

/// How far ahead a promoter pushes a due partition's score while it promotes it.
pub const PROMOTE_CLAIM: Duration = Duration::from_secs(30);
/// Partitions a promoter claims per round trip.
const PROMOTE_PARTITIONS: usize = 100;
/// Entries handed back per script run when a worker is taken over.
const REQUEUE_BATCH: usize = 500;
/// Entries the signal stream keeps; readers only need the newest.
const SIGNAL_LENGTH: usize = 64;

/// Claims up to ARGV[3] partitions due by ARGV[1], scoring each ARGV[2] (the claim).
/// KEYS: due.
const CLAIM_DUE_SCRIPT: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, partition in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], partition)
end
return due
";

/// After promoting: if the partition still carries this promoter's claim (ARGV[2]),
/// score it with the next due time ARGV[3] or remove it when nothing is parked (-1);
/// otherwise a park lowered it meanwhile, and only a lower next due time applies.
/// KEYS: due. ARGV: partition, claim, next.
const SETTLE_DUE_SCRIPT: &str = r"
local next = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  if next < 0 then
    redis.call('ZREM', KEYS[1], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], next, ARGV[1])
  end
elseif next >= 0 then
  redis.call('ZADD', KEYS[1], 'LT', next, ARGV[1])
end
return 1
";

/// Hands back up to ARGV[3] entries pending for consumer ARGV[2] for at least ARGV[4]
/// ms: acknowledges and deletes each, and appends its fields again as a new entry.
/// Returns how many pending entries it looked at (0 when none are left).
/// KEYS: stream. ARGV: group, consumer, count, min idle ms.
const REQUEUE_SCRIPT: &str = r"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', tonumber(ARGV[4]), '-', '+', tonumber(ARGV[3]), ARGV[2])
for _, item in ipairs(pending) do
  local id = item[1]
  local entry = redis.call('XRANGE', KEYS[1], id, id)
  redis.call('XACK', KEYS[1], ARGV[1], id)
  if entry[1] then
    redis.call('XDEL', KEYS[1], id)
    redis.call('XADD', KEYS[1], '*', unpack(entry[1][2]))
  end
end
return #pending
";

/// The scripts of this module, compiled once per [`Queue`].
#[derive(Clone)]
pub(crate) struct ActiveScripts {
    claim_due: Script,
    settle_due: Script,
    requeue: Script,
}

impl Default for ActiveScripts {
    fn default() -> Self {
        Self {
            claim_due: Script::new(CLAIM_DUE_SCRIPT),
            settle_due: Script::new(SETTLE_DUE_SCRIPT),
            requeue: Script::new(REQUEUE_SCRIPT),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Queue {
    /// Announces that these partitions' streams have new entries: adds them to the
    /// ready set and wakes idle readers. Call after the appends have returned.
    pub(crate) async fn announce_ready<'a>(&self, partitions: impl IntoIterator<Item = &'a str>) -> QueueResult<()> {
        let mut names: Vec<&str> = partitions.into_iter().collect();
        if names.is_empty() {
            return Ok(());
        }
        names.sort_unstable();
        names.dedup();
        let mut signal = redis::cmd("XADD");
        signal.arg(self.keys.signal()).arg("MAXLEN").arg("~").arg(SIGNAL_LENGTH).arg("*").arg("w").arg(1);
        let mut conn = self.conn.clone();
        if conn.is_cluster() {
            // Two slots: the signal must not overtake the ready set.
            let _: () = conn.sadd(self.keys.ready(), names).await?;
            let _: () = signal.query_async(&mut conn).await?;
        } else {
            let _: () = redis::pipe()
                .sadd(self.keys.ready(), names)
                .ignore()
                .add_command(signal)
                .ignore()
                .query_async(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Records that partitions have deliveries parked until `due_ms` (or later): lowers
    /// each partition's due score to its earliest. Call after the parks have returned.
    pub(crate) async fn announce_due<'a>(&self, parked: impl IntoIterator<Item = (&'a str, i64)>) -> QueueResult<()> {
        let mut earliest: std::collections::BTreeMap<&str, i64> = Default::default();
        for (partition, due_ms) in parked {
            let entry = earliest.entry(partition).or_insert(due_ms);
            *entry = (*entry).min(due_ms);
        }
        if earliest.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys.due()).arg("LT");
        for (partition, due_ms) in earliest {
            cmd.arg(due_ms).arg(partition);
        }
        let mut conn = self.conn.clone();
        let _: () = cmd.query_async(&mut conn).await?;
        Ok(())
    }

    /// Lists partitions in the ready and due indexes again, for partitions that have
    /// work the indexes may have lost: a reader then reads each stream once (and retires
    /// it if nothing is there), and a promoter looks at each delayed and waiting set at
    /// once and sets its true next due time (or drops it). Harmless when nothing was
    /// lost: one read and one look per partition.
    pub async fn reindex(&self, partitions: &[Partition]) -> QueueResult<()> {
        let now = now_ms();
        self.announce_due(partitions.iter().map(|partition| (partition.name(), now))).await?;
        self.announce_ready(partitions.iter().map(Partition::name)).await
    }

    /// The partitions whose streams may hold unread entries.
    pub async fn ready_partitions(&self) -> QueueResult<Vec<Partition>> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = conn.smembers(self.keys.ready()).await?;
        names.sort_unstable();
        Ok(names.into_iter().map(Partition::from_name).collect())
    }

    /// Every partition that has work in Redis: ready to read, parked for later, or
    /// held by a live worker. What `/metrics` reports on; never the idle ones.
    pub async fn active_partitions(&self) -> QueueResult<Vec<Partition>> {
        let mut conn = self.conn.clone();
        let mut batch = SlotBatch::default();
        batch.add(&self.keys.ready(), redis::Cmd::smembers(self.keys.ready()));
        batch.add(&self.keys.due(), redis::Cmd::zrange(self.keys.due(), 0, -1));
        batch.add(&self.keys.workers(), redis::Cmd::zrange(self.keys.workers(), 0, -1));
        let (ready, due, workers): (Vec<String>, Vec<String>, Vec<String>) =
            redis::from_redis_value(redis::Value::Array(batch.query(&conn).await?)).map_err(redis::RedisError::from)?;
        let mut names: std::collections::BTreeSet<String> = ready.into_iter().chain(due).collect();
        for worker in workers {
            let held: Vec<String> = conn.smembers(self.keys.held(&worker)).await?;
            names.extend(held);
        }
        Ok(names.into_iter().map(Partition::from_name).collect())
    }

    /// Promotes due retries in every partition whose earliest retry or wake is due, at
    /// most `limit` retries per partition, and releases waiting deliveries of endpoints
    /// whose wake time has passed (see [`crate::Wake`]). Returns how many moved.
    /// Partitions with nothing due are not touched: an idle installation costs one
    /// command per call.
    pub async fn promote_due_partitions(&self, limit: usize, wake: Wake) -> QueueResult<usize> {
        let mut moved_total = 0;
        loop {
            let now = now_ms();
            let claim = now + PROMOTE_CLAIM.as_millis() as i64;
            let mut conn = self.conn.clone();
            let claimed: Vec<String> = self
                .active
                .claim_due
                .key(self.keys.due())
                .arg(now)
                .arg(claim)
                .arg(PROMOTE_PARTITIONS)
                .invoke_async(&mut conn)
                .await?;
            let mut promoted = Vec::new();
            for name in &claimed {
                let partition = Partition::from_name(name.clone());
                let (retries, next_retry) = self.promote_partition(&partition, now, limit).await?;
                let (woken, next_wake) = self.wake_partition(&partition, now, wake).await?;
                let moved = retries + woken;
                let next = match (next_retry, next_wake) {
                    (Some(retry), Some(wake)) => Some(retry.min(wake)),
                    (retry, wake) => retry.or(wake),
                };
                if moved > 0 {
                    promoted.push(name.as_str());
                    moved_total += moved;
                }
                let _: () = self
                    .active
                    .settle_due
                    .key(self.keys.due())
                    .arg(name)
                    .arg(claim)
                    .arg(next.unwrap_or(-1))
                    .invoke_async(&mut conn)
                    .await?;
            }
            self.announce_ready(promoted).await?;
            if claimed.len() < PROMOTE_PARTITIONS {
                return Ok(moved_total);
            }
        }
    }

    /// Hands back to the stream every entry pending for `consumer` in `partition` for at
    /// least `min_idle`, so any worker can take it now. Returns how many.
    pub async fn requeue_pending(
        &self,
        partition: &Partition,
        consumer: &str,
        min_idle: Duration,
    ) -> QueueResult<usize> {
        let mut conn = self.conn.clone();
        let mut total = 0;
        loop {
            let result: Result<usize, redis::RedisError> = self
                .active
                .requeue
                .key(self.keys.stream(partition))
                .arg(CONSUMER_GROUP)
                .arg(consumer)
                .arg(REQUEUE_BATCH)
                .arg(min_idle.as_millis() as u64)
                .invoke_async(&mut conn)
                .await;
            let looked = match result {
                Ok(looked) => looked,
                // No group: Redis lost the stream, and with it anything pending.
                Err(error) if error.code() == Some("NOGROUP") => 0,
                Err(error) => return Err(error.into()),
            };
            total += looked;
            if looked < REQUEUE_BATCH {
                break;
            }
        }
        if total > 0 {
            self.announce_ready([partition.name()]).await?;
        }
        Ok(total)
    }

    /// Whether `consumer` holds any unacknowledged entry in `partition`.
    pub async fn holds_pending(&self, partition: &Partition, consumer: &str) -> QueueResult<bool> {
        let mut conn = self.conn.clone();
        let reply: Result<redis::Value, redis::RedisError> = redis::cmd("XPENDING")
            .arg(self.keys.stream(partition))
            .arg(CONSUMER_GROUP)
            .arg("-")
            .arg("+")
            .arg(1)
            .arg(consumer)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok(redis::Value::Array(items)) => Ok(!items.is_empty()),
            Ok(_) => Ok(false),
            Err(error) if error.code() == Some("NOGROUP") => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Records that `consumer` may hold entries in these partitions (before it reads them).
    pub async fn note_held(&self, consumer: &str, partitions: &[Partition]) -> QueueResult<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = partitions.iter().map(Partition::name).collect();
        let mut conn = self.conn.clone();
        let _: () = conn.sadd(self.keys.held(consumer), names).await?;
        Ok(())
    }

    /// Records that `consumer` holds nothing in `partition` any more.
    pub async fn forget_held(&self, consumer: &str, partition: &Partition) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.srem(self.keys.held(consumer), partition.name()).await?;
        Ok(())
    }

    /// Renews `consumer`'s lease for `lease`: until it lapses, nobody takes its entries.
    pub async fn renew_lease(&self, consumer: &str, lease: Duration) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let until = now_ms() + lease.as_millis() as i64;
        let _: () = conn.zadd(self.keys.workers(), consumer, until).await?;
        Ok(())
    }

    /// Gives up `consumer`'s lease now (a worker that stops): whatever it still holds
    /// is taken over by the next survivor's pass instead of after the lease.
    pub async fn give_up_lease(&self, consumer: &str) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.zadd(self.keys.workers(), consumer, 0).await?;
        Ok(())
    }

    /// Workers whose lease has lapsed.
    pub async fn lapsed_workers(&self) -> QueueResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(conn.zrangebyscore_limit(self.keys.workers(), "-inf", now_ms(), 0, 16).await?)
    }

    /// Takes over the lapsed worker `dead` on behalf of `me`: hands every entry it held
    /// back to its stream, then forgets it. One survivor at a time does this (a lease
    /// on the takeover); `None` when another one is at it. Returns how many entries
    /// per partition.
    pub async fn take_over(&self, dead: &str, me: &str) -> QueueResult<Option<Vec<(Partition, usize)>>> {
        let job = format!("takeover:{dead}");
        if !self.try_lease(&job, me, Duration::from_secs(60)).await? {
            return Ok(None);
        }
        let mut conn = self.conn.clone();
        let partitions: Vec<String> = conn.smembers(self.keys.held(dead)).await?;
        let mut handed_back = Vec::new();
        for name in partitions {
            let partition = Partition::from_name(name);
            let count = self.requeue_pending(&partition, dead, Duration::ZERO).await?;
            let forgotten: Result<i64, redis::RedisError> = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(self.keys.stream(&partition))
                .arg(CONSUMER_GROUP)
                .arg(dead)
                .query_async(&mut conn)
                .await;
            if let Some(error) = forgotten.as_ref().err().filter(|error| error.code() != Some("NOGROUP")) {
                tracing::warn!(%error, "cannot remove a dead worker's consumer");
            }
            handed_back.push((partition, count));
        }
        // Forget it only if it did not come back meanwhile (a pause, not a death).
        let score: Option<f64> = conn.zscore(self.keys.workers(), dead).await?;
        if score.is_some_and(|until| (until as i64) <= now_ms()) {
            let _: () = conn.zrem(self.keys.workers(), dead).await?;
            let _: () = conn.del(self.keys.held(dead)).await?;
        }
        let _: () = conn.del(self.keys.lease(&job)).await?;
        Ok(Some(handed_back))
    }
}
