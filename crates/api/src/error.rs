//! The API's error policy, written once.
//!
//! Every failure a client can cause or see becomes an [`ApiError`], which answers with
//! Svix's shape: `{"code": "...", "detail": "..."}` and the status Svix uses. Validation
//! failures answer `422` with `detail` as a list of `{loc, msg, type}` items (Svix's
//! `HTTPValidationError`), plus `code: "validation"`.
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `invalid_json` | the body is not JSON |
//! | 401 | `authentication_failed` | missing, malformed, unknown, revoked or expired API key or portal token |
//! | 403 | `forbidden` | the credential is valid but not for this: a portal token outside its application, or writing with a read-only one |
//! | 404 | `not_found` | the object does not exist *for this tenant* (another tenant's objects are indistinguishable from missing ones) |
//! | 409 | `conflict` | a unique name or `uid` is taken |
//! | 409 | `idempotency_conflict` | a request with the same `Idempotency-Key` is still being served, or the key was used for a different request |
//! | 413 | `payload_too_large` | the request or message payload exceeds the limit |
//! | 422 | `validation` | the JSON is well-formed but a field is missing or wrong |
//! | 429 | `rate_limited` | the tenant is over its ingest rate limit; `Retry-After` says when to try again; nothing was written |
//! | 429 | `backlog_full` | the tenant has more deliveries waiting, or an older one, than its backlog caps allow; `Retry-After`; nothing was written |
//! | 500 | `internal_error` | a bug or an outage; the cause is logged, never sent |
//! | 503 | `unavailable` | the database cannot be reached |
//!
//! Internal causes are logged with `tracing` (and the request's span) and replaced by
//! a generic detail: clients never see SQL, Redis or stack details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// One entry of a `422` response, in Svix's `ValidationErrorItem` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ValidationError)]
pub struct ValidationItem {
    /// Where the problem is: `body` or `query` followed by the field path.
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
}

impl ValidationItem {
    /// A problem with the body field at `path` (e.g. `["url"]`).
    pub fn body(path: &[&str], msg: impl Into<String>) -> Self {
        let mut loc = vec!["body".to_owned()];
        loc.extend(path.iter().map(|segment| (*segment).to_owned()));
        Self { loc, msg: msg.into(), kind: "value_error".to_owned() }
    }
}

/// Everything an API handler can answer besides success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    /// A path whose percent-escapes do not decode to UTF-8.
    #[error("{0}")]
    InvalidPath(String),
    #[error("authentication failed: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    IdempotencyConflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A cancel of a message that is not (or no longer) scheduled.
    #[error("{0}")]
    NotScheduled(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("validation failed")]
    Validation(Vec<ValidationItem>),
    /// Over the tenant's ingest rate limit; the client may try again after this long.
    #[error("this tenant is over its ingest rate limit; try again after the Retry-After seconds")]
    RateLimited(std::time::Duration),
    /// Over one of the tenant's backlog caps; the client may try again after this long.
    #[error("this tenant's backlog is full: {0}; try again after the Retry-After seconds")]
    BacklogFull(String, std::time::Duration),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Every error but validation: Svix's `HttpErrorOut`.
#[derive(Serialize, ToSchema)]
#[schema(as = HttpErrorOut)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code such as `not_found`; see the API's error policy.
    code: &'a str,
    /// A human-readable explanation.
    detail: String,
}

/// A `422`: Svix's `HTTPValidationError`, with Herald's `code`.
#[derive(Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct ValidationBody<'a> {
    /// Always `validation`.
    code: &'a str,
    detail: &'a [ValidationItem],
}

/// The error answers every route may give, for the OpenAPI document.
#[derive(Debug)]
pub struct ErrorResponses;

impl utoipa::IntoResponses for ErrorResponses {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("HttpErrorOut"))).build(),
                )
                .build()
                .into()
        };
        let validation = ResponseBuilder::new()
            .description("The request is well-formed JSON but a field or parameter is wrong.")
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("HTTPValidationError"))).build(),
            )
            .build()
            .into();
        [
            ("400", error("The body is not JSON.")),
            ("401", error("Missing or invalid credentials.")),
            ("403", error("The credentials do not allow this.")),
            ("404", error("The object does not exist.")),
            ("409", error("A conflicting object or request exists.")),
            ("413", error("The body or payload is too large.")),
            ("422", validation),
            ("500", error("An internal error; the cause is in the server log.")),
            ("503", error("A backing service is unavailable; retry later.")),
        ]
        .into_iter()
        .map(|(status, response)| (status.to_owned(), response))
        .collect()
    }
}

impl ApiError {
    pub fn validation(path: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![ValidationItem::body(path, msg)])
    }

    /// A `422` about the query parameter `name`.
    pub fn query(name: &str, msg: impl Into<String>) -> Self {
        Self::Validation(vec![ValidationItem {
            loc: vec!["query".to_owned(), name.to_owned()],
            msg: msg.into(),
            kind: "value_error".to_owned(),
        }])
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            Self::InvalidPath(_) => (StatusCode::BAD_REQUEST, "invalid_path"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "authentication_failed"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::IdempotencyConflict(_) => (StatusCode::CONFLICT, "idempotency_conflict"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::NotScheduled(_) => (StatusCode::CONFLICT, "not_scheduled"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::BacklogFull(..) => (StatusCode::TOO_MANY_REQUESTS, "backlog_full"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

/// The error code of an error response, kept on the response for the metrics layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut response = self.body(status, code);
        if let Self::RateLimited(wait) | Self::BacklogFull(_, wait) = &self {
            // Whole seconds, rounded up: a client that waits this long is admitted.
            let seconds = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX).max(1);
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

impl ApiError {
    fn body(&self, status: StatusCode, code: &'static str) -> Response {
        match self {
            Self::Validation(items) => (status, Json(ValidationBody { code, detail: items })).into_response(),
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error while serving a request");
                (status, Json(ErrorBody { code, detail: "internal error; see the server log".into() })).into_response()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable while serving a request");
                (status, Json(ErrorBody { code, detail: "a backing service is unavailable; retry later".into() }))
                    .into_response()
            }
            other => (status, Json(ErrorBody { code, detail: other.to_string() })).into_response(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::InvalidValue(reason) => Self::Validation(vec![ValidationItem {
                loc: vec!["request".into()],
                msg: reason,
                kind: "value_error".into(),
            }]),
            other => Self::Internal(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
