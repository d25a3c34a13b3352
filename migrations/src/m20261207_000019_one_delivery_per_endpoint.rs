//! At most one delivery of a message to an endpoint, enforced: a unique index on
//! `deliveries (msg_id, endpoint_id)` in place of the plain `ix_deliveries_msg` (whose
//! lookups it serves as well, so writes maintain no more than before). Two writers that
//! both find no delivery — a resend and a replay-missing batch, each uncommitted when the
//! other looked — can then no longer both create one.
//!
//! Herald creates one delivery per message and endpoint, but two concurrent resends
//! of a message to an endpoint it never went to could each create one before this
//! index. Such pairs are merged first: the older delivery (lowest id) stays, the later
//! one's attempts move to it, and the later one is deleted. On PostgreSQL the index is
//! built inside the migration's transaction and holds writes to `deliveries` while it
//! builds (docs/operations.md, upgrades).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in MERGE_DUPLICATES {
            db.execute_unprepared(statement).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_deliveries_msg_endpoint")
                    .table(Deliveries::Table)
                    .col(Deliveries::MsgId)
                    .col(Deliveries::EndpointId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("ix_deliveries_msg").table(Deliveries::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name("ix_deliveries_msg").table(Deliveries::Table).col(Deliveries::MsgId).to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("ux_deliveries_msg_endpoint").table(Deliveries::Table).to_owned()).await
    }
}

/// Merges deliveries of one message to one endpoint into the oldest: its attempts
/// first, then the later rows. Plain SQL that both databases run; a no-op without
/// duplicates (each row is checked against `ix_deliveries_msg`).
const MERGE_DUPLICATES: [&str; 2] = [
    "UPDATE attempts SET delivery_id = (
         SELECT MIN(k.id) FROM deliveries k, deliveries d
         WHERE d.id = attempts.delivery_id AND k.msg_id = d.msg_id AND k.endpoint_id = d.endpoint_id)
     WHERE delivery_id IN (
         SELECT d.id FROM deliveries d WHERE EXISTS (
             SELECT 1 FROM deliveries k WHERE k.msg_id = d.msg_id AND k.endpoint_id = d.endpoint_id AND k.id < d.id))",
    "DELETE FROM deliveries WHERE EXISTS (
         SELECT 1 FROM deliveries k
         WHERE k.msg_id = deliveries.msg_id AND k.endpoint_id = deliveries.endpoint_id AND k.id < deliveries.id)",
];

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    MsgId,
    EndpointId,
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

    async fn pairs(db: &DatabaseConnection, sql: &str) -> Vec<(String, String)> {
        let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        rows.iter().map(|row| (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap())).collect()
    }

    /// Two deliveries of `m1` to `e1`: the later one goes, and its attempt moves to the
    /// earlier; everything else is left as it was. The same statements run again
    /// change nothing.
    #[tokio::test]
    async fn duplicates_merge_into_the_oldest_with_their_attempts() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        for statement in [
            "CREATE TABLE deliveries (id TEXT PRIMARY KEY, msg_id TEXT NOT NULL, endpoint_id TEXT NOT NULL)",
            "CREATE TABLE attempts (id TEXT PRIMARY KEY, delivery_id TEXT NOT NULL)",
            "INSERT INTO deliveries VALUES ('d1', 'm1', 'e1'), ('d2', 'm1', 'e1'), ('d3', 'm1', 'e2'), ('d4', 'm2', 'e1')",
            "INSERT INTO attempts VALUES ('a1', 'd1'), ('a2', 'd2'), ('a3', 'd3'), ('a4', 'd2')",
        ] {
            db.execute_unprepared(statement).await.unwrap();
        }
        for _ in 0..2 {
            for statement in super::MERGE_DUPLICATES {
                db.execute_unprepared(statement).await.unwrap();
            }
            let deliveries = pairs(&db, "SELECT id, msg_id FROM deliveries ORDER BY id").await;
            let kept: Vec<&str> = deliveries.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(kept, ["d1", "d3", "d4"]);
            let attempts = pairs(&db, "SELECT id, delivery_id FROM attempts ORDER BY id").await;
            let expected = [("a1", "d1"), ("a2", "d1"), ("a3", "d3"), ("a4", "d1")];
            assert_eq!(attempts, expected.map(|(a, d)| (a.to_owned(), d.to_owned())));
        }
    }
}
