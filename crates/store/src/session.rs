//! A connection kept by a loop that writes batch after batch.
//!
//! sqlx pings a connection every time it goes back to the pool: one more round trip
//! for every statement run on the pool. The loops that talk to the database most (the
//! message writers, the attempt writer, the dispatcher's batch load) each keep one
//! connection in a [`Session`] for their one-statement PostgreSQL paths
//! (`crate::bulk`), so those statements are one round trip each. Everything else a
//! session does (SQLite, and the paths that need a transaction) goes through its
//! store's pool as before.

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{PgConnection, Postgres};
use sea_orm::DbErr;

use crate::Store;

/// A store handle with one PostgreSQL connection of its own, taken from the pool the
/// first time it is needed and kept until the session is dropped. Not shared: each
/// loop makes its own with [`Store::session`].
#[derive(Debug)]
pub struct Session {
    pub(crate) store: Store,
    held: Option<PoolConnection<Postgres>>,
}

impl Store {
    /// A session on this store (see [`Session`]). Taking one costs nothing until it
    /// runs a statement.
    pub fn session(&self) -> Session {
        Session { store: self.clone(), held: None }
    }
}

impl Session {
    /// The kept connection, taken from the pool if there is none. PostgreSQL only.
    pub(crate) async fn connection(&mut self) -> Result<&mut PgConnection, DbErr> {
        let held = match self.held.take() {
            Some(held) => held,
            None => self.store.db.get_postgres_connection_pool().acquire().await.map_err(crate::bulk::db_err)?,
        };
        Ok(&mut **self.held.insert(held))
    }

    /// Gives the kept connection back after a failed statement: the pool closes it if
    /// it is broken, and the next statement takes another.
    pub(crate) fn release_on_error<T>(&mut self, result: &Result<T, DbErr>) {
        if result.is_err() {
            self.held = None;
        }
    }
}
