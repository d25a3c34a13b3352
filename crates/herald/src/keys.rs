//! The encryption keys that seal secrets at rest (see `herald_store::Keyring`): where
//! they come from, creating the embedded default's key file, and `herald keys`.
//!
//! Keys come from `encryption_keys` (inline, for an environment variable or a secret
//! manager) or else from the file `encryption_key_file`. When neither holds a key
//! and the file does not exist, Herald creates it with one fresh key (mode 0600) and
//! says so: the embedded default works out of the box, and the start-up check in
//! [`crate::open_store`] refuses a database sealed with a key that is not there, so a
//! lost key file is an error, never a silent new key.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use herald_store::Keyring;
use secrecy::ExposeSecret;

use crate::Settings;

/// Where the keys came from, for messages and for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `encryption_keys` setting.
    Inline,
    /// A key file.
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Inline => write!(f, "the `encryption_keys` setting"),
            KeySource::File(path) => write!(f, "the key file {}", path.display()),
        }
    }
}

/// Reads the keyring the settings name, creating the key file when it does not exist.
pub fn load_keyring(settings: &Settings) -> anyhow::Result<(Keyring, KeySource)> {
    let inline = settings.encryption_keys.expose_secret().trim();
    if !inline.is_empty() {
        let keyring = Keyring::parse(inline).context("setting `encryption_keys`")?;
        return Ok((keyring, KeySource::Inline));
    }
    let path = PathBuf::from(&settings.encryption_key_file);
    anyhow::ensure!(
        !settings.encryption_key_file.trim().is_empty(),
        "no encryption key: set `encryption_keys` or `encryption_key_file`"
    );
    if !path.exists() {
        create_key_file(&path)?;
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("while reading the key file {}", path.display()))?;
    let keyring = Keyring::parse(&text).with_context(|| format!("the key file {}", path.display()))?;
    Ok((keyring, KeySource::File(path)))
}

/// Writes a new key file with one fresh key, unless another process just did.
fn create_key_file(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("while creating {}", parent.display()))?;
    }
    let entry = Keyring::generate_entry(chrono::Utc::now().timestamp());
    let text = format!(
        "# Herald's encryption keys: endpoint secrets and header values are sealed with them.\n\
         # Back this file up with the database; without it they cannot be read. The last key\n\
         # seals new values; `herald keys rotate` adds a key and re-seals everything with it.\n{entry}\n"
    );
    match write_private(path, &text, true) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "created a new encryption key file; back it up with the database");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("while creating the key file {}", path.display())),
    }
}

/// Writes `text` to `path` readable by its owner only: a temporary file renamed (or,
/// when `new_only`, linked) into place, so no reader ever sees half a key file.
fn write_private(path: &Path, text: &str, new_only: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    let placed = if new_only { std::fs::hard_link(&temporary, path) } else { std::fs::rename(&temporary, path) };
    if new_only || placed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    placed
}

/// `herald keys rotate`: with a key file, appends a fresh key to it; then re-seals
/// every stored secret with the current (last) key. With `encryption_keys`, the
/// operator appends the new key to the setting first, and this re-seals. Returns the
/// current key's id and how many rows changed.
pub async fn rotate(settings: &Settings) -> anyhow::Result<(String, u64)> {
    let (_, source) = load_keyring(settings)?;
    if let KeySource::File(path) = &source {
        let mut text = std::fs::read_to_string(path).with_context(|| format!("while reading {}", path.display()))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&Keyring::generate_entry(chrono::Utc::now().timestamp()));
        text.push('\n');
        write_private(path, &text, false).with_context(|| format!("while writing {}", path.display()))?;
    }
    let store = crate::open_store(settings).await?;
    let changed = store.reseal(herald_store::Reseal::NotCurrent).await.context("while re-sealing secrets")?;
    let current = store.current_key_id();
    store.close().await?;
    Ok((current, changed))
}
