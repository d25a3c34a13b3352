//! Per-tenant backlog caps: `tenants.max_backlog` (deliveries waiting in Redis) and
//! `tenants.max_backlog_age_secs` (how long the oldest ready delivery may have waited).
//! `NULL` follows the settings `max_backlog` and `max_backlog_age`; `0` is no cap.
//! Nullable, so the previous version keeps running while they are added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for column in [Tenants::MaxBacklog, Tenants::MaxBacklogAgeSecs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(ColumnDef::new(column).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tenants::MaxBacklog, Tenants::MaxBacklogAgeSecs] {
            manager.alter_table(Table::alter().table(Tenants::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    MaxBacklog,
    MaxBacklogAgeSecs,
}
