//! Custom endpoint headers: which names an endpoint may set, and which values are
//! credentials that Herald never shows back.
//!
//! Two rules, one home: the API refuses a custom header that Herald sets itself or
//! that changes how the request is framed or forwarded, and every place that shows
//! a header value (the endpoint's headers, an attempt's request headers) masks the
//! values of [`is_sensitive`] headers the same way, whoever asks.

/// Headers Herald sets on every delivery; a custom header may not replace them.
pub const SET_BY_HERALD: [&str; 10] = [
    "content-type",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "herald-ordering-key",
    "herald-sequence",
];

/// Hop-by-hop and framing headers (RFC 9110 §7.6.1, RFC 9112): sent by hand they
/// would let an endpoint's owner smuggle a second request, switch protocols, or make
/// the receiver misread the body.
pub const HOP_BY_HOP_OR_FRAMING: [&str; 11] = [
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "expect",
    "host",
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "http2-settings",
];

/// The value shown in place of a sensitive header's.
pub const MASKED_VALUE: &str = "********";

/// Why a custom header named `name` may not be set, if it may not.
pub fn refuse_custom_header(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    if SET_BY_HERALD.contains(&name.as_str()) {
        return Some("is set by Herald on every delivery");
    }
    if HOP_BY_HOP_OR_FRAMING.contains(&name.as_str()) || name.starts_with("proxy-") {
        return Some("is a hop-by-hop or framing header, which an endpoint may not set");
    }
    None
}

/// Whether a header's value is a credential: never shown back, masked in attempt records.
pub fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie" | "set-cookie")
        || ["secret", "token", "key", "password", "signature", "auth", "session", "credential"]
            .iter()
            .any(|word| name.contains(word))
}

/// Whether an attempt record shows `name`'s value masked: every sensitive header
/// but Herald's own (a signature is no credential, and receivers debug with it).
pub fn is_masked_in_records(name: &str) -> bool {
    is_sensitive(name) && !SET_BY_HERALD.iter().any(|own| own.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_header_names() {
        let check = |name: &str, refused: bool| assert_eq!(refuse_custom_header(name).is_some(), refused, "{name}");
        for name in [
            "Connection",
            "upgrade",
            "TE",
            "Keep-Alive",
            "Expect",
            "Proxy-Authorization",
            "proxy-connection",
            "Content-Encoding",
            "Transfer-Encoding",
            "Content-Length",
            "Host",
            "webhook-signature",
            "Svix-Id",
            "content-type",
        ] {
            check(name, true);
        }
        for name in ["Authorization", "X-Api-Key", "X-Tenant", "Accept", "X-Proxy"] {
            check(name, false);
        }
    }

    #[test]
    fn sensitive_headers() {
        for name in ["Authorization", "X-Api-Key", "cookie", "X-Webhook-Secret", "X-Auth-Token", "Session-Id"] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["Accept", "X-Tenant", "Content-Type", "webhook-id", "X-Region"] {
            assert!(!is_sensitive(name), "{name}");
        }
        assert!(is_masked_in_records("authorization"));
        assert!(!is_masked_in_records("webhook-signature"), "Herald's own signature stays readable");
    }
}
