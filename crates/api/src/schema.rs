//! Payload schemas: an event type may carry a JSON Schema per version (Svix's
//! `schemas: {"1": {...}}`); the latest version is the one payloads are checked
//! against. Each tenant chooses what a failing payload gets:
//!
//! - `accept` (the default): no check at all, no cost;
//! - `flag`: the message is accepted and carries `schemaViolations`;
//! - `reject`: `422` naming the failing payload path, nothing written.
//!
//! Compiled validators are cached per event type and rebuilt when it changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use herald_core::{SchemaMode, TenantId};
use herald_store::Store;

use crate::error::{ApiError, ApiResult, ValidationItem};

/// The outcome of checking one payload.
#[derive(Debug)]
pub enum SchemaVerdict {
    Valid,
    /// Accepted, with where the payload broke the schema.
    Flagged(Vec<String>),
    /// Refused, as `422` items.
    Rejected(Vec<ValidationItem>),
}

/// A compiled validator and the event type's `updated_at` it was built from.
type CachedValidator = (DateTime<Utc>, Arc<jsonschema::Validator>);

/// Compiled validators by event type id.
#[derive(Debug, Default, Clone)]
pub struct SchemaCache {
    compiled: Arc<Mutex<HashMap<String, CachedValidator>>>,
}

/// Compiles a schema, or says why it is not one.
pub fn compile(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|error| error.to_string())
}

impl SchemaCache {
    /// Checks `payload` against the schema of `event_type`, as the tenant's mode says.
    pub async fn check(
        &self,
        store: &Store,
        tenant: &TenantId,
        mode: SchemaMode,
        event_type: &str,
        payload: &str,
    ) -> ApiResult<SchemaVerdict> {
        if mode == SchemaMode::Accept {
            return Ok(SchemaVerdict::Valid);
        }
        let Some(found) = store.find_event_type(tenant, event_type).await? else { return Ok(SchemaVerdict::Valid) };
        let Some(schema) = latest_schema(found.schemas.as_ref()) else { return Ok(SchemaVerdict::Valid) };
        let validator = {
            let mut compiled = self.compiled.lock().expect("schema cache lock");
            match compiled.get(found.id.as_str()) {
                Some((built_from, validator)) if *built_from == found.updated_at => validator.clone(),
                _ => {
                    let Ok(validator) = compile(&schema) else {
                        // Schemas are checked when written; one that no longer compiles checks nothing.
                        return Ok(SchemaVerdict::Valid);
                    };
                    let validator = Arc::new(validator);
                    compiled.insert(found.id.to_string(), (found.updated_at, validator.clone()));
                    validator
                }
            }
        };
        let instance: serde_json::Value = serde_json::from_str(payload)
            .map_err(|e| ApiError::InvalidJson(format!("the payload is not JSON: {e}")))?;
        let problems: Vec<(String, String)> = validator
            .iter_errors(&instance)
            .map(|error| (error.instance_path().to_string(), error.to_string()))
            .collect();
        if problems.is_empty() {
            return Ok(SchemaVerdict::Valid);
        }
        Ok(match mode {
            SchemaMode::Reject => {
                SchemaVerdict::Rejected(problems.into_iter().map(|(path, msg)| payload_problem(&path, msg)).collect())
            }
            _ => SchemaVerdict::Flagged(
                problems
                    .into_iter()
                    .map(|(path, msg)| format!("{}: {msg}", if path.is_empty() { "/" } else { &path }))
                    .collect(),
            ),
        })
    }
}

/// The schema of the highest version in Svix's `schemas` map (versions are numbers;
/// a non-numeric key sorts below every number).
pub fn latest_schema(schemas: Option<&serde_json::Value>) -> Option<serde_json::Value> {
    let map = schemas?.as_object()?;
    map.iter().max_by_key(|(version, _)| version.parse::<i64>().unwrap_or(i64::MIN)).map(|(_, schema)| schema.clone())
}

/// A `422` item for a payload path that broke the schema.
pub fn payload_problem(path: &str, msg: String) -> ValidationItem {
    let mut loc = vec!["body".to_owned(), "payload".to_owned()];
    loc.extend(path.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
    ValidationItem { loc, msg, kind: "schema_error".into() }
}
