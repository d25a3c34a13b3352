//! Authentication and scope.
//!
//! Two kinds of bearer credential reach `/api/v1`:
//! - a tenant **API key** (`sk_…`): the tenant's producer, allowed everything the
//!   tenant owns;
//! - a **portal token** (`hpt_…`) from `POST /api/v1/auth/app-portal-access/{app_id}`:
//!   one end customer in the portal, allowed only that application's routes (and
//!   reading the tenant's event types, to pick filters), and only reads when issued
//!   read-only;
//! - a **poller key** (`sk_poll_…`): one polling endpoint's reads and its consumers'
//!   seeks, nothing else;
//! - an **endpoint key** (`sk_ep_…`): one webhook endpoint's message list (for a
//!   consumer's reconciliation) and its delivery receipts, nothing else.
//!
//! Handlers never compare ids themselves: tenant-wide routes take [`TenantCaller`],
//! which refuses portal tokens, and application routes take [`Caller`] and resolve
//! the application through [`Caller::application`], which enforces the scope.
//! [`Caller`] also refuses every change to a read-only portal token; the one route
//! such a token may post to, logout, takes [`AnyCaller`]. [`Caller`] refuses scoped
//! keys (poller and endpoint keys): only the routes such a key may use take
//! [`ScopedReader`], which admits them, and [`Caller::readable_poller`] and
//! [`Caller::readable_endpoint`] hold each to its own endpoint. The operator's routes
//! (`/admin/v1`) take [`Operator`].
//!
//! Every credential has an identity ([`Caller::credential_id`]: the API key's or the
//! portal token's id). Idempotency keys live in that credential's own key space, so
//! no credential is ever replayed another credential's answer.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;
use chrono::Utc;
use herald_core::api_key::{is_scoped_key, KeyScope};
use herald_core::{ApplicationId, EndpointId, PollerId, TenantId};
use herald_store::entity::{application, endpoint, poller, tenant};
use herald_store::Actor;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::cache::KeyOwner;
use crate::error::{ApiError, ApiResult};
use crate::ApiState;

/// The prefix of portal tokens, which tells them apart from API keys.
pub const PORTAL_TOKEN_PREFIX: &str = "hpt_";

/// What a credential may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything the tenant owns (an API key, `key_id`).
    Tenant { key_id: String },
    /// One application (a portal token).
    /// `feature_flags`: the flags whose event types it may see.
    Application { app_id: ApplicationId, token_id: String, read_only: bool, feature_flags: Vec<String> },
    /// One polling endpoint of one application (a poller key, `key_id`).
    Poller { app_id: ApplicationId, poller_id: PollerId, key_id: String },
    /// One webhook endpoint's message list and receipts (an endpoint key, `key_id`).
    Endpoint { app_id: ApplicationId, endpoint_id: EndpointId, key_id: String },
}

/// An authenticated request: whose it is and what it may reach.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: tenant::Model,
    pub scope: Scope,
}

impl Caller {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id.0.clone()
    }

    /// The id of the credential the request carries: an API key's `key_…` or a
    /// portal token's `ptk_…`.
    pub fn credential_id(&self) -> &str {
        match &self.scope {
            Scope::Tenant { key_id } => key_id,
            Scope::Application { token_id, .. } => token_id,
            Scope::Poller { key_id, .. } | Scope::Endpoint { key_id, .. } => key_id,
        }
    }

    /// Who the audit log names for this request's changes.
    pub fn actor(&self) -> Actor {
        match &self.scope {
            Scope::Tenant { key_id } => Actor::ApiKey(key_id.clone()),
            Scope::Application { token_id, .. } => Actor::PortalToken(token_id.clone()),
            Scope::Poller { key_id, .. } | Scope::Endpoint { key_id, .. } => Actor::ScopedKey(key_id.clone()),
        }
    }

    /// Whether the caller may see an event type behind `flags` (its `featureFlag` and
    /// `featureFlags` together): every caller sees one behind none; a portal token sees
    /// one behind flags only when it was issued with one of them.
    pub fn sees_feature(&self, flags: &[&str]) -> bool {
        match &self.scope {
            Scope::Application { feature_flags, .. } => {
                flags.is_empty() || flags.iter().any(|flag| feature_flags.iter().any(|own| own == flag))
            }
            _ => true,
        }
    }

    /// Whether the credential may only read.
    pub fn is_read_only(&self) -> bool {
        matches!(self.scope, Scope::Application { read_only: true, .. })
    }

    /// The caller's application `app_id` (an id or a `uid`). A portal token gets
    /// `403` for any other application, whether or not it exists.
    pub async fn application(&self, state: &ApiState, app_id: &str) -> ApiResult<ScopedApp> {
        let found = state.store.find_application(&self.tenant_id(), app_id).await?;
        match (&self.scope, found) {
            (Scope::Tenant { .. }, Some(app)) => Ok(ScopedApp(app)),
            (Scope::Tenant { .. }, None) => Err(ApiError::NotFound("application")),
            (
                Scope::Application { app_id: own, .. }
                | Scope::Poller { app_id: own, .. }
                | Scope::Endpoint { app_id: own, .. },
                Some(app),
            ) if app.id == *own => Ok(ScopedApp(app)),
            (Scope::Application { .. } | Scope::Poller { .. } | Scope::Endpoint { .. }, _) => {
                Err(ApiError::Forbidden("this token is for another application"))
            }
        }
    }

    /// The polling endpoint the caller asked for (`found` in its application), if it
    /// may read it: a poller key reads its own only, and gets `403` for any other,
    /// whether it exists or not.
    pub fn readable_poller(&self, found: Option<poller::Model>) -> ApiResult<poller::Model> {
        match (&self.scope, found) {
            (Scope::Poller { poller_id, .. }, Some(poller)) if poller.id == *poller_id => Ok(poller),
            (Scope::Poller { .. }, _) => Err(ApiError::Forbidden("this poller key is for another polling endpoint")),
            (Scope::Endpoint { .. }, _) => {
                Err(ApiError::Forbidden("an endpoint key reaches its webhook endpoint only"))
            }
            (Scope::Tenant { .. } | Scope::Application { .. }, Some(poller)) => Ok(poller),
            (Scope::Tenant { .. } | Scope::Application { .. }, None) => Err(ApiError::NotFound("polling endpoint")),
        }
    }

    /// The webhook endpoint the caller asked for (`found` in its application), if it
    /// may reach it: an endpoint key reaches its own only, and gets `403` for any
    /// other, whether it exists or not; a poller key none.
    pub fn readable_endpoint(&self, found: Option<endpoint::Model>) -> ApiResult<endpoint::Model> {
        match (&self.scope, found) {
            (Scope::Endpoint { endpoint_id, .. }, Some(endpoint)) if endpoint.id == *endpoint_id => Ok(endpoint),
            (Scope::Endpoint { .. }, _) => Err(ApiError::Forbidden("this endpoint key is for another endpoint")),
            (Scope::Poller { .. }, _) => Err(ApiError::Forbidden("a poller key reads its polling endpoint only")),
            (Scope::Tenant { .. } | Scope::Application { .. }, Some(endpoint)) => Ok(endpoint),
            (Scope::Tenant { .. } | Scope::Application { .. }, None) => Err(ApiError::NotFound("endpoint")),
        }
    }
}

/// An application the request may reach. Only authorization makes one: the scope
/// check of [`Caller::application`], or [`TenantCaller::application`] for an
/// application the tenant's own key found or created. Use cases and route helpers
/// that act within an application take it, so none can be handed an application
/// the caller was never checked against.
#[derive(Debug, Clone)]
pub struct ScopedApp(application::Model);

impl ScopedApp {
    pub fn into_model(self) -> application::Model {
        self.0
    }
}

impl std::ops::Deref for ScopedApp {
    type Target = application::Model;

    fn deref(&self) -> &application::Model {
        &self.0
    }
}

/// Resolves the request's bearer credential, once per request (the idempotency
/// layer may have done it already and left it in the request's extensions).
pub async fn authenticate(parts: &mut Parts, state: &ApiState) -> ApiResult<Caller> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(caller.clone());
    }
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
    let credential = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or(ApiError::Unauthorized("expected `Authorization: Bearer <API key>`"))?;
    // A key that looks like a scoped key and is not one may still be an API key
    // (`sk_` and 43 characters that happen to begin with `poll_` or `ep_`).
    let scoped_key =
        if is_scoped_key(credential) { state.store.authenticate_scoped_key(credential).await? } else { None };
    let caller = if let Some((tenant, key)) = scoped_key {
        let app_id = key.app_id.into_inner();
        let key_id = key.id.to_string();
        let scope = match key.scope_id.into_inner() {
            KeyScope::Poller(poller_id) => Scope::Poller { app_id, poller_id, key_id },
            KeyScope::Endpoint(endpoint_id) => Scope::Endpoint { app_id, endpoint_id, key_id },
        };
        Caller { tenant, scope }
    } else if credential.starts_with(PORTAL_TOKEN_PREFIX) {
        let token = state
            .store
            .authenticate_portal_token(credential, Utc::now())
            .await?
            .ok_or(ApiError::Unauthorized("invalid or expired portal token"))?;
        let tenant = state
            .store
            .find_tenant(&token.tenant_id)
            .await?
            .ok_or(ApiError::Unauthorized("invalid or expired portal token"))?;
        Caller {
            tenant,
            scope: Scope::Application {
                app_id: token.app_id.into_inner(),
                token_id: token.id,
                read_only: token.read_only,
                feature_flags: token.feature_flags.map(|flags| flags.0).unwrap_or_default(),
            },
        }
    } else {
        let owner = match state.cache.owner_of_key(credential) {
            Some(owner) => owner,
            None => {
                let generation = state.cache.generation();
                let (tenant, key_id) = state
                    .store
                    .authenticate_api_key(credential)
                    .await?
                    .ok_or(ApiError::Unauthorized("invalid API key"))?;
                let owner = KeyOwner { tenant, key_id };
                state.cache.remember_key(credential, owner.clone(), generation);
                owner
            }
        };
        Caller { tenant: owner.tenant, scope: Scope::Tenant { key_id: owner.key_id } }
    };
    parts.extensions.insert(caller.clone());
    Ok(caller)
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        refuse_scoped_keys(&caller)?;
        refuse_changes_by_read_only(&caller, &parts.method)?;
        Ok(caller)
    }
}

/// `403` for a poller or endpoint key: they reach only the routes that take
/// [`ScopedReader`].
fn refuse_scoped_keys(caller: &Caller) -> ApiResult<()> {
    match caller.scope {
        Scope::Poller { .. } => Err(ApiError::Forbidden("a poller key reads its polling endpoint only")),
        Scope::Endpoint { .. } => {
            Err(ApiError::Forbidden("an endpoint key reads its endpoint's messages and confirms receipts only"))
        }
        Scope::Tenant { .. } | Scope::Application { .. } => Ok(()),
    }
}

/// A caller of the routes a scoped key may use (a polling endpoint's reads, a webhook
/// endpoint's message list and receipts): a [`Caller`], or a poller or endpoint key,
/// which [`Caller::readable_poller`] and [`Caller::readable_endpoint`] hold to its
/// own endpoint.
#[derive(Debug, Clone)]
pub struct ScopedReader(pub Caller);

impl FromRequestParts<ApiState> for ScopedReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        refuse_changes_by_read_only(&caller, &parts.method)?;
        Ok(ScopedReader(caller))
    }
}

/// `403` for a read-only portal token on anything but a read.
pub fn refuse_changes_by_read_only(caller: &Caller, method: &Method) -> ApiResult<()> {
    if caller.is_read_only() && method != Method::GET && method != Method::HEAD {
        return Err(ApiError::Forbidden("this portal token is read-only"));
    }
    Ok(())
}

/// Any authenticated caller, read-only portal tokens included, whatever the method:
/// only for routes a read-only token may post to (logging itself out).
#[derive(Debug, Clone)]
pub struct AnyCaller(pub Caller);

impl FromRequestParts<ApiState> for AnyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        Ok(AnyCaller(authenticate(parts, state).await?))
    }
}

/// A caller with a tenant API key (the tenant and the key's id): tenant-wide routes
/// (applications, event type changes, portal access) refuse portal tokens with `403`.
#[derive(Debug, Clone)]
pub struct TenantCaller(pub tenant::Model, pub String);

impl TenantCaller {
    pub fn tenant_id(&self) -> TenantId {
        self.0.id.0.clone()
    }

    /// The API key, as the audit log names it.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.1.clone())
    }

    /// `app`, which the store found or created within this caller's tenant: an API
    /// key reaches every application of its tenant.
    pub fn application(&self, app: application::Model) -> ApiResult<ScopedApp> {
        if app.tenant_id != self.tenant_id() {
            return Err(ApiError::NotFound("application"));
        }
        Ok(ScopedApp(app))
    }
}

impl FromRequestParts<ApiState> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        refuse_scoped_keys(&caller)?;
        match caller.scope {
            Scope::Tenant { key_id } => Ok(TenantCaller(caller.tenant, key_id)),
            _ => Err(ApiError::Forbidden("a portal token cannot use tenant-wide routes")),
        }
    }
}

/// A request carrying the operator token.
#[derive(Debug)]
pub struct Operator;

impl FromRequestParts<ApiState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some(expected) = &state.config.operator_token else {
            return Err(ApiError::Unauthorized("the admin API is off: no operator_token is configured"));
        };
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized("expected `Authorization: Bearer <operator token>`"))?;
        if bool::from(presented.trim().as_bytes().ct_eq(expected.expose_secret().as_bytes())) {
            Ok(Operator)
        } else {
            Err(ApiError::Unauthorized("invalid operator token"))
        }
    }
}
