//! Creating applications, alone or on the way to something else (a message or a
//! portal token for an application that does not exist yet).

use chrono::Utc;
use herald_core::{ApplicationId, TenantId};
use herald_store::entity::application;
use herald_store::NewApplication;

use crate::auth::{ScopedApp, TenantCaller};
use crate::error::{ApiError, ApiResult};
use crate::ids::fresh;
use crate::shapes::{metadata_value, ApplicationIn};
use crate::validate::Validator;
use crate::ApiState;

/// Creates an application from a validated body.
pub async fn create_application(
    state: &ApiState,
    tenant: &TenantId,
    body: ApplicationIn,
) -> ApiResult<application::Model> {
    Ok(state
        .store
        .create_application(NewApplication {
            id: fresh(ApplicationId::generate),
            tenant_id: tenant.clone(),
            uid: body.uid,
            name: body.name,
            rate_limit: body.throttle_rate.map(i32::from),
            metadata: metadata_value(body.metadata),
            now: Utc::now(),
        })
        .await?)
}

/// The caller's application `app_id` (an id or a `uid`); when there is none and the
/// request described one inline, that one is created with `app_id` as its `uid`. Two
/// requests racing to create it get the same application.
pub async fn find_or_create_application(
    state: &ApiState,
    caller: &TenantCaller,
    app_id: &str,
    inline: Option<ApplicationIn>,
) -> ApiResult<ScopedApp> {
    let tenant = &caller.tenant_id();
    if let Some(app) = state.store.find_application(tenant, app_id).await? {
        return caller.application(app);
    }
    let Some(mut inline) = inline else {
        return Err(ApiError::NotFound("application"));
    };
    inline.validate()?;
    Validator::default().slug(app_id, 256, &["application", "uid"]).finish()?;
    inline.uid = Some(app_id.to_owned());
    let app = match create_application(state, tenant, inline).await {
        // A concurrent request created it first.
        Err(ApiError::Conflict(_)) => {
            state.store.find_application(tenant, app_id).await?.ok_or(ApiError::NotFound("application"))?
        }
        other => other?,
    };
    caller.application(app)
}
