//! Request extractors that turn every malformed input into an [`ApiError`] with a code.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ValidationItem};
use crate::ApiState;

/// The deepest nesting of arrays and objects `max_json_depth` may allow. Payloads are
/// stored and read back later by parsers with serde_json's default limit of 127
/// levels; a body of 128 levels carries a payload of at most 127.
pub const MAX_JSON_DEPTH: usize = 128;

/// A JSON body: `400 invalid_json` when it does not parse or has bytes after the
/// value, `413` beyond the request limit, `422 validation` (with the failing path)
/// when its shape is wrong (an array where an object belongs, say) or it nests
/// deeper than `max_json_depth`. The `Content-Type` header is not required, as many
/// hand-written clients omit it.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ApiState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, ApiError> {
        let limit = state.config.max_request_bytes();
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(format!("the request body exceeds {limit} bytes")))?;
        parse_json(&bytes, state.config.max_json_depth).map(ValidJson)
    }
}

/// Parses JSON nested at most `max_depth` levels, classifying syntax errors (400)
/// apart from shape errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], max_depth: usize) -> Result<T, ApiError> {
    let max_depth = max_depth.min(MAX_JSON_DEPTH);
    if nests_deeper_than(bytes, max_depth) {
        return Err(ApiError::Validation(vec![ValidationItem {
            loc: vec!["body".to_owned()],
            msg: format!("nests arrays and objects deeper than {max_depth} levels"),
            kind: "value_error".into(),
        }]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // The scan above bounds the depth, so serde_json's own (lower) limit can go.
    deserializer.disable_recursion_limit();
    let value = serde_path_to_error::deserialize(crate::strict::Strict(&mut deserializer)).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::InvalidJson(format!("the body is not valid JSON: {inner}"));
        }
        let mut loc = vec!["body".to_owned()];
        loc.extend(path.split('.').filter(|s| !s.is_empty() && *s != "?").map(str::to_owned));
        let message = inner.to_string();
        if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            loc.push(field.to_owned());
        }
        ApiError::Validation(vec![ValidationItem { loc, msg: inner.to_string(), kind: "type_error".into() }])
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::InvalidJson(format!("the body has bytes after its JSON value: {error}")))?;
    Ok(value)
}

/// Whether `bytes` opens more than `limit` arrays and objects inside each other,
/// brackets inside strings aside. Malformed JSON is left to the parser.
fn nests_deeper_than(bytes: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Query parameters: `422 validation` naming the parameter when they do not parse.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // serde_html_form, unlike serde_urlencoded, reads repeated keys into a list
        // (`event_types=a&event_types=b`), as several Svix SDKs send them.
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_html_form::de::Deserializer::from_bytes(query.as_bytes());
        serde_path_to_error::deserialize(deserializer).map(ValidQuery).map_err(|error| {
            let mut loc = vec!["query".to_owned()];
            loc.extend(error.path().to_string().split('.').filter(|s| !s.is_empty() && *s != "?").map(str::to_owned));
            ApiError::Validation(vec![ValidationItem {
                loc,
                msg: error.into_inner().to_string(),
                kind: "type_error".into(),
            }])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u16,
    }

    fn error_of(body: &str) -> ApiError {
        parse_json::<Shape>(body.as_bytes(), MAX_JSON_DEPTH).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        assert!(matches!(error_of("{"), ApiError::InvalidJson(_)));
        assert!(matches!(error_of("not json"), ApiError::InvalidJson(_)));
        assert!(matches!(error_of(""), ApiError::InvalidJson(_)));
    }

    #[test]
    fn bytes_after_the_value_are_invalid_json() {
        assert!(matches!(error_of(r#"{"name": "x"} {"name": "y"}"#), ApiError::InvalidJson(_)));
        assert!(matches!(error_of(r#"{"name": "x"}garbage"#), ApiError::InvalidJson(_)));
        assert!(parse_json::<Shape>(b"{\"name\": \"x\"} \n\t", MAX_JSON_DEPTH).is_ok(), "trailing whitespace is fine");
    }

    #[test]
    fn an_array_where_an_object_belongs_is_a_shape_error() {
        let ApiError::Validation(items) = error_of(r#"[{"name": "x"}]"#) else { panic!("expected a validation error") };
        assert_eq!(items[0].loc, ["body"]);
    }

    #[test]
    fn nesting_is_limited_by_the_setting_and_brackets_in_strings_do_not_count() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let at = |depth: usize, limit: usize| parse_json::<serde_json::Value>(nested(depth).as_bytes(), limit);
        assert!(at(128, 128).is_ok(), "128 levels pass the default, beyond serde_json's own limit");
        assert!(matches!(at(129, 128), Err(ApiError::Validation(_))));
        assert!(matches!(at(4, 3), Err(ApiError::Validation(_))));
        assert!(at(3, 3).is_ok());
        let in_string = format!(r#"{{"name": "{}\"{}", "inner": null}}"#, "[".repeat(300), "{".repeat(300));
        assert!(parse_json::<Shape>(in_string.as_bytes(), 2).is_ok(), "{in_string}");
    }

    #[test]
    fn shape_errors_name_the_path() {
        let ApiError::Validation(items) = error_of(r#"{"name": "x", "inner": {"count": -1}}"#) else {
            panic!("expected a validation error");
        };
        assert_eq!(items[0].loc, ["body", "inner", "count"]);
        let ApiError::Validation(items) = error_of(r#"{}"#) else {
            panic!("expected a validation error");
        };
        assert_eq!(items[0].loc, ["body", "name"]);
    }
}

/// Reads an optional timestamp query parameter: RFC 3339, or — because the Python
/// SDK 2.x sends naive datetimes without their offset — a date-time without an
/// offset, taken as UTC.
pub fn lenient_datetime<'de, D>(deserializer: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    let Some(text) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(at.with_timezone(&chrono::Utc)));
    }
    chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| Some(naive.and_utc()))
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 date-time")))
}

#[cfg(test)]
mod datetime_tests {
    #[derive(Debug, serde::Deserialize)]
    struct Window {
        #[serde(default, deserialize_with = "super::lenient_datetime")]
        before: Option<chrono::DateTime<chrono::Utc>>,
    }

    fn parse(query: &str) -> Option<String> {
        serde_html_form::from_str::<Window>(query).ok().map(|w| w.before.map(|b| b.to_rfc3339()).unwrap_or_default())
    }

    #[test]
    fn naive_datetimes_are_utc_and_offsets_are_kept() {
        assert_eq!(parse("before=2026-01-02T03:04:05.5").as_deref(), Some("2026-01-02T03:04:05.500+00:00"));
        assert_eq!(parse("before=2026-01-02T04:04:05%2B01:00").as_deref(), Some("2026-01-02T03:04:05+00:00"));
        assert_eq!(parse("").as_deref(), Some(""));
        assert_eq!(parse("before=yesterday"), None);
    }
}
