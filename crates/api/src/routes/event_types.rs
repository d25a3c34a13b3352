//! Event types: `POST /api/v1/event-type`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::EventTypeId;
use herald_store::entity::event_type;
use herald_store::NewEventType;
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedTenant;
use crate::error::ApiResult;
use crate::extract::ValidJson;
use crate::ids::fresh;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `EventTypeIn`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeIn {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub schemas: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub feature_flag: Option<String>,
}

/// Svix's `EventTypeOut`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    pub name: String,
    pub description: String,
    pub schemas: Option<serde_json::Value>,
    pub archived: bool,
    pub deprecated: bool,
    pub feature_flag: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<event_type::Model> for EventTypeOut {
    fn from(model: event_type::Model) -> Self {
        Self {
            name: model.name,
            description: model.description,
            schemas: model.schemas,
            archived: model.archived,
            deprecated: model.deprecated,
            feature_flag: model.feature_flag,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

pub async fn create_event_type(
    State(state): State<ApiState>,
    AuthenticatedTenant(tenant): AuthenticatedTenant,
    ValidJson(body): ValidJson<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    Validator::default()
        .slug(&body.name, 256, &["name"])
        .optional_slug(body.feature_flag.as_deref(), 256, &["featureFlag"])
        .finish()?;
    let created = state
        .store
        .create_event_type(NewEventType {
            id: fresh(EventTypeId::generate),
            tenant_id: tenant,
            name: body.name,
            description: body.description,
            schemas: body.schemas.map(serde_json::Value::Object),
            archived: body.archived,
            deprecated: body.deprecated,
            feature_flag: body.feature_flag,
            now: Utc::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}
