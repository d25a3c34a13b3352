//! Herald's transport: tenant-partitioned Redis Streams.
//!
//! # Redis Streams in brief
//! A stream is an append-only log of entries (`XADD`). A *consumer group* hands each
//! entry to one consumer (`XREADGROUP … >`) and remembers it in the group's *pending
//! entries list* (PEL) until the consumer acknowledges it (`XACK`). Entries whose
//! consumer died stay pending; another consumer takes them over with `XAUTOCLAIM`
//! once they have been idle long enough. Herald deletes acknowledged entries
//! (`XDEL`) so a stream holds only work that is queued or in flight.
//!
//! # What lives where
//! The database is the system of record; Redis only says *what to attempt next*.
//! Every queued item is a delivery id and the number of attempts already made when
//! it was queued; the worker loads everything else from the database, and drops an
//! item whose attempt count no longer matches (a stale duplicate).
//!
//! Work is partitioned by tenant: every partition's keys share a hash tag
//! (`{p:<tenant>}`), so one partition lives on one Redis Cluster slot and the Lua
//! scripts below may touch all of its keys atomically. See [`keys`] for the layout.
//!
//! **What it must not know:** SQL, HTTP, or what a delivery's outcome means. It moves
//! opaque `(delivery id, attempt count)` pairs between a stream and a delayed set.

mod active;
mod breaker;
mod conn;
mod enqueuer;
mod hand_off;
pub mod keys;
mod lease;
mod queue;
mod replace;
mod script;
mod waiting;

pub use active::PROMOTE_CLAIM;
pub use breaker::SharedBreaker;
pub use enqueuer::Enqueuer;
pub use keys::{KeyLayout, Partition};
pub use queue::{
    PartitionStats, Queue, QueueConfig, QueueReader, QueuedDelivery, ReadRound, ReceivedDelivery, Settlement,
};
pub use waiting::Wake;

/// Everything that can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid queue setting: {0}")]
    Config(String),
    #[error("malformed stream entry {id} in {stream}")]
    MalformedEntry { stream: String, id: String },
}

pub type QueueResult<T> = Result<T, QueueError>;
