//! Applications: `POST /api/v1/app`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::ApplicationId;
use herald_store::entity::application;
use herald_store::NewApplication;
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedTenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `ApplicationIn`. `rateLimit` (SDK 1.x) and `throttleRate` (2.x) are one field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationIn {
    pub name: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default, alias = "throttleRate")]
    pub rate_limit: Option<u16>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Svix's `ApplicationOut`, with the rate limit under both of its names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    pub rate_limit: Option<i32>,
    pub throttle_rate: Option<i32>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<application::Model> for ApplicationOut {
    fn from(app: application::Model) -> Self {
        Self {
            id: app.id,
            uid: app.uid,
            name: app.name,
            rate_limit: app.rate_limit,
            throttle_rate: app.rate_limit,
            metadata: app.metadata,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateApplicationQuery {
    #[serde(default)]
    get_if_exists: bool,
}

impl ApplicationIn {
    pub fn validate(&self) -> ApiResult<()> {
        Validator::default()
            .check(!self.name.trim().is_empty(), &["name"], "must not be empty")
            .optional_slug(self.uid.as_deref(), 256, &["uid"])
            .check(self.rate_limit != Some(0), &["throttleRate"], "must be at least 1")
            .finish()
    }
}

/// Creates an application. With `?get_if_exists=true` and a `uid` already in use,
/// answers `200` with the existing application instead of `409`.
pub async fn create_application(
    State(state): State<ApiState>,
    AuthenticatedTenant(tenant): AuthenticatedTenant,
    ValidQuery(query): ValidQuery<CreateApplicationQuery>,
    ValidJson(body): ValidJson<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    body.validate()?;
    if query.get_if_exists {
        if let Some(uid) = &body.uid {
            if let Some(existing) = state.store.find_application(&tenant, uid).await? {
                return Ok((StatusCode::OK, Json(existing.into())));
            }
        }
    }
    let uid = body.uid.clone();
    match create(&state, &tenant, body).await {
        Err(ApiError::Conflict(detail)) if query.get_if_exists => {
            // Lost a race with a concurrent get-or-create of the same uid: answer with the winner.
            let existing = match uid {
                Some(uid) => state.store.find_application(&tenant, &uid).await?,
                None => None,
            };
            existing.map(|app| (StatusCode::OK, Json(app.into()))).ok_or(ApiError::Conflict(detail))
        }
        other => other.map(|app| (StatusCode::CREATED, Json(app.into()))),
    }
}

/// Creates an application from a validated body.
pub async fn create(
    state: &ApiState,
    tenant: &herald_core::TenantId,
    body: ApplicationIn,
) -> ApiResult<application::Model> {
    Ok(state
        .store
        .create_application(NewApplication {
            id: fresh(ApplicationId::generate),
            tenant_id: tenant.clone(),
            uid: body.uid,
            name: body.name,
            rate_limit: body.rate_limit.map(i32::from),
            metadata: serde_json::Value::Object(body.metadata.unwrap_or_default()),
            now: Utc::now(),
        })
        .await?)
}
