//! An endpoint's signing secret: read, and rotated with a grace period for the old one.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use herald_core::EndpointSecret;
use herald_store::entity::endpoint;
use herald_store::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{find, parse_secret};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidJson;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `EndpointSecretOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSecretOut {
    /// The current signing secret, `whsec_…`.
    pub key: String,
}

/// Svix's `EndpointSecretRotateIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSecretRotateIn {
    /// The new secret; generated when omitted or `null`.
    #[serde(default)]
    pub key: Option<String>,
    /// How long the old secret keeps signing, 0 to 604800 seconds (default 86400).
    #[serde(default)]
    pub grace_period_seconds: Option<u32>,
}

pub(super) const DEFAULT_GRACE_SECONDS: i64 = 86_400;
const MAX_GRACE_SECONDS: u32 = 604_800;

/// Makes `secret` current; the old one keeps signing (a second signature in
/// `webhook-signature`) for `grace`, so receivers can switch without losing a delivery.
pub(super) fn rotate_into(model: &mut endpoint::Model, secret: EndpointSecret, now: DateTime<Utc>, grace: Duration) {
    let old = std::mem::replace(&mut model.secret, secret.expose());
    if grace > Duration::zero() {
        model.previous_secret = Some(old);
        model.previous_secret_expires_at = Some(now + grace);
    } else {
        model.previous_secret = None;
        model.previous_secret_expires_at = None;
    }
}

/// Gets an endpoint's current signing secret.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = "Endpoint", operation_id = "v1.endpoint.get-secret",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn get_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = caller.application(&state, &app_id).await?;
    Ok(Json(EndpointSecretOut { key: find(&state, &app, &endpoint_id).await?.secret }))
}

/// Rotates an endpoint's signing secret and answers with the new one (Svix answers
/// `204`, which SDK 2.x cannot parse; Herald answers `200` with `{key}`).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = "Endpoint", operation_id = "v1.endpoint.rotate-secret",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    request_body = EndpointSecretRotateIn, security(("HTTPBearer" = [])), responses((status = 200, body = EndpointSecretOut), ErrorResponses))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    ValidJson(body): ValidJson<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let app = caller.application(&state, &app_id).await?;
    let before = find(&state, &app, &endpoint_id).await?;
    let mut existing = before.clone();
    let grace = body.grace_period_seconds.map_or(DEFAULT_GRACE_SECONDS, i64::from);
    Validator::default()
        .check(
            body.grace_period_seconds.is_none_or(|s| s <= MAX_GRACE_SECONDS),
            &["gracePeriodSeconds"],
            "must be at most 604800 (7 days)",
        )
        .finish()?;
    let now = Utc::now();
    rotate_into(&mut existing, parse_secret(body.key.as_deref(), "key")?, now, Duration::seconds(grace));
    existing.updated_at = now;
    let updated = state
        .store
        .update_endpoint(&before, existing, &caller.actor(), Action::EndpointSecretRotate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(EndpointSecretOut { key: updated.secret }))
}
