//! The dead-letter queue of an application (Herald's addition; Svix's OSS server has
//! only `recover`): list the deliveries that exhausted their retries, replay some or
//! all of them (background tasks at each endpoint's pace), or discard them. See
//! `docs/api.md`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::ApplicationId;
use herald_store::{DeadLetter, DeadLetterSelection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::background_tasks::BackgroundTaskOut;
use super::{envelope, ListResponse, PageQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::validate::Validator;
use crate::ApiState;

/// Most message ids named in one replay or discard.
const MAX_MSG_IDS: usize = 1_000;

/// One dead-lettered delivery: a message that could not be delivered to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterOut {
    pub msg_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    /// Attempts made over the delivery's life (every retry cycle).
    pub attempt_count: i32,
    pub dead_lettered_at: DateTime<Utc>,
    /// The HTTP status of the last attempt, when a response came.
    pub last_status_code: Option<i16>,
    /// The outcome class of the last attempt (`http_status`, `timeout`, `connect`, …);
    /// absent when the delivery was dead-lettered without an attempt (endpoint disabled).
    pub last_outcome: Option<String>,
}

impl From<DeadLetter> for DeadLetterOut {
    fn from(letter: DeadLetter) -> Self {
        let last = letter.last_attempt;
        Self {
            msg_id: letter.delivery.msg_id.to_string(),
            endpoint_id: letter.delivery.endpoint_id.to_string(),
            event_type: letter.event_type,
            event_id: letter.event_id,
            attempt_count: letter.delivery.attempt_count,
            dead_lettered_at: letter.delivery.updated_at,
            last_status_code: last.as_ref().map(|a| a.response_status_code).filter(|code| *code > 0),
            last_outcome: last.map(|a| a.outcome_class),
        }
    }
}

/// Which dead letters to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeadLettersQuery {
    /// Only this endpoint's (id or uid).
    pub endpoint_id: Option<String>,
    /// Only those dead-lettered at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only those dead-lettered before this time.
    pub until: Option<DateTime<Utc>>,
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
}

/// Which dead letters to replay or discard. Every field narrows the selection; an
/// empty body selects all of the application's dead letters.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeadLetterSelectionIn {
    /// Only this endpoint's (id or uid).
    #[serde(default)]
    pub endpoint_id: Option<String>,
    /// Only these messages (ids), at most 1,000.
    #[serde(default)]
    pub msg_ids: Option<Vec<String>>,
    /// Only those dead-lettered at or after this time.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Only those dead-lettered before this time.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// What a replay started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterReplayOut {
    /// How many dead letters the replay selected (no cap: the tasks work through any
    /// number).
    pub replayed: u64,
    /// One background task per endpoint with selected dead letters (an
    /// `endpoint.recover`), releasing them at the endpoint's `rateLimit` or, without
    /// one, at the recovery ramp's pace; `GET /api/v1/background-task/{id}` shows how far
    /// each has got.
    pub tasks: Vec<BackgroundTaskOut>,
}

/// What a discard did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscardOut {
    /// How many dead letters were discarded (at most 10,000 per call).
    pub discarded: u64,
}

/// Lists an application's dead letters, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/dead-letter", tag = "Dead Letter", operation_id = "v1.dead-letter.list",
    params(("app_id" = String, Path, description = "The application's id or uid"), ListDeadLettersQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<DeadLetterOut>), ErrorResponses))]
pub async fn list_dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidQuery(query): ValidQuery<ListDeadLettersQuery>,
) -> ApiResult<Json<ListResponse<DeadLetterOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let selection =
        DeadLetterSelectionIn { endpoint_id: query.endpoint_id, msg_ids: None, since: query.since, until: query.until };
    let selection = resolve(&state, &app.id, selection).await?;
    let page = PageQuery { limit: query.limit, iterator: query.iterator }.page()?.descending();
    let listed = state.store.list_dead_letters(&caller.tenant_id(), &app.id, &selection, &page).await?;
    Ok(Json(envelope(listed, &page, |letter| letter.delivery.id.to_string(), DeadLetterOut::from)))
}

/// Replays dead letters: each goes back to the queue in a new manual retry cycle (its
/// whole retry schedule again), released by a background task per endpoint at the
/// endpoint's pace, so a bulk replay never storms a receiver; nothing is released while
/// the endpoint is disabled or its breaker is open. The tasks survive a restart.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/dead-letter/replay", tag = "Dead Letter", operation_id = "v1.dead-letter.replay",
    params(("app_id" = String, Path, description = "The application's id or uid")),
    request_body = DeadLetterSelectionIn, security(("HTTPBearer" = [])),
    responses((status = 202, body = DeadLetterReplayOut), ErrorResponses))]
pub async fn replay_dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<DeadLetterSelectionIn>,
) -> ApiResult<(StatusCode, Json<DeadLetterReplayOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let selection = resolve(&state, &app.id, body).await?;
    let (replayed, tasks) = state
        .store
        .start_dead_letter_replay(&caller.tenant_id(), &app.id, &selection, Utc::now(), &caller.actor())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeadLetterReplayOut { replayed, tasks: tasks.into_iter().map(Into::into).collect() }),
    ))
}

/// Discards dead letters: they leave the dead-letter queue for good (status
/// `discarded`) and keep their attempts on record. A resend still delivers them.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/dead-letter/discard", tag = "Dead Letter", operation_id = "v1.dead-letter.discard",
    params(("app_id" = String, Path, description = "The application's id or uid")),
    request_body = DeadLetterSelectionIn, security(("HTTPBearer" = [])),
    responses((status = 200, body = DiscardOut), ErrorResponses))]
pub async fn discard_dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<DeadLetterSelectionIn>,
) -> ApiResult<Json<DiscardOut>> {
    let app = caller.application(&state, &app_id).await?;
    let selection = resolve(&state, &app.id, body).await?;
    let discarded =
        state.store.discard_dead_letters(&caller.tenant_id(), &app.id, &selection, Utc::now(), &caller.actor()).await?;
    Ok(Json(DiscardOut { discarded }))
}

/// Checks a selection and turns an endpoint uid into its id. An unknown endpoint is a 404.
async fn resolve(
    state: &ApiState,
    app_id: &ApplicationId,
    body: DeadLetterSelectionIn,
) -> ApiResult<DeadLetterSelection> {
    let mut check = Validator::default();
    if let (Some(since), Some(until)) = (body.since, body.until) {
        check.check(since < until, &["since"], "must be before `until`");
    }
    if let Some(ids) = &body.msg_ids {
        check.check(!ids.is_empty() && ids.len() <= MAX_MSG_IDS, &["msgIds"], "must list 1 to 1,000 ids");
    }
    check.finish()?;
    let endpoint_id = match body.endpoint_id {
        None => None,
        Some(wanted) => {
            let endpoint = state.store.find_endpoint(app_id, &wanted).await?.ok_or(ApiError::NotFound("endpoint"))?;
            Some(endpoint.id.into_inner())
        }
    };
    Ok(DeadLetterSelection { endpoint_id, msg_ids: body.msg_ids, since: body.since, until: body.until })
}
