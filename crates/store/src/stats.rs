//! Counts for the operator: the tenant overview ("how many deliveries failed in the
//! last hour, and for whom?") and the dead letters per tenant that `/metrics` shows.
//!
//! Both are grouped counts over indexes made for them: `ix_deliveries_tenant_created`
//! `(tenant_id, created_at, app_id, status)` for a tenant's deliveries in a window, and
//! the partial `ix_deliveries_dead` and `ix_attempts_failed` for dead letters and
//! failed attempts (see `conditions`). On PostgreSQL they are index-only scans.

use herald_core::TenantId;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_core::DeliveryStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::conditions::{attempt_failed, delivery_status_is};
use crate::entity::{attempt, delivery};
use crate::{Store, StoreResult};

/// Deliveries in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub succeeded: u64,
    pub failed: u64,
    pub pending: u64,
    pub discarded: u64,
}

impl StatusCounts {
    fn add(&mut self, status: &str, count: i64) {
        let count = count.max(0) as u64;
        match DeliveryStatus::parse(status) {
            Some(DeliveryStatus::Succeeded) => self.succeeded += count,
            Some(DeliveryStatus::Failed) => self.failed += count,
            Some(DeliveryStatus::Pending) => self.pending += count,
            Some(DeliveryStatus::Discarded) => self.discarded += count,
            _ => {}
        }
    }
}

/// One application's line in the overview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationCounts {
    pub app_id: String,
    /// Deliveries created in the window, by their state now.
    pub window: StatusCounts,
    /// Dead letters now, whenever they were created.
    pub dead_letters: u64,
    /// Attempts that failed in the window, whenever their delivery was created.
    pub failed_attempts: u64,
    /// Deliveries with at least one failed attempt in the window: "who failed in the
    /// last hour", retries still to come included.
    pub failing_deliveries: u64,
}

impl Store {
    /// Dead letters per tenant, for `/metrics`.
    pub async fn dead_letter_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::TenantId)
            .column_as(delivery::Column::Id.count(), "count")
            .filter(delivery_status_is(DeliveryStatus::Failed))
            .group_by(delivery::Column::TenantId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(tenant, count)| (tenant, count.max(0) as u64)).collect())
    }

    /// A tenant's deliveries created in `[since, until)`, by application and state,
    /// its attempts that failed in the window, and each application's dead letters
    /// now. Applications with none of these are absent.
    pub async fn tenant_overview(
        &self,
        tenant_id: &TenantId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<ApplicationCounts>> {
        let tenant_id = tenant_id.as_str();
        let mut apps: BTreeMap<String, ApplicationCounts> = BTreeMap::new();
        let in_window: Vec<(String, String, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::AppId)
            .column(delivery::Column::Status)
            .column_as(delivery::Column::Id.count(), "count")
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .filter(delivery::Column::CreatedAt.gte(since))
            .filter(delivery::Column::CreatedAt.lt(until))
            .group_by(delivery::Column::AppId)
            .group_by(delivery::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (app_id, status, count) in in_window {
            let entry =
                apps.entry(app_id.clone()).or_insert_with(|| ApplicationCounts { app_id, ..Default::default() });
            entry.window.add(&status, count);
        }
        let dead: Vec<(String, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::AppId)
            .column_as(delivery::Column::Id.count(), "count")
            .filter(delivery_status_is(DeliveryStatus::Failed))
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .group_by(delivery::Column::AppId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let failing: Vec<(String, i64, i64)> = attempt::Entity::find()
            .select_only()
            .column(attempt::Column::AppId)
            .column_as(attempt::Column::Id.count(), "attempts")
            .column_as(Expr::col(attempt::Column::DeliveryId).count_distinct(), "deliveries")
            .filter(attempt::Column::TenantId.eq(tenant_id))
            .filter(attempt::Column::CreatedAt.gte(since))
            .filter(attempt::Column::CreatedAt.lt(until))
            .filter(attempt_failed())
            .group_by(attempt::Column::AppId)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (app_id, attempts, deliveries) in failing {
            let entry =
                apps.entry(app_id.clone()).or_insert_with(|| ApplicationCounts { app_id, ..Default::default() });
            entry.failed_attempts = attempts.max(0) as u64;
            entry.failing_deliveries = deliveries.max(0) as u64;
        }
        for (app_id, count) in dead {
            let entry =
                apps.entry(app_id.clone()).or_insert_with(|| ApplicationCounts { app_id, ..Default::default() });
            entry.dead_letters = count.max(0) as u64;
        }
        Ok(apps.into_values().collect())
    }

    /// A tenant's deliveries created in each of `buckets` equal slices of
    /// `[since, until)`, by state now: the overview's chart.
    pub async fn tenant_series(
        &self,
        tenant_id: &TenantId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        buckets: u32,
    ) -> StoreResult<Vec<(DateTime<Utc>, StatusCounts)>> {
        let tenant_id = tenant_id.as_str();
        let buckets = buckets.max(1);
        let width = (until - since) / buckets as i32;
        let mut series = Vec::with_capacity(buckets as usize);
        for index in 0..buckets {
            let start = since + width * index as i32;
            let end = if index + 1 == buckets { until } else { start + width };
            let rows: Vec<(String, i64)> = delivery::Entity::find()
                .select_only()
                .column(delivery::Column::Status)
                .column_as(delivery::Column::Id.count(), "count")
                .filter(delivery::Column::TenantId.eq(tenant_id))
                .filter(delivery::Column::CreatedAt.gte(start))
                .filter(delivery::Column::CreatedAt.lt(end))
                .group_by(delivery::Column::Status)
                .into_tuple()
                .all(&self.db)
                .await?;
            let mut counts = StatusCounts::default();
            for (status, count) in rows {
                counts.add(&status, count);
            }
            series.push((start, counts));
        }
        Ok(series)
    }
}

impl Store {
    /// The endpoints' attempts that succeeded and failed in each `width`-long bucket of
    /// `[start, end)`, by when they were made: Svix's attempt statistics. Each bucket is one
    /// count over `ix_attempts_endpoint (endpoint_id, id)`, whose ids begin with their
    /// creation time, so the cost follows the attempts in the window, never the table.
    pub async fn attempt_buckets(
        &self,
        endpoint_ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        width: chrono::Duration,
    ) -> StoreResult<(Vec<i64>, Vec<i64>)> {
        let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
        let mut from = start;
        while from < end {
            let to = (from + width).min(end);
            let (mut ok, mut failing) = (0, 0);
            if !endpoint_ids.is_empty() {
                let rows: Vec<(i16, i64)> = attempt::Entity::find()
                    .select_only()
                    .column(attempt::Column::Status)
                    .column_as(attempt::Column::Id.count(), "count")
                    .filter(attempt::Column::EndpointId.is_in(endpoint_ids.iter().map(String::as_str)))
                    .filter(attempt::Column::Id.gte(first_attempt_id_at(from)))
                    .filter(attempt::Column::Id.lt(first_attempt_id_at(to)))
                    .group_by(attempt::Column::Status)
                    .into_tuple()
                    .all(&self.db)
                    .await?;
                for (status, count) in rows {
                    match status {
                        0 => ok += count,
                        2 => failing += count,
                        _ => {}
                    }
                }
            }
            succeeded.push(ok);
            failed.push(failing);
            from = to;
        }
        Ok((succeeded, failed))
    }
}

/// The smallest attempt id made at `at`: ids sort by the millisecond they were made in.
fn first_attempt_id_at(at: DateTime<Utc>) -> String {
    herald_core::AttemptId::generate(at.timestamp_millis().max(0) as u64, [0; 10]).into_string()
}
