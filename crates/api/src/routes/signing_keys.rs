//! Asymmetric signatures (Standard Webhooks `v1a`, ed25519), Herald's addition to the
//! Svix API: an endpoint opts in by creating a key pair, after which every delivery
//! carries a `v1a,` entry beside its HMAC `v1,` entries. The public key (`whpk_…`)
//! is readable by whoever may read the endpoint, read-only portal tokens included; the
//! private key never leaves the store, where it is sealed.
//!
//! Creating a key pair again replaces it at once (no grace period, unlike HMAC secret
//! rotation): receivers must fetch the new public key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use herald_core::EndpointSigningKey;
use herald_store::Action;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::ApiState;

/// An endpoint's ed25519 public key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPublicKeyOut {
    /// `whpk_` + base-64 of the 32-byte ed25519 public key.
    pub public_key: String,
}

fn public_key_of(stored: &str) -> ApiResult<EndpointPublicKeyOut> {
    let key = EndpointSigningKey::parse(stored).map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(EndpointPublicKeyOut { public_key: key.public_key() })
}

/// The endpoint's ed25519 public key; `404` when it signs with HMAC only.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key", tag = "Endpoint", operation_id = "v1.endpoint.get-signing-key",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 200, body = EndpointPublicKeyOut), ErrorResponses))]
pub async fn get_signing_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointPublicKeyOut>> {
    let app = caller.application(&state, &app_id).await?;
    let endpoint = state.store.find_endpoint(&app.id, &endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))?;
    let stored = endpoint.signing_key.ok_or(ApiError::NotFound("signing key (this endpoint signs with HMAC only)"))?;
    Ok(Json(public_key_of(&stored)?))
}

/// Creates (or replaces) the endpoint's ed25519 key pair: from now on every delivery
/// also carries a `v1a` signature. Answers with the public key.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key", tag = "Endpoint", operation_id = "v1.endpoint.create-signing-key",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 201, body = EndpointPublicKeyOut), ErrorResponses))]
pub async fn create_signing_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<EndpointPublicKeyOut>)> {
    let app = caller.application(&state, &app_id).await?;
    let before = state.store.find_endpoint(&app.id, &endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))?;
    let mut endpoint = before.clone();
    let key = EndpointSigningKey::from_seed(rand::random());
    endpoint.signing_key = Some(key.expose());
    endpoint.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&before, endpoint, &caller.actor(), Action::EndpointSigningKeyCreate)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok((StatusCode::CREATED, Json(EndpointPublicKeyOut { public_key: key.public_key() })))
}

/// Stops `v1a` signatures: the endpoint signs with HMAC only again.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key", tag = "Endpoint", operation_id = "v1.endpoint.delete-signing-key",
    params(("app_id" = String, Path, description = "The application's id or uid"), ("endpoint_id" = String, Path, description = "The endpoint's id or uid")),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Deliveries carry HMAC signatures only."), ErrorResponses))]
pub async fn delete_signing_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = caller.application(&state, &app_id).await?;
    let before = state.store.find_endpoint(&app.id, &endpoint_id).await?.ok_or(ApiError::NotFound("endpoint"))?;
    let mut endpoint = before.clone();
    endpoint.signing_key = None;
    endpoint.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&before, endpoint, &caller.actor(), Action::EndpointSigningKeyDelete)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(StatusCode::NO_CONTENT)
}
