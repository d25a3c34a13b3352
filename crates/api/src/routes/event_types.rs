//! Event types: the named events a tenant sends, each optionally with a JSON Schema
//! per version (see [`crate::schema`] for how payloads are checked against it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::EventTypeId;
use herald_store::entity::{event_type, Names};
use herald_store::{ImportedType, NewEventType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::{Caller, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::ids::fresh;
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `EventTypeIn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeIn {
    pub name: String,
    pub description: String,
    /// JSON Schemas by version, e.g. `{"1": {...}}`; the highest version checks payloads.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub feature_flag: Option<String>,
    /// The feature flags that make it visible (Svix's successor of `featureFlag`).
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    /// The group it is listed under in catalogs.
    #[serde(default)]
    pub group_name: Option<String>,
}

/// Svix's `EventTypeUpdate`: `EventTypeIn` without the name (it is in the path).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeUpdate {
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub feature_flag: Option<String>,
    /// The feature flags that make it visible (Svix's successor of `featureFlag`).
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    /// The group it is listed under in catalogs.
    #[serde(default)]
    pub group_name: Option<String>,
}

/// Svix's `EventTypePatch`: absent fields stay, `null` clears the nullable ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypePatch {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub deprecated: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub feature_flag: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub feature_flags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub group_name: Option<Option<String>>,
}

/// Svix's `EventTypeOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    pub name: String,
    pub description: String,
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Value>,
    pub archived: bool,
    pub deprecated: bool,
    pub feature_flag: Option<String>,
    pub feature_flags: Option<Vec<String>>,
    pub group_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EventTypeOut {
    fn new(model: event_type::Model, with_content: bool) -> Self {
        Self {
            name: model.name,
            description: model.description,
            schemas: if with_content { model.schemas } else { None },
            archived: model.archived,
            deprecated: model.deprecated,
            feature_flag: model.feature_flag,
            feature_flags: model.feature_flags.map(|flags| flags.0),
            group_name: model.group_name,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

impl From<event_type::Model> for EventTypeOut {
    fn from(model: event_type::Model) -> Self {
        Self::new(model, true)
    }
}

fn check_fields(
    validator: &mut Validator,
    schemas: Option<&serde_json::Map<String, serde_json::Value>>,
    feature_flag: Option<&str>,
    feature_flags: Option<&[String]>,
    group_name: Option<&str>,
) {
    validator.optional_slug(feature_flag, 256, &["featureFlag"]);
    validator.slug_list(feature_flags, 100, 256, "featureFlags");
    validator.optional_slug(group_name, 256, &["groupName"]);
    for (version, schema) in schemas.into_iter().flatten() {
        match crate::schema::compile(schema) {
            Ok(_) if schema.is_object() => {}
            Ok(_) => {
                validator.check(false, &["schemas", version], "must be a JSON Schema object");
            }
            Err(error) => {
                validator.check(false, &["schemas", version], &format!("is not a valid JSON Schema: {error}"));
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventTypesQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// The order of the returned items, by name (default ascending).
    pub order: Option<super::Ordering>,
    /// Include archived event types.
    #[serde(default)]
    pub include_archived: bool,
    /// Include the schemas (default `true`).
    #[serde(default = "default_true")]
    pub with_content: bool,
}

fn default_true() -> bool {
    true
}

/// Lists the tenant's event types by name. Portal tokens may read them (to choose filters).
#[utoipa::path(get, path = "/api/v1/event-type", tag = "Event Type", operation_id = "v1.event-type.list",
    params(ListEventTypesQuery), security(("HTTPBearer" = [])),
    responses((status = 200, body = ListResponse<EventTypeOut>), ErrorResponses))]
pub async fn list_event_types(
    State(state): State<ApiState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<ListEventTypesQuery>,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let page = OrderedPageQuery { limit: query.limit, iterator: query.iterator.clone(), order: query.order }.page()?;
    let listed = visible_event_types(&state, &caller, query.include_archived, &page).await?;
    let with_content = query.with_content;
    Ok(Json(envelope(listed, &page, |et| et.name.clone(), |et| EventTypeOut::new(et, with_content))))
}

/// The flags an event type is behind: its `featureFlag` and `featureFlags` together.
pub(crate) fn flags_of(model: &event_type::Model) -> Vec<&str> {
    model
        .feature_flag
        .iter()
        .chain(model.feature_flags.iter().flat_map(|flags| flags.0.iter()))
        .map(String::as_str)
        .collect()
}

/// One page of the event types `caller` may see. Rows it may not see are left out
/// before the page's iterators are made, so an iterator never names one; a page whose
/// rows were all hidden is followed by the next in the same direction, so a page is
/// empty only at the end. A page may hold fewer than `limit`.
async fn visible_event_types(
    state: &ApiState,
    caller: &Caller,
    include_archived: bool,
    page: &herald_store::Page,
) -> ApiResult<herald_store::Listed<event_type::Model>> {
    let tenant = caller.tenant_id();
    let mut page = page.clone();
    loop {
        let listed = state.store.list_event_types(&tenant, include_archived, &page).await?;
        let edge = if listed.backwards { listed.items.first() } else { listed.items.last() }.map(|et| et.name.clone());
        let (more, backwards) = (listed.more, listed.backwards);
        let items: Vec<_> = listed.items.into_iter().filter(|et| caller.sees_feature(&flags_of(et))).collect();
        match edge {
            Some(edge) if items.is_empty() && more => {
                page.cursor = Some(if backwards {
                    herald_store::Cursor::Before(edge)
                } else {
                    herald_store::Cursor::After(edge)
                });
            }
            _ => return Ok(herald_store::Listed { items, more, backwards }),
        }
    }
}

/// Creates an event type.
#[utoipa::path(post, path = "/api/v1/event-type", tag = "Event Type", operation_id = "v1.event-type.create",
    request_body = EventTypeIn, security(("HTTPBearer" = [])),
    responses((status = 201, body = EventTypeOut), ErrorResponses))]
pub async fn create_event_type(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidJson(body): ValidJson<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let mut validator = Validator::default();
    validator.slug(&body.name, 256, &["name"]);
    check_fields(
        &mut validator,
        body.schemas.as_ref(),
        body.feature_flag.as_deref(),
        body.feature_flags.as_deref(),
        body.group_name.as_deref(),
    );
    validator.finish()?;
    let created = state
        .store
        .create_event_type(NewEventType {
            id: fresh(EventTypeId::generate),
            tenant_id: caller.tenant_id(),
            name: body.name,
            description: body.description,
            schemas: body.schemas.map(serde_json::Value::Object),
            archived: body.archived,
            deprecated: body.deprecated,
            feature_flag: body.feature_flag,
            feature_flags: body.feature_flags,
            group_name: body.group_name,
            now: Utc::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn find(state: &ApiState, tenant: &herald_core::TenantId, name: &str) -> ApiResult<event_type::Model> {
    state.store.find_event_type(tenant, name).await?.ok_or(ApiError::NotFound("event type"))
}

/// Gets an event type (archived ones too).
#[utoipa::path(get, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", operation_id = "v1.event-type.get",
    params(("event_type_name" = String, Path, description = "The event type's name")), security(("HTTPBearer" = [])),
    responses((status = 200, body = EventTypeOut), ErrorResponses))]
pub async fn get_event_type(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    let found = find(&state, &caller.tenant_id(), &name).await?;
    if !caller.sees_feature(&flags_of(&found)) {
        return Err(ApiError::NotFound("event type"));
    }
    Ok(Json(found.into()))
}

/// Replaces an event type; creates it when it does not exist.
#[utoipa::path(put, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", operation_id = "v1.event-type.update",
    params(("event_type_name" = String, Path, description = "The event type's name")), request_body = EventTypeUpdate,
    security(("HTTPBearer" = [])),
    responses((status = 200, body = EventTypeOut), (status = 201, body = EventTypeOut), ErrorResponses))]
pub async fn update_event_type(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(name): Path<String>,
    ValidJson(body): ValidJson<EventTypeUpdate>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let mut validator = Validator::default();
    validator.slug(&name, 256, &["name"]);
    check_fields(
        &mut validator,
        body.schemas.as_ref(),
        body.feature_flag.as_deref(),
        body.feature_flags.as_deref(),
        body.group_name.as_deref(),
    );
    validator.finish()?;
    let tenant = caller.tenant_id();
    let now = Utc::now();
    let Some(before) = state.store.find_event_type(&tenant, &name).await? else {
        let created = state
            .store
            .create_event_type(NewEventType {
                id: fresh(EventTypeId::generate),
                tenant_id: tenant,
                name,
                description: body.description,
                schemas: body.schemas.map(serde_json::Value::Object),
                archived: body.archived,
                deprecated: body.deprecated,
                feature_flag: body.feature_flag,
                feature_flags: body.feature_flags,
                group_name: body.group_name,
                now,
            })
            .await?;
        return Ok((StatusCode::CREATED, Json(created.into())));
    };
    let mut existing = before.clone();
    existing.description = body.description;
    existing.schemas = body.schemas.map(serde_json::Value::Object);
    existing.archived = body.archived;
    existing.deprecated = body.deprecated;
    existing.feature_flag = body.feature_flag;
    existing.feature_flags = body.feature_flags.map(Names::from);
    existing.group_name = body.group_name;
    existing.updated_at = now;
    let updated = state.store.update_event_type(&before, existing).await?.ok_or(ApiError::NotFound("event type"))?;
    Ok((StatusCode::OK, Json(updated.into())))
}

/// Changes the given fields of an event type.
#[utoipa::path(patch, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", operation_id = "v1.event-type.patch",
    params(("event_type_name" = String, Path, description = "The event type's name")), request_body = EventTypePatch,
    security(("HTTPBearer" = [])), responses((status = 200, body = EventTypeOut), ErrorResponses))]
pub async fn patch_event_type(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(name): Path<String>,
    ValidJson(body): ValidJson<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let before = find(&state, &caller.tenant_id(), &name).await?;
    let mut existing = before.clone();
    let mut validator = Validator::default();
    check_fields(
        &mut validator,
        body.schemas.as_ref().and_then(Option::as_ref),
        body.feature_flag.as_ref().and_then(Option::as_deref),
        body.feature_flags.as_ref().and_then(Option::as_deref),
        body.group_name.as_ref().and_then(Option::as_deref),
    );
    validator.finish()?;
    if let Some(description) = body.description {
        existing.description = description;
    }
    if let Some(schemas) = body.schemas {
        existing.schemas = schemas.map(serde_json::Value::Object);
    }
    if let Some(archived) = body.archived {
        existing.archived = archived;
    }
    if let Some(deprecated) = body.deprecated {
        existing.deprecated = deprecated;
    }
    if let Some(flag) = body.feature_flag {
        existing.feature_flag = flag;
    }
    if let Some(flags) = body.feature_flags {
        existing.feature_flags = flags.map(Names::from);
    }
    if let Some(group) = body.group_name {
        existing.group_name = group;
    }
    existing.updated_at = Utc::now();
    let updated = state.store.update_event_type(&before, existing).await?.ok_or(ApiError::NotFound("event type"))?;
    Ok(Json(updated.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteEventTypeQuery {
    /// Remove the event type for good instead of archiving it.
    #[serde(default)]
    pub expunge: bool,
}

/// Archives an event type (or, with `expunge=true`, removes it).
#[utoipa::path(delete, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", operation_id = "v1.event-type.delete",
    params(("event_type_name" = String, Path, description = "The event type's name"), DeleteEventTypeQuery),
    security(("HTTPBearer" = [])), responses((status = 204, description = "Archived or removed."), ErrorResponses))]
pub async fn delete_event_type(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(name): Path<String>,
    ValidQuery(query): ValidQuery<DeleteEventTypeQuery>,
) -> ApiResult<StatusCode> {
    let before = find(&state, &caller.tenant_id(), &name).await?;
    if query.expunge {
        state.store.expunge_event_type(before).await?;
    } else {
        let mut existing = before.clone();
        existing.archived = true;
        existing.updated_at = Utc::now();
        state.store.update_event_type(&before, existing).await?.ok_or(ApiError::NotFound("event type"))?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Svix's `EventTypeImportOpenApiIn`: exactly one of `spec` (the document as JSON) and
/// `specRaw` (its text, JSON or YAML).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeImportOpenApiIn {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub spec_raw: Option<String>,
    /// Change nothing; `data.to_modify` lists what would change.
    #[serde(default, alias = "dry_run")]
    pub dry_run: bool,
    /// Archive the event types the document does not define.
    #[serde(default)]
    pub replace_all: bool,
}

/// Svix's `EventTypeFromOpenApi`: an event type as the document defines it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeFromOpenApi {
    pub name: String,
    pub description: String,
    pub deprecated: bool,
    /// The payload's JSON Schema (stored as version `1`).
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Value>,
    pub group_name: Option<String>,
    /// The first feature flag, for SDKs that know only the single field.
    pub feature_flag: Option<String>,
    pub feature_flags: Option<Vec<String>>,
}

/// Svix's `EventTypeImportOpenApiOutData`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeImportOpenApiOutData {
    /// The event types created, changed or (`replaceAll`) archived; empty on a dry run.
    pub modified: Vec<String>,
    /// On a dry run, the document's event types that would be created or changed.
    #[serde(rename = "to_modify", skip_serializing_if = "Option::is_none")]
    pub to_modify: Option<Vec<EventTypeFromOpenApi>>,
}

/// Svix's `EventTypeImportOpenApiOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeImportOpenApiOut {
    pub data: EventTypeImportOpenApiOutData,
}

/// Creates or updates event types from an OpenAPI document's `webhooks` (or
/// `x-webhooks`): each webhook's name, description, `deprecated`, JSON body schema
/// (version 1, with the components it refers to), `x-svix-group-name` and
/// `x-svix-feature-flags`. An archived event type comes back; with `replaceAll` the
/// others are archived. All or nothing: a document with any error changes nothing.
#[utoipa::path(post, path = "/api/v1/event-type/import/openapi", tag = "Event Type",
    operation_id = "v1.event-type.import-openapi", request_body = EventTypeImportOpenApiIn,
    security(("HTTPBearer" = [])), responses((status = 200, body = EventTypeImportOpenApiOut), ErrorResponses))]
pub async fn import_openapi(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidJson(body): ValidJson<EventTypeImportOpenApiIn>,
) -> ApiResult<Json<EventTypeImportOpenApiOut>> {
    let invalid = |errors: Vec<crate::openapi_import::ImportError>| {
        let mut validator = Validator::default();
        for error in errors {
            let at: Vec<&str> = error.at.iter().map(String::as_str).collect();
            validator.check(false, &at, &error.message);
        }
        validator.finish().expect_err("at least one error")
    };
    let document = match (body.spec, body.spec_raw) {
        (Some(spec), None) => serde_json::Value::Object(spec),
        (None, Some(raw)) => crate::openapi_import::parse_raw(&raw).map_err(|error| invalid(vec![error]))?,
        _ => {
            let error = crate::openapi_import::ImportError {
                at: vec!["spec".into()],
                message: "give exactly one of `spec` and `specRaw`".into(),
            };
            return Err(invalid(vec![error]));
        }
    };
    let found = crate::openapi_import::event_types(&document).map_err(invalid)?;
    let mut validator = Validator::default();
    for event in &found {
        let at = ["spec", "webhooks", event.name.as_str()];
        validator.slug(&event.name, 256, &at);
        validator.optional_slug(event.group_name.as_deref(), 256, &[&at[..], &["x-svix-group-name"][..]].concat());
        let flag_count = event.feature_flags.as_ref().map_or(0, Vec::len);
        validator.check(
            flag_count <= 100,
            &[&at[..], &["x-svix-feature-flags"][..]].concat(),
            "must list at most 100 flags",
        );
        for (index, flag) in event.feature_flags.iter().flatten().enumerate() {
            let index = index.to_string();
            validator.slug(flag, 256, &[&at[..], &["x-svix-feature-flags", index.as_str()][..]].concat());
        }
        if let Some(schema) = &event.schema {
            let at = [&at[..], &["requestBody"][..]].concat();
            if !schema.is_object() {
                validator.check(false, &at, "must be a JSON Schema object");
            } else if let Err(error) = crate::schema::compile(schema) {
                validator.check(false, &at, &format!("is not a valid JSON Schema: {error}"));
            }
        }
    }
    validator.finish()?;
    let types: Vec<ImportedType> = found
        .iter()
        .map(|event| ImportedType {
            name: event.name.clone(),
            description: event.description.clone(),
            deprecated: event.deprecated,
            schemas: event.schema.clone().map(|schema| serde_json::json!({ "1": schema })),
            group_name: event.group_name.clone(),
            feature_flags: event.feature_flags.clone(),
        })
        .collect();
    let outcome =
        state.store.import_event_types(&caller.tenant_id(), &types, body.replace_all, body.dry_run, Utc::now()).await?;
    let data = if body.dry_run {
        let to_modify = found
            .into_iter()
            .filter(|event| outcome.changed.contains(&event.name))
            .map(|event| EventTypeFromOpenApi {
                feature_flag: event.feature_flags.as_ref().and_then(|flags| flags.first().cloned()),
                name: event.name,
                description: event.description,
                deprecated: event.deprecated,
                schemas: event.schema,
                group_name: event.group_name,
                feature_flags: event.feature_flags,
            })
            .collect();
        EventTypeImportOpenApiOutData { modified: Vec::new(), to_modify: Some(to_modify) }
    } else {
        EventTypeImportOpenApiOutData { modified: [outcome.changed, outcome.archived].concat(), to_modify: None }
    };
    Ok(Json(EventTypeImportOpenApiOut { data }))
}
