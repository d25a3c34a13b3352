//! The JSON shapes more than one resource answers with or takes (named as in Svix's
//! OpenAPI document): an application inline in a message or a portal-token request, a
//! message or an endpoint inside attempt listings. Each resource's own shapes stay in
//! its route module.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_store::entity::{application, endpoint, message};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::validate::Validator;

/// Svix's `ApplicationIn`. `rateLimit` (SDK 1.x) and `throttleRate` (2.x) are one field.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationIn {
    pub name: String,
    /// A producer-chosen unique identifier, usable wherever an `app_id` is.
    #[serde(default)]
    pub uid: Option<String>,
    /// Maximum messages per second to this application's endpoints (also read as `rateLimit`).
    #[serde(default, alias = "rateLimit")]
    pub throttle_rate: Option<u16>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl ApplicationIn {
    pub fn validate(&self) -> ApiResult<()> {
        Validator::default()
            .check(!self.name.trim().is_empty(), &["name"], "must not be empty")
            .optional_slug(self.uid.as_deref(), 256, &["uid"])
            .check(self.throttle_rate != Some(0), &["throttleRate"], "must be at least 1")
            .finish()
    }
}

/// Svix's `ApplicationOut`, with the rate limit under both of its names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    pub rate_limit: Option<i32>,
    pub throttle_rate: Option<i32>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<application::Model> for ApplicationOut {
    fn from(app: application::Model) -> Self {
        Self {
            id: app.id.to_string(),
            uid: app.uid,
            name: app.name,
            rate_limit: app.rate_limit,
            throttle_rate: app.rate_limit,
            metadata: metadata_map(&app.metadata),
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

/// Svix's `EndpointOut`, with both spellings of the filter and the rate limit, and
/// `version` always present (SDK 1.x requires it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    pub filter_types: Option<Vec<String>>,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub rate_limit: Option<i32>,
    pub throttle_rate: Option<i32>,
    pub uid: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Herald's ordered mode: deliveries of one ordering key go one after another.
    pub ordered: bool,
    /// Herald's delivery receipts: the seconds the consumer has to confirm a delivery
    /// it processed; `null` when the endpoint expects no receipts.
    pub receipt_window: Option<i32>,
    /// Herald's automatic redrive after an outage (see `EndpointIn.autoRedrive`).
    pub auto_redrive: bool,
}

impl From<endpoint::Model> for EndpointOut {
    fn from(model: endpoint::Model) -> Self {
        let filter = string_list(&model.filter_types);
        Self {
            id: model.id.to_string(),
            url: model.url,
            description: model.description,
            version: model.version,
            disabled: model.disabled,
            event_types: filter.clone(),
            filter_types: filter,
            channels: string_list(&model.channels),
            rate_limit: model.rate_limit,
            throttle_rate: model.rate_limit,
            uid: model.uid,
            metadata: metadata_map(&model.metadata),
            created_at: model.created_at,
            updated_at: model.updated_at,
            ordered: model.ordered,
            receipt_window: model.receipt_window_secs,
            auto_redrive: model.auto_redrive,
        }
    }
}

/// Svix's `MessageOut`, plus `schemaViolations` when the tenant flags payloads that
/// break their event type's schema.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    pub id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_violations: Option<Vec<String>>,
    /// The message's ordering key, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
    /// When the message is (or was) to be delivered, if it was scheduled (`deliverAt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<DateTime<Utc>>,
    /// `true` once the payload was expunged (on request or by payload retention): `payload`
    /// is then `{}` and nothing more is sent.
    pub payload_expunged: bool,
    /// When payload retention expunges the payload (the past once it has).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_expires_at: Option<DateTime<Utc>>,
    /// When metadata retention deletes the message with its attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl MessageOut {
    pub fn new(model: message::Model, payload: Box<RawValue>) -> Self {
        Self {
            channels: string_list(&model.channels),
            tags: string_list(&model.tags),
            schema_violations: model.schema_violations.and_then(|problems| serde_json::from_value(problems).ok()),
            id: model.id.to_string(),
            event_type: model.event_type,
            event_id: model.event_id,
            payload,
            timestamp: model.created_at,
            ordering_key: model.ordering_key,
            deliver_at: model.deliver_at,
            payload_expunged: model.payload_expunged,
            payload_expires_at: model.payload_expires_at,
            expires_at: model.expires_at,
        }
    }

    /// The message as listed: the payload only `with_content`, else `{}`.
    pub fn from_model(model: message::Model, with_content: bool) -> Self {
        let payload = if with_content { RawValue::from_string(model.payload.clone()).ok() } else { None };
        Self::new(model, payload.unwrap_or_else(empty_object))
    }
}

/// Reads stored metadata back as Svix's string map (non-string values, which the API
/// never writes, are skipped).
pub fn metadata_map(value: &serde_json::Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default()
}

pub fn metadata_value(map: Option<BTreeMap<String, String>>) -> serde_json::Value {
    serde_json::to_value(map.unwrap_or_default()).unwrap_or_default()
}

/// A stored JSON list of strings.
pub fn string_list(value: &Option<herald_store::entity::Names>) -> Option<Vec<String>> {
    value.as_ref().map(|names| names.0.clone())
}

/// `{}`, the payload of a message listed without its content.
pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}
