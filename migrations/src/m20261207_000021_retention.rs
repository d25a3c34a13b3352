//! Retention. Each message carries when its payload is expunged (`payload_expires_at`)
//! and when it is deleted with its deliveries and attempts (`expires_at`), fixed when it
//! is accepted; `tenants.payload_retention_secs` and `tenants.metadata_retention_secs`
//! override the settings for one tenant (`NULL`: the settings).
//!
//! The pruner finds its work through three indexes that hold only what it looks for:
//! `ix_messages_expires` (every message, by expiry), `ix_messages_payload_expires`
//! (payloads not yet expunged) and `ix_messages_unstamped` (messages accepted before
//! this migration, stamped by the pruner in batches instead of here, so the upgrade
//! does not rewrite the table while holding it).
//!
//! On PostgreSQL, autovacuum visits `messages`, `deliveries` and `attempts` after 2% of
//! their rows changed instead of 20%: the space the pruner frees is reused by new rows
//! soon after it is freed, which is what keeps the files' size flat
//! (docs/decisions.md, "Retention").

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[&str] = &[
    "CREATE INDEX ix_messages_expires ON messages (expires_at)",
    "CREATE INDEX ix_messages_payload_expires ON messages (payload_expires_at) WHERE payload_expunged = false",
    "CREATE INDEX ix_messages_unstamped ON messages (id) WHERE expires_at IS NULL",
];

const TABLES: &[&str] = &["messages", "deliveries", "attempts"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        let columns = [
            (
                Retention::Messages,
                ColumnDef::new(Retention::PayloadExpiresAt).timestamp_with_time_zone().null().to_owned(),
            ),
            (Retention::Messages, ColumnDef::new(Retention::ExpiresAt).timestamp_with_time_zone().null().to_owned()),
            (Retention::Tenants, ColumnDef::new(Retention::PayloadRetentionSecs).big_integer().null().to_owned()),
            (Retention::Tenants, ColumnDef::new(Retention::MetadataRetentionSecs).big_integer().null().to_owned()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        let db = manager.get_connection();
        for statement in INDEXES {
            db.execute_unprepared(statement).await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for table in TABLES {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, \
                     autovacuum_analyze_scale_factor = 0.02)"
                ))
                .await?;
                // The insert threshold exists from PostgreSQL 13 on.
                db.execute_unprepared(&format!(
                    "DO $$ BEGIN IF current_setting('server_version_num')::int >= 130000 THEN \
                     ALTER TABLE {table} SET (autovacuum_vacuum_insert_scale_factor = 0.02); END IF; END $$"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for table in TABLES {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "DO $$ BEGIN IF current_setting('server_version_num')::int >= 130000 THEN \
                     ALTER TABLE {table} RESET (autovacuum_vacuum_insert_scale_factor); END IF; END $$"
                ))
                .await?;
            }
        }
        for name in ["ix_messages_expires", "ix_messages_payload_expires", "ix_messages_unstamped"] {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        for (table, column) in [
            (Retention::Messages, Retention::PayloadExpiresAt),
            (Retention::Messages, Retention::ExpiresAt),
            (Retention::Tenants, Retention::PayloadRetentionSecs),
            (Retention::Tenants, Retention::MetadataRetentionSecs),
        ] {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Retention {
    Messages,
    Tenants,
    PayloadExpiresAt,
    ExpiresAt,
    PayloadRetentionSecs,
    MetadataRetentionSecs,
}
