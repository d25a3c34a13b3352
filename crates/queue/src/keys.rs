//! Herald's Redis key layout, in one place.
//!
//! Every key starts with the configured prefix (`HERALD_REDIS_PREFIX`, default
//! `herald`), so several Herald installations — or parallel tests — share one Redis
//! without seeing each other. Partition keys carry the hash tag `{p:<partition>}`.

use crate::{QueueError, QueueResult};

/// A tenant's partition: the unit of fairness and of Redis Cluster placement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition(String);

impl Partition {
    /// The partition of a tenant. (Splitting a large tenant into sub-partitions by
    /// application hash extends this name; the key layout does not change.)
    pub fn for_tenant(tenant_id: &str) -> Self {
        Self(tenant_id.to_owned())
    }

    pub fn from_name(name: String) -> Self {
        Self(name)
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

/// Builds every key Herald uses from one prefix.
#[derive(Debug, Clone)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    pub fn new(prefix: &str) -> QueueResult<Self> {
        if prefix.is_empty() || prefix.contains(['{', '}', ' ']) {
            return Err(QueueError::Config(format!(
                "redis prefix `{prefix}` must be non-empty and contain no braces or spaces"
            )));
        }
        Ok(Self { prefix: prefix.to_owned() })
    }

    /// `<prefix>:ready` — SET of partitions whose stream may hold entries no worker has
    /// read yet. Added to after every append (enqueue, promotion, hand-back); a reader
    /// removes a partition when a read finds nothing new, then reads once more (see
    /// [`crate::QueueReader::retire`]). Workers read only these partitions.
    pub fn ready(&self) -> String {
        format!("{}:ready", self.prefix)
    }

    /// `<prefix>:due` — ZSET of partitions with parked deliveries, scored by the earliest
    /// due time (Unix ms) of their delayed set. Promoters visit only partitions whose
    /// score has passed; idle partitions cost nothing.
    pub fn due(&self) -> String {
        format!("{}:due", self.prefix)
    }

    /// `<prefix>:signal` — a short STREAM appended to after new work is announced in
    /// [`KeyLayout::ready`]. Idle workers block on it (`XREAD`), so every one of them
    /// wakes at once, and none polls.
    pub fn signal(&self) -> String {
        format!("{}:signal", self.prefix)
    }

    /// `<prefix>:workers` — ZSET of worker consumer names scored by when their lease
    /// lapses (Unix ms). A worker renews its lease; one whose lease lapsed is dead and
    /// its pending entries are handed back.
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    /// `<prefix>:held:<consumer>` — SET of the partitions in which a worker may hold
    /// unacknowledged entries: where to look when it dies.
    pub fn held(&self, consumer: &str) -> String {
        format!("{}:held:{consumer}", self.prefix)
    }

    /// `<prefix>:{p:<partition>}:stream` — STREAM of deliveries due now. Fields:
    /// `d` (delivery id), `n` (attempts made before this one) and `e` (endpoint id).
    pub fn stream(&self, partition: &Partition) -> String {
        format!("{}:{{p:{}}}:stream", self.prefix, partition.0)
    }

    /// `<prefix>:{p:<partition>}:delayed` — ZSET of deliveries waiting for a retry.
    /// Member `<delivery id>:<n>:<endpoint id>`, score the due time in Unix milliseconds.
    pub fn delayed(&self, partition: &Partition) -> String {
        format!("{}:{{p:{}}}:delayed", self.prefix, partition.0)
    }

    /// `<prefix>:{p:<partition>}:tracked` — HASH delivery id → `n` for every delivery
    /// Redis currently holds (in the stream, in flight, or delayed). The reconciler
    /// asks it whether Redis still knows a delivery the database says is due.
    pub fn tracked(&self, partition: &Partition) -> String {
        format!("{}:{{p:{}}}:tracked", self.prefix, partition.0)
    }

    /// `<prefix>:{p:<partition>}:waiting:<endpoint>` — ZSET of deliveries waiting for
    /// that endpoint's lane or breaker, member `<delivery id>:<n>:<endpoint id>`, score
    /// when it started waiting (Unix ms). See `crate::waiting`.
    pub fn waiting(&self, partition: &Partition, endpoint_id: &str) -> String {
        format!("{}:{{p:{}}}:waiting:{endpoint_id}", self.prefix, partition.0)
    }

    /// `<prefix>:{p:<partition>}:wakes` — ZSET of the partition's endpoints that have
    /// waiting deliveries, scored by when the promoter releases some of them (Unix ms).
    pub fn wakes(&self, partition: &Partition) -> String {
        format!("{}:{{p:{}}}:wakes", self.prefix, partition.0)
    }

    /// `<prefix>:lease:<name>` — STRING holding the id of the process that runs a
    /// singleton job (such as the reconciler) until the key expires.
    pub fn lease(&self, name: &str) -> String {
        format!("{}:lease:{name}", self.prefix)
    }

    /// `<prefix>:breaker:<endpoint>` — STRING `<open until ms>:<consecutive failures>`
    /// while an endpoint's circuit breaker is open or half-open; absent when closed.
    /// Shared by every worker, so the state survives a worker restart.
    pub fn breaker(&self, endpoint_id: &str) -> String {
        format!("{}:breaker:{endpoint_id}", self.prefix)
    }

    /// `<prefix>:breakers` — ZSET of endpoints whose breaker key exists, scored by when
    /// that key expires (Unix ms): what `/metrics` counts, without scanning keys (a
    /// scan would see one Cluster node only).
    pub fn breakers(&self) -> String {
        format!("{}:breakers", self.prefix)
    }

    /// `<prefix>:breaker-probe:<endpoint>:<open until ms>` — STRING, set once per
    /// open period by the worker that sends the half-open probe.
    pub fn breaker_probe(&self, endpoint_id: &str, open_until_ms: i64) -> String {
        format!("{}:breaker-probe:{endpoint_id}:{open_until_ms}", self.prefix)
    }

    /// Recovers the partition from a stream key returned by `XREADGROUP`.
    pub fn partition_of_stream(&self, stream_key: &str) -> Option<Partition> {
        let rest = stream_key.strip_prefix(&self.prefix)?.strip_prefix(":{p:")?;
        let name = rest.strip_suffix("}:stream")?;
        Some(Partition(name.to_owned()))
    }
}

/// The consumer group every worker joins.
pub const CONSUMER_GROUP: &str = "herald-workers";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_partition_hash_tag() {
        let keys = KeyLayout::new("herald").unwrap();
        let partition = Partition::for_tenant("tnt_1");
        assert_eq!(keys.stream(&partition), "herald:{p:tnt_1}:stream");
        assert_eq!(keys.delayed(&partition), "herald:{p:tnt_1}:delayed");
        assert_eq!(keys.tracked(&partition), "herald:{p:tnt_1}:tracked");
        assert_eq!(keys.waiting(&partition, "ep_1"), "herald:{p:tnt_1}:waiting:ep_1");
        assert_eq!(keys.wakes(&partition), "herald:{p:tnt_1}:wakes");
        assert_eq!(keys.partition_of_stream("herald:{p:tnt_1}:stream"), Some(partition));
        assert_eq!(keys.partition_of_stream("other:{p:tnt_1}:stream"), None);
    }

    #[test]
    fn prefixes_with_braces_are_refused() {
        assert!(KeyLayout::new("a{b}").is_err());
        assert!(KeyLayout::new("").is_err());
    }
}
