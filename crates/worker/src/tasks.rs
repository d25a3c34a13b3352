//! The task runner: carries out background tasks (a paced `recover`, `replay-missing`,
//! `bulk-replay` or dead-letter replay, and an application's `purge_content`) one batch a
//! second, under a Redis lease so one worker at a time runs them.
//!
//! Each second an endpoint's tasks release, between them, as many deliveries as its
//! pace allows: the endpoint's `rateLimit` when it has one, else the recovery ramp
//! ([`herald_core::ramp`]), which starts low and doubles every second. Nothing is
//! released while the endpoint is disabled or its breaker is open, and the ramp starts
//! again from the bottom when it comes back. The released deliveries are due at once;
//! the workers' lanes and pacing send them. A batch and the task's progress commit
//! together (`Store::advance_task`), so a restart carries on where the last batch
//! ended.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::ramp::Ramp;
use herald_store::entity::endpoint;
use tokio_util::sync::CancellationToken;

use crate::{WorkerContext, WorkerError};

/// How often tasks release a batch.
const TICK: Duration = Duration::from_secs(1);
/// The most a task releases in a tick once its ramp has ended.
const FULL_BATCH: u64 = 1_000;
/// Running tasks looked at per tick.
const TASKS_PER_TICK: u64 = 100;
/// Messages an application-level purge expunges per tick: a few hundred milliseconds of
/// writes, so it never holds up the hot path for long.
const PURGE_BATCH: u64 = 1_000;
/// Endpoints back from an outage whose redrive starts per tick.
const REDRIVES_PER_TICK: u64 = 50;

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

/// One tick: each running task releases its next batch, the tasks of one endpoint
/// sharing its pace. `ramps` holds each endpoint's recovery ramp between ticks.
/// Returns how many deliveries were released.
pub async fn run_once(ctx: &WorkerContext, ramps: &mut HashMap<String, Option<Ramp>>) -> Result<usize, WorkerError> {
    if !ctx.queue.try_lease("tasks", &ctx.config.consumer_name, TICK * 5).await? {
        ramps.clear();
        return Ok(0);
    }
    if let Some(after) = ctx.config.auto_redrive_after {
        if let Err(error) = redrive(ctx, after).await {
            tracing::warn!(%error, "automatic redrives could not start; trying again");
        }
    }
    let running = ctx.store.running_tasks(TASKS_PER_TICK).await?;
    ramps.retain(|endpoint, _| {
        running.iter().any(|task| task.endpoint_id.as_ref().is_some_and(|id| id.as_str() == endpoint))
    });
    // Each endpoint (`None`: deleted) and what it may still take this tick.
    let mut budgets: HashMap<String, (Option<endpoint::Model>, u64)> = HashMap::new();
    let mut passed_over = Vec::new();
    let mut released = 0;
    for task in running {
        let Some(endpoint) = task.endpoint_id.as_ref().map(|id| id.to_string()) else {
            // An application-level task: no endpoint to pace it.
            if let Err(error) = advance_application_task(ctx, &task).await {
                tracing::warn!(%error, task = %task.id, "background task could not advance; trying again");
                passed_over.push(task.id.to_string());
            }
            continue;
        };
        let paced = match budgets.get(&endpoint) {
            Some(paced) => Some(paced.clone()),
            None => match endpoint_pace(ctx, &task, ramps).await {
                Ok(paced) => Some(budgets.entry(endpoint.clone()).or_insert(paced).clone()),
                Err(error) => {
                    tracing::warn!(%error, task = %task.id, "background task skipped this tick");
                    passed_over.push(task.id.to_string());
                    None
                }
            },
        };
        let Some((Some(target), budget)) = paced else { continue };
        if budget == 0 {
            passed_over.push(task.id.to_string());
            continue;
        }
        match ctx.store.advance_task(&task, &target, budget, Utc::now()).await {
            Ok(Some((_, made_due))) => {
                released += made_due.len();
                budgets.insert(endpoint, (Some(target), budget.saturating_sub(made_due.len() as u64)));
                crate::queue_released(&ctx.queue, &made_due).await;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, task = %task.id, "background task could not advance; trying again");
                passed_over.push(task.id.to_string());
            }
        }
    }
    // Paused tasks go to the back, so that the first TASKS_PER_TICK are not all paused.
    ctx.store.pass_over_tasks(&passed_over, Utc::now()).await?;
    Ok(released)
}

/// One batch of an application-level task; a type this version cannot run fails.
async fn advance_application_task(
    ctx: &WorkerContext,
    task: &herald_store::entity::background_task::Model,
) -> Result<(), WorkerError> {
    if task.task != herald_store::PURGE_CONTENT_TASK {
        ctx.store.fail_task(task, Utc::now()).await?;
        tracing::warn!(task = %task.id, kind = %task.task, "a background task this version cannot run: it failed");
        return Ok(());
    }
    ctx.store.advance_purge(task, PURGE_BATCH, Utc::now()).await?;
    Ok(())
}

/// Automatic redrive: marks the outages that have lasted longer than `after`, and
/// starts the redrive tasks of the endpoints that came back (the store claims each
/// endpoint as it records its tasks, so a redrive starts once).
async fn redrive(ctx: &WorkerContext, after: Duration) -> Result<(), WorkerError> {
    let now = Utc::now();
    let after = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
    ctx.store.mark_outages(now.checked_sub_signed(after).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)).await?;
    for task in ctx.store.start_redrives(now, REDRIVES_PER_TICK).await? {
        tracing::info!(task = %task.id, kind = %task.task, endpoint = ?task.endpoint_id, total = task.total,
            "an endpoint came back: automatic redrive started");
    }
    Ok(())
}

/// How many deliveries `task`'s endpoint may take this tick: its `rateLimit` when it
/// has one, else its recovery ramp's pace (or a full batch once the ramp has ended).
/// Nothing while the endpoint is disabled or its breaker is open, and its ramp starts
/// again from the bottom when it comes back. A task whose endpoint was deleted fails.
async fn endpoint_pace(
    ctx: &WorkerContext,
    task: &herald_store::entity::background_task::Model,
    ramps: &mut HashMap<String, Option<Ramp>>,
) -> Result<(Option<endpoint::Model>, u64), WorkerError> {
    let now = Instant::now();
    let endpoint_id = task.endpoint_id.as_ref().map_or("", |id| id.as_str());
    let Some(endpoint) = ctx.store.find_endpoint(&task.app_id, endpoint_id).await? else {
        ctx.store.fail_task(task, Utc::now()).await?;
        tracing::info!(task = %task.id, "the task's endpoint was deleted: the task failed");
        return Ok((None, 0));
    };
    let ramp = ramps.entry(endpoint.id.to_string()).or_insert_with(|| ctx.config.ramp.begin(now));
    let open = ctx.queue.breaker(endpoint.id.as_str()).await?.is_some();
    if endpoint.disabled || open {
        *ramp = ctx.config.ramp.begin(now);
        return Ok((Some(endpoint), 0));
    }
    let pace = match endpoint.rate_limit.filter(|limit| *limit > 0) {
        Some(limit) => limit as u64,
        None => match ramp.as_mut().and_then(|ramp| ramp.pace(now)) {
            Some(pace) => pace.ceil() as u64,
            None => {
                *ramp = None;
                FULL_BATCH
            }
        },
    };
    Ok((Some(endpoint), pace.min(FULL_BATCH)))
}
