//! Prefixed, time-sortable identifiers (`app_…`, `ep_…`, `msg_…`, `atmpt_…`).
//!
//! An id is a type prefix, an underscore, and 22 base-62 characters that encode
//! 128 bits: 48 bits of Unix milliseconds followed by 80 random bits. The alphabet
//! is in ASCII order and the width is fixed, so ids of one kind sort by creation
//! time as plain strings — which is what cursor paging relies on.
//!
//! The caller supplies the time and the random bytes; this module has neither.

use std::fmt;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ENCODED_LEN: usize = 22;

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by 22 base-62 characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

/// Encodes `unix_millis` (low 48 bits) and `random` into the 22-character body of an id.
pub fn encode_body(unix_millis: u64, random: [u8; 10]) -> String {
    let mut value: u128 = u128::from(unix_millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
    let mut out = [b'0'; ENCODED_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

fn is_valid_body(body: &str) -> bool {
    body.len() == ENCODED_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The type prefix, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id created at `unix_millis` from ten random bytes.
            pub fn generate(unix_millis: u64, random: [u8; 10]) -> Self {
                Self(format!("{}_{}", $prefix, encode_body(unix_millis, random)))
            }

            /// Parses an id of this kind, refusing other prefixes and malformed bodies.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                match value.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if is_valid_body(body) => Ok(Self(value.to_owned())),
                    _ => Err(InvalidId { kind: $kind, prefix: $prefix, value: value.to_owned() }),
                }
            }

            /// Wraps a value read back from storage, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }

            /// Whether `value` has this id's prefix (it may still be malformed).
            pub fn has_prefix(value: &str) -> bool {
                value.starts_with(concat!($prefix, "_"))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl crate::TextForm for $name {
            const KIND: &'static str = concat!($kind, " id");

            fn text(&self) -> &str {
                &self.0
            }

            fn from_text(text: &str) -> Option<Self> {
                Self::parse(text).ok()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(
    /// A tenant: one SaaS producer, the hard isolation boundary.
    TenantId, "tnt", "tenant"
);
prefixed_id!(
    /// An API key's public identifier (the secret part is never stored).
    ApiKeyId, "key", "api key"
);
prefixed_id!(
    /// An application: one end customer of a tenant.
    ApplicationId, "app", "application"
);
prefixed_id!(
    /// An endpoint: one URL of an application.
    EndpointId, "ep", "endpoint"
);
prefixed_id!(
    /// An event type's internal id (the API addresses event types by name).
    EventTypeId, "evtype", "event type"
);
prefixed_id!(
    /// A message: one event sent to an application. It is also the `webhook-id` header.
    MessageId, "msg", "message"
);
prefixed_id!(
    /// A delivery: one (message, endpoint) pair, the unit that is queued and retried.
    DeliveryId, "dlv", "delivery"
);
prefixed_id!(
    /// One HTTP try of a delivery.
    AttemptId, "atmpt", "attempt"
);
prefixed_id!(
    /// One entry of the audit log: a management action.
    AuditId, "audit", "audit entry"
);
prefixed_id!(
    /// A polling endpoint: a pull view of an application's messages.
    PollerId, "poll", "polling endpoint"
);
prefixed_id!(
    /// A background task: work that runs after its request was answered (a paced
    /// recover), read back through `/api/v1/background-task`.
    BackgroundTaskId, "qtask", "background task"
);
prefixed_id!(
    /// A scoped key's public identifier (the key itself is stored hashed): a poller
    /// key or an endpoint key, which reach one polling or webhook endpoint only.
    ScopedKeyId, "skey", "scoped key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_fixed_width() {
        let id = MessageId::generate(1_700_000_000_000, [7; 10]);
        assert!(id.as_str().starts_with("msg_"));
        assert_eq!(id.as_str().len(), 4 + ENCODED_LEN);
        assert_eq!(MessageId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn ids_sort_by_time_then_randomness() {
        let earlier = EndpointId::generate(1_000, [255; 10]);
        let later = EndpointId::generate(1_001, [0; 10]);
        assert!(earlier < later);
        let low = EndpointId::generate(5_000, [0; 10]);
        let high = EndpointId::generate(5_000, [1; 10]);
        assert!(low < high);
    }

    #[test]
    fn extreme_values_encode_within_width() {
        assert_eq!(encode_body(0, [0; 10]), "0".repeat(ENCODED_LEN));
        assert_eq!(encode_body(u64::MAX, [255; 10]).len(), ENCODED_LEN);
    }

    #[test]
    fn parse_refuses_wrong_prefix_and_bad_bodies() {
        let app = ApplicationId::generate(1, [1; 10]);
        assert!(EndpointId::parse(app.as_str()).is_err());
        assert!(ApplicationId::parse("app_short").is_err());
        assert!(ApplicationId::parse("app_0000000000000000000!00").is_err());
        assert!(ApplicationId::parse("").is_err());
    }
}
