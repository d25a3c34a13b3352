//! How a `PUT` or a `PATCH` changes a stored endpoint: pure functions over the row, so
//! the merge rules live in one place and are tested as a table. The store then writes
//! only the columns they changed (`Store::update_endpoint`), so a field a request did
//! not change keeps whatever another writer gave it meanwhile.

use chrono::{DateTime, Utc};
use herald_store::entity::endpoint;

use super::{headers_value, EndpointIn, EndpointPatch};
use crate::shapes::metadata_value;

/// Enables or disables an endpoint. Enabled again, its failure streak starts over.
/// Disabled, it is in an outage from when it started failing (or now): what it misses
/// is redriven when it is enabled again (`auto_redrive`).
pub(super) fn set_disabled(endpoint: &mut endpoint::Model, disabled: bool, now: DateTime<Utc>) {
    if endpoint.disabled && !disabled {
        endpoint.failing_since = None;
    }
    if !endpoint.disabled && disabled {
        endpoint.redrive_from = endpoint.redrive_from.or(endpoint.failing_since).or(Some(now));
    }
    endpoint.disabled = disabled;
}

/// The endpoint a `PUT` leaves: every field from the body (an omitted `disabled` is
/// `false`, an omitted filter or channel list or rate limit is none), except `version`,
/// `ordered`, `receiptWindow`, `uid` and `headers`, which are kept when omitted. The secret is not
/// changed by a `PUT`.
pub(super) fn replaced(existing: &endpoint::Model, body: EndpointIn, now: DateTime<Utc>) -> endpoint::Model {
    let mut endpoint = existing.clone();
    endpoint.url = body.url;
    endpoint.description = body.description;
    endpoint.version = body.version.map_or(endpoint.version, i32::from);
    set_disabled(&mut endpoint, body.disabled, now);
    endpoint.filter_types = body.event_types.map(herald_store::entity::Names::from);
    endpoint.channels = body.channels.map(herald_store::entity::Names::from);
    endpoint.rate_limit = body.throttle_rate.map(i32::from);
    endpoint.ordered = body.ordered.unwrap_or(endpoint.ordered);
    if let Some(window) = body.receipt_window {
        endpoint.receipt_window_secs = Some(super::receipt_window_secs(window));
    }
    endpoint.auto_redrive = body.auto_redrive.unwrap_or(endpoint.auto_redrive);
    endpoint.uid = body.uid.or(endpoint.uid);
    endpoint.metadata = metadata_value(body.metadata);
    if let Some(headers) = body.headers {
        endpoint.headers = headers_value(&headers);
    }
    endpoint.updated_at = now;
    endpoint
}

/// The endpoint a `PATCH` leaves: absent fields stay, `null` clears the nullable ones.
/// A `secret` in the body is the caller's to rotate (it is a rotation, with its grace).
pub(super) fn patched(existing: &endpoint::Model, body: EndpointPatch, now: DateTime<Utc>) -> endpoint::Model {
    let mut endpoint = existing.clone();
    if let Some(url) = body.url {
        endpoint.url = url;
    }
    if let Some(description) = body.description {
        endpoint.description = description;
    }
    if let Some(version) = body.version {
        endpoint.version = i32::from(version);
    }
    if let Some(disabled) = body.disabled {
        set_disabled(&mut endpoint, disabled, now);
    }
    if let Some(filter) = body.event_types {
        endpoint.filter_types = filter.map(herald_store::entity::Names::from);
    }
    if let Some(channels) = body.channels {
        endpoint.channels = channels.map(herald_store::entity::Names::from);
    }
    if let Some(rate) = body.throttle_rate {
        endpoint.rate_limit = rate.map(i32::from);
    }
    if let Some(uid) = body.uid {
        endpoint.uid = uid;
    }
    if let Some(ordered) = body.ordered {
        endpoint.ordered = ordered;
    }
    if let Some(window) = body.receipt_window {
        endpoint.receipt_window_secs = window.map(super::receipt_window_secs);
    }
    if let Some(metadata) = body.metadata {
        endpoint.metadata = metadata_value(Some(metadata));
    }
    if let Some(on) = body.auto_redrive {
        endpoint.auto_redrive = on;
    }
    endpoint.updated_at = now;
    endpoint
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store::entity::Names;
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    /// A disabled endpoint with every optional field set.
    fn stored() -> endpoint::Model {
        endpoint::Model {
            id: herald_core::EndpointId::generate(1, [1; 10]).into(),
            tenant_id: herald_core::TenantId::generate(1, [2; 10]).into(),
            app_id: herald_core::ApplicationId::generate(1, [3; 10]).into(),
            uid: Some("billing".into()),
            url: "https://example.com/hook".into(),
            description: "Billing".into(),
            version: 3,
            disabled: true,
            rate_limit: Some(10),
            filter_types: Some(Names(vec!["invoice.paid".into()])),
            channels: Some(Names(vec!["eu".into()])),
            metadata: json!({"team": "billing"}),
            headers: json!({"x-token": "t"}),
            secret: "whsec_c2VjcmV0".into(),
            created_at: at(0),
            updated_at: at(0),
            deleted_at: None,
            previous_secret: None,
            previous_secret_expires_at: None,
            failing_since: Some(at(-600)),
            ordered: true,
            signing_key: None,
            receipt_window_secs: Some(3600),
            auto_redrive: true,
            redrive_from: Some(at(-600)),
        }
    }

    fn put(body: serde_json::Value) -> endpoint::Model {
        replaced(&stored(), serde_json::from_value(body).unwrap(), at(60))
    }

    fn patch(body: serde_json::Value) -> endpoint::Model {
        patched(&stored(), serde_json::from_value(body).unwrap(), at(60))
    }

    /// Each case: the request, then what it must leave (as a check on the row).
    #[test]
    fn put_replaces_what_it_names_and_keeps_what_it_may_omit() {
        type Check = fn(&endpoint::Model) -> bool;
        let cases: [(serde_json::Value, &str, Check); 8] = [
            (json!({"url": "https://example.com/new"}), "url replaced", |e| e.url == "https://example.com/new"),
            (json!({"url": "https://e.com"}), "omitted disabled enables, streak over", |e| {
                !e.disabled && e.failing_since.is_none()
            }),
            (json!({"url": "https://e.com", "disabled": true}), "kept disabled keeps its streak", |e| {
                e.disabled && e.failing_since == Some(at(-600))
            }),
            (json!({"url": "https://e.com"}), "omitted lists and rate mean none", |e| {
                e.filter_types.is_none() && e.channels.is_none() && e.rate_limit.is_none() && e.description.is_empty()
            }),
            (json!({"url": "https://e.com"}), "version, ordered, receipt window, uid and headers kept", |e| {
                e.version == 3
                    && e.ordered
                    && e.receipt_window_secs == Some(3600)
                    && e.uid.as_deref() == Some("billing")
                    && e.headers == json!({"x-token": "t"})
            }),
            (json!({"url": "https://e.com", "filterTypes": ["a"], "rateLimit": 5}), "Svix's aliases", |e| {
                e.filter_types == Some(Names(vec!["a".into()])) && e.rate_limit == Some(5)
            }),
            (json!({"url": "https://e.com", "receiptWindow": 60}), "receipt window set", |e| {
                e.receipt_window_secs == Some(60)
            }),
            (json!({"url": "https://e.com", "secret": "whsec_b3RoZXI="}), "a PUT never changes the secret", |e| {
                e.secret == "whsec_c2VjcmV0" && e.updated_at == at(60)
            }),
        ];
        for (body, rule, holds) in cases {
            assert!(holds(&put(body.clone())), "PUT {body}: {rule}");
        }
    }

    #[test]
    fn disabling_starts_the_outage_that_is_redriven_and_auto_redrive_is_kept_unless_named() {
        let mut enabled = stored();
        (enabled.disabled, enabled.redrive_from) = (false, None);
        let off = patched(&enabled, serde_json::from_value(json!({"disabled": true})).unwrap(), at(60));
        assert_eq!(off.redrive_from, Some(at(-600)), "from when it started failing");
        enabled.failing_since = None;
        let off = patched(&enabled, serde_json::from_value(json!({"disabled": true})).unwrap(), at(60));
        assert_eq!(off.redrive_from, Some(at(60)), "from now when it was not failing");
        assert!(put(json!({"url": "https://e.com"})).auto_redrive, "a PUT without it keeps it");
        assert!(!put(json!({"url": "https://e.com", "autoRedrive": false})).auto_redrive);
        assert!(!patch(json!({"autoRedrive": false})).auto_redrive);
        assert!(patch(json!({"description": "d"})).auto_redrive);
    }

    #[test]
    fn patch_changes_only_what_it_names_and_null_clears() {
        type Check = fn(&endpoint::Model) -> bool;
        let cases: [(serde_json::Value, &str, Check); 8] = [
            (json!({"description": "New"}), "only the description (and the time) change", |e| {
                let mut expected = stored();
                expected.description = "New".into();
                expected.updated_at = at(60);
                *e == expected
            }),
            (json!({"disabled": false}), "enabled again, the streak starts over", |e| {
                !e.disabled && e.failing_since.is_none()
            }),
            (json!({"disabled": true}), "disabled again keeps the streak", |e| {
                e.disabled && e.failing_since == Some(at(-600))
            }),
            (json!({"filterTypes": null, "channels": null, "uid": null}), "null clears", |e| {
                e.filter_types.is_none() && e.channels.is_none() && e.uid.is_none()
            }),
            (json!({"rateLimit": null}), "null lifts the rate limit", |e| e.rate_limit.is_none()),
            (json!({"version": 4, "ordered": false}), "version and ordered set", |e| e.version == 4 && !e.ordered),
            (json!({"receiptWindow": null}), "null turns receipts off", |e| e.receipt_window_secs.is_none()),
            (json!({"receiptWindow": 90}), "receipt window set", |e| e.receipt_window_secs == Some(90)),
        ];
        for (body, rule, holds) in cases {
            assert!(holds(&patch(body.clone())), "PATCH {body}: {rule}");
        }
    }
}
