//! The `/api/v1` routes, one file per resource. Each file holds the resource's JSON
//! shapes (named as in Svix's OpenAPI document), its handlers, and their OpenAPI
//! annotations: the document at `/api/v1/openapi.json` is generated from these.

pub mod admin;
pub mod applications;
pub mod attempts;
pub mod audit;
pub mod auth;
pub mod background_tasks;
pub mod dead_letters;
pub mod endpoints;
pub mod event_types;
pub mod health;
pub mod messages;
pub mod operational;
pub mod pollers;
pub mod receipts;
pub mod scoped_keys;
pub mod signing_keys;
pub mod stats;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use herald_store::{Cursor, Listed, Order, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use herald_core::DeliveryStatus;

use crate::error::{ApiError, ApiResult, ValidationItem};
use crate::ApiState;

/// Every route of `/api/v1` (and the operator's `/admin/v1`), with its OpenAPI operation.
pub fn router_with_doc() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ping))
        .routes(routes!(health::ready))
        .routes(routes!(stats::overview))
        .routes(routes!(stats::app_attempts))
        .routes(routes!(stats::endpoint_attempts))
        .routes(routes!(applications::list_applications, applications::create_application))
        .routes(routes!(
            applications::get_application,
            applications::update_application,
            applications::patch_application,
            applications::delete_application
        ))
        .routes(routes!(endpoints::list_endpoints, endpoints::create_endpoint))
        .routes(routes!(
            endpoints::get_endpoint,
            endpoints::update_endpoint,
            endpoints::patch_endpoint,
            endpoints::delete_endpoint
        ))
        .routes(routes!(
            endpoints::headers::get_headers,
            endpoints::headers::update_headers,
            endpoints::headers::patch_headers
        ))
        .routes(routes!(endpoints::secret::get_secret))
        .routes(routes!(endpoints::secret::rotate_secret))
        .routes(routes!(
            signing_keys::get_signing_key,
            signing_keys::create_signing_key,
            signing_keys::delete_signing_key
        ))
        .routes(routes!(endpoints::sending::recover))
        .routes(routes!(endpoints::sending::replay_missing))
        .routes(routes!(endpoints::sending::bulk_replay))
        .routes(routes!(endpoints::sending::send_example))
        .routes(routes!(endpoints::stats::get_stats))
        .routes(routes!(messages::list_messages, messages::create_message))
        .routes(routes!(messages::get_message))
        .routes(routes!(messages::expunge_content))
        .routes(routes!(messages::cancel_message))
        .routes(routes!(messages::precheck))
        .routes(routes!(messages::bulk_expunge))
        .routes(routes!(messages::expunge_all_contents))
        .routes(routes!(attempts::list_by_endpoint))
        .routes(routes!(attempts::list_by_message))
        .routes(routes!(attempts::get_attempt))
        .routes(routes!(attempts::expunge_attempt_content))
        .routes(routes!(attempts::list_attempted_messages))
        .routes(routes!(attempts::list_attempted_destinations))
        .routes(routes!(attempts::resend))
        .routes(routes!(dead_letters::list_dead_letters))
        .routes(routes!(dead_letters::replay_dead_letters))
        .routes(routes!(dead_letters::discard_dead_letters))
        .routes(routes!(pollers::list_pollers, pollers::create_poller))
        .routes(routes!(pollers::poll, pollers::patch_poller, pollers::delete_poller))
        .routes(routes!(pollers::get_poller))
        .routes(routes!(pollers::consumer_poll))
        .routes(routes!(pollers::stream))
        .routes(routes!(pollers::list_poller_keys, pollers::create_poller_key))
        .routes(routes!(pollers::revoke_poller_key))
        .routes(routes!(pollers::consumer_seek))
        .routes(routes!(receipts::list_endpoint_keys, receipts::create_endpoint_key))
        .routes(routes!(receipts::revoke_endpoint_key))
        .routes(routes!(receipts::confirm_receipt))
        .routes(routes!(receipts::list_unconfirmed))
        .routes(routes!(event_types::list_event_types, event_types::create_event_type))
        .routes(routes!(event_types::import_openapi))
        .routes(routes!(operational::list, operational::create))
        .routes(routes!(operational::get, operational::update, operational::delete))
        .routes(routes!(operational::get_headers, operational::update_headers))
        .routes(routes!(operational::get_secret))
        .routes(routes!(operational::rotate_secret))
        .routes(routes!(
            event_types::get_event_type,
            event_types::update_event_type,
            event_types::patch_event_type,
            event_types::delete_event_type
        ))
        .routes(routes!(auth::app_portal_access))
        .routes(routes!(auth::expire_all))
        .routes(routes!(auth::logout))
        .routes(routes!(admin::list_tenants, admin::create_tenant))
        .routes(routes!(admin::update_tenant))
        .routes(routes!(admin::list_api_keys, admin::create_api_key))
        .routes(routes!(admin::revoke_api_key))
        .routes(routes!(audit::list_tenant_audit))
        .routes(routes!(audit::list_all_audit))
        .routes(routes!(background_tasks::list_background_tasks))
        .routes(routes!(background_tasks::get_background_task))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({"code": "method_not_allowed", "detail": "this route does not accept this method"});
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Svix's list envelope. `iterator` continues after the last item; `prevIterator`
/// goes back to the page before the first; `done` says no items follow this page.
/// Both cursors are opaque and stay valid while new objects are created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

/// Svix's `Ordering`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    Ascending,
    Descending,
}

/// Paging parameters of listings whose order the caller may choose.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderedPageQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
    /// The order of the returned items (default ascending, oldest first).
    pub order: Option<Ordering>,
}

/// Paging parameters of newest-first listings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return, 1 to 250 (default 50).
    pub limit: Option<u64>,
    /// The `iterator` or `prevIterator` of a previous page.
    pub iterator: Option<String>,
}

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 250;

/// A page request from query parameters; a cursor Herald did not issue is a `422`.
pub fn page_of(limit: Option<u64>, iterator: Option<&str>, order: Order) -> Result<Page, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let cursor = iterator.filter(|it| !it.is_empty()).map(decode_cursor).transpose()?;
    Ok(Page { limit, cursor, order })
}

impl OrderedPageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        let order = match self.order {
            Some(Ordering::Descending) => Order::Descending,
            _ => Order::Ascending,
        };
        page_of(self.limit, self.iterator.as_deref(), order)
    }
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        page_of(self.limit, self.iterator.as_deref(), Order::Descending)
    }
}

fn encode_cursor(cursor: &Cursor) -> String {
    let text = match cursor {
        Cursor::After(key) => format!("n:{key}"),
        Cursor::Before(key) => format!("p:{key}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(iterator: &str) -> Result<Cursor, ApiError> {
    let invalid = || {
        ApiError::Validation(vec![ValidationItem {
            loc: vec!["query".into(), "iterator".into()],
            msg: "is not an iterator Herald returned".into(),
            kind: "value_error".into(),
        }])
    };
    let bytes = URL_SAFE_NO_PAD.decode(iterator).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split_once(':') {
        Some(("n", key)) if !key.is_empty() => Ok(Cursor::After(key.to_owned())),
        Some(("p", key)) if !key.is_empty() => Ok(Cursor::Before(key.to_owned())),
        _ => Err(invalid()),
    }
}

/// Wraps a page of rows in Svix's envelope, `key` being the listing's order key.
pub fn envelope<R, T>(
    listed: Listed<R>,
    page: &Page,
    key: impl Fn(&R) -> String,
    map: impl FnMut(R) -> T,
) -> ListResponse<T> {
    let first = listed.items.first().map(&key);
    let last = listed.items.last().map(&key);
    // Reading forwards, `more` says whether anything follows; reading backwards, the
    // page we came from follows, so the listing is not done.
    let done = if listed.backwards { false } else { !listed.more };
    let iterator = match (last, &page.cursor) {
        (Some(last), _) => Some(encode_cursor(&Cursor::After(last))),
        // An empty page keeps the caller's place, so polling for new items works.
        (None, Some(Cursor::After(at))) => Some(encode_cursor(&Cursor::After(at.clone()))),
        (None, _) => None,
    };
    let prev_iterator = first.map(|first| encode_cursor(&Cursor::Before(first)));
    ListResponse { data: listed.items.into_iter().map(map).collect(), iterator, prev_iterator, done }
}

/// A list query parameter, repeated (`a=x&a=y`) or comma-joined (`a=x,y`).
pub fn split_list(values: &Option<Vec<String>>) -> Option<Vec<String>> {
    let values: Vec<String> = values
        .iter()
        .flatten()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect();
    (!values.is_empty()).then_some(values)
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or set:
/// PATCH bodies clear a field with `null` and leave it alone when it is absent.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The `status` query parameter of message and delivery lists: Svix's status code.
pub fn delivery_status_filter(status: Option<i16>) -> ApiResult<Option<DeliveryStatus>> {
    match status {
        None => Ok(None),
        Some(0) => Ok(Some(DeliveryStatus::Succeeded)),
        Some(1) => Ok(Some(DeliveryStatus::Pending)),
        Some(2) => Ok(Some(DeliveryStatus::Failed)),
        Some(_) => Err(ApiError::query("status", "must be 0 (success), 1 (pending) or 2 (fail)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_strangers() {
        for cursor in [Cursor::After("msg_1".into()), Cursor::Before("user.created".into())] {
            assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        }
        for stranger in ["msg_123", "!!", "bjo", "eDpmb28"] {
            assert!(decode_cursor(stranger).is_err(), "{stranger}");
        }
    }

    #[test]
    fn list_parameters_split_on_commas_and_repeats() {
        let given = Some(vec!["a,b".to_owned(), "c".to_owned(), "".to_owned()]);
        assert_eq!(split_list(&given), Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(split_list(&None), None);
    }
}
