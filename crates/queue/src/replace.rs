//! A connection that replaces itself when its requests fail in a way that says it
//! points at the wrong place or has stopped answering: Sentinel's master after a
//! failover, a Redis Cluster connection that stays wedged after a node died.
//!
//! The failed request is returned to its caller, whose own loop tries again (on the
//! new connection); only a request the [`Source`] knows did not run is sent again at
//! once. Replacements are one at a time and at most one per [`Source::INTERVAL`], so
//! a server that stays down is not hammered by every failing request.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Where connections come from, and which failures call for a new one.
pub(crate) trait Source: Send + 'static {
    type Connection: ConnectionLike + Clone + Send + Sync + 'static;

    /// The least time between two replacements.
    const INTERVAL: Duration;
    /// Logged when a new connection was opened.
    const REPLACED: &'static str;
    /// Logged when opening one failed.
    const NOT_REPLACED: &'static str;

    /// Opens a new connection.
    fn open(&mut self) -> impl Future<Output = redis::RedisResult<Self::Connection>> + Send;

    /// Whether a request that failed this way calls for a new connection.
    fn must_replace(error: &redis::RedisError) -> bool;

    /// Whether one command's answer within a pipeline's replies (its error code) does.
    fn must_replace_for_reply(code: &str) -> bool;

    /// Whether a single command that failed this way did not run, and is sent once
    /// more when the connection was replaced.
    fn send_again(error: &redis::RedisError) -> bool;
}

/// A connection from `S` that replaces itself. Cheap to clone; clones share it.
pub(crate) struct Replaceable<S: Source> {
    shared: Arc<Shared<S>>,
}

impl<S: Source> Clone for Replaceable<S> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

struct Shared<S: Source> {
    /// Held while a replacement is opened: one at a time.
    source: tokio::sync::Mutex<S>,
    /// The connection, and how many times it was replaced.
    current: Mutex<(u64, S::Connection)>,
    /// When a replacement was last tried.
    last_tried: Mutex<Instant>,
}

impl<S: Source> Replaceable<S> {
    pub(crate) async fn open(mut source: S) -> redis::RedisResult<Self> {
        let connection = source.open().await?;
        Ok(Self {
            shared: Arc::new(Shared {
                source: tokio::sync::Mutex::new(source),
                current: Mutex::new((0, connection)),
                last_tried: Mutex::new(Instant::now()),
            }),
        })
    }

    fn current(&self) -> (u64, S::Connection) {
        self.shared.current.lock().expect("replaceable connection lock").clone()
    }

    /// Opens a new connection unless another caller replaced it since `generation`, or
    /// one was tried within [`Source::INTERVAL`]. Returns whether the connection is now
    /// another than `generation`'s.
    async fn replace(&self, generation: u64) -> bool {
        let mut source = self.shared.source.lock().await;
        {
            let mut last_tried = self.shared.last_tried.lock().expect("replaceable connection lock");
            if self.current().0 != generation {
                return true;
            }
            if last_tried.elapsed() < S::INTERVAL {
                return false;
            }
            *last_tried = Instant::now();
        }
        match source.open().await {
            Ok(connection) => {
                *self.shared.current.lock().expect("replaceable connection lock") = (generation + 1, connection);
                tracing::info!("{}", S::REPLACED);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "{}", S::NOT_REPLACED);
                false
            }
        }
    }
}

impl<S: Source> ConnectionLike for Replaceable<S> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (generation, mut connection) = self.current();
            match connection.req_packed_command(cmd).await {
                Err(error) if S::must_replace(&error) => {
                    if self.replace(generation).await && S::send_again(&error) {
                        return self.current().1.req_packed_command(cmd).await;
                    }
                    Err(error)
                }
                result => result,
            }
        })
    }

    /// A pipeline may have run in part, so it is never sent again.
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (generation, mut connection) = self.current();
            let result = connection.req_packed_commands(pipeline, offset, count).await;
            let must_replace = match &result {
                Err(error) => S::must_replace(error),
                // A pipeline answering per command carries each command's error among
                // its replies (and raises it only afterwards).
                Ok(replies) => replies
                    .iter()
                    .any(|reply| matches!(reply, Value::ServerError(error) if S::must_replace_for_reply(error.code()))),
            };
            if must_replace {
                self.replace(generation).await;
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.current().1.get_db()
    }
}
