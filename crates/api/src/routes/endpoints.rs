//! Endpoints: `POST /api/v1/app/{app_id}/endpoint`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::signing::GENERATED_SECRET_BYTES;
use herald_core::{ApplicationId, EndpointId, EndpointSecret};
use herald_store::entity::endpoint;
use herald_store::NewEndpoint;
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedTenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::ids::fresh;
use crate::validate::{url_problem, Validator};
use crate::ApiState;

/// Svix's `EndpointIn`. SDK 1.x says `filterTypes` and `rateLimit`, 2.x `eventTypes`
/// and `throttleRate`: both spellings are accepted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIn {
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: Option<u16>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default, alias = "eventTypes")]
    pub filter_types: Option<Vec<String>>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default, alias = "throttleRate")]
    pub rate_limit: Option<u16>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// Svix's `EndpointOut`, with both spellings of the filter and the rate limit, and
/// `version` always present (SDK 1.x requires it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    pub filter_types: Option<serde_json::Value>,
    pub event_types: Option<serde_json::Value>,
    pub channels: Option<serde_json::Value>,
    pub rate_limit: Option<i32>,
    pub throttle_rate: Option<i32>,
    pub uid: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<endpoint::Model> for EndpointOut {
    fn from(model: endpoint::Model) -> Self {
        Self {
            id: model.id,
            url: model.url,
            description: model.description,
            version: model.version,
            disabled: model.disabled,
            event_types: model.filter_types.clone(),
            filter_types: model.filter_types,
            channels: model.channels,
            rate_limit: model.rate_limit,
            throttle_rate: model.rate_limit,
            uid: model.uid,
            metadata: model.metadata,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// Header names Herald sets itself and a custom header may not replace.
const RESERVED_HEADERS: [&str; 9] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-signature",
];

impl EndpointIn {
    fn validate(&self) -> ApiResult<()> {
        let mut validator = Validator::default();
        if let Some(problem) = url_problem(&self.url) {
            validator.check(false, &["url"], problem);
        }
        validator
            .optional_slug(self.uid.as_deref(), 256, &["uid"])
            .slug_list(self.filter_types.as_deref(), 1_000, 256, "filterTypes")
            .check(
                self.filter_types.as_ref().is_none_or(|f| !f.is_empty()),
                &["filterTypes"],
                "must not be empty; omit it to receive every event type",
            )
            .slug_list(self.channels.as_deref(), 10, 128, "channels")
            .check(
                self.channels.as_ref().is_none_or(|c| !c.is_empty()),
                &["channels"],
                "must not be empty; omit it to ignore channels",
            )
            .check(self.rate_limit != Some(0), &["throttleRate"], "must be at least 1")
            .check(self.version != Some(0), &["version"], "must be at least 1");
        for name in self.headers.iter().flat_map(BTreeMap::keys) {
            let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok();
            let reserved = RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str());
            validator.check(valid && !reserved, &["headers", name], "is not a header name Herald can send");
        }
        validator.finish()
    }
}

pub async fn create_endpoint(
    State(state): State<ApiState>,
    AuthenticatedTenant(tenant): AuthenticatedTenant,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = state.store.find_application(&tenant, &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    body.validate()?;
    let secret = match &body.secret {
        Some(given) => {
            EndpointSecret::parse(given).map_err(|error| ApiError::validation(&["secret"], error.to_string()))?
        }
        None => EndpointSecret::from_random_bytes(rand::random::<[u8; GENERATED_SECRET_BYTES]>()),
    };
    let headers =
        serde_json::to_value(body.headers.unwrap_or_default()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = state
        .store
        .create_endpoint(NewEndpoint {
            id: fresh(EndpointId::generate),
            tenant_id: tenant,
            app_id: ApplicationId::from_trusted(app.id),
            uid: body.uid,
            url: body.url,
            description: body.description,
            version: i32::from(body.version.unwrap_or(1)),
            disabled: body.disabled,
            rate_limit: body.rate_limit.map(i32::from),
            filter_types: body.filter_types,
            channels: body.channels,
            metadata: serde_json::Value::Object(body.metadata.unwrap_or_default()),
            headers,
            secret: secret.expose(),
            now: Utc::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}
