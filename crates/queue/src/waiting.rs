//! Deliveries waiting for one busy endpoint, so that a backlog behind a slow, hanging
//! or broken endpoint costs Redis work as the endpoint takes deliveries, not in
//! proportion to its size.
//!
//! A worker that cannot run a delivery now (the endpoint's lane is full, or its
//! breaker is open) moves the entry from the stream to the endpoint's waiting set
//! ([`KeyLayout::waiting`], oldest first) and notes when the endpoint should be looked
//! at again in the partition's wake index ([`KeyLayout::wakes`]); the partition's due
//! score is lowered to that time as for a retry. Waiting deliveries come back to the
//! stream two ways:
//!
//! - **Room in a lane.** A worker whose lane for the endpoint has room releases as many
//!   as it can take ([`Queue::release_waiting`]). Released entries carry the field `w`,
//!   so whichever worker runs one knows the endpoint has more waiting and releases more
//!   when its lane has room: a recovered endpoint drains its backlog at its own pace.
//! - **The wake time.** The promoter releases [`Wake::batch`] of them and sets the next
//!   wake [`Wake::interval`] later, so a set no lane releases (its workers died, or the
//!   breaker is open and its probe has to come from somewhere) still moves, one batch
//!   per interval.
//!
//! Nothing cycles: a delivery that waits is touched again only when it is released.
//! The delivery stays in the partition's `tracked` hash throughout, so the reconciler
//! leaves it alone.

use std::time::Duration;

use redis::Script;

use crate::keys::{Partition, CONSUMER_GROUP};
use crate::queue::{Queue, ReceivedDelivery};
use crate::QueueResult;

/// How the promoter releases waiting deliveries nobody released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// Deliveries released per endpoint at each wake (a worker's lane for the endpoint
    /// takes about this many at once).
    pub batch: usize,
    /// How long after a wake the next one is, while deliveries still wait.
    pub interval: Duration,
}

/// Move an entry from the stream to its endpoint's waiting set, keep it tracked, and
/// note the endpoint's wake time (the earlier one, if it has one already).
/// KEYS: stream, waiting, tracked, wakes. ARGV: group, entry id, delivery id, n,
/// endpoint id, now ms, wake ms.
const WAIT_SCRIPT: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[6], ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[5])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], 'LT', ARGV[7], ARGV[5])
return 1
";

/// Move up to ARGV[2] of the oldest waiting deliveries to the stream, marked `w`. When
/// none are left, forget the endpoint's wake; otherwise set it to ARGV[3] unless that
/// is -1. Returns how many moved. A member is `<delivery>:<n>:<endpoint>`.
/// KEYS: waiting, stream, wakes. ARGV: endpoint id, count, next wake ms.
const RELEASE_WAITING_SCRIPT: &str = r"
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
local moved = 0
for i = 1, #popped, 2 do
  local member = popped[i]
  local first = string.find(member, ':', 1, true)
  if first then
    local delivery = string.sub(member, 1, first - 1)
    local rest = string.sub(member, first + 1)
    local second = string.find(rest, ':', 1, true)
    if second then
      redis.call('XADD', KEYS[2], '*', 'd', delivery, 'n', string.sub(rest, 1, second - 1),
        'e', string.sub(rest, second + 1), 'w', '1')
      moved = moved + 1
    end
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
elseif tonumber(ARGV[3]) >= 0 then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return moved
";

/// Wake-ups per promoter pass and partition; the rest come due on the next pass.
const WAKES_PER_PASS: usize = 100;

/// The scripts of this module, compiled once per [`Queue`].
#[derive(Clone)]
pub(crate) struct WaitingScripts {
    wait: Script,
    release: Script,
}

impl Default for WaitingScripts {
    fn default() -> Self {
        Self { wait: Script::new(WAIT_SCRIPT), release: Script::new(RELEASE_WAITING_SCRIPT) }
    }
}

impl Queue {
    /// Moves a received delivery to its endpoint's waiting set (attempt count
    /// unchanged), to be released when a lane for the endpoint has room, or at
    /// `wake_unix_ms` at the latest (a few at a time from then on).
    pub async fn wait_for_endpoint(&self, received: &ReceivedDelivery, wake_unix_ms: i64) -> QueueResult<()> {
        let partition = &received.partition;
        let delivery = &received.delivery;
        let mut conn = self.conn.clone();
        let _: () = self
            .waiting
            .wait
            .key(self.keys.stream(partition))
            .key(self.keys.waiting(partition, &delivery.endpoint_id))
            .key(self.keys.tracked(partition))
            .key(self.keys.wakes(partition))
            .arg(CONSUMER_GROUP)
            .arg(&received.entry_id)
            .arg(&delivery.delivery_id)
            .arg(delivery.attempts_made)
            .arg(&delivery.endpoint_id)
            .arg(chrono::Utc::now().timestamp_millis())
            .arg(wake_unix_ms)
            .invoke_async(&mut conn)
            .await?;
        // After the script, as for a retry: the due index must never miss a wake.
        self.announce_due([(partition.name(), wake_unix_ms)]).await
    }

    /// Moves up to `count` of the deliveries waiting for `endpoint_id` back to the
    /// stream (oldest first) and announces them. Returns how many moved: fewer than
    /// `count` means none are left.
    pub async fn release_waiting(&self, partition: &Partition, endpoint_id: &str, count: usize) -> QueueResult<usize> {
        let moved = self.release_waiting_with_wake(partition, endpoint_id, count, -1).await?;
        if moved > 0 {
            self.announce_ready([partition.name()]).await?;
        }
        Ok(moved)
    }

    async fn release_waiting_with_wake(
        &self,
        partition: &Partition,
        endpoint_id: &str,
        count: usize,
        next_wake_ms: i64,
    ) -> QueueResult<usize> {
        if count == 0 {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        Ok(self
            .waiting
            .release
            .key(self.keys.waiting(partition, endpoint_id))
            .key(self.keys.stream(partition))
            .key(self.keys.wakes(partition))
            .arg(endpoint_id)
            .arg(count)
            .arg(next_wake_ms)
            .invoke_async(&mut conn)
            .await?)
    }

    /// Releases a batch for every endpoint of `partition` whose wake time has passed,
    /// and sets each one's next wake. Returns how many moved and the earliest wake
    /// left (`None` when nothing waits).
    pub(crate) async fn wake_partition(
        &self,
        partition: &Partition,
        now_unix_ms: i64,
        wake: Wake,
    ) -> QueueResult<(usize, Option<i64>)> {
        let mut conn = self.conn.clone();
        let wakes = self.keys.wakes(partition);
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&wakes)
            .arg("-inf")
            .arg(now_unix_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(WAKES_PER_PASS)
            .query_async(&mut conn)
            .await?;
        let next_wake = now_unix_ms + wake.interval.as_millis() as i64;
        let mut moved = 0;
        for endpoint in &due {
            moved += self.release_waiting_with_wake(partition, endpoint, wake.batch.max(1), next_wake).await?;
        }
        let earliest: Vec<(String, f64)> =
            redis::cmd("ZRANGE").arg(&wakes).arg(0).arg(0).arg("WITHSCORES").query_async(&mut conn).await?;
        Ok((moved, earliest.first().map(|(_, score)| *score as i64)))
    }

    /// How many deliveries wait for some endpoint of `partition` (for metrics: one
    /// command per endpoint that has any).
    pub(crate) async fn waiting_count(&self, partition: &Partition) -> QueueResult<u64> {
        let mut conn = self.conn.clone();
        let endpoints: Vec<String> =
            redis::cmd("ZRANGE").arg(self.keys.wakes(partition)).arg(0).arg(-1).query_async(&mut conn).await?;
        if endpoints.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for endpoint in &endpoints {
            pipe.zcard(self.keys.waiting(partition, endpoint));
        }
        let sizes: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(sizes.iter().sum())
    }
}
