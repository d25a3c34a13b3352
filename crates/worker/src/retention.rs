//! The pruner: every `prune_interval`, stamps messages accepted before retention
//! existed, expunges payloads past their time and deletes messages past theirs (with
//! their deliveries and attempts, once none of them is still on its way), in batches of [`BATCH`] messages, each its own short
//! transaction, until a batch comes back short. Between batches it yields for
//! [`PAUSE`], so the hot path's statements never queue behind a long run of deletes.
//! Every worker runs one; on PostgreSQL they share the rows (`SKIP LOCKED`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::WorkerContext;

/// Messages per statement: a fraction of a second of work on a busy database.
pub const BATCH: u64 = 500;

/// The rest between two batches of one pass.
const PAUSE: Duration = Duration::from_millis(20);

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
        let done = step().await?;
        total += done;
        if done < BATCH {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(total)
}
