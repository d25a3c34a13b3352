//! Delivery receipts and endpoint keys: Herald's out-of-band acknowledgement.
//!
//! A `2xx` says the consumer's server took a delivery, not that the consumer
//! processed it. A consumer that wants to say so posts the `webhook-id`s it processed
//! to `POST …/endpoint/{endpoint_id}/receipt`, one or a batch, with an **endpoint
//! key** (`sk_ep_…`, from `POST …/endpoint/{endpoint_id}/key`): that key reaches this
//! endpoint's receipts and its message list (`GET …/endpoint/{endpoint_id}/msg`, the
//! reconciliation feed) and nothing else. An endpoint with a `receiptWindow` expects
//! one for every delivery; `GET …/endpoint/{endpoint_id}/receipt/unconfirmed` lists
//! the deliveries that succeeded longer ago than the window without one, and the
//! metric `herald_unconfirmed_deliveries` counts them per tenant.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use herald_core::MessageId;
use herald_store::entity::endpoint;
use herald_store::{KeyTarget, MAX_RECEIPTS_PER_CALL};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::scoped_keys::{self, ScopedKeyOut};
use super::{envelope, ListResponse, PageQuery};
use crate::auth::{Caller, ScopedApp, ScopedReader};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::validate::Validator;
use crate::ApiState;

async fn find(state: &ApiState, app: &ScopedApp, endpoint_id: &str) -> ApiResult<endpoint::Model> {
    state.store.find_endpoint(&app.id, endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))
}

/// Creates a key that reads this endpoint's messages and confirms their receipt, and
/// nothing else: what a consumer's reconciliation job and receipts need.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/key", tag = "Endpoint",
    operation_id = "v1.endpoint.key.create",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 201, body = ScopedKeyOut), ErrorResponses))]
pub async fn create_endpoint_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<ScopedKeyOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = find(&state, &app, &endpoint_id).await?;
    scoped_keys::create(&state, &caller, KeyTarget::from(&endpoint)).await
}

/// Lists an endpoint's keys that still work (without the keys themselves).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/key", tag = "Endpoint",
    operation_id = "v1.endpoint.key.list",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = Vec<ScopedKeyOut>), ErrorResponses))]
pub async fn list_endpoint_keys(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<ScopedKeyOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = find(&state, &app, &endpoint_id).await?;
    scoped_keys::list(&state, &KeyTarget::from(&endpoint)).await
}

/// Revokes an endpoint key at once.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/key/{key_id}", tag = "Endpoint",
    operation_id = "v1.endpoint.key.revoke",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("endpoint_id" = String, Path, description = "The endpoint's id or uid"),
        ("key_id" = String, Path, description = "The key's id, `skey_…`")),
    security(("HTTPBearer" = [])), responses((status = 204), ErrorResponses))]
pub async fn revoke_endpoint_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id, key_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = find(&state, &app, &endpoint_id).await?;
    scoped_keys::revoke(&state, &caller, &KeyTarget::from(&endpoint), &key_id).await
}

/// A receipt: the messages the consumer processed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptIn {
    /// The `webhook-id`s (message ids, `msg_…`) processed, 1 to 1000.
    pub msg_ids: Vec<String>,
}

/// One confirmed message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedOut {
    pub msg_id: String,
    /// When the consumer first confirmed it (a repeated receipt keeps this time).
    pub processed_at: DateTime<Utc>,
}

/// What a receipt recorded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptOut {
    /// The messages now confirmed for this endpoint.
    pub data: Vec<ProcessedOut>,
    /// The ids named that were never sent to this endpoint (nothing was recorded for
    /// them).
    pub unknown: Vec<String>,
}

/// Confirms that the endpoint's consumer processed messages. Idempotent: confirming
/// again keeps the first time. Works whatever the delivery's state, so a consumer
/// that caught up through reconciliation or a poller confirms dead-lettered
/// deliveries too. Readable by the tenant's key, a portal token of the application
/// (not read-only) and the endpoint's own key.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/receipt", tag = "Endpoint",
    operation_id = "v1.endpoint.receipt.create",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = ReceiptIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = ReceiptOut), ErrorResponses))]
pub async fn confirm_receipt(
    State(state): State<ApiState>,
    ScopedReader(caller): ScopedReader,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<ReceiptIn>,
) -> ApiResult<Json<ReceiptOut>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = caller.readable_endpoint(state.store.find_endpoint(&app.id, &endpoint_id).await?)?;
    let mut validator = Validator::default();
    validator.check(
        (1..=MAX_RECEIPTS_PER_CALL).contains(&body.msg_ids.len()),
        &["msgIds"],
        "must name 1 to 1000 message ids",
    );
    let mut ids = Vec::with_capacity(body.msg_ids.len());
    for (index, id) in body.msg_ids.iter().enumerate() {
        match MessageId::parse(id) {
            Ok(id) => ids.push(id),
            Err(_) => {
                validator.check(false, &["msgIds", &index.to_string()], "is not a message id (the webhook-id, msg_…)");
            }
        }
    }
    validator.finish()?;
    let confirmed = state.store.confirm_receipts(&endpoint.id, &ids, Utc::now()).await?;
    Ok(Json(ReceiptOut {
        data: confirmed
            .processed
            .into_iter()
            .map(|(id, at)| ProcessedOut { msg_id: id.into_string(), processed_at: at })
            .collect(),
        unknown: confirmed.unknown.into_iter().map(MessageId::into_string).collect(),
    }))
}

/// Which unconfirmed deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct UnconfirmedQuery {
    /// Only deliveries that succeeded longer ago than this many seconds (default: the
    /// endpoint's `receiptWindow`).
    pub within: Option<u32>,
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
}

/// A delivery that succeeded and is still waiting for its receipt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnconfirmedOut {
    pub msg_id: String,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    /// When the delivery succeeded.
    pub delivered_at: DateTime<Utc>,
}

/// Lists the endpoint's deliveries that succeeded longer ago than `within` seconds
/// (default: the endpoint's `receiptWindow`) and have no receipt yet, oldest first.
/// Only deliveries created while the endpoint had a `receiptWindow` wait for one.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/receipt/unconfirmed", tag = "Endpoint",
    operation_id = "v1.endpoint.receipt.list-unconfirmed",
    params(("app_id" = String, Path, description = "The application's id or uid"),
        ("endpoint_id" = String, Path, description = "The endpoint's id or uid"), UnconfirmedQuery),
    security(("HTTPBearer" = [])), responses((status = 200, body = ListResponse<UnconfirmedOut>), ErrorResponses))]
pub async fn list_unconfirmed(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidQuery(query): ValidQuery<UnconfirmedQuery>,
) -> ApiResult<Json<ListResponse<UnconfirmedOut>>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = find(&state, &app, &endpoint_id).await?;
    let window = query.within.map_or_else(|| i64::from(endpoint.receipt_window_secs.unwrap_or(0)), i64::from);
    let page = PageQuery { limit: query.limit, iterator: query.iterator }.page()?;
    let delivered_before = Utc::now() - Duration::seconds(window);
    let listed = state.store.list_unconfirmed(&endpoint.id, delivered_before, &page).await?;
    let ids = listed.items.iter().map(|d| d.msg_id.to_string()).collect();
    let messages: HashMap<String, _> =
        state.store.messages_by_id(ids).await?.into_iter().map(|m| (m.id.to_string(), m)).collect();
    let out = envelope(
        listed,
        &page,
        |d| d.id.to_string(),
        |d| {
            let message = messages.get(d.msg_id.as_str());
            UnconfirmedOut {
                msg_id: d.msg_id.to_string(),
                event_type: message.map(|m| m.event_type.clone()),
                event_id: message.and_then(|m| m.event_id.clone()),
                delivered_at: d.updated_at,
            }
        },
    );
    Ok(Json(out))
}
