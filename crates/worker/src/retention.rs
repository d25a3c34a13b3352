//! The pruner: every `prune_interval`, stamps messages accepted before retention
//! existed, expunges payloads past their time and deletes messages past theirs (with
//! their deliveries and attempts, once none of them is still on its way), in batches of [`BATCH`] messages, each its own short
//! transaction, until a batch comes back short. After each batch it rests [`REST_FACTOR`]
//! times as long as the batch took (at least [`PAUSE`]), so it holds the database at most a
//! quarter of the time and the hot path's statements never queue behind a run of deletes:
//! a pass is spread over seconds instead of packed into one.
//! Every worker runs one; on PostgreSQL they share the rows (`SKIP LOCKED`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::WorkerContext;

/// Messages per transaction: tens of milliseconds of work on a busy database, small
/// enough that a commit's write-ahead log does not hold up the hot path's commits.
pub const BATCH: u64 = 200;

/// The shortest rest between two batches of one pass.
const PAUSE: Duration = Duration::from_millis(20);

/// How many times as long as a batch took the pruner rests after it: at 3 it holds a
/// connection a quarter of the time, and still deletes several times faster than a
/// database on this hardware accepts messages (docs/benchmarks.md, "Retention").
const REST_FACTOR: u32 = 3;

/// Runs the pruner until `shutdown`.
pub async fn prune_loop(ctx: WorkerContext, shutdown: CancellationToken) {
    let every = ctx.config.prune_interval;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(error) = prune_once(&ctx, &shutdown).await {
            tracing::warn!(%error, "the retention pruner stopped this pass; it tries again next pass");
        }
    }
}

/// One pass of the pruner's three steps.
pub async fn prune_once(ctx: &WorkerContext, shutdown: &CancellationToken) -> Result<(), herald_store::StoreError> {
    let retention = ctx.config.retention;
    drain(shutdown, || ctx.store.stamp_unexpiring(retention, BATCH)).await?;
    let payloads = drain(shutdown, || ctx.store.expunge_expired_payloads(Utc::now(), BATCH)).await?;
    ctx.metrics.pruned(payloads, 0);
    let deleted = AtomicU64::new(0);
    drain(shutdown, || {
        let deleted = &deleted;
        async move {
            let (looked_at, now_deleted) = ctx.store.delete_expired_messages(Utc::now(), BATCH).await?;
            ctx.metrics.pruned(0, now_deleted);
            deleted.fetch_add(now_deleted, Ordering::Relaxed);
            Ok(looked_at)
        }
    })
    .await?;
    let messages = deleted.load(Ordering::Relaxed);
    if payloads + messages > 0 {
        tracing::debug!(payloads, messages, "retention: expunged payloads and deleted messages");
    }
    Ok(())
}

/// Calls `step` until it does less than a full batch (or shutdown); returns the total.
async fn drain<F, Fut>(shutdown: &CancellationToken, mut step: F) -> Result<u64, herald_store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, herald_store::StoreError>>,
{
    let mut total = 0;
    while !shutdown.is_cancelled() {
        let started = std::time::Instant::now();
        let done = step().await?;
        total += done;
        if done < BATCH {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(rest_after(started.elapsed())) => {}
        }
    }
    Ok(total)
}

/// The rest after a batch that took `took`.
fn rest_after(took: Duration) -> Duration {
    (took * REST_FACTOR).max(PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pruner_rests_three_times_as_long_as_a_batch_took_and_never_less_than_the_pause() {
        assert_eq!(rest_after(Duration::from_millis(40)), Duration::from_millis(120));
        assert_eq!(rest_after(Duration::from_millis(1)), PAUSE);
    }
}
