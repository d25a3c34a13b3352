//! Circuit breakers as every worker sees them: an open breaker is one key per
//! endpoint (`<prefix>:breaker:<endpoint>`, `"<open until ms>:<failures>"`, expiring
//! on its own), listed in the `<prefix>:breakers` index by expiry so counting them
//! never scans the keyspace; the one half-open probe of an open period is a `SET NX`.

use std::time::Duration;

use redis::AsyncCommands;

use crate::conn::SlotBatch;
use crate::queue::Queue;
use crate::QueueResult;

/// An open circuit breaker as every worker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedBreaker {
    /// Open until this Unix millisecond; half-open (one probe) after it.
    pub open_until_ms: i64,
    pub consecutive_failures: u32,
}

impl SharedBreaker {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let (until, failures) = value.split_once(':')?;
        Some(Self { open_until_ms: until.parse().ok()?, consecutive_failures: failures.parse().ok()? })
    }
}

impl Queue {
    /// The shared state of an endpoint's open (or half-open) circuit breaker; `None`
    /// when it is closed.
    pub async fn breaker(&self, endpoint_id: &str) -> QueueResult<Option<SharedBreaker>> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn.get(self.keys.breaker(endpoint_id)).await?;
        Ok(value.as_deref().and_then(SharedBreaker::parse))
    }

    /// Records that an endpoint's breaker is open, for `keep` (after which it reads as
    /// closed again even if nobody closes it).
    pub async fn open_breaker(&self, endpoint_id: &str, state: SharedBreaker, keep: Duration) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let value = format!("{}:{}", state.open_until_ms, state.consecutive_failures);
        let keep_ms = keep.as_millis().max(1) as u64;
        let _: () = conn.pset_ex(self.keys.breaker(endpoint_id), value, keep_ms).await?;
        let expires = chrono::Utc::now().timestamp_millis() + keep_ms as i64;
        let _: () = conn.zadd(self.keys.breakers(), endpoint_id, expires).await?;
        Ok(())
    }

    /// Records that an endpoint's breaker closed.
    pub async fn close_breaker(&self, endpoint_id: &str) -> QueueResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.keys.breaker(endpoint_id)).await?;
        let _: () = conn.zrem(self.keys.breakers(), endpoint_id).await?;
        Ok(())
    }

    /// Claims the one half-open probe of the open period ending at `open_until_ms`.
    /// Returns whether this caller got it.
    pub async fn claim_probe(&self, endpoint_id: &str, open_until_ms: i64, hold: Duration) -> QueueResult<bool> {
        let mut conn = self.conn.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.breaker_probe(endpoint_id, open_until_ms))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(hold.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await?;
        Ok(taken.is_some())
    }

    /// How many endpoints' breakers are open and how many half-open (their cool-down
    /// is over, a probe may go) at `now_ms`. Closed breakers have no key.
    pub async fn breaker_counts(&self, now_ms: i64) -> QueueResult<(u64, u64)> {
        let mut conn = self.conn.clone();
        let index = self.keys.breakers();
        let _: () = conn.zrembyscore(&index, "-inf", now_ms).await?;
        let endpoints: Vec<String> = conn.zrange(&index, 0, -1).await?;
        let (mut open, mut half_open) = (0, 0);
        for chunk in endpoints.chunks(500) {
            let mut batch = SlotBatch::default();
            for endpoint in chunk {
                let key = self.keys.breaker(endpoint);
                batch.add(&key, redis::Cmd::get(&key));
            }
            let values: Vec<Option<String>> = redis::from_redis_value(redis::Value::Array(batch.query(&conn).await?))
                .map_err(redis::RedisError::from)?;
            for state in values.iter().flatten().filter_map(|value| SharedBreaker::parse(value)) {
                if state.open_until_ms > now_ms {
                    open += 1;
                } else {
                    half_open += 1;
                }
            }
        }
        Ok((open, half_open))
    }
}
