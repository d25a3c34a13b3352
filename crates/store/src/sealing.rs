//! Secrets at rest: endpoint signing secrets and custom header values (and the stored
//! answers of idempotent requests, which may carry a token or a secret) are sealed
//! with an AEAD before they reach the database, so a dump or a backup without the key
//! holds nothing an attacker can sign or authenticate with.
//!
//! - The cipher is XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`): its 192-bit
//!   nonces are drawn at random for every value without any risk of reuse.
//! - A sealed value is text: `hs1:<key id>:<base64 of nonce ‖ ciphertext>`. The key id
//!   travels with every value, so keys can be rotated one row at a time and
//!   [`Keyring::is_current`] tells which rows still need re-sealing.
//! - The associated data names where the value lives (`endpoint:<id>:secret`), so a
//!   sealed value copied into another row or column does not open.
//! - Values written before sealing existed are plain text; [`Store::seal_plain_rows`]
//!   (run at every start, after the migrations) seals them.
//!
//! The store seals on every write and opens on every read, so no other crate sees a
//! sealed value or handles a key.

use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::entity::{endpoint, maintenance_pass};
use crate::{Store, StoreResult};

/// The prefix of every sealed value.
const SEALED_PREFIX: &str = "hs1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// A sealing key could not be read, or a value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("encryption key entry {0}: expected `<id>:<base64 of 32 bytes>`")]
    BadKeyEntry(usize),
    #[error("encryption key id `{0}` is given twice")]
    DuplicateKeyId(String),
    #[error("no encryption key is configured")]
    NoKey,
    #[error("a stored value is sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("a stored value does not open with its key (damaged, or moved from another row)")]
    Damaged,
}

/// The keys Herald seals and opens with. The last key listed is the current one: it
/// seals every new value; the earlier ones still open what they sealed until
/// `herald keys rotate` has re-sealed it.
#[derive(Clone)]
pub struct Keyring {
    keys: HashMap<String, XChaCha20Poly1305>,
    current: String,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("current", &self.current).field("keys", &self.keys.len()).finish()
    }
}

impl Keyring {
    /// Parses `<id>:<base64 key>` entries separated by commas or new lines (the format
    /// of the key file and of `encryption_keys`); `#` starts a comment line.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let mut keys = HashMap::new();
        let mut current = None;
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (number, entry) in entries.enumerate() {
            let bad = || SealError::BadKeyEntry(number + 1);
            let (id, encoded) = entry.split_once(':').ok_or_else(bad)?;
            let id = id.trim();
            let valid_id =
                !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let bytes = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
            if !valid_id || bytes.len() != KEY_BYTES {
                return Err(bad());
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| bad())?;
            if keys.insert(id.to_owned(), cipher).is_some() {
                return Err(SealError::DuplicateKeyId(id.to_owned()));
            }
            current = Some(id.to_owned());
        }
        Ok(Self { keys, current: current.ok_or(SealError::NoKey)? })
    }

    /// A new key entry, `<id>:<base64>`, with an id made from the time and chance.
    pub fn generate_entry(now_unix: i64) -> String {
        let id = format!("k{now_unix}_{:04x}", rand::random::<u16>());
        format!("{id}:{}", STANDARD.encode(rand::random::<[u8; KEY_BYTES]>()))
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    /// Seals `plain` for the place `context` names.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let cipher = &self.keys[&self.current];
        let nonce_bytes = rand::random::<[u8; NONCE_BYTES]>();
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce_bytes), Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        let mut bytes = nonce_bytes.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}:{}", self.current, STANDARD.encode(bytes))
    }

    /// Opens a value sealed for `context`. A value that is not sealed (written before
    /// sealing existed) is returned as it is.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else { return Ok(stored.to_owned()) };
        let (id, encoded) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let cipher = self.keys.get(id).ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }

    /// Whether a stored value is sealed with the current key (plain values are not).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(SEALED_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current)
    }
}

/// Reads the keyring again from where it came from (the key file).
pub type KeyReloader = Box<dyn Fn() -> Result<Keyring, String> + Send + Sync>;

/// The store's keyring, which reloads itself when it meets a value sealed with a key
/// it does not know: `herald keys rotate` adds a key to the file and re-seals rows
/// with it while other Heralds run, and they pick the new key up on first sight.
pub(crate) struct Keys {
    keyring: std::sync::RwLock<std::sync::Arc<Keyring>>,
    reload: Option<KeyReloader>,
    /// When the key file was last read again: at most once a second, so a value
    /// sealed with a truly unknown key cannot make every read hit the disk.
    last_reload: std::sync::Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").field("keyring", &*self.current()).field("reloads", &self.reload.is_some()).finish()
    }
}

impl Keys {
    pub(crate) fn new(keyring: Keyring, reload: Option<KeyReloader>) -> Self {
        Self {
            keyring: std::sync::RwLock::new(std::sync::Arc::new(keyring)),
            reload,
            last_reload: std::sync::Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::Arc<Keyring> {
        self.keyring.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn seal(&self, plain: &str, context: &str) -> String {
        self.current().seal(plain, context)
    }

    pub(crate) fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        match self.current().open(stored, context) {
            Err(SealError::UnknownKey(id)) if self.reload_keys() => match self.current().open(stored, context) {
                Err(SealError::UnknownKey(_)) => Err(SealError::UnknownKey(id)),
                other => other,
            },
            other => other,
        }
    }

    pub(crate) fn is_current(&self, stored: &str) -> bool {
        self.current().is_current(stored)
    }

    pub(crate) fn current_key_id(&self) -> String {
        self.current().current_key_id().to_owned()
    }

    /// Reads the keyring again; whether a new one was loaded.
    fn reload_keys(&self) -> bool {
        let Some(reload) = &self.reload else { return false };
        {
            let mut last = self.last_reload.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
                return false;
            }
            *last = Some(std::time::Instant::now());
        }
        match reload() {
            Ok(keyring) => {
                tracing::info!(current = keyring.current_key_id(), "encryption keys reloaded");
                *self.keyring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = std::sync::Arc::new(keyring);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not reload the encryption keys");
                false
            }
        }
    }
}

/// Which stored values a re-sealing pass rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Values written before sealing existed (the start-up pass).
    PlainOnly,
    /// Every value not sealed with the current key (`herald keys rotate`).
    NotCurrent,
}

const RESEAL_PAGE: u64 = 500;

/// The name of the start-up pass in `maintenance_passes`.
const SEAL_PLAIN_PASS: &str = "seal_plain_secrets";

impl Store {
    /// Seals values written before sealing existed, once per database: the first start
    /// after the migration does it and records it, later starts skip it.
    pub async fn seal_plain_secrets_once(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<Option<u64>> {
        if maintenance_pass::Entity::find_by_id(SEAL_PLAIN_PASS).one(&self.db).await?.is_some() {
            return Ok(None);
        }
        let changed = self.reseal(Reseal::PlainOnly).await?;
        let recorded = maintenance_pass::ActiveModel { name: Set(SEAL_PLAIN_PASS.to_owned()), finished_at: Set(now) }
            .insert(&self.db)
            .await;
        match recorded {
            // Another Herald starting at the same time finished it too.
            Err(error) if matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {}
            other => {
                other?;
            }
        }
        Ok(Some(changed))
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> String {
        self.keyring.current_key_id()
    }

    /// Lets the store read its keyring again (from the key file) when it meets a value
    /// sealed with a key it does not know.
    pub fn reload_keys_with(mut self, reload: KeyReloader) -> Self {
        let keyring = (*self.keyring.current()).clone();
        self.keyring = std::sync::Arc::new(Keys::new(keyring, Some(reload)));
        self
    }

    /// Checks that the newest sealed secret opens with this keyring, so a Herald
    /// started with a lost or wrong key file refuses to start instead of failing
    /// every delivery.
    pub async fn check_keyring(&self) -> StoreResult<()> {
        let newest = endpoint::Entity::find()
            .filter(endpoint::Column::Secret.like(format!("{SEALED_PREFIX}%")))
            .order_by_desc(endpoint::Column::Id)
            .one(&self.db)
            .await?;
        if let Some(endpoint) = newest {
            self.open_endpoint(endpoint)?;
        }
        Ok(())
    }

    /// Re-seals stored secrets with the current key, a page at a time; returns how
    /// many rows changed. Each row is written only if nobody changed it meanwhile, so
    /// it is safe beside running Heralds.
    pub async fn reseal(&self, which: Reseal) -> StoreResult<u64> {
        let mut changed = 0;
        let mut after = String::new();
        loop {
            let mut select = endpoint::Entity::find().filter(endpoint::Column::Id.gt(after.as_str()));
            if which == Reseal::PlainOnly {
                select = select.filter(endpoint::Column::Secret.not_like(format!("{SEALED_PREFIX}%")));
            }
            let page = select.order_by_asc(endpoint::Column::Id).limit(RESEAL_PAGE).all(&self.db).await?;
            let Some(last) = page.last() else { break };
            after = last.id.to_string();
            for stored in page {
                let current = |value: &str| self.keyring.is_current(value);
                let fresh = current(&stored.secret)
                    && stored.previous_secret.as_deref().is_none_or(current)
                    && stored.signing_key.as_deref().is_none_or(current)
                    && header_values_current(&self.keyring, &stored.headers);
                if fresh {
                    continue;
                }
                let mut sealed = self.open_endpoint(stored.clone())?;
                self.seal_endpoint(&mut sealed);
                let result = endpoint::Entity::update_many()
                    .col_expr(endpoint::Column::Secret, Expr::value(sealed.secret))
                    .col_expr(endpoint::Column::PreviousSecret, Expr::value(sealed.previous_secret))
                    .col_expr(endpoint::Column::Headers, Expr::value(sealed.headers))
                    .col_expr(endpoint::Column::SigningKey, Expr::value(sealed.signing_key))
                    .filter(endpoint::Column::Id.eq(stored.id.as_str()))
                    .filter(endpoint::Column::Secret.eq(stored.secret.as_str()))
                    .exec(&self.db)
                    .await?;
                changed += result.rows_affected;
            }
        }
        changed += self.reseal_idempotency_responses(which).await?;
        Ok(changed)
    }
}

fn header_values_current(keyring: &Keys, headers: &serde_json::Value) -> bool {
    headers.as_object().is_none_or(|object| object.values().filter_map(|v| v.as_str()).all(|v| keyring.is_current(v)))
}

/// Whether a stored value is sealed (with any key).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, byte: u8) -> String {
        format!("{id}:{}", STANDARD.encode([byte; KEY_BYTES]))
    }

    #[test]
    fn a_value_opens_only_with_its_key_and_in_its_place() {
        let keyring = Keyring::parse(&entry("a", 1)).unwrap();
        let sealed = keyring.seal("whsec_secret", "endpoint:ep_1:secret");
        assert!(sealed.starts_with("hs1:a:"), "{sealed}");
        assert!(!sealed.contains("whsec_"));
        assert_ne!(sealed, keyring.seal("whsec_secret", "endpoint:ep_1:secret"), "a fresh nonce every time");
        assert_eq!(keyring.open(&sealed, "endpoint:ep_1:secret").unwrap(), "whsec_secret");
        assert_eq!(keyring.open(&sealed, "endpoint:ep_2:secret"), Err(SealError::Damaged), "moved to another row");
        let other = Keyring::parse(&entry("a", 2)).unwrap();
        assert_eq!(other.open(&sealed, "endpoint:ep_1:secret"), Err(SealError::Damaged), "another key, same id");
        let unknown = Keyring::parse(&entry("b", 1)).unwrap();
        assert_eq!(unknown.open(&sealed, "endpoint:ep_1:secret"), Err(SealError::UnknownKey("a".into())));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(keyring.open(&tampered, "endpoint:ep_1:secret").is_err());
        assert_eq!(keyring.open("plain text", "x").unwrap(), "plain text", "values from before sealing");
    }

    #[test]
    fn the_last_key_seals_and_earlier_keys_still_open() {
        let old = Keyring::parse(&entry("old", 1)).unwrap();
        let sealed = old.seal("v", "c");
        let both = Keyring::parse(&format!("# keys\n{}\n{}\n", entry("old", 1), entry("new", 2))).unwrap();
        assert_eq!(both.current_key_id(), "new");
        assert_eq!(both.open(&sealed, "c").unwrap(), "v");
        assert!(!both.is_current(&sealed));
        assert!(both.is_current(&both.seal("v", "c")));
        assert!(!both.is_current("plain"));
        let inline = Keyring::parse(&format!("{}, {}", entry("old", 1), entry("new", 2))).unwrap();
        assert_eq!(inline.current_key_id(), "new");
    }

    #[test]
    fn bad_key_entries_are_refused_with_their_position() {
        assert_eq!(Keyring::parse("").unwrap_err(), SealError::NoKey);
        assert_eq!(Keyring::parse("nocolon").unwrap_err(), SealError::BadKeyEntry(1));
        assert_eq!(Keyring::parse(&format!("{},a:c2hvcnQ=", entry("x", 1))).unwrap_err(), SealError::BadKeyEntry(2));
        assert_eq!(
            Keyring::parse(&format!("{},{}", entry("x", 1), entry("x", 2))).unwrap_err(),
            SealError::DuplicateKeyId("x".into())
        );
        assert_eq!(Keyring::parse(&entry("bad id", 1)).unwrap_err(), SealError::BadKeyEntry(1));
        let generated = Keyring::generate_entry(1_700_000_000);
        assert!(Keyring::parse(&generated).is_ok(), "{generated}");
    }
}
