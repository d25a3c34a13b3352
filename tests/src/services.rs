//! The real services the suite runs against. `scripts/test` makes sure they are up
//! (installing and starting them when missing); these functions find them and give
//! every test its own corner: a fresh database, a unique Redis key prefix.

use std::sync::OnceLock;

/// The PostgreSQL server's maintenance URL (`HERALD_TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis URL (`HERALD_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("HERALD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A short random tag for names that must not collide across parallel tests.
pub fn unique_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// A URL naming a PostgreSQL database nobody has used (Herald creates it on start).
pub fn fresh_postgres_url() -> String {
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/herald_test_{}", unique_tag())
}

/// A URL naming a SQLite file in a fresh temporary directory.
pub fn fresh_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("herald-test-{}", unique_tag()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    format!("sqlite://{}/herald.db?mode=rwc", dir.display())
}

/// A Redis key prefix nobody has used.
pub fn fresh_redis_prefix() -> String {
    format!("herald-test-{}", unique_tag())
}

/// The workspace's target directory (where the `herald` binary and the test venv live).
pub fn target_dir() -> std::path::PathBuf {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    })
    .clone()
}

/// The encryption key every test Herald seals secrets with (`encryption_keys`).
pub const TEST_ENCRYPTION_KEYS: &str = "test:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// [`TEST_ENCRYPTION_KEYS`] as a keyring, for tests that open the store themselves.
pub fn test_keyring() -> herald_store::Keyring {
    herald_store::Keyring::parse(TEST_ENCRYPTION_KEYS).expect("the test key parses")
}
