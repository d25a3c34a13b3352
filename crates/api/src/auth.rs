//! Authentication: `Authorization: Bearer <tenant API key>` → the tenant.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use herald_core::TenantId;

use crate::error::ApiError;
use crate::ApiState;

/// The tenant whose API key authenticated the request. Every handler that takes one
/// can only ever see that tenant's rows: the store scopes its queries by it.
#[derive(Debug, Clone)]
pub struct AuthenticatedTenant(pub TenantId);

impl FromRequestParts<ApiState> for AuthenticatedTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing Authorization header"))?
            .to_str()
            .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or(ApiError::Unauthorized("expected `Authorization: Bearer <API key>`"))?;
        let tenant = state.store.authenticate_api_key(key).await?;
        tenant.map(AuthenticatedTenant).ok_or(ApiError::Unauthorized("invalid API key"))
    }
}
