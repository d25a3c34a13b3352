//! Long-poll: waking a reader as soon as its application's feed moves, whichever API
//! process accepted the message.
//!
//! A reader that caught up waits on its application's feed head ([`FeedWatch::wait_past`]).
//! Two things move a head: a message this process accepted ([`FeedWatch::committed`],
//! at once), and a watcher task that, while anyone waits, reads the heads of the
//! applications waited on from the database every [`TICK`] (one query for all of
//! them), which sees what other processes accepted. The database is the one place
//! every process writes through, so this needs no Redis channel (and works while Redis
//! is away, when the API still accepts messages). No one waiting: no queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use herald_core::ApplicationId;
use herald_store::Store;
use tokio::sync::{watch, Notify};

/// How often the heads of the applications waited on are read while anyone waits.
pub const TICK: Duration = Duration::from_millis(20);

/// The heads being waited on, and the task that keeps them fresh.
#[derive(Debug)]
pub struct FeedWatch {
    watched: Mutex<HashMap<String, Watched>>,
    /// Wakes the watcher task when the first reader starts waiting.
    first_waiter: Arc<Notify>,
}

#[derive(Debug)]
struct Watched {
    head: watch::Sender<i64>,
    waiters: usize,
}

impl FeedWatch {
    /// A watch whose task reads heads from `store`; the task ends when the watch is dropped.
    pub fn start(store: Store) -> Arc<Self> {
        let first_waiter = Arc::new(Notify::new());
        let watch = Arc::new(Self { watched: Mutex::new(HashMap::new()), first_waiter: first_waiter.clone() });
        tokio::spawn(watch_heads(Arc::downgrade(&watch), first_waiter, store));
        watch
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watched>> {
        self.watched.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A message numbered `seq` in `app_id`'s feed has committed in this process.
    pub fn committed(&self, app_id: &ApplicationId, seq: i64) {
        if let Some(watched) = self.lock().get(app_id.as_str()) {
            raise(&watched.head, seq);
        }
    }

    /// Waits at most `limit` for `app_id`'s feed to pass `head`; whether it did.
    pub async fn wait_past(&self, app_id: &ApplicationId, head: i64, limit: Duration) -> bool {
        let mut receiver = {
            let mut watched = self.lock();
            let first = watched.is_empty();
            let entry = watched
                .entry(app_id.to_string())
                .or_insert_with(|| Watched { head: watch::channel(head).0, waiters: 0 });
            entry.waiters += 1;
            if first {
                self.first_waiter.notify_one();
            }
            entry.head.subscribe()
        };
        let _leave = Leave { watch: self, app_id: app_id.as_str() };
        tokio::time::timeout(limit, receiver.wait_for(|seen| *seen > head)).await.is_ok_and(|moved| moved.is_ok())
    }
}

/// Moves a watched head forward (never back: a tick may read an older value than a
/// commit announced).
fn raise(head: &watch::Sender<i64>, seq: i64) {
    head.send_if_modified(|current| {
        let moved = seq > *current;
        if moved {
            *current = seq;
        }
        moved
    });
}

/// Takes a waiter off its application when the wait ends, however it ends.
struct Leave<'a> {
    watch: &'a FeedWatch,
    app_id: &'a str,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut watched = self.watch.lock();
        if let Some(entry) = watched.get_mut(self.app_id) {
            entry.waiters -= 1;
            if entry.waiters == 0 {
                watched.remove(self.app_id);
            }
        }
    }
}

/// Reads the watched heads every [`TICK`] while anyone waits; sleeps until the first
/// waiter otherwise. Holds the watch only weakly, so it ends when the API is dropped.
async fn watch_heads(watch: Weak<FeedWatch>, first_waiter: Arc<Notify>, store: Store) {
    loop {
        let Some(current) = watch.upgrade() else { return };
        let app_ids: Vec<String> = current.lock().keys().cloned().collect();
        drop(current);
        if app_ids.is_empty() {
            // Woken by the first waiter; every second, check whether the watch is gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), first_waiter.notified()).await;
            continue;
        }
        match store.feed_heads(&app_ids).await {
            Ok(heads) => {
                let Some(current) = watch.upgrade() else { return };
                let watched = current.lock();
                for (app_id, seq) in heads {
                    if let Some(entry) = watched.get(&app_id) {
                        raise(&entry.head, seq);
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "reading feed heads for long-poll"),
        }
        tokio::time::sleep(TICK).await;
    }
}
