//! The dispatcher (read, place in a lane, attempt, acknowledge), the promoter
//! (delayed → stream) and the liveness loop (lease, takeover of dead workers).
//!
//! The dispatcher reads only partitions in the ready set (see `herald_queue`'s
//! `active` module), one `XREADGROUP` per partition in one round trip, round-robin
//! with an equal share of the free capacity each: a busy tenant gets what the others
//! leave, and a small tenant's first message is read in the next round, never behind
//! a big backlog. With nothing ready it blocks on the signal stream, so an idle
//! worker costs the same whatever the number of tenants.
//!
//! The reader never waits on an endpoint: a delivery either starts in its lane, waits
//! in memory behind a busy lane that will work it off soon, or moves to the endpoint's
//! waiting set in Redis (attempt count unchanged; see `herald_queue`'s `waiting`
//! module). A lane task runs attempts one after another and takes its lane's next
//! waiting delivery when one finishes; when its memory is empty it brings back from
//! Redis as many as the lane can take. An open circuit breaker moves the lane's
//! deliveries to the waiting set until the breaker's cool-down ends.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_queue::{Partition, ReceivedDelivery, Wake};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::attempt::{Dispatch, Handled};
use crate::breakers::Gate;
use crate::lanes::{LaneKey, LaneSlot, Offer};
use crate::{attempt, WorkerContext, WorkerError};

/// How long an idle reader waits for work to be announced. Short, so shutdown is
/// noticed quickly.
const READ_BLOCK: Duration = Duration::from_millis(500);
/// How often due retries are promoted.
const PROMOTE_EVERY: Duration = Duration::from_millis(200);
/// Most entries promoted from one partition per tick.
const PROMOTE_BATCH: usize = 1_000;
/// Pause after an error talking to Redis, so an outage is not a busy loop.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// Reads and attempts deliveries until `shutdown`, then drains or hands back.
pub async fn dispatch_loop(ctx: WorkerContext, shutdown: CancellationToken) -> Result<(), WorkerError> {
    let consumer = ctx.config.consumer_name.clone();
    let mut reader = ctx.queue.reader(&consumer).await?;
    // The batch loads keep one connection (see `herald_store::Session`).
    let mut session = ctx.store.session();
    let permits = Arc::new(Semaphore::new(ctx.config.max_in_flight.max(1)));
    let hard_stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    // Partitions whose consumer group this worker made sure of, and those where it may
    // hold entries (listed in Redis before the first read, for whoever takes it over).
    let mut grouped: HashSet<Partition> = HashSet::new();
    let mut held: BTreeSet<Partition> = BTreeSet::new();
    let mut cursor = 0usize;
    let mut reclaimed_at = Instant::now();
    let reclaim_every = (ctx.config.reclaim_idle / 2).clamp(Duration::from_millis(250), Duration::from_secs(30));

    while !shutdown.is_cancelled() {
        while tasks.try_join_next().is_some() {}
        if reclaimed_at.elapsed() >= reclaim_every {
            reclaimed_at = Instant::now();
            reclaim_own(&ctx, &mut held).await;
        }
        let available = permits.available_permits();
        if available == 0 {
            tokio::select! {
                permit = permits.clone().acquire_owned() => drop(permit),
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        let ready = match ctx.queue.ready_partitions().await {
            Ok(ready) => ready,
            Err(error) => {
                tracing::warn!(%error, "cannot list ready partitions");
                pause(&shutdown, ERROR_PAUSE).await;
                continue;
            }
        };
        if ready.is_empty() {
            tokio::select! {
                waited = reader.wait_for_work(READ_BLOCK) => if let Err(error) = waited {
                    tracing::warn!(%error, "cannot wait for work");
                    pause(&shutdown, ERROR_PAUSE).await;
                },
                () = shutdown.cancelled() => break,
            }
            continue;
        }
        let (chosen, quantum) = fair_share(&ready, &mut cursor, available, ctx.config.read_batch.max(1));
        if let Err(error) = prepare(&ctx, &chosen, &mut grouped, &mut held).await {
            tracing::warn!(%error, "cannot prepare partitions for reading");
            pause(&shutdown, ERROR_PAUSE).await;
            continue;
        }
        let batch = match reader.read_round(&chosen, quantum).await {
            Ok(round) => {
                let mut batch = round.received;
                match reader.retire(&round.empty, quantum).await {
                    Ok(late) => batch.extend(late),
                    Err(error) => tracing::warn!(%error, "cannot retire drained partitions"),
                }
                batch
            }
            Err(error) => {
                // A vanished group (Redis lost its keys) is recreated on the next look.
                grouped.clear();
                tracing::warn!(%error, "cannot read from the queue");
                pause(&shutdown, ERROR_PAUSE).await;
                continue;
            }
        };
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
            if received.waited {
                ctx.lanes.note_waiting_in_redis(lane_key(&received));
            }
            if let Some(until) = ctx.breakers.open_until(&endpoint).filter(|_| !endpoint.is_empty()) {
                wait_for_endpoint(&ctx, &received, ctx.breakers.return_time(until)).await;
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
                    wait_for_endpoint(&ctx, &received, now_ms() + wake_after(&ctx)).await;
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
    // Whatever is still pending (Redis refused a hand-back) is taken over at once.
    if let Err(error) = ctx.queue.give_up_lease(&consumer).await {
        tracing::warn!(%error, "cannot give up the worker lease; it lapses on its own");
    }
    Ok(())
}

/// Round-robin over the ready partitions: at most one partition per free permit,
/// starting after where the last round stopped, each read for an equal share of the
/// free capacity (at least 1, at most `read_batch`).
fn fair_share(ready: &[Partition], cursor: &mut usize, available: usize, read_batch: usize) -> (Vec<Partition>, usize) {
    let take = ready.len().min(available.max(1));
    let start = *cursor % ready.len();
    let chosen: Vec<Partition> = ready.iter().cycle().skip(start).take(take).cloned().collect();
    *cursor = (start + take) % ready.len();
    let quantum = (available / take).clamp(1, read_batch);
    (chosen, quantum)
}

/// Makes sure each partition has its consumer group, and lists in Redis those where
/// this worker is about to hold entries for the first time.
async fn prepare(
    ctx: &WorkerContext,
    partitions: &[Partition],
    grouped: &mut HashSet<Partition>,
    held: &mut BTreeSet<Partition>,
) -> Result<(), WorkerError> {
    for partition in partitions {
        if !grouped.contains(partition) {
            ctx.queue.ensure_group(partition).await?;
            grouped.insert(partition.clone());
        }
    }
    let new: Vec<Partition> = partitions.iter().filter(|p| !held.contains(*p)).cloned().collect();
    ctx.queue.note_held(&ctx.config.consumer_name, &new).await?;
    held.extend(new);
    Ok(())
}

/// Hands back entries this worker left unacknowledged for `reclaim_idle` (an attempt
/// whose record failed, a settlement Redis refused), and stops listing partitions
/// where it holds nothing. Runs in the dispatch loop, so no read races the pruning.
async fn reclaim_own(ctx: &WorkerContext, held: &mut BTreeSet<Partition>) {
    let consumer = &ctx.config.consumer_name;
    let mut idle = Vec::new();
    for partition in held.iter() {
        match ctx.queue.requeue_pending(partition, consumer, ctx.config.reclaim_idle).await {
            Ok(0) => {}
            Ok(count) => {
                ctx.metrics.reclaimed(partition.name(), count as u64);
                tracing::info!(partition = partition.name(), count, "handed back deliveries left unacknowledged");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot hand back unacknowledged deliveries");
                return;
            }
        }
        match ctx.queue.holds_pending(partition, consumer).await {
            Ok(false) => idle.push(partition.clone()),
            Ok(true) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot check pending deliveries");
                return;
            }
        }
    }
    for partition in idle {
        if ctx.queue.forget_held(consumer, &partition).await.is_ok() {
            held.remove(&partition);
        }
    }
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
        let took = match ctx.breakers.admit(slot.endpoint()).await {
            Gate::Wait(until_ms) => {
                // Open breaker: nothing goes to this endpoint until it half-opens.
                let mut parked = ctx.lanes.release(slot, &entry);
                parked.push(received);
                for waiting in parked {
                    wait_for_endpoint(&ctx, &waiting, ctx.breakers.return_time(until_ms)).await;
                }
                return;
            }
            Gate::Go { .. } => {
                tokio::select! {
                    result = attempt::process(&ctx, &received) => match result {
                        Ok(Handled::Sent { failed, took }) => {
                            ctx.breakers.record(slot.endpoint(), failed).await;
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
        let (partition, endpoint) = (received.partition.clone(), slot.endpoint().to_owned());
        let next = ctx.lanes.finish(slot, &entry, took);
        for shed in next.park {
            wait_for_endpoint(&ctx, &shed, now_ms() + wake_after(&ctx)).await;
        }
        // Room in the lane, unless the breaker just opened (a failed probe): what waits
        // would only be parked again.
        if next.release > 0 && ctx.breakers.open_until(&endpoint).is_none() {
            release_waiting(&ctx, &partition, &endpoint, next.release).await;
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

/// Moves a delivery to its endpoint's waiting set (without spending an attempt), to
/// come back when a lane has room, or from `wake_ms` on.
async fn wait_for_endpoint(ctx: &WorkerContext, received: &ReceivedDelivery, wake_ms: i64) {
    ctx.lanes
        .note_waiting_in_redis(LaneKey { tenant: received.partition.name(), endpoint: &received.delivery.endpoint_id });
    if let Err(error) = ctx.queue.wait_for_endpoint(received, wake_ms).await {
        // Still pending in this consumer's list: it is reclaimed later.
        tracing::warn!(%error, delivery = %received.delivery.delivery_id, "cannot park a delivery");
    }
}

/// Brings back up to `count` deliveries waiting for an endpoint whose lane has room.
async fn release_waiting(ctx: &WorkerContext, partition: &Partition, endpoint: &str, count: usize) {
    match ctx.queue.release_waiting(partition, endpoint, count).await {
        Ok(moved) if moved < count => {
            ctx.lanes.note_none_waiting_in_redis(LaneKey { tenant: partition.name(), endpoint });
        }
        Ok(_) => {}
        // They stay waiting; the endpoint's wake time brings them back.
        Err(error) => tracing::warn!(%error, "cannot release deliveries waiting for an endpoint"),
    }
}

/// How long a delivery waits for a full lane at most before the promoter releases
/// some (the request timeout, at least a minute: about when a hung lane frees up).
fn wake_after(ctx: &WorkerContext) -> i64 {
    ctx.config.sender.request_timeout.max(Duration::from_secs(60)).as_millis() as i64
}

async fn hand_back(ctx: &WorkerContext, received: &ReceivedDelivery) {
    if let Err(error) = ctx.queue.release(received).await {
        // Still pending in this consumer's list: another worker reclaims it.
        tracing::warn!(%error, delivery = %received.delivery.delivery_id, "cannot hand back a delivery");
    }
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
    let wake =
        Wake { batch: ctx.config.endpoint_concurrency.max(1), interval: Duration::from_millis(wake_after(ctx) as u64) };
    ctx.queue.promote_due_partitions(PROMOTE_BATCH, wake).await?;
    Ok(())
}

/// Renews this worker's lease every third of it, and takes over workers whose lease
/// lapsed, until `stop`. Its own task, so a busy dispatcher never lets the lease lapse.
pub async fn liveness_loop(ctx: WorkerContext, stop: CancellationToken) {
    let consumer = ctx.config.consumer_name.clone();
    let every = (ctx.config.worker_lease / 3).max(Duration::from_millis(100));
    while !stop.is_cancelled() {
        if let Err(error) = ctx.queue.renew_lease(&consumer, ctx.config.worker_lease).await {
            tracing::warn!(%error, "cannot renew the worker lease");
        }
        match ctx.queue.lapsed_workers().await {
            Ok(lapsed) => {
                for dead in lapsed.iter().filter(|dead| **dead != consumer) {
                    match ctx.queue.take_over(dead, &consumer).await {
                        Ok(Some(handed_back)) => {
                            let count: usize = handed_back.iter().map(|(_, count)| count).sum();
                            for (partition, count) in handed_back.iter().filter(|(_, count)| *count > 0) {
                                ctx.metrics.reclaimed(partition.name(), *count as u64);
                            }
                            tracing::info!(worker = %dead, count, "took over a worker whose lease lapsed");
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, worker = %dead, "cannot take over a worker"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list lapsed workers"),
        }
        pause(&stop, every).await;
    }
}

/// Sleeps for `duration` or until `token` is cancelled.
pub(crate) async fn pause(token: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = token.cancelled() => {}
    }
}
