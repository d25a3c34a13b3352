//! The dispatcher (read, attempt, acknowledge) and the promoter (delayed → stream).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_queue::{Partition, ReceivedDelivery};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{attempt, WorkerContext, WorkerError};

/// How long one read waits for new entries. Short, so shutdown is noticed quickly.
const READ_BLOCK: Duration = Duration::from_millis(500);
/// How often the list of partitions is refreshed.
const PARTITION_REFRESH: Duration = Duration::from_secs(1);
/// How often due retries are promoted.
const PROMOTE_EVERY: Duration = Duration::from_millis(200);
/// Most entries promoted from one partition per tick.
const PROMOTE_BATCH: usize = 1_000;
/// Most entries reclaimed from one partition per pass.
const RECLAIM_BATCH: usize = 100;
/// Pause after an error talking to Redis, so an outage is not a busy loop.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// Reads and attempts deliveries until `shutdown`, then drains or hands back.
pub async fn dispatch_loop(ctx: WorkerContext, shutdown: CancellationToken) -> Result<(), WorkerError> {
    let mut reader = ctx.queue.reader(&ctx.config.consumer_name).await?;
    let mut reclaimer = ctx.queue.reader(&ctx.config.consumer_name).await?;
    let permits = Arc::new(Semaphore::new(ctx.config.max_in_flight.max(1)));
    let hard_stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut partitions: Vec<Partition> = Vec::new();
    let mut grouped: HashSet<Partition> = HashSet::new();
    let mut refreshed_at: Option<Instant> = None;
    let mut reclaimed_at = Instant::now();
    let reclaim_every = (ctx.config.reclaim_idle / 2).clamp(Duration::from_millis(250), Duration::from_secs(30));

    while !shutdown.is_cancelled() {
        while tasks.try_join_next().is_some() {}
        if refreshed_at.is_none_or(|at| at.elapsed() >= PARTITION_REFRESH) {
            match refresh_partitions(&ctx, &mut grouped).await {
                Ok(fresh) => partitions = fresh,
                Err(error) => {
                    tracing::warn!(%error, "cannot list partitions");
                    pause(&shutdown, ERROR_PAUSE).await;
                    continue;
                }
            }
            refreshed_at = Some(Instant::now());
        }
        if partitions.is_empty() {
            pause(&shutdown, Duration::from_millis(100)).await;
            continue;
        }
        let available = permits.available_permits();
        if available == 0 {
            tokio::select! {
                permit = permits.clone().acquire_owned() => drop(permit),
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        let per_partition = (available / partitions.len()).clamp(1, ctx.config.read_batch.max(1));
        let mut batch = match reader.read(&partitions, per_partition, READ_BLOCK).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "cannot read from the queue");
                pause(&shutdown, ERROR_PAUSE).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Nothing to do in the known partitions: look for new ones right away, so a
            // new tenant's first message does not wait for the next periodic refresh.
            refreshed_at = None;
        }
        if reclaimed_at.elapsed() >= reclaim_every {
            reclaimed_at = Instant::now();
            for partition in &partitions {
                match reclaimer.reclaim(partition, ctx.config.reclaim_idle, RECLAIM_BATCH).await {
                    Ok(claimed) => {
                        if !claimed.is_empty() {
                            tracing::info!(
                                partition = partition.name(),
                                count = claimed.len(),
                                "reclaimed abandoned deliveries"
                            );
                        }
                        batch.extend(claimed);
                    }
                    Err(error) => tracing::warn!(%error, "cannot reclaim abandoned deliveries"),
                }
            }
        }
        for received in batch {
            if shutdown.is_cancelled() {
                hand_back(&ctx, &received).await;
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            tasks.spawn(run_one(ctx.clone(), received, permit, hard_stop.clone()));
        }
    }

    // Shutdown: let in-flight attempts finish for a while, then hand back the rest.
    let drained =
        tokio::time::timeout(ctx.config.shutdown_grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(remaining = tasks.len(), "shutdown grace over; handing back unfinished deliveries");
        hard_stop.cancel();
        while tasks.join_next().await.is_some() {}
    }
    Ok(())
}

async fn run_one(
    ctx: WorkerContext,
    received: ReceivedDelivery,
    _permit: OwnedSemaphorePermit,
    hard_stop: CancellationToken,
) {
    tokio::select! {
        result = attempt::process(&ctx, &received) => {
            if let Err(error) = result {
                // Left unacknowledged: it is reclaimed and tried again after `reclaim_idle`.
                tracing::warn!(%error, delivery = %received.delivery.delivery_id, "delivery processing failed; it will be retried");
            }
        }
        () = hard_stop.cancelled() => hand_back(&ctx, &received).await,
    }
}

async fn hand_back(ctx: &WorkerContext, received: &ReceivedDelivery) {
    if let Err(error) = ctx.queue.release(received).await {
        // Still pending in this consumer's list: another worker reclaims it.
        tracing::warn!(%error, delivery = %received.delivery.delivery_id, "cannot hand back a delivery");
    }
}

async fn refresh_partitions(
    ctx: &WorkerContext,
    grouped: &mut HashSet<Partition>,
) -> Result<Vec<Partition>, WorkerError> {
    let partitions = ctx.queue.partitions().await?;
    for partition in &partitions {
        if !grouped.contains(partition) {
            ctx.queue.ensure_group(partition).await?;
            grouped.insert(partition.clone());
        }
    }
    Ok(partitions)
}

/// Moves due retries back to their streams until `stop`.
pub async fn promote_loop(ctx: WorkerContext, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Err(error) = promote_once(&ctx).await {
            tracing::warn!(%error, "cannot promote due retries");
            pause(&stop, ERROR_PAUSE).await;
        }
        pause(&stop, PROMOTE_EVERY).await;
    }
}

async fn promote_once(ctx: &WorkerContext) -> Result<(), WorkerError> {
    let now = chrono::Utc::now().timestamp_millis();
    for partition in ctx.queue.partitions().await? {
        ctx.queue.promote_due(&partition, now, PROMOTE_BATCH).await?;
    }
    Ok(())
}

/// Sleeps for `duration` or until `token` is cancelled.
pub(crate) async fn pause(token: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = token.cancelled() => {}
    }
}
