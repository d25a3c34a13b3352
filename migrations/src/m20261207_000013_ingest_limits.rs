//! Per-tenant ingest rate limits: `tenants.ingest_rate_limit`, messages per second a
//! tenant may create per API process. `NULL` follows the setting `ingest_rate_limit`;
//! `0` is no limit. Nullable, so the previous version keeps running while it is added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::IngestRateLimit).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::IngestRateLimit).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    IngestRateLimit,
}
