//! The dispatcher (read, place in a lane, attempt, acknowledge) and the promoter
//! (delayed → stream).
//!
//! The reader never waits on an endpoint: a delivery either starts in its lane, waits
//! in memory behind a busy lane that will work it off soon, or is parked in the
//! delayed set (attempt count unchanged). A lane task runs attempts one after another
//! and takes its lane's next waiting delivery when one finishes; an open circuit
//! breaker parks the lane's deliveries until the breaker's cool-down ends.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_queue::{Partition, ReceivedDelivery};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::attempt::{Dispatch, Handled};
use crate::breakers::Gate;
use crate::lanes::{LaneKey, LaneSlot, Offer};
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
    // The batch loads keep one connection (see `herald_store::Session`).
    let mut session = ctx.store.session();
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
            // Look again after the pause, so the first tenant's first message does not
            // wait for the periodic refresh.
            refreshed_at = None;
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
                            ctx.metrics.reclaimed(partition.name(), claimed.len() as u64);
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
        for received in attempt::prefetch(&mut session, batch).await {
            if shutdown.is_cancelled() {
                hand_back(&ctx, &received).await;
                continue;
            }
            let (entry, tenant, endpoint) = (
                received.entry_id.clone(),
                received.partition.name().to_owned(),
                received.delivery.endpoint_id.clone(),
            );
            if let Some(until) = ctx.breakers.open_until(&endpoint).filter(|_| !endpoint.is_empty()) {
                park(&ctx, &received, ctx.breakers.return_time(until)).await;
                continue;
            }
            let offer = ctx.lanes.offer(LaneKey { tenant: &tenant, endpoint: &endpoint }, &entry, received);
            match offer {
                Offer::Run(slot, received) => {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let lane = run_lane(ctx.clone(), slot, received, permit, shutdown.clone(), hard_stop.clone());
                    tasks.spawn(lane);
                }
                Offer::Waiting | Offer::Duplicate(_) => {}
                Offer::Full(received) => {
                    let due = ctx.lanes.park_due(lane_key(&received), now_ms(), rand::rng().random());
                    park(&ctx, &received, due).await;
                }
            }
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
    // Lanes that waited for their tenant's share had no task to hand them back.
    for received in ctx.lanes.drain_waiting() {
        hand_back(&ctx, &received).await;
    }
    // Every finished attempt is committed and settled before the worker stops.
    ctx.recorder.flush().await;
    Ok(())
}

fn lane_key(received: &Dispatch) -> LaneKey<'_> {
    LaneKey { tenant: received.partition.name(), endpoint: &received.delivery.endpoint_id }
}

/// Runs one lane slot: attempts its delivery, then the lane's next waiting one, until
/// the lane has nothing more for it. Holds one of the worker's in-flight permits.
async fn run_lane(
    ctx: WorkerContext,
    mut slot: LaneSlot,
    mut received: Dispatch,
    _permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
) {
    loop {
        let entry = received.entry_id.clone();
        if shutdown.is_cancelled() {
            // Do not start new attempts: hand this delivery and the lane's waiting ones back.
            hand_back(&ctx, &received).await;
            for waiting in ctx.lanes.release(slot, &entry) {
                hand_back(&ctx, &waiting).await;
            }
            return;
        }
        // Entries queued before they carried their endpoint share one lane and skip the breaker.
        let guarded = !slot.endpoint().is_empty();
        let gate = if guarded { ctx.breakers.admit(slot.endpoint()).await } else { Gate::Go { probe: false } };
        let took = match gate {
            Gate::Wait(until_ms) => {
                // Open breaker: nothing goes to this endpoint until it half-opens.
                let mut parked = ctx.lanes.release(slot, &entry);
                parked.push(received);
                for waiting in parked {
                    park(&ctx, &waiting, ctx.breakers.return_time(until_ms)).await;
                }
                return;
            }
            Gate::Go { .. } => {
                tokio::select! {
                    result = attempt::process(&ctx, &received) => match result {
                        Ok(Handled::Sent { failed, took }) => {
                            if guarded {
                                ctx.breakers.record(slot.endpoint(), failed).await;
                            }
                            Some(took)
                        }
                        Ok(Handled::NotSent) => None,
                        Err(error) => {
                            // Left unacknowledged: it is reclaimed and tried again after `reclaim_idle`.
                            tracing::warn!(%error, delivery = %received.delivery.delivery_id, "delivery processing failed; it will be retried");
                            None
                        }
                    },
                    () = hard_stop.cancelled() => {
                        hand_back(&ctx, &received).await;
                        for waiting in ctx.lanes.release(slot, &entry) {
                            hand_back(&ctx, &waiting).await;
                        }
                        return;
                    }
                }
            }
        };
        let next = ctx.lanes.finish(slot, &entry, took);
        for shed in next.park {
            let due = ctx.lanes.park_due(lane_key(&shed), now_ms(), rand::rng().random());
            park(&ctx, &shed, due).await;
        }
        match next.run {
            Some((next_slot, next_received)) => {
                slot = next_slot;
                received = next_received;
            }
            None => return,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Parks a delivery in the delayed set until `due_ms` without spending an attempt.
async fn park(ctx: &WorkerContext, received: &ReceivedDelivery, due_ms: i64) {
    if let Err(error) = ctx.queue.retry_later(received, received.delivery.attempts_made, due_ms).await {
        // Still pending in this consumer's list: it is reclaimed later.
        tracing::warn!(%error, delivery = %received.delivery.delivery_id, "cannot park a delivery");
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
