//! The task runner: carries out background tasks (a paced `recover`) one batch a
//! second, under a Redis lease so one worker at a time runs them.
//!
//! Each second a task releases as many deliveries as its endpoint's pace allows: the
//! endpoint's `rateLimit` when it has one, else the recovery ramp
//! ([`herald_core::ramp`]), which starts low, doubles every second and halves while
//! the endpoint's breaker is open (nothing is released then). The released deliveries
//! are due at once; the workers' lanes and pacing send them. A batch and the task's
//! progress commit together (`Store::advance_recover_task`), so a restart carries on
//! where the last batch ended.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::ramp::Ramp;
use tokio_util::sync::CancellationToken;

use crate::{WorkerContext, WorkerError};

/// How often tasks release a batch.
const TICK: Duration = Duration::from_secs(1);
/// The most a task releases in a tick once its ramp has ended.
const FULL_BATCH: u64 = 1_000;
/// Running tasks looked at per tick.
const TASKS_PER_TICK: u64 = 100;

/// Runs background tasks until `shutdown`.
pub async fn task_loop(ctx: WorkerContext, shutdown: CancellationToken) {
    let mut ramps: HashMap<String, Option<Ramp>> = HashMap::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = run_once(&ctx, &mut ramps).await {
            tracing::warn!(%error, "background tasks could not advance; trying again");
        }
    }
}

/// One tick: each running task releases its next batch. Returns how many deliveries.
pub async fn run_once(ctx: &WorkerContext, ramps: &mut HashMap<String, Option<Ramp>>) -> Result<usize, WorkerError> {
    if !ctx.queue.try_lease("tasks", &ctx.config.consumer_name, TICK * 5).await? {
        ramps.clear();
        return Ok(0);
    }
    let running = ctx.store.running_tasks(TASKS_PER_TICK).await?;
    ramps.retain(|id, _| running.iter().any(|task| task.id.as_str() == id));
    let mut released = 0;
    for task in running {
        let endpoint = ctx.store.find_endpoint(&task.app_id, task.endpoint_id.as_str()).await?;
        let rate_limit = endpoint.as_ref().and_then(|endpoint| endpoint.rate_limit).filter(|limit| *limit > 0);
        let now = Instant::now();
        let ramp = ramps.entry(task.id.to_string()).or_insert_with(|| ctx.config.ramp.begin(now));
        let batch = match rate_limit {
            Some(limit) => limit as u64,
            None => {
                let open = ctx.queue.breaker(task.endpoint_id.as_str()).await?.is_some();
                if let Some(ramp) = ramp.as_mut() {
                    ramp.record(open);
                }
                if open {
                    // Down again: release nothing while its breaker is open.
                    continue;
                }
                match ramp.as_mut().and_then(|ramp| ramp.pace(now)) {
                    Some(pace) => pace.ceil() as u64,
                    None => {
                        *ramp = None;
                        FULL_BATCH
                    }
                }
            }
        };
        let Some((_, restarted)) = ctx.store.advance_recover_task(&task, batch, Utc::now()).await? else { continue };
        released += restarted.len();
        crate::queue_released(&ctx.queue, &restarted).await;
    }
    Ok(released)
}
