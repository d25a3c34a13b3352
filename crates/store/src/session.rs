//! A connection kept by a loop that writes batch after batch.
//!
//! sqlx pings a connection every time it goes back to the pool: one more round trip
//! for every statement run on the pool. The loops that talk to the database most (the
//! message writers, the attempt writer, the dispatcher's batch load) each keep one
//! connection in a [`Session`] for their one-statement PostgreSQL paths
//! (`crate::bulk`), so those statements are one round trip each. Everything else a
//! session does (SQLite, and the paths that need a transaction) goes through its
//! store's pool as before.

use std::time::Instant;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Connection as _, PgConnection, Postgres};
use sea_orm::{DbErr, RuntimeErr};

use crate::{bulk, Store};

/// A store handle with one PostgreSQL connection of its own, taken from the pool the
/// first time it is needed and kept until the session is dropped. Not shared: each
/// loop makes its own with [`Store::session`].
#[derive(Debug)]
pub struct Session {
    pub(crate) store: Store,
    /// The kept connection and when it was last used.
    held: Option<(PoolConnection<Postgres>, Instant)>,
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
    /// One that sat unused as long as the pool's idle threshold is pinged first, as
    /// the pool would: a database that restarted while the loop was quiet is noticed
    /// here, not by the next write.
    pub(crate) async fn connection(&mut self) -> Result<&mut PgConnection, DbErr> {
        let kept = match self.held.take() {
            // A broken one is dropped here; the pool closes it when its release ping fails.
            Some((mut connection, used)) if used.elapsed() >= bulk::PING_AFTER_IDLE => {
                connection.ping().await.is_ok().then_some(connection)
            }
            Some((connection, _)) => Some(connection),
            None => None,
        };
        let connection = match kept {
            Some(connection) => connection,
            None => {
                let pool = self.store.db.get_postgres_connection_pool();
                pool.acquire().await.map_err(|error| DbErr::Conn(RuntimeErr::SqlxError(error)))?
            }
        };
        Ok(&mut *self.held.insert((connection, Instant::now())).0)
    }

    /// Gives the kept connection back after a failed statement: the pool closes it if
    /// it is broken, and the next statement takes another.
    pub(crate) fn release_on_error<T>(&mut self, result: &Result<T, DbErr>) {
        if result.is_err() {
            self.held = None;
        }
    }
}
