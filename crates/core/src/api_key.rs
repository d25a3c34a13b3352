//! API keys: how they look, and how they are stored (hashed, never in clear).
//!
//! A key is `sk_` followed by 43 URL-safe base-64 characters (32 random bytes).
//! The database keeps only its SHA-256 digest; a presented key is hashed and the
//! digests are compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The visible prefix of every tenant API key.
pub const API_KEY_PREFIX: &str = "sk_";

/// Formats 32 random bytes as an API key.
pub fn format_api_key(random: [u8; 32]) -> String {
    format!("{API_KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

/// The visible prefix of every poller key: a key that reads one polling endpoint only.
pub const POLLER_KEY_PREFIX: &str = "sk_poll_";

/// Formats 32 random bytes as a poller key.
pub fn format_poller_key(random: [u8; 32]) -> String {
    format!("{POLLER_KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
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
}
