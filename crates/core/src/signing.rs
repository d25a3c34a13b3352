//! Standard Webhooks 1.0 signing.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}` over the exact
//! bytes sent; the signature is `v1,` + base-64 HMAC-SHA256 keyed with the decoded
//! secret. During a secret rotation both the new and the previous secret sign, and
//! the header carries both entries separated by exactly one space.
//!
//! An endpoint may also opt into asymmetric signatures ([`EndpointSigningKey`]):
//! `v1a,` + base-64 ed25519 signature of the same content, appended to the header. The
//! receiver verifies with the public key (`whpk_` + base-64 of its 32 bytes) and
//! never holds anything that can sign; the private key (`whsk_` + base-64 of its
//! 32-byte seed) stays sealed in Herald's database.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of a serialised endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Generated secrets carry this many random bytes (the spec allows 24–64).
pub const GENERATED_SECRET_BYTES: usize = 32;

const MIN_SECRET_BYTES: usize = 24;
const MAX_SECRET_BYTES: usize = 64;

/// Why a string is not a usable endpoint secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("the secret is not valid base64 after the optional `whsec_` prefix")]
    NotBase64,
    #[error("the secret decodes to {0} bytes; it must be 24 to 64 bytes")]
    BadLength(usize),
}

/// An endpoint's HMAC signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointSecret(**redacted**)")
    }
}

impl EndpointSecret {
    /// A secret made of caller-supplied random bytes.
    pub fn from_random_bytes(bytes: [u8; GENERATED_SECRET_BYTES]) -> Self {
        Self { key: bytes.to_vec() }
    }

    /// Parses `whsec_<base64>` (the prefix is optional, as in Svix's API).
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        let encoded = value.strip_prefix(SECRET_PREFIX).unwrap_or(value);
        let key = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self { key })
    }

    /// The serialised form, `whsec_<base64>`, as shown to the endpoint's owner.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.key))
    }

    /// One signature entry, `v1,<base64>`, for a message id, Unix timestamp and body.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(msg_id, timestamp, body)))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether any `v1,` entry of a `webhook-signature` header was made with this secret.
    /// Entries of other versions are skipped, as the specification asks.
    pub fn verify(&self, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let expected = self.mac(msg_id, timestamp, body);
        header
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| BASE64.decode(encoded).ok())
            .any(|candidate| bool::from(candidate.ct_eq(&expected)))
    }
}

/// The prefix of a serialised ed25519 private key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// The prefix of a serialised ed25519 public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// An endpoint's ed25519 key pair, for `v1a` signatures.
#[derive(Clone)]
pub struct EndpointSigningKey {
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for EndpointSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EndpointSigningKey({})", self.public_key())
    }
}

impl EndpointSigningKey {
    /// A key pair from 32 caller-supplied random bytes.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }

    /// Parses `whsk_<base64 of the 32-byte seed>`.
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        let encoded = value.strip_prefix(SIGNING_KEY_PREFIX).unwrap_or(value);
        let bytes = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::BadLength(bytes.len()))?;
        Ok(Self::from_seed(seed))
    }

    /// The serialised private key, `whsk_…`: for the sealed column only.
    pub fn expose(&self) -> String {
        format!("{SIGNING_KEY_PREFIX}{}", BASE64.encode(self.key.to_bytes()))
    }

    /// The public key receivers verify with, `whpk_…`.
    pub fn public_key(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", BASE64.encode(self.key.verifying_key().to_bytes()))
    }

    /// One signature entry, `v1a,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        use ed25519_dalek::Signer;
        let content = signed_content(msg_id, timestamp, body);
        format!("v1a,{}", BASE64.encode(self.key.sign(&content).to_bytes()))
    }

    /// Whether any `v1a,` entry of a header verifies with this key's public half.
    pub fn verify(&self, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let content = signed_content(msg_id, timestamp, body);
        let public = self.key.verifying_key();
        header
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1a,"))
            .filter_map(|encoded| BASE64.decode(encoded).ok())
            .filter_map(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
            .any(|signature| public.verify_strict(&content, &signature).is_ok())
    }
}

fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{msg_id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` header value: one entry per secret, separated by one space.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a EndpointSecret>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets.into_iter().map(|secret| secret.sign(msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official vectors from `shared/reference/standard-webhooks-vectors.md`.
    const VECTORS: [(&str, &str, i64, &str, &str); 2] = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];

    #[test]
    fn official_vectors_sign_and_verify() {
        for (secret, id, ts, body, expected) in VECTORS {
            let secret = EndpointSecret::parse(secret).unwrap();
            assert_eq!(secret.sign(id, ts, body.as_bytes()), expected);
            assert!(secret.verify(id, ts, body.as_bytes(), expected));
            assert!(!secret.verify(id, ts + 1, body.as_bytes(), expected));
            assert!(!secret.verify(id, ts, b"{}", expected));
        }
    }

    #[test]
    fn rotation_sends_both_entries_separated_by_one_space() {
        let old = EndpointSecret::parse(VECTORS[0].0).unwrap();
        let new = EndpointSecret::from_random_bytes([3; GENERATED_SECRET_BYTES]);
        let header = signature_header([&new, &old], "msg_x", 1, b"{}");
        assert_eq!(header.matches(' ').count(), 1);
        assert!(old.verify("msg_x", 1, b"{}", &header));
        assert!(new.verify("msg_x", 1, b"{}", &header));
    }

    #[test]
    fn secrets_round_trip_and_reject_bad_input() {
        let secret = EndpointSecret::from_random_bytes([42; GENERATED_SECRET_BYTES]);
        assert_eq!(EndpointSecret::parse(&secret.expose()), Ok(secret.clone()));
        let without_prefix = secret.expose().trim_start_matches(SECRET_PREFIX).to_owned();
        assert_eq!(EndpointSecret::parse(&without_prefix), Ok(secret));
        assert_eq!(EndpointSecret::parse("whsec_%%%"), Err(SecretError::NotBase64));
        assert_eq!(EndpointSecret::parse("whsec_AAAA"), Err(SecretError::BadLength(3)));
    }

    #[test]
    fn ed25519_entries_sign_verify_and_round_trip() {
        let key = EndpointSigningKey::from_seed([7; 32]);
        let entry = key.sign("msg_x", 1614265330, b"{}");
        assert!(entry.starts_with("v1a,"));
        let header = format!("v1,AAAA {entry}");
        assert!(key.verify("msg_x", 1614265330, b"{}", &header));
        assert!(!key.verify("msg_x", 1614265330, b"{ }", &header), "a changed body fails");
        assert!(!key.verify("msg_y", 1614265330, b"{}", &header), "another id fails");
        assert!(!EndpointSigningKey::from_seed([8; 32]).verify("msg_x", 1614265330, b"{}", &header));
        let parsed = EndpointSigningKey::parse(&key.expose()).unwrap();
        assert_eq!(parsed.public_key(), key.public_key());
        assert!(key.public_key().starts_with(PUBLIC_KEY_PREFIX));
        assert_eq!(EndpointSigningKey::parse("whsk_AAAA").unwrap_err(), SecretError::BadLength(3));
    }

    #[test]
    fn unknown_signature_versions_are_skipped() {
        let (secret, id, ts, body, expected) = VECTORS[1];
        let secret = EndpointSecret::parse(secret).unwrap();
        let header = format!("v1a,AAAA {expected}");
        assert!(secret.verify(id, ts, body.as_bytes(), &header));
    }
}
