//! The queue operations: enqueue, read, acknowledge, retry later, hand back, reclaim,
//! promote due retries, and the reconciler's "does Redis know this delivery?".

use std::sync::LazyLock;
use std::time::Duration;

use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script};

use crate::conn::{answered, Connector, RedisConnection, SlotBatch};
use crate::keys::{KeyLayout, Partition, CONSUMER_GROUP};
use crate::script::{Invocation, LuaScript};
use crate::{QueueError, QueueResult};

/// How to reach Redis and which keys to use.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub redis_url: String,
    /// Prefix of every key (see [`KeyLayout`]).
    pub prefix: String,
    /// How long one command may take before it fails.
    pub command_timeout: Duration,
    /// The CA certificate (PEM) that signed the server's certificate, for `rediss://`
    /// with a private CA; `None` trusts the system's roots.
    pub tls_ca: Option<Vec<u8>>,
}

/// One delivery as queued: its id, how many attempts were made before this one, and
/// the endpoint it goes to (so the worker can put it in that endpoint's lane before
/// touching the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDelivery {
    pub delivery_id: String,
    pub attempts_made: u32,
    pub endpoint_id: String,
}

/// What to do with a received delivery once its attempt is on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Done with it for good.
    Ack,
    /// Park it until `due_unix_ms`, with `attempts_made` attempts behind it.
    RetryLater { attempts_made: u32, due_unix_ms: i64 },
}

/// What a partition holds right now, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStats {
    /// Entries in the stream: queued, or read and not yet acknowledged.
    pub stream_length: u64,
    /// When the oldest of them was added (Unix ms); `None` when the stream is empty.
    pub oldest_entry_ms: Option<i64>,
    /// Deliveries parked: retries in the delayed set, and deliveries waiting for a
    /// busy endpoint (see `crate::waiting`).
    pub delayed: u64,
}

/// A delivery handed to this consumer, with what is needed to acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedDelivery {
    pub partition: Partition,
    /// The stream entry id, for `XACK`.
    pub entry_id: String,
    pub delivery: QueuedDelivery,
    /// Released from its endpoint's waiting set: more may be waiting there.
    pub waited: bool,
}

/// Acknowledge and delete an entry; forget the delivery unless it was re-queued meanwhile.
/// KEYS: stream, tracked. ARGV: group, entry id, delivery id, n.
const ACK_SCRIPT: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[4] then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return 1
";

/// Acknowledge an entry and park its delivery in the delayed set until it is due.
/// KEYS: stream, delayed, tracked. ARGV: group, entry id, delivery id, new n, due ms, endpoint id.
const RETRY_LATER_SCRIPT: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[6])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return 1
";

/// Hand an entry back: acknowledge it and append it again, so any worker can take it now.
/// KEYS: stream. ARGV: group, entry id, delivery id, n, endpoint id.
const RELEASE_SCRIPT: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'd', ARGV[3], 'n', ARGV[4], 'e', ARGV[5])
return 1
";

/// Move due members of the delayed set to the stream. Atomic, so any number of
/// workers may run it at once without moving a delivery twice. A member is
/// `<delivery>:<n>:<endpoint>` (ids hold no colon); a member of another form is
/// dropped (the database still has its delivery, for the reconciler). Returns how
/// many moved and the earliest due time left (-1 when the set is empty).
/// KEYS: delayed, stream. ARGV: now ms, limit.
const PROMOTE_SCRIPT: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local delivery, n, endpoint = string.match(member, '^([^:]+):([^:]+):([^:]+)$')
  if delivery then
    redis.call('XADD', KEYS[2], '*', 'd', delivery, 'n', n, 'e', endpoint)
  end
  redis.call('ZREM', KEYS[1], member)
end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next[2] then
  return {#due, tonumber(next[2])}
end
return {#due, -1}
";

static ACK: LazyLock<LuaScript> = LazyLock::new(|| LuaScript::new(ACK_SCRIPT));
static RETRY_LATER: LazyLock<LuaScript> = LazyLock::new(|| LuaScript::new(RETRY_LATER_SCRIPT));

/// A handle on the queue for short, non-blocking commands. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pub(crate) keys: KeyLayout,
    connector: Connector,
    pub(crate) conn: RedisConnection,
    command_timeout: Duration,
    release: Script,
    promote: Script,
    pub(crate) active: crate::active::ActiveScripts,
    pub(crate) waiting: crate::waiting::WaitingScripts,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Queue {
    pub async fn connect(config: &QueueConfig) -> QueueResult<Self> {
        let keys = KeyLayout::new(&config.prefix)?;
        let connector = Connector::new(&config.redis_url, config.tls_ca.as_deref())?;
        let conn = connector.connect(config.command_timeout).await?;
        Ok(Self {
            keys,
            connector,
            conn,
            command_timeout: config.command_timeout,
            release: Script::new(RELEASE_SCRIPT),
            promote: Script::new(PROMOTE_SCRIPT),
            active: Default::default(),
            waiting: Default::default(),
        })
    }

    pub fn keys(&self) -> &KeyLayout {
        &self.keys
    }

    /// A reader with its own connection: waiting for work must not hold up the
    /// acknowledgements that share `conn`.
    pub async fn reader(&self, consumer: &str) -> QueueResult<QueueReader> {
        let mut conn = self.connector.connect(self.command_timeout + Duration::from_secs(10)).await?;
        // Wake on signals newer than the newest now; older ones announced work that the
        // first look at the ready set sees.
        let newest: redis::streams::StreamRangeReply = conn.xrevrange_count(self.keys.signal(), "+", "-", 1).await?;
        let last_signal = newest.ids.first().map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());
        Ok(QueueReader { queue: self.clone(), conn, consumer: consumer.to_owned(), last_signal })
    }

    /// A round trip to Redis, for readiness checks.
    pub async fn ping(&self) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    /// Appends deliveries to their partition's stream and marks them tracked.
    pub async fn enqueue(&self, partition: &Partition, deliveries: &[QueuedDelivery]) -> QueueResult<()> {
        self.enqueue_groups([(partition, deliveries)]).await
    }

    /// Appends deliveries of several partitions to their streams in one round trip.
    pub async fn enqueue_groups<'a>(
        &self,
        groups: impl IntoIterator<Item = (&'a Partition, &'a [QueuedDelivery])>,
    ) -> QueueResult<()> {
        let mut batch = SlotBatch::default();
        let mut appended = Vec::new();
        for (partition, deliveries) in groups.into_iter().filter(|(_, deliveries)| !deliveries.is_empty()) {
            let stream = self.keys.stream(partition);
            let tracked = self.keys.tracked(partition);
            appended.push(partition.name());
            for delivery in deliveries {
                let mut xadd = redis::cmd("XADD");
                xadd.arg(&stream)
                    .arg("*")
                    .arg("d")
                    .arg(&delivery.delivery_id)
                    .arg("n")
                    .arg(delivery.attempts_made)
                    .arg("e")
                    .arg(&delivery.endpoint_id);
                batch.add(&stream, xadd);
                batch.add(&stream, redis::Cmd::hset(&tracked, &delivery.delivery_id, delivery.attempts_made));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        batch.query(&self.conn).await?;
        // Announced once appended (see `crate::active` for why the order matters).
        self.announce_ready(appended).await
    }

    /// Puts deliveries in their partition's delayed set, each due at its own Unix
    /// millisecond, and marks them tracked (a throttled replay spreads them out this way).
    pub async fn schedule(&self, partition: &Partition, deliveries: &[(QueuedDelivery, i64)]) -> QueueResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let delayed = self.keys.delayed(partition);
        let tracked = self.keys.tracked(partition);
        let mut pipe = redis::pipe();
        for (delivery, due_unix_ms) in deliveries {
            let member = format!("{}:{}:{}", delivery.delivery_id, delivery.attempts_made, delivery.endpoint_id);
            pipe.zadd(&delayed, member, *due_unix_ms).ignore();
            pipe.hset(&tracked, &delivery.delivery_id, delivery.attempts_made).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        self.announce_due(deliveries.iter().map(|(_, due)| (partition.name(), *due))).await
    }

    /// Creates the partition's consumer group (reading from the stream's start) if missing.
    pub async fn ensure_group(&self, partition: &Partition) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let created: Result<(), redis::RedisError> =
            conn.xgroup_create_mkstream(self.keys.stream(partition), CONSUMER_GROUP, "0").await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Done with a delivery for good (succeeded, dead-lettered or stale).
    pub async fn ack(&self, received: &ReceivedDelivery) -> QueueResult<()> {
        self.settlement(received, Settlement::Ack).run::<()>(&self.conn).await
    }

    /// Acknowledges the entry and parks the delivery until `due_unix_ms`, when it
    /// comes back with `attempts_made` attempts behind it.
    pub async fn retry_later(
        &self,
        received: &ReceivedDelivery,
        attempts_made: u32,
        due_unix_ms: i64,
    ) -> QueueResult<()> {
        let settlement = Settlement::RetryLater { attempts_made, due_unix_ms };
        self.settlement(received, settlement).run::<()>(&self.conn).await?;
        // After the script, in another Cluster slot: the due index must never miss a
        // parked delivery, or no promoter would visit it while the reconciler sees it
        // as tracked (see `crate::active`).
        self.announce_due([(received.partition.name(), due_unix_ms)]).await
    }

    /// Settles many received deliveries in one round trip (the worker's batched
    /// attempt writer calls this after the batch is committed): each is acknowledged
    /// or parked until its retry, exactly as [`Queue::ack`] and [`Queue::retry_later`].
    pub async fn settle(&self, settlements: &[(ReceivedDelivery, Settlement)]) -> QueueResult<()> {
        if settlements.is_empty() {
            return Ok(());
        }
        // EVALSHA first; a Redis that restarted (or a Cluster node that never ran the
        // script) answers NOSCRIPT, and the batch runs again with the scripts' source.
        // Both scripts give the same result when run twice.
        for by_hash in [true, false] {
            let mut batch = SlotBatch::default();
            for (received, settlement) in settlements {
                let stream = self.keys.stream(&received.partition);
                batch.add(&stream, self.settlement(received, *settlement).command(by_hash));
            }
            match batch.query(&self.conn).await {
                Ok(_) => {
                    // Parked deliveries are announced due once parked (see `retry_later`).
                    let parked = settlements.iter().filter_map(|(received, settlement)| match settlement {
                        Settlement::RetryLater { due_unix_ms, .. } => Some((received.partition.name(), *due_unix_ms)),
                        Settlement::Ack => None,
                    });
                    return self.announce_due(parked).await;
                }
                Err(error) if by_hash && answered(&error, "NOSCRIPT") => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// The script that settles `received`: [`ACK_SCRIPT`] or [`RETRY_LATER_SCRIPT`].
    fn settlement(&self, received: &ReceivedDelivery, settlement: Settlement) -> Invocation<'static> {
        let partition = &received.partition;
        let delivery = &received.delivery;
        match settlement {
            Settlement::Ack => ACK
                .call()
                .key(self.keys.stream(partition))
                .key(self.keys.tracked(partition))
                .arg(CONSUMER_GROUP)
                .arg(&received.entry_id)
                .arg(&delivery.delivery_id)
                .arg(delivery.attempts_made),
            Settlement::RetryLater { attempts_made, due_unix_ms } => RETRY_LATER
                .call()
                .key(self.keys.stream(partition))
                .key(self.keys.delayed(partition))
                .key(self.keys.tracked(partition))
                .arg(CONSUMER_GROUP)
                .arg(&received.entry_id)
                .arg(&delivery.delivery_id)
                .arg(attempts_made)
                .arg(due_unix_ms)
                .arg(&delivery.endpoint_id),
        }
    }

    /// Hands an unfinished delivery back to the stream (graceful shutdown).
    pub async fn release(&self, received: &ReceivedDelivery) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        self.release
            .key(self.keys.stream(&received.partition))
            .arg(CONSUMER_GROUP)
            .arg(&received.entry_id)
            .arg(&received.delivery.delivery_id)
            .arg(received.delivery.attempts_made)
            .arg(&received.delivery.endpoint_id)
            .invoke_async::<()>(&mut conn)
            .await?;
        self.announce_ready([received.partition.name()]).await
    }

    /// Moves up to `limit` deliveries of one partition due by `now_unix_ms` from the
    /// delayed set to the stream, and announces them. Returns how many moved. (The
    /// promoter visits only due partitions: [`Queue::promote_due_partitions`].)
    pub async fn promote_due(&self, partition: &Partition, now_unix_ms: i64, limit: usize) -> QueueResult<usize> {
        let (moved, _) = self.promote_partition(partition, now_unix_ms, limit).await?;
        if moved > 0 {
            self.announce_ready([partition.name()]).await?;
        }
        Ok(moved)
    }

    /// Runs the promotion script: how many moved, and the earliest due time left.
    pub(crate) async fn promote_partition(
        &self,
        partition: &Partition,
        now_unix_ms: i64,
        limit: usize,
    ) -> QueueResult<(usize, Option<i64>)> {
        let mut conn = self.conn.clone();
        let (moved, next): (usize, i64) = self
            .promote
            .key(self.keys.delayed(partition))
            .key(self.keys.stream(partition))
            .arg(now_unix_ms)
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok((moved, (next >= 0).then_some(next)))
    }

    /// Of the given delivery ids, those Redis holds no trace of.
    pub async fn untracked(&self, partition: &Partition, delivery_ids: &[String]) -> QueueResult<Vec<String>> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let found: Vec<Option<String>> =
            redis::cmd("HMGET").arg(self.keys.tracked(partition)).arg(delivery_ids).query_async(&mut conn).await?;
        Ok(delivery_ids.iter().zip(found).filter(|(_, value)| value.is_none()).map(|(id, _)| id.clone()).collect())
    }

    /// Entries waiting in a partition's stream (not yet read or still in flight).
    pub async fn stream_length(&self, partition: &Partition) -> QueueResult<u64> {
        let mut conn = self.conn.clone();
        Ok(conn.xlen(self.keys.stream(partition)).await?)
    }

    /// A partition's stream length, oldest entry and parked deliveries (delayed or
    /// waiting for an endpoint).
    pub async fn partition_stats(&self, partition: &Partition) -> QueueResult<PartitionStats> {
        let mut conn = self.conn.clone();
        let stream = self.keys.stream(partition);
        let (stream_length, oldest, delayed): (u64, redis::streams::StreamRangeReply, u64) = redis::pipe()
            .xlen(&stream)
            .xrange_count(&stream, "-", "+", 1)
            .zcard(self.keys.delayed(partition))
            .query_async(&mut conn)
            .await?;
        // An entry id is `<ms>-<seq>`, the time it was added.
        let oldest_entry_ms =
            oldest.ids.first().and_then(|entry| entry.id.split_once('-')).and_then(|(ms, _)| ms.parse().ok());
        let waiting = self.waiting_count(partition).await?;
        Ok(PartitionStats { stream_length, oldest_entry_ms, delayed: delayed + waiting })
    }

    fn parse_entry(&self, stream_key: &str, entry: &StreamId) -> QueueResult<ReceivedDelivery> {
        let malformed = || QueueError::MalformedEntry { stream: stream_key.to_owned(), id: entry.id.clone() };
        let partition = self.keys.partition_of_stream(stream_key).ok_or_else(malformed)?;
        let delivery_id: String = entry.get("d").ok_or_else(malformed)?;
        let attempts_made: u32 = entry.get("n").ok_or_else(malformed)?;
        let endpoint_id: String = entry.get("e").ok_or_else(malformed)?;
        Ok(ReceivedDelivery {
            partition,
            entry_id: entry.id.clone(),
            delivery: QueuedDelivery { delivery_id, attempts_made, endpoint_id },
            waited: entry.map.contains_key("w"),
        })
    }
}

/// One consumer's view of the queue, on its own connection.
pub struct QueueReader {
    queue: Queue,
    conn: RedisConnection,
    consumer: String,
    /// The newest signal seen, so a wait returns at once for any newer one.
    last_signal: String,
}

impl std::fmt::Debug for QueueReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueReader").field("consumer", &self.consumer).finish_non_exhaustive()
    }
}

/// What one round of reads found.
#[derive(Debug, Default)]
pub struct ReadRound {
    pub received: Vec<ReceivedDelivery>,
    /// Partitions that had nothing new: candidates to leave the ready set.
    pub empty: Vec<Partition>,
}

impl QueueReader {
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Reads new entries: at most `count` from each partition, in one round trip of
    /// one `XREADGROUP` per partition (each within its partition's Cluster slot), without
    /// waiting. A partition whose group vanished (Redis flushed or restarted empty)
    /// gets it recreated.
    pub async fn read_round(&mut self, partitions: &[Partition], count: usize) -> QueueResult<ReadRound> {
        if partitions.is_empty() {
            return Ok(ReadRound::default());
        }
        let mut batch = SlotBatch::default();
        for partition in partitions {
            let stream = self.queue.keys.stream(partition);
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP")
                .arg(CONSUMER_GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(count.max(1))
                .arg("STREAMS")
                .arg(&stream)
                .arg(">");
            batch.add(&stream, read);
        }
        // Each read answers alone: entries another partition handed over in the same
        // round are this consumer's now, and must not be dropped with a sibling's error.
        let replies = batch.each_answers_alone().query(&self.conn).await?;
        let mut round = ReadRound::default();
        let mut refused = None;
        let mut malformed = Vec::new();
        for (partition, reply) in partitions.iter().zip(replies) {
            let reply = match reply {
                // No group: Redis lost the stream (flushed, restarted empty, or a replica
                // promoted before it had the group). Recreated; read on the next round.
                redis::Value::ServerError(error) if error.code() == "NOGROUP" => {
                    self.queue.ensure_group(partition).await?;
                    continue;
                }
                redis::Value::ServerError(error) => {
                    refused.get_or_insert(error);
                    continue;
                }
                reply => redis::from_redis_value::<Option<StreamReadReply>>(reply).map_err(redis::RedisError::from)?,
            };
            let before = round.received.len();
            for stream in reply.map(|r| r.keys).unwrap_or_default() {
                for entry in &stream.ids {
                    match self.queue.parse_entry(&stream.key, entry) {
                        Ok(received) => round.received.push(received),
                        Err(_) => malformed.push((stream.key.clone(), entry.id.clone())),
                    }
                }
            }
            if round.received.len() == before {
                round.empty.push(partition.clone());
            }
        }
        self.discard(&malformed).await?;
        match refused {
            // Nothing was handed over: the caller pauses as for any failed read.
            Some(error) if round.received.is_empty() => Err(redis::RedisError::from(error).into()),
            // What was handed over is worked on; the refusing partitions stay ready.
            Some(error) => {
                tracing::warn!(%error, "a partition refused a read");
                Ok(round)
            }
            None => Ok(round),
        }
    }

    /// Acknowledges and deletes entries that are not Herald's `d`, `n`, `e` triple: no
    /// worker could act on them, and kept pending they would come back on every
    /// takeover. A delivery one stood for is still due in the database, where the
    /// reconciler finds it.
    async fn discard(&self, malformed: &[(String, String)]) -> QueueResult<()> {
        if malformed.is_empty() {
            return Ok(());
        }
        let mut batch = SlotBatch::default();
        for (stream, id) in malformed {
            tracing::warn!(stream, id, "discarding a stream entry that is not a Herald delivery");
            batch.add(stream, redis::cmd("XACK").arg(stream).arg(CONSUMER_GROUP).arg(id).to_owned());
            batch.add(stream, redis::cmd("XDEL").arg(stream).arg(id).to_owned());
        }
        batch.query(&self.queue.conn).await?;
        Ok(())
    }

    /// Reads new entries from the given partitions, at most `count` from each.
    pub async fn read(&mut self, partitions: &[Partition], count: usize) -> QueueResult<Vec<ReceivedDelivery>> {
        Ok(self.read_round(partitions, count).await?.received)
    }

    /// Takes partitions that had nothing new out of the ready set, then reads each once
    /// more: an entry appended meanwhile is returned here, and its partition stays
    /// ready. (An append after the second read announces the partition again.)
    pub async fn retire(&mut self, partitions: &[Partition], count: usize) -> QueueResult<Vec<ReceivedDelivery>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = partitions.iter().map(Partition::name).collect();
        let _: () = self.conn.srem(self.queue.keys.ready(), names).await?;
        let round = self.read_round(partitions, count).await?;
        let refilled: Vec<&str> = partitions.iter().filter(|p| !round.empty.contains(p)).map(Partition::name).collect();
        if !refilled.is_empty() {
            let _: () = self.conn.sadd(self.queue.keys.ready(), refilled).await?;
        }
        Ok(round.received)
    }

    /// Waits up to `block` for new work to be announced (returns at once if some was
    /// announced since the last wait). Every idle reader wakes on one announcement.
    pub async fn wait_for_work(&mut self, block: Duration) -> QueueResult<()> {
        let options = StreamReadOptions::default().count(SIGNALS_PER_WAIT).block(block.as_millis().max(1) as usize);
        let reply: Option<StreamReadReply> =
            self.conn.xread_options(&[self.queue.keys.signal()], &[&self.last_signal], &options).await?;
        if let Some(newest) = reply.and_then(|r| r.keys.into_iter().next()).and_then(|k| k.ids.into_iter().last()) {
            self.last_signal = newest.id;
        }
        Ok(())
    }
}

/// Signals read per wait; only the newest matters.
const SIGNALS_PER_WAIT: usize = 64;
