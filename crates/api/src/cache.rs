//! Short-lived caches on the message-create hot path: API key → tenant, and
//! application → (application, endpoints). Without them every message costs three
//! extra queries before its insert.
//!
//! Freshness:
//! - In this process, any request that changes something (every non-GET request
//!   other than message creation) moves a generation counter when it finishes
//!   ([`HotCache::invalidate_after_write`]); entries read under an older generation are
//!   not used. So a client that creates an endpoint and then sends a message through
//!   the same Herald always sees its endpoint.
//! - Changes made through another Herald process are seen within the TTL: one second
//!   for applications and endpoints and for API keys (revocation included).
//!   docs/decisions.md records this.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_store::entity::{endpoint, tenant};

use crate::auth::ScopedApp;

/// How long another process may go on accepting a key revoked elsewhere.
const KEY_TTL: Duration = Duration::from_secs(1);
const APP_TTL: Duration = Duration::from_secs(1);
/// Entries kept before the cache is cleared wholesale (a bound, not an LRU).
const MAX_ENTRIES: usize = 10_000;

/// (tenant id, application id or uid as the request named it).
type AppKey = (String, String);

/// An application and its live endpoints, as message creation needs them.
#[derive(Debug)]
pub struct AppRouting {
    pub app: ScopedApp,
    pub endpoints: Vec<endpoint::Model>,
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    read_at: Instant,
    generation: u64,
}

/// The caches, shared by every handler of one process.
#[derive(Debug, Default)]
pub struct HotCache {
    generation: AtomicU64,
    keys: Mutex<HashMap<String, Entry<KeyOwner>>>,
    apps: Mutex<HashMap<AppKey, Entry<Arc<AppRouting>>>>,
}

/// Whose an API key is: the tenant, and the key's id (the credential's identity).
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub tenant: tenant::Model,
    pub key_id: String,
}

/// A point in the cache's history, taken before reading from the database.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl HotCache {
    /// Take this before reading what will be cached: if a write finishes meanwhile,
    /// the entry is born stale and never used.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Called when a changing request has finished.
    pub fn invalidate_after_write(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn fresh<T: Clone>(&self, entry: Option<&Entry<T>>, ttl: Duration) -> Option<T> {
        let current = self.generation.load(Ordering::Acquire);
        entry
            .filter(|entry| entry.generation == current && entry.read_at.elapsed() < ttl)
            .map(|entry| entry.value.clone())
    }

    pub fn owner_of_key(&self, key: &str) -> Option<KeyOwner> {
        let keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.fresh(keys.get(key), KEY_TTL)
    }

    pub fn remember_key(&self, key: &str, owner: KeyOwner, generation: Generation) {
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if keys.len() >= MAX_ENTRIES {
            keys.clear();
        }
        keys.insert(key.to_owned(), Entry { value: owner, read_at: Instant::now(), generation: generation.0 });
    }

    pub fn routing(&self, tenant_id: &str, app_ref: &str) -> Option<Arc<AppRouting>> {
        let apps = self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.fresh(apps.get(&(tenant_id.to_owned(), app_ref.to_owned())), APP_TTL)
    }

    pub fn remember_routing(&self, tenant_id: &str, app_ref: &str, routing: Arc<AppRouting>, generation: Generation) {
        let mut apps = self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if apps.len() >= MAX_ENTRIES {
            apps.clear();
        }
        let entry = Entry { value: routing, read_at: Instant::now(), generation: generation.0 };
        apps.insert((tenant_id.to_owned(), app_ref.to_owned()), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> KeyOwner {
        let tenant = tenant::Model {
            id: herald_core::TenantId::generate(1, [1; 10]).into(),
            name: "t".into(),
            schema_validation: herald_core::SchemaMode::Accept.into(),
            created_at: chrono::Utc::now(),
            ingest_rate_limit: None,
            max_backlog: None,
            max_backlog_age_secs: None,
            auto_redrive: None,
            payload_retention_secs: None,
            metadata_retention_secs: None,
        };
        KeyOwner { tenant, key_id: "key_1".into() }
    }

    #[test]
    fn a_write_makes_earlier_reads_stale_even_if_they_are_stored_after_it() {
        let cache = HotCache::default();
        let before = cache.generation();
        cache.remember_key("k", tenant(), before);
        assert!(cache.owner_of_key("k").is_some());
        // A read that started before a write and is stored after it is never used.
        let during = cache.generation();
        cache.invalidate_after_write();
        cache.remember_key("k", tenant(), during);
        assert!(cache.owner_of_key("k").is_none());
        cache.remember_key("k", tenant(), cache.generation());
        assert!(cache.owner_of_key("k").is_some());
    }
}
