//! Portal access: `POST /api/v1/auth/app-portal-access/{app_id}` issues a short-lived
//! bearer token scoped to one application (see [`crate::auth`]), with the URL of the
//! customer portal that uses it; `POST /api/v1/auth/logout` revokes the token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use herald_store::NewPortalToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AnyCaller, Scope, TenantCaller, PORTAL_TOKEN_PREFIX};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::ValidJson;
use crate::service::applications::find_or_create_application;
use crate::shapes::ApplicationIn;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `AppPortalAccessIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppPortalAccessIn {
    /// Creates the application (with the path's `app_id` as its `uid`) if it does not exist.
    #[serde(default)]
    pub application: Option<ApplicationIn>,
    /// How long the token is valid, in seconds: 60 to 604800 (default 3600).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// The feature flags whose event types the token may see: an event type with
    /// feature flags is hidden from a token that carries none of them.
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    /// A token that may only read.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// A session the token belongs to: `expire-all` with `sessionIds` expires only
    /// that session's tokens (up to 256 characters).
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Svix's `AppPortalAccessOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppPortalAccessOut {
    /// A bearer token for `/api/v1`, scoped to the application.
    pub token: String,
    /// The customer portal, signed in with the token.
    pub url: String,
    /// Herald's addition: when the token stops working.
    pub expires_at: DateTime<Utc>,
}

const DEFAULT_EXPIRY_SECONDS: u64 = 3_600;
const MIN_EXPIRY_SECONDS: u64 = 60;
const MAX_EXPIRY_SECONDS: u64 = 604_800;

/// Issues a portal token for one application.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = "Authentication", operation_id = "v1.authentication.app-portal-access",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = AppPortalAccessIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = AppPortalAccessOut), ErrorResponses))]
pub async fn app_portal_access(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    let expiry = body.expiry.unwrap_or(DEFAULT_EXPIRY_SECONDS);
    Validator::default()
        .check(
            (MIN_EXPIRY_SECONDS..=MAX_EXPIRY_SECONDS).contains(&expiry),
            &["expiry"],
            "must be between 60 and 604800 seconds",
        )
        .slug_list(body.feature_flags.as_deref(), 100, 256, "featureFlags")
        .check(body.session_id.as_deref().is_none_or(valid_session_id), &["sessionId"], SESSION_ID_RULE)
        .finish()?;
    let tenant = caller.tenant_id();
    let app = find_or_create_application(&state, &caller, &app_id, body.application).await?;
    let now = Utc::now();
    let expires_at = now + Duration::seconds(expiry as i64);
    let token = format!("{PORTAL_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
    state
        .store
        .create_portal_token(
            NewPortalToken {
                id: crate::ids::fresh(herald_core::ApiKeyId::generate).into_string().replacen("key_", "ptk_", 1),
                tenant_id: tenant,
                app_id: app.id.0.clone(),
                token: token.clone(),
                read_only: body.read_only.unwrap_or(false),
                expires_at,
                session_id: body.session_id,
                feature_flags: body.feature_flags,
                now,
            },
            &caller.actor(),
        )
        .await?;
    let url = format!("{}/portal#token={token}&app={}", state.config.public_url.trim_end_matches('/'), app.id);
    Ok(Json(AppPortalAccessOut { token, url, expires_at }))
}

/// A session id: 1 to 256 visible ASCII characters.
fn valid_session_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

const SESSION_ID_RULE: &str = "must be 1 to 256 visible ASCII characters";

/// Svix's `ApplicationTokenExpireIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationTokenExpireIn {
    /// Seconds until the tokens stop working (0 to 604800; default 0, at once).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// Only the tokens issued with one of these `sessionId`s.
    #[serde(default)]
    pub session_ids: Option<Vec<String>>,
}

/// Expires every portal token of an application (or of the given sessions) at once or
/// after `expiry` seconds; tokens expiring sooner keep their time. API keys only.
#[utoipa::path(post, path = "/api/v1/auth/app/{app_id}/expire-all", tag = "Authentication", operation_id = "v1.authentication.expire-all",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = ApplicationTokenExpireIn,
    security(("HTTPBearer" = [])), responses((status = 204, description = "The tokens expire as asked."), ErrorResponses))]
pub async fn expire_all(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<ApplicationTokenExpireIn>,
) -> ApiResult<StatusCode> {
    let expiry = body.expiry.unwrap_or(0);
    let sessions = body.session_ids.as_deref();
    let mut validator = Validator::default();
    validator.check(expiry <= MAX_EXPIRY_SECONDS, &["expiry"], "must be between 0 and 604800 seconds");
    validator.check(sessions.is_none_or(|ids| ids.len() <= 1_000), &["sessionIds"], "must have at most 1000 entries");
    for (index, id) in sessions.unwrap_or_default().iter().enumerate() {
        validator.check(valid_session_id(id), &["sessionIds", &index.to_string()], SESSION_ID_RULE);
    }
    validator.finish()?;
    let tenant = caller.tenant_id();
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let now = Utc::now();
    let at = now + Duration::seconds(expiry as i64);
    state.store.expire_portal_tokens(&tenant, &app.id, sessions, at, now, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the portal token the request carries, read-only ones included. API keys
/// cannot log out (`403`);
/// administrators revoke them through the admin API.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "Authentication", operation_id = "v1.authentication.logout",
    security(("HTTPBearer" = [])), responses((status = 204, description = "The token no longer works."), ErrorResponses))]
pub async fn logout(State(state): State<ApiState>, AnyCaller(caller): AnyCaller) -> ApiResult<StatusCode> {
    match &caller.scope {
        Scope::Application { token_id, .. } => {
            state.store.revoke_portal_token(&caller.tenant_id(), token_id, Utc::now(), &caller.actor()).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Scope::Tenant { .. } => {
            Err(ApiError::Forbidden("only portal tokens log out; revoke API keys with the admin API"))
        }
        Scope::Poller { .. } | Scope::Endpoint { .. } => {
            Err(ApiError::Forbidden("only portal tokens log out; revoke scoped keys by their route"))
        }
    }
}
