//! Herald's tenant overview: `GET /api/v1/stats/overview`, the answer to "how many
//! deliveries failed in the last hour, and for whom?", and the counts behind the
//! dashboard's chart. Counts come from the database (see `herald_store` `stats.rs`),
//! so they agree with the message log.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use herald_store::StatusCounts;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantCaller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidQuery;
use crate::ApiState;

/// The longest window one call covers.
const MAX_WINDOW_DAYS: i64 = 31;
/// The most slices the chart may ask for.
const MAX_BUCKETS: u32 = 96;

/// Which window to count.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// Deliveries created at or after this time (default: an hour before `until`).
    pub since: Option<DateTime<Utc>>,
    /// Deliveries created before this time (default: now).
    pub until: Option<DateTime<Utc>>,
    /// Into how many equal slices `series` cuts the window, 1 to 96 (default 12).
    pub buckets: Option<u32>,
}

/// Deliveries in each state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountsOut {
    pub succeeded: u64,
    /// Dead-lettered.
    pub failed: u64,
    pub pending: u64,
    pub discarded: u64,
}

impl From<StatusCounts> for CountsOut {
    fn from(counts: StatusCounts) -> Self {
        Self {
            succeeded: counts.succeeded,
            failed: counts.failed,
            pending: counts.pending,
            discarded: counts.discarded,
        }
    }
}

/// One application's deliveries created in the window, and its dead letters now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOverviewOut {
    pub app_id: String,
    pub app_uid: Option<String>,
    pub app_name: String,
    #[serde(flatten)]
    pub window: CountsOut,
    /// Dead letters now, whenever they were created.
    pub dead_letters: u64,
    /// Attempts that failed in the window.
    pub failed_attempts: u64,
    /// Deliveries with a failed attempt in the window (retrying or dead-lettered since):
    /// the "failed in the last hour" count.
    pub failing_deliveries: u64,
}

/// One slice of the window.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPointOut {
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: CountsOut,
}

/// The tenant overview.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverviewOut {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// All applications together, for the window.
    pub total: CountsOut,
    /// Dead letters now, all applications together.
    pub dead_letters: u64,
    /// Deliveries with a failed attempt in the window, all applications together.
    pub failing_deliveries: u64,
    /// Attempts that failed in the window, all applications together.
    pub failed_attempts: u64,
    /// Applications with deliveries in the window or dead letters, most failures first.
    pub applications: Vec<ApplicationOverviewOut>,
    /// The window in equal slices, oldest first.
    pub series: Vec<SeriesPointOut>,
}

/// How the tenant's deliveries are doing: by state and application over a window
/// (default the last hour), dead letters, and the window in slices for a chart.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "Statistics", operation_id = "herald.stats.overview",
    params(OverviewQuery), security(("HTTPBearer" = [])),
    responses((status = 200, body = OverviewOut), ErrorResponses))]
pub async fn overview(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidQuery(query): ValidQuery<OverviewQuery>,
) -> ApiResult<Json<OverviewOut>> {
    let until = query.until.unwrap_or_else(Utc::now);
    let since = query.since.unwrap_or(until - Duration::hours(1));
    if since >= until {
        return Err(ApiError::query("since", "must be before `until`"));
    }
    if until - since > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::query("since", format!("the window is at most {MAX_WINDOW_DAYS} days")));
    }
    let buckets = query.buckets.unwrap_or(12);
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(ApiError::query("buckets", format!("must be between 1 and {MAX_BUCKETS}")));
    }
    let tenant = caller.tenant_id();
    let counts = state.store.tenant_overview(&tenant, since, until).await?;
    let series = state.store.tenant_series(&tenant, since, until, buckets).await?;
    let ids = counts.iter().map(|c| c.app_id.clone()).collect();
    let apps: HashMap<String, _> =
        state.store.applications_by_id(&tenant, ids).await?.into_iter().map(|a| (a.id.to_string(), a)).collect();

    let mut total = StatusCounts::default();
    let (mut dead_letters, mut failing_deliveries, mut failed_attempts) = (0, 0, 0);
    let mut applications: Vec<ApplicationOverviewOut> = counts
        .into_iter()
        .map(|c| {
            total.succeeded += c.window.succeeded;
            total.failed += c.window.failed;
            total.pending += c.window.pending;
            total.discarded += c.window.discarded;
            dead_letters += c.dead_letters;
            failing_deliveries += c.failing_deliveries;
            failed_attempts += c.failed_attempts;
            let app = apps.get(&c.app_id);
            ApplicationOverviewOut {
                app_uid: app.and_then(|a| a.uid.clone()),
                app_name: app.map(|a| a.name.clone()).unwrap_or_default(),
                app_id: c.app_id,
                window: c.window.into(),
                dead_letters: c.dead_letters,
                failed_attempts: c.failed_attempts,
                failing_deliveries: c.failing_deliveries,
            }
        })
        .collect();
    applications.sort_by(|a, b| {
        let rank =
            |x: &ApplicationOverviewOut| (x.failing_deliveries, x.window.failed, x.dead_letters, x.window.pending);
        rank(b).cmp(&rank(a)).then_with(|| a.app_id.cmp(&b.app_id))
    });
    Ok(Json(OverviewOut {
        since,
        until,
        total: total.into(),
        dead_letters,
        failing_deliveries,
        failed_attempts,
        applications,
        series: series.into_iter().map(|(start, counts)| SeriesPointOut { start, counts: counts.into() }).collect(),
    }))
}

/// Svix's `StatisticsPeriod`: the width of one bucket.
#[derive(Debug, Serialize, ToSchema)]
pub enum StatisticsPeriod {
    FiveMinutes,
}

/// Svix's `AttemptStatisticsData`: attempts per bucket, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptStatisticsData {
    pub success_count: Option<Vec<i64>>,
    pub failure_count: Option<Vec<i64>>,
}

/// Svix's `AttemptStatisticsResponse`: the attempts that succeeded and failed in each
/// five-minute bucket from `startDate` (rounded down to five minutes) to `endDate`
/// (no later than now, rounded up, so the bucket in progress counts).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptStatisticsResponse {
    pub start_date: DateTime<Utc>,
    pub end_date: DateTime<Utc>,
    pub period: StatisticsPeriod,
    pub data: AttemptStatisticsData,
}

/// The window of attempt statistics: both or neither (the last six hours); at most a day.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AttemptStatsQuery {
    /// Start of the window (rounded down to five minutes).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub start_date: Option<DateTime<Utc>>,
    /// End of the window (at most a day after the start; no later than now, rounded up to
    /// five minutes).
    #[serde(default, deserialize_with = "crate::extract::lenient_datetime")]
    pub end_date: Option<DateTime<Utc>>,
}

const BUCKET_MINUTES: i64 = 5;

/// `at` rounded down to a five-minute boundary.
fn round_down(at: DateTime<Utc>) -> DateTime<Utc> {
    let bucket = BUCKET_MINUTES * 60;
    DateTime::from_timestamp(at.timestamp().div_euclid(bucket) * bucket, 0).unwrap_or(at)
}

/// `at` rounded up to a five-minute boundary.
fn round_up(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = round_down(at);
    if down == at {
        at
    } else {
        down.checked_add_signed(Duration::minutes(BUCKET_MINUTES)).unwrap_or(down)
    }
}

impl AttemptStatsQuery {
    /// The window, checked as Svix does; the start rounded down to five minutes and the
    /// end up (Svix's server rounds it down, which leaves out the bucket in progress:
    /// the last minutes' attempts would not show).
    fn window(&self, now: DateTime<Utc>) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
        let (start, mut end) = match (self.start_date, self.end_date) {
            (None, None) => (now - Duration::hours(6), now),
            (Some(start), Some(end)) => (start, end),
            (Some(_), None) => return Err(ApiError::validation(&["query", "endDate"], "is required with startDate")),
            (None, Some(_)) => return Err(ApiError::validation(&["query", "startDate"], "is required with endDate")),
        };
        let sane = |at: DateTime<Utc>| (1970..=9999).contains(&chrono::Datelike::year(&at));
        if !sane(start) || !sane(end) {
            return Err(ApiError::validation(&["query", "startDate"], "must be between the years 1970 and 9999"));
        }
        if start >= end {
            return Err(ApiError::validation(&["query", "startDate"], "must be before endDate"));
        }
        if end - start > Duration::days(1) {
            return Err(ApiError::validation(&["query", "endDate"], "must be at most a day after startDate"));
        }
        if start < now && now < end {
            end = now;
        }
        Ok((round_down(start), round_up(end)))
    }
}

async fn attempt_statistics(
    state: &ApiState,
    endpoint_ids: Vec<String>,
    query: &AttemptStatsQuery,
) -> ApiResult<Json<AttemptStatisticsResponse>> {
    let (start, end) = query.window(Utc::now())?;
    let (succeeded, failed) =
        state.store.attempt_buckets(&endpoint_ids, start, end, Duration::minutes(BUCKET_MINUTES)).await?;
    let some = |counts: Vec<i64>| (!counts.is_empty()).then_some(counts);
    Ok(Json(AttemptStatisticsResponse {
        start_date: start,
        end_date: end,
        period: StatisticsPeriod::FiveMinutes,
        data: AttemptStatisticsData { success_count: some(succeeded), failure_count: some(failed) },
    }))
}

/// Counts the application's attempts that succeeded and failed, per five minutes.
#[utoipa::path(get, path = "/api/v1/stats/app/{app_id}/attempt", tag = "Statistics", operation_id = "v1.statistics.app-attempts",
    params(("app_id" = String, Path, description = "The application's id or uid"), AttemptStatsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = AttemptStatisticsResponse), ErrorResponses))]
pub async fn app_attempts(
    State(state): State<ApiState>,
    caller: crate::auth::Caller,
    axum::extract::Path(app_id): axum::extract::Path<String>,
    ValidQuery(query): ValidQuery<AttemptStatsQuery>,
) -> ApiResult<Json<AttemptStatisticsResponse>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoints = state.store.list_application_endpoints(&app.id).await?;
    attempt_statistics(&state, endpoints.into_iter().map(|endpoint| endpoint.id.to_string()).collect(), &query).await
}

/// Counts the endpoint's attempts that succeeded and failed, per five minutes.
#[utoipa::path(get, path = "/api/v1/stats/app/{app_id}/ep/{endpoint_id}/attempt", tag = "Statistics", operation_id = "v1.statistics.endpoint-attempts",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), AttemptStatsQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = AttemptStatisticsResponse), ErrorResponses))]
pub async fn endpoint_attempts(
    State(state): State<ApiState>,
    caller: crate::auth::Caller,
    axum::extract::Path((app_id, endpoint_id)): axum::extract::Path<(String, String)>,
    ValidQuery(query): ValidQuery<AttemptStatsQuery>,
) -> ApiResult<Json<AttemptStatisticsResponse>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = super::endpoints::find(&state, &app, &endpoint_id).await?;
    attempt_statistics(&state, vec![endpoint.id.to_string()], &query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_is_rounded_down_to_five_minutes_and_ends_no_later_than_now() {
        let now = at("2026-12-07T12:07:30Z");
        let both = |start: &str, end: &str| AttemptStatsQuery { start_date: Some(at(start)), end_date: Some(at(end)) };
        let window = both("2026-12-07T10:03:00Z", "2026-12-07T13:00:00Z").window(now).unwrap();
        assert_eq!(window, (at("2026-12-07T10:00:00Z"), at("2026-12-07T12:10:00Z")));
        let default = AttemptStatsQuery { start_date: None, end_date: None }.window(now).unwrap();
        assert_eq!(default, (at("2026-12-07T06:05:00Z"), at("2026-12-07T12:10:00Z")));
        let aligned = both("2026-12-07T10:00:00Z", "2026-12-07T11:00:00Z").window(now).unwrap();
        assert_eq!(aligned, (at("2026-12-07T10:00:00Z"), at("2026-12-07T11:00:00Z")));
    }

    #[test]
    fn a_window_needs_both_ends_in_order_and_at_most_a_day_apart() {
        let now = at("2026-12-07T12:00:00Z");
        let query = |start: Option<&str>, end: Option<&str>| AttemptStatsQuery {
            start_date: start.map(at),
            end_date: end.map(at),
        };
        assert!(query(Some("2026-12-07T10:00:00Z"), None).window(now).is_err());
        assert!(query(None, Some("2026-12-07T10:00:00Z")).window(now).is_err());
        assert!(query(Some("2026-12-07T10:00:00Z"), Some("2026-12-07T09:00:00Z")).window(now).is_err());
        assert!(query(Some("2026-12-05T10:00:00Z"), Some("2026-12-07T09:00:00Z")).window(now).is_err());
    }
}
