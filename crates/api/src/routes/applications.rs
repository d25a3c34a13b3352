//! Applications: one end customer of a tenant each. `app_id` in every path accepts
//! the application's id or its producer-chosen `uid`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use herald_core::ApplicationId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{double_option, envelope, ListResponse, OrderedPageQuery};
use crate::auth::{Caller, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::extract::{ValidJson, ValidQuery};
use crate::service::applications::create_application as new_application;
use crate::shapes::{metadata_value, ApplicationIn, ApplicationOut};
use crate::validate::Validator;
use crate::ApiState;

/// Svix's `ApplicationPatch`: absent fields stay, `null` clears `uid` and `throttleRate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default, alias = "rateLimit", deserialize_with = "double_option")]
    #[schema(value_type = Option<u16>)]
    pub throttle_rate: Option<Option<u16>>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateApplicationQuery {
    /// Answer `200` with the existing application when its `uid` is taken.
    #[serde(default)]
    get_if_exists: bool,
}

/// Svix's list parameters, and Herald's search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListApplicationsQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// The order of the returned items (default ascending, oldest first).
    pub order: Option<super::Ordering>,
    /// Herald's addition: only applications whose name or uid contains this text
    /// (ignoring case), or whose id it is. 1 to 256 characters.
    pub search: Option<String>,
}

/// Lists the tenant's applications.
#[utoipa::path(get, path = "/api/v1/app", tag = "Application", operation_id = "v1.application.list",
    params(ListApplicationsQuery), security(("HTTPBearer" = [])),
    responses((status = 200, body = ListResponse<ApplicationOut>), ErrorResponses))]
pub async fn list_applications(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidQuery(query): ValidQuery<ListApplicationsQuery>,
) -> ApiResult<Json<ListResponse<ApplicationOut>>> {
    let page = OrderedPageQuery { limit: query.limit, iterator: query.iterator, order: query.order }.page()?;
    let search = query.search.as_deref().map(str::trim).filter(|text| !text.is_empty());
    if search.is_some_and(|text| text.chars().count() > 256) {
        return Err(ApiError::query("search", "must be at most 256 characters"));
    }
    let listed = state.store.list_applications(&caller.tenant_id(), search, &page).await?;
    Ok(Json(envelope(listed, &page, |app| app.id.to_string(), ApplicationOut::from)))
}

/// Creates an application. With `?get_if_exists=true` and a `uid` already in use,
/// answers `200` with the existing application instead of `409`.
#[utoipa::path(post, path = "/api/v1/app", tag = "Application", operation_id = "v1.application.create",
    params(CreateApplicationQuery), request_body = ApplicationIn, security(("HTTPBearer" = [])),
    responses((status = 201, body = ApplicationOut), (status = 200, body = ApplicationOut), ErrorResponses))]
pub async fn create_application(
    State(state): State<ApiState>,
    caller: TenantCaller,
    ValidQuery(query): ValidQuery<CreateApplicationQuery>,
    ValidJson(body): ValidJson<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    body.validate()?;
    let tenant = caller.tenant_id();
    if query.get_if_exists {
        if let Some(uid) = &body.uid {
            if let Some(existing) = state.store.find_application(&tenant, uid).await? {
                return Ok((StatusCode::OK, Json(existing.into())));
            }
        }
    }
    let uid = body.uid.clone();
    match new_application(&state, &tenant, body).await {
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

/// Gets an application by id or `uid`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = "Application", operation_id = "v1.application.get",
    params(("app_id" = String, Path, description = "The application's id or uid")), security(("HTTPBearer" = [])),
    responses((status = 200, body = ApplicationOut), ErrorResponses))]
pub async fn get_application(
    State(state): State<ApiState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(caller.application(&state, &app_id).await?.into_model().into()))
}

/// Replaces an application; creates it (with `app_id` as its `uid`) when it does not exist.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = "Application", operation_id = "v1.application.update",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = ApplicationIn,
    security(("HTTPBearer" = [])),
    responses((status = 200, body = ApplicationOut), (status = 201, body = ApplicationOut), ErrorResponses))]
pub async fn update_application(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    body.validate()?;
    let tenant = caller.tenant_id();
    let Some(before) = state.store.find_application(&tenant, &app_id).await? else {
        if ApplicationId::has_prefix(&app_id) {
            return Err(ApiError::NotFound("application"));
        }
        let mut body = body;
        Validator::default().slug(&app_id, 256, &["uid"]).finish()?;
        body.uid = Some(app_id);
        let created = new_application(&state, &tenant, body).await?;
        return Ok((StatusCode::CREATED, Json(created.into())));
    };
    let mut app = before.clone();
    app.name = body.name;
    app.uid = body.uid.or(app.uid);
    app.rate_limit = body.throttle_rate.map(i32::from);
    app.metadata = metadata_value(body.metadata);
    app.updated_at = Utc::now();
    let updated = state.store.update_application(&before, app).await?.ok_or(ApiError::NotFound("application"))?;
    Ok((StatusCode::OK, Json(updated.into())))
}

/// Changes the given fields of an application.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = "Application", operation_id = "v1.application.patch",
    params(("app_id" = String, Path, description = "The application's id or uid")), request_body = ApplicationPatch,
    security(("HTTPBearer" = [])),
    responses((status = 200, body = ApplicationOut), ErrorResponses))]
pub async fn patch_application(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
    ValidJson(body): ValidJson<ApplicationPatch>,
) -> ApiResult<Json<ApplicationOut>> {
    let before =
        state.store.find_application(&caller.tenant_id(), &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    let mut app = before.clone();
    if let Some(name) = body.name {
        app.name = name;
    }
    if let Some(uid) = body.uid {
        app.uid = uid;
    }
    if let Some(rate) = body.throttle_rate {
        app.rate_limit = rate.map(i32::from);
    }
    if let Some(metadata) = body.metadata {
        app.metadata = metadata_value(Some(metadata));
    }
    Validator::default()
        .check(!app.name.trim().is_empty(), &["name"], "must not be empty")
        .optional_slug(app.uid.as_deref(), 256, &["uid"])
        .check(app.rate_limit != Some(0), &["throttleRate"], "must be at least 1")
        .finish()?;
    app.updated_at = Utc::now();
    let updated = state.store.update_application(&before, app).await?.ok_or(ApiError::NotFound("application"))?;
    Ok(Json(updated.into()))
}

/// Deletes an application and its endpoints; pending deliveries stop.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = "Application", operation_id = "v1.application.delete",
    params(("app_id" = String, Path, description = "The application's id or uid")), security(("HTTPBearer" = [])),
    responses((status = 204, description = "Deleted."), ErrorResponses))]
pub async fn delete_application(
    State(state): State<ApiState>,
    caller: TenantCaller,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    let app =
        state.store.find_application(&caller.tenant_id(), &app_id).await?.ok_or(ApiError::NotFound("application"))?;
    state.store.delete_application(&app.id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
