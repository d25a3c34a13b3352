//! Which database a URL names, and creating it when it does not exist yet.

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use url::Url;

use crate::{StoreError, StoreResult};

/// The two databases Herald runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    Sqlite,
}

impl DatabaseKind {
    pub fn of(url: &str) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: "expected a postgres:// or sqlite:// URL".into(),
            })
        }
    }
}

/// Creates the database `url` names if it is missing: the PostgreSQL database (through
/// the server's `postgres` maintenance database), or the SQLite file's directory.
pub async fn ensure_database_exists(url: &str) -> StoreResult<()> {
    let invalid = |reason: &str| StoreError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    match DatabaseKind::of(url)? {
        DatabaseKind::Sqlite => {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| invalid(&format!("cannot create {}: {e}", parent.display())))?;
            }
            Ok(())
        }
        DatabaseKind::Postgres => {
            let mut parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
            let name = parsed.path().trim_start_matches('/').to_owned();
            if name.is_empty() || name.contains('"') {
                return Err(invalid("the URL must name a database"));
            }
            parsed.set_path("/postgres");
            let mut options = sea_orm::ConnectOptions::new(parsed.as_str());
            options.max_connections(1).sqlx_logging(false);
            let admin = Database::connect(options).await?;
            let exists = admin
                .query_one(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 FROM pg_database WHERE datname = $1",
                    [name.clone().into()],
                ))
                .await?
                .is_some();
            if !exists {
                // Byte order for text: ids begin with their creation time in base 62
                // (`0-9A-Za-z`, ASCII order), and time windows, cursors and the feed's seek
                // compare them; a linguistic collation would sort `a` before `B`.
                let created = admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0 LC_COLLATE 'C'"))
                    .await;
                // Two processes may race to create it; the loser finds it there.
                if let Err(error) = created {
                    if !error.to_string().contains("already exists") {
                        return Err(error.into());
                    }
                }
            }
            admin.close().await?;
            Ok(())
        }
    }
}
