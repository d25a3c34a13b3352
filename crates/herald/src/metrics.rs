//! `GET /metrics` and the worker's readiness `GET /ready` on their own listener
//! (`metrics_listen`).
//!
//! Counters are moved by the API and the worker as things happen; the gauges are read
//! here, once per scrape: per *active* tenant partition (ready, parked or held by a
//! worker; idle tenants cost nothing and drop out) the stream's length and oldest entry
//! and the delayed set's size (one Redis pipeline each), the circuit breakers that are
//! not closed, and the dead letters per tenant from the database (a grouped count,
//! kept for [`DEAD_LETTER_REFRESH`] so frequent scrapes cost the database little).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use herald_observability::{Metrics, Snapshot};
use herald_queue::Queue;
use herald_store::Store;
use tokio::sync::Mutex;

/// How long a dead-letter count is reused before the database is asked again.
const DEAD_LETTER_REFRESH: Duration = Duration::from_secs(10);

/// Dead letters per tenant, and when they were counted.
type DeadLetterCache = Option<(Instant, Vec<(String, u64)>)>;

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    queue: Queue,
    store: Store,
    dead_letters: Arc<Mutex<DeadLetterCache>>,
}

/// The router of the metrics listener.
pub fn router(metrics: Arc<Metrics>, queue: Queue, store: Store) -> Router {
    let scrape = Scrape { metrics, queue, store, dead_letters: Arc::default() };
    Router::new().route("/metrics", get(render)).route("/ready", get(ready)).with_state(scrape)
}

/// A worker's readiness: it needs both the database and Redis. (The API's readiness,
/// `GET /api/v1/health/ready`, needs only the database.)
async fn ready(State(scrape): State<Scrape>) -> axum::response::Response {
    herald_api::routes::health::readiness(&scrape.store, &scrape.queue, true).await.into_response()
}

async fn render(State(scrape): State<Scrape>) -> axum::response::Response {
    let started = Instant::now();
    match snapshot(&scrape).await {
        Ok(snapshot) => scrape.metrics.set_snapshot(&snapshot, started.elapsed().as_secs_f64()),
        // The counters are still worth having; the gauges keep their last values.
        Err(error) => tracing::warn!(%error, "cannot read the queue or database for /metrics"),
    }
    (StatusCode::OK, [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], scrape.metrics.render())
        .into_response()
}

async fn snapshot(scrape: &Scrape) -> anyhow::Result<Snapshot> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut partitions = Vec::new();
    for partition in scrape.queue.active_partitions().await? {
        let stats = scrape.queue.partition_stats(&partition).await?;
        let oldest = stats.oldest_entry_ms.map_or(0.0, |at| (now_ms - at).max(0) as f64 / 1000.0);
        partitions.push((partition.name().to_owned(), stats.stream_length, oldest, stats.delayed));
    }
    let (breakers_open, breakers_half_open) = scrape.queue.breaker_counts(now_ms).await?;
    let mut cached = scrape.dead_letters.lock().await;
    let fresh = cached.as_ref().filter(|(at, _)| at.elapsed() < DEAD_LETTER_REFRESH).map(|(_, counts)| counts.clone());
    let dead_letters = match fresh {
        Some(counts) => counts,
        None => {
            let counts = scrape.store.dead_letter_counts().await?;
            *cached = Some((Instant::now(), counts.clone()));
            counts
        }
    };
    drop(cached);
    let consumer_lag = scrape.store.consumer_lag_by_tenant().await?;
    let unconfirmed = scrape.store.unconfirmed_by_tenant(chrono::Utc::now()).await?;
    Ok(Snapshot { partitions, dead_letters, consumer_lag, unconfirmed, breakers_open, breakers_half_open })
}
