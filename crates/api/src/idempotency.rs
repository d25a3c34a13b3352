//! `Idempotency-Key`: a `POST` carrying this header is served once per credential and
//! key; every repeat within [`KEY_LIFETIME_HOURS`] gets the first answer, byte for
//! byte, with `Idempotent-Replayed: true`. The official SDKs put a fresh key on every
//! `POST` and reuse it when they retry, so a retry after a lost response never
//! creates a second message, endpoint or application.
//!
//! Whose answer is replayed is the security rule here:
//! - The key space is the credential's own (tenant, API key or portal token id; a
//!   credential has one scope): a portal token repeating the tenant key's
//!   `Idempotency-Key` is served afresh, with its own authorization, and never gets
//!   the tenant's answer; the tenant never gets a portal token's.
//! - Authentication runs first. A read-only portal token is never served from the
//!   store: it may post nothing but its own logout, which the handler decides.
//! - A refusal (`401`, `403`) and a `5xx` are not remembered: the key is released, so
//!   nothing a refused request did is kept.
//! - The stored answer is sealed with the database encryption key, because some
//!   answers carry a secret (a portal token, a signing secret).
//! - A repeat while the first request is still running gets `409 idempotency_conflict`.
//! - The same key on a different request (method, path, query or body) gets `409` too.
//! - Requests without credentials pass through untouched (the handler answers `401`).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use herald_store::IdempotencyClaim;
use sha2::{Digest, Sha256};

use crate::auth::{authenticate, Caller};
use crate::error::{ApiError, ValidationItem};
use crate::ApiState;

/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;
const HEADER: &str = "idempotency-key";
const MAX_KEY_LENGTH: usize = 256;

/// The middleware; install it inside trailing-slash normalisation.
pub async fn idempotency(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(HEADER) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(caller) = authenticate(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    if caller.is_read_only() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let key = match parts.headers.get(HEADER).and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(key) if !key.is_empty() && key.len() <= MAX_KEY_LENGTH => credential_key(&caller, key),
        _ => {
            return ApiError::Validation(vec![ValidationItem {
                loc: vec!["header".into(), HEADER.into()],
                msg: format!("must be 1 to {MAX_KEY_LENGTH} visible ASCII characters"),
                kind: "value_error".into(),
            }])
            .into_response()
        }
    };
    let limit = state.config.max_request_bytes();
    let Ok(bytes) = to_bytes(body, limit).await else {
        return ApiError::PayloadTooLarge(format!("the request body exceeds {limit} bytes")).into_response();
    };
    let fingerprint = format!(
        "{} {} {:x}",
        parts.method,
        parts.uri.path_and_query().map_or("", |pq| pq.as_str()),
        Sha256::digest(&bytes)
    );
    let tenant = caller.tenant_id();
    let now = Utc::now();
    let claim = state
        .store
        .claim_idempotency_key(&tenant, &key, &fingerprint, now, now - Duration::hours(KEY_LIFETIME_HOURS))
        .await;
    match claim {
        Err(error) => ApiError::from(error).into_response(),
        Ok(IdempotencyClaim::InProgress) => {
            ApiError::IdempotencyConflict("a request with this Idempotency-Key is still being served").into_response()
        }
        Ok(IdempotencyClaim::Mismatch) => {
            ApiError::IdempotencyConflict("this Idempotency-Key was used for a different request").into_response()
        }
        Ok(IdempotencyClaim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(IdempotencyClaim::Claimed) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let status = response.status();
            let refused = status == StatusCode::UNAUTHORIZED
                || status == StatusCode::FORBIDDEN
                || status == StatusCode::TOO_MANY_REQUESTS;
            if status.is_server_error() || refused {
                if let Err(error) = state.store.release_idempotency_key(&tenant, &key).await {
                    tracing::warn!(%error, "could not release an idempotency key; it expires on its own");
                }
                return response;
            }
            let (parts, body) = response.into_parts();
            let Ok(bytes) = to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let text = String::from_utf8_lossy(&bytes);
            if let Err(error) = state.store.complete_idempotency_key(&tenant, &key, parts.status.as_u16(), &text).await
            {
                tracing::warn!(%error, "could not record the response to an idempotency key");
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// Where a client's key is kept: the credential's own key space. Hashed, so the
/// stored key has one length whatever the client sent.
fn credential_key(caller: &Caller, key: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(caller.credential_id().as_bytes());
    digest.update([0]);
    digest.update(key.as_bytes());
    format!("{:x}", digest.finalize())
}
