//! Herald's system of record.
//!
//! This crate owns the database: the sea-orm entities ([`entity`]), the migrations it
//! runs (from the top-level `migrations/` crate), and one repository method per thing
//! the rest of Herald needs to read or write, as `impl Store` blocks grouped by table.
//! PostgreSQL is the production database; SQLite is the embedded default. Both run the
//! same code and the same tests.
//!
//! **What it must not know:** HTTP, Redis, or how a delivery is attempted. It is the
//! only crate that knows SQL; every query that reads another tenant's rows is scoped
//! by `tenant_id` here, so the API cannot forget to.

pub mod entity;
mod ingest;

mod applications;
mod attempts;
mod audit;
mod bulk;
mod changes;
mod conditions;
mod database;
mod dead_letters;
mod deliveries;
mod endpoints;
mod event_types;
mod feed;
mod idempotency;
mod messages;
mod ordering;
mod outbox;
mod paging;
mod pollers;
mod portal;
mod purge;
mod receipts;
mod retention;
mod scoped_keys;
mod sealing;
mod session;
mod stats;
mod tasks;
mod tenants;

pub use applications::NewApplication;
pub use attempts::{AttemptFilter, NewAttempt};
pub use audit::{Action, Actor, AuditFilter};
pub use database::{ensure_database_exists, DatabaseKind};
pub use dead_letters::{DeadLetter, DeadLetterSelection, MAX_DEAD_LETTERS_PER_CALL};
pub use deliveries::{
    AttemptRecord, DeliveryCounts, DeliveryTransition, DisableReason, DisabledEndpoint, DispatchContext, RecordedBatch,
    TRIGGER_MANUAL,
};
pub use endpoints::{endpoint_accepts, NewEndpoint};
pub use event_types::{ImportOutcome, ImportedType, NewEventType};
pub use feed::{FeedFilter, FeedPage, SCAN_WINDOW};
pub use idempotency::IdempotencyClaim;
pub use ingest::MessageWriter;
pub use messages::{MessageFilter, NewMessage, PlannedDelivery};
pub use outbox::{OperationalNotice, OutboxEntry};
pub use paging::{Cursor, Listed, Order, Page};
pub use pollers::{poller_filter, NewPoller};
pub use portal::NewPortalToken;
pub use receipts::{Confirmed, MAX_RECEIPTS_PER_CALL};
pub use scoped_keys::KeyTarget;
pub use sealing::{KeyReloader, Keyring, Reseal, SealError};
pub use session::Session;
pub use stats::{ApplicationCounts, StatusCounts};
pub use tasks::{
    ReplayFilter, TaskFilter, TaskKind, BULK_REPLAY_TASK, FAILED, FINISHED, PURGE_CONTENT_TASK, RECOVER_TASK,
    REPLAY_MISSING_TASK, RUNNING,
};
pub use tenants::TenantSettingsChange;

use herald_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, RuntimeErr, SqlErr};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(DbErr),
    /// The database could not be reached (connection refused, pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused the write (e.g. an application `uid` already taken).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database refused a value the API let through (PostgreSQL refuses text with
    /// a NUL character, SQLite stores it).
    #[error("the database refused a value: {0}")]
    InvalidValue(String),
    #[error("invalid database url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A sealed value could not be opened (see [`sealing`]).
    #[error("sealed value: {0}")]
    Sealed(#[from] SealError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match error {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => Self::Unavailable(error.to_string()),
            other if lost_connection(&other) => Self::Unavailable(other.to_string()),
            // PostgreSQL refuses NUL in text ("invalid byte sequence") and in JSON
            // ("unsupported Unicode escape sequence": `\u0000` cannot be converted to text).
            other
                if ["invalid byte sequence", "unsupported Unicode escape sequence"]
                    .iter()
                    .any(|refusal| other.to_string().contains(refusal)) =>
            {
                Self::InvalidValue("text must not contain NUL characters".into())
            }
            other => Self::Database(other),
        }
    }
}

/// Whether a statement failed because the database went away under it: the
/// connection broke, or the server is shutting down or refusing work (SQLSTATE class
/// 08, connection exception; 57P01–57P03, administrator or crash shutdown, cannot
/// connect now). The caller may retry later; nothing was committed.
fn lost_connection(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return false;
    };
    match error {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(database) => {
            database.code().is_some_and(|code| code.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&&*code))
        }
        _ => false,
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`], anything else to `Database`.
fn conflict_as(what: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
        _ => StoreError::from(error),
    }
}

/// The shape of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Connections kept open at most.
    pub max_connections: u32,
    /// How long a statement waits for a connection before it fails with
    /// [`StoreError::Unavailable`]. With the database unreachable every new connection
    /// fails, so this bounds how long a request waits before it is answered `503`.
    pub acquire_timeout: std::time::Duration,
}

impl PoolOptions {
    /// `max_connections` connections, waiting at most two seconds for one.
    pub fn with_max_connections(max_connections: u32) -> Self {
        Self { max_connections, acquire_timeout: std::time::Duration::from_secs(2) }
    }
}

/// A handle on the database. Cheap to clone; all clones share one pool.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    kind: DatabaseKind,
    /// Seals secrets on the way in and opens them on the way out ([`sealing`]).
    keyring: std::sync::Arc<sealing::Keys>,
}

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite://…`) with a pool shaped by
    /// `pool`; secrets are sealed with `keyring`.
    pub async fn connect(url: &str, pool: PoolOptions, keyring: Keyring) -> StoreResult<Self> {
        let kind = DatabaseKind::of(url)?;
        let db = if kind == DatabaseKind::Postgres {
            bulk::connect(url, pool).await.map_err(StoreError::from)?
        } else {
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(pool.max_connections)
                .min_connections(1)
                .acquire_timeout(pool.acquire_timeout)
                .sqlx_logging(false);
            Database::connect(options).await?
        };
        if kind == DatabaseKind::Sqlite {
            // WAL lets readers proceed while the worker writes; the setting persists in the file.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Ok(Self { db, kind, keyring: std::sync::Arc::new(sealing::Keys::new(keyring, None)) })
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// How many migrations have not been applied yet.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.len())
    }

    /// Whether this is PostgreSQL with autovacuum turned off. Then PostgreSQL never
    /// refreshes its statistics of Herald's tables, and the hot statements keep the plans
    /// it cached while the tables were nearly empty: sequential scans that grow with
    /// the tables (see docs/operations.md).
    pub async fn autovacuum_off(&self) -> StoreResult<bool> {
        if self.kind != DatabaseKind::Postgres {
            return Ok(false);
        }
        let row = self
            .db
            .query_one(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, "SHOW autovacuum"))
            .await?;
        let setting: String = match row {
            Some(row) => row.try_get_by_index(0)?,
            None => return Ok(false),
        };
        Ok(setting == "off")
    }

    /// Whether the database compares text in byte order, as Herald's time-ordered ids
    /// need (`docs/operations.md`): PostgreSQL is asked directly (`'B' < 'a'` holds only
    /// in byte order, whatever the collation's name or provider); SQLite always does.
    pub async fn byte_order_text(&self) -> StoreResult<bool> {
        if self.kind != DatabaseKind::Postgres {
            return Ok(true);
        }
        let row = self
            .db
            .query_one(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, "SELECT 'B' < 'a'"))
            .await?;
        match row {
            Some(row) => Ok(row.try_get_by_index(0)?),
            None => Ok(true),
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await?;
        Ok(())
    }
}
