//! Creating, listing and revoking scoped keys, the same way for both kinds: a poller
//! key (`sk_poll_…`, routes under `…/poller/{poller_id}/key`) and an endpoint key
//! (`sk_ep_…`, under `…/endpoint/{endpoint_id}/key`). A key is shown once, when it is
//! created; the store keeps its digest.

use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::ScopedKeyId;
use herald_store::KeyTarget;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::fresh;
use crate::ApiState;

/// A scoped key: the key itself only in the answer that created it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopedKeyOut {
    /// `skey_…`, to revoke the key with.
    pub id: String,
    /// `sk_poll_…` (reads its polling endpoint and moves its consumers) or `sk_ep_…`
    /// (reads its webhook endpoint's messages and confirms their receipt), nothing
    /// else. Only its digest is stored; it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Creates a key for `target`; `201` with the key.
pub(super) async fn create(
    state: &ApiState,
    caller: &Caller,
    target: KeyTarget,
) -> ApiResult<(StatusCode, Json<ScopedKeyOut>)> {
    let key = target.scope.format_key(rand::random());
    let created =
        state.store.create_scoped_key(&target, fresh(ScopedKeyId::generate), &key, Utc::now(), &caller.actor()).await?;
    let out = ScopedKeyOut { id: created.id.to_string(), key: Some(key), created_at: created.created_at };
    Ok((StatusCode::CREATED, Json(out)))
}

/// `target`'s keys that still work, oldest first, without the keys.
pub(super) async fn list(state: &ApiState, target: &KeyTarget) -> ApiResult<Json<Vec<ScopedKeyOut>>> {
    let keys = state.store.list_scoped_keys(&target.scope).await?;
    Ok(Json(
        keys.into_iter()
            .map(|key| ScopedKeyOut { id: key.id.to_string(), key: None, created_at: key.created_at })
            .collect(),
    ))
}

/// Revokes `target`'s key `key_id` at once; `404` when it has no such working key.
pub(super) async fn revoke(
    state: &ApiState,
    caller: &Caller,
    target: &KeyTarget,
    key_id: &str,
) -> ApiResult<StatusCode> {
    if !state.store.revoke_scoped_key(target, key_id, Utc::now(), &caller.actor()).await? {
        return Err(ApiError::NotFound("key"));
    }
    Ok(StatusCode::NO_CONTENT)
}
