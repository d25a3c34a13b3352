//! The reconciler: the database says a delivery is due, Redis has no trace of it
//! (Redis restarted without persistence, was flushed, or an enqueue after commit
//! failed) — so queue it again. A delivery overdue that Redis does track may sit in a
//! partition no index lists (a failover lost the index's last writes): its partition
//! is listed again. One worker at a time runs it, under a Redis lease.

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use herald_core::{DueDelivery, TenantId};
use herald_queue::Partition;
use herald_store::entity::delivery;
use tokio_util::sync::CancellationToken;

use crate::dispatcher::pause;
use crate::{WorkerContext, WorkerError};

/// Deliveries checked per database page.
const PAGE: u64 = 1_000;
/// Most pages per pass, so one pass stays bounded.
const MAX_PAGES: usize = 100;

/// Runs a reconciliation pass every `reconcile_interval` until `stop`.
pub async fn reconcile_loop(ctx: WorkerContext, stop: CancellationToken) {
    while !stop.is_cancelled() {
        pause(&stop, ctx.config.reconcile_interval).await;
        if stop.is_cancelled() {
            break;
        }
        match reconcile_once(&ctx).await {
            Ok(0) => {}
            Ok(requeued) => tracing::warn!(requeued, "reconciler re-queued deliveries Redis had lost"),
            Err(error) => tracing::warn!(%error, "reconciliation pass failed"),
        }
    }
}

/// One pass. Returns how many deliveries were re-queued.
pub async fn reconcile_once(ctx: &WorkerContext) -> Result<usize, WorkerError> {
    let lease_ttl = ctx.config.reconcile_interval * 2;
    if !ctx.queue.try_lease("reconciler", &ctx.config.consumer_name, lease_ttl).await? {
        return Ok(0);
    }
    let due_before = Utc::now() - chrono::Duration::from_std(ctx.config.reconcile_grace).unwrap_or_default();
    let mut after: Option<String> = None;
    let mut requeued = 0;
    let mut still_tracked: Vec<Partition> = Vec::new();
    for _ in 0..MAX_PAGES {
        let overdue = ctx.store.overdue_deliveries(due_before, after.as_deref(), PAGE).await?;
        let Some(last) = overdue.last() else { break };
        after = Some(last.id.to_string());
        let full_page = overdue.len() as u64 == PAGE;

        let mut by_tenant: BTreeMap<TenantId, Vec<DueDelivery>> = BTreeMap::new();
        for due in delivery::due(&overdue) {
            by_tenant.entry(due.tenant_id.clone()).or_default().push(due);
        }
        for (tenant, deliveries) in by_tenant {
            let partition = Partition::for_tenant(tenant.as_str());
            let ids: Vec<String> = deliveries.iter().map(|due| due.delivery_id.as_str().to_owned()).collect();
            let missing: HashSet<String> = ctx.queue.untracked(&partition, &ids).await?.into_iter().collect();
            let lost: Vec<DueDelivery> =
                deliveries.into_iter().filter(|due| missing.contains(due.delivery_id.as_str())).collect();
            if lost.len() < ids.len() {
                // Overdue yet tracked: in Redis, perhaps where no index points.
                still_tracked.push(partition.clone());
            }
            requeued += lost.len();
            ctx.queue.hand_off(&lost).await?;
            if !lost.is_empty() {
                ctx.metrics.reconciled(tenant.as_str(), lost.len() as u64);
            }
        }
        if !full_page {
            break;
        }
    }
    still_tracked.sort();
    still_tracked.dedup();
    ctx.queue.reindex(&still_tracked).await?;
    Ok(requeued)
}
