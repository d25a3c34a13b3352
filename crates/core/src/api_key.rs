//! API keys: how they look, and how they are stored (hashed, never in clear).
//!
//! A key is `sk_` followed by 43 URL-safe base-64 characters (32 random bytes).
//! The database keeps only its SHA-256 digest; a presented key is hashed and the
//! digests are compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{EndpointId, PollerId, TextForm};

/// The visible prefix of every tenant API key.
pub const API_KEY_PREFIX: &str = "sk_";

/// Formats 32 random bytes as an API key.
pub fn format_api_key(random: [u8; 32]) -> String {
    format!("{API_KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

/// The visible prefix of every poller key: a key that reads one polling endpoint only.
pub const POLLER_KEY_PREFIX: &str = "sk_poll_";

/// The visible prefix of every endpoint key: a key that reads one webhook endpoint's
/// messages and confirms their receipt, nothing else.
pub const ENDPOINT_KEY_PREFIX: &str = "sk_ep_";

/// What a scoped key reaches: one polling endpoint or one webhook endpoint. Its text
/// form is that endpoint's id (the id's prefix tells which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    Poller(PollerId),
    Endpoint(EndpointId),
}

impl KeyScope {
    /// The prefix of the keys of this scope (`sk_poll_`, `sk_ep_`).
    pub fn key_prefix(&self) -> &'static str {
        match self {
            KeyScope::Poller(_) => POLLER_KEY_PREFIX,
            KeyScope::Endpoint(_) => ENDPOINT_KEY_PREFIX,
        }
    }

    /// A new key of this scope from 32 random bytes.
    pub fn format_key(&self, random: [u8; 32]) -> String {
        format!("{}{}", self.key_prefix(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
    }
}

impl TextForm for KeyScope {
    const KIND: &'static str = "key scope";

    fn text(&self) -> &str {
        match self {
            KeyScope::Poller(id) => id.as_str(),
            KeyScope::Endpoint(id) => id.as_str(),
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        PollerId::from_text(text).map(KeyScope::Poller).or_else(|| EndpointId::from_text(text).map(KeyScope::Endpoint))
    }
}

/// Whether `credential` looks like a scoped key (it may still be an API key that
/// happens to begin the same way).
pub fn is_scoped_key(credential: &str) -> bool {
    credential.starts_with(POLLER_KEY_PREFIX) || credential.starts_with(ENDPOINT_KEY_PREFIX)
}

/// The lowercase hex SHA-256 digest under which a key is stored and looked up.
pub fn hash_api_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn api_key_matches(presented: &str, stored_hash: &str) -> bool {
    hash_api_key(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_prefix_and_hash_stably() {
        let key = format_api_key([9; 32]);
        assert!(key.starts_with("sk_"));
        assert_eq!(key.len(), 3 + 43);
        assert_eq!(hash_api_key(&key), hash_api_key(&key));
        assert_eq!(hash_api_key(&key).len(), 64);
        assert!(api_key_matches(&key, &hash_api_key(&key)));
        assert!(!api_key_matches("sk_other", &hash_api_key(&key)));
    }

    #[test]
    fn a_key_scope_is_its_endpoint_id() {
        let poller = PollerId::generate(1_700_000_000_000, [1; 10]);
        let endpoint = EndpointId::generate(1_700_000_000_000, [2; 10]);
        let scopes = [KeyScope::Poller(poller.clone()), KeyScope::Endpoint(endpoint.clone())];
        for scope in scopes {
            assert_eq!(KeyScope::from_text(scope.text()), Some(scope.clone()));
            let key = scope.format_key([7; 32]);
            assert!(key.starts_with(scope.key_prefix()) && is_scoped_key(&key), "{key}");
        }
        assert_eq!(KeyScope::from_text(poller.as_str()), Some(KeyScope::Poller(poller)));
        assert_eq!(KeyScope::from_text("app_0000000000000000000000"), None);
        assert!(!is_scoped_key(&format_api_key([1; 32])));
    }
}
