//! The delivery engine's records: the request and response headers of each attempt,
//! since when an endpoint has been failing (for auto-disable), and an index for
//! listing an application's dead letters.
//!
//! Expand only: the new columns are nullable, so the previous version keeps running
//! against this schema (it neither writes nor reads them).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite accepts one change per `ALTER TABLE`, so each column is its own statement.
        for column in [Attempts::RequestHeaders, Attempts::ResponseHeaders] {
            manager
                .alter_table(
                    Table::alter().table(Attempts::Table).add_column(ColumnDef::new(column).text().null()).to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Endpoints::Table)
                    .add_column(ColumnDef::new(Endpoints::FailingSince).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_app_status")
                    .table(Deliveries::Table)
                    .col(Deliveries::AppId)
                    .col(Deliveries::Status)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_deliveries_app_status").table(Deliveries::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Endpoints::Table).drop_column(Endpoints::FailingSince).to_owned())
            .await?;
        for column in [Attempts::RequestHeaders, Attempts::ResponseHeaders] {
            manager.alter_table(Table::alter().table(Attempts::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    RequestHeaders,
    ResponseHeaders,
}

#[derive(DeriveIden, Clone, Copy)]
enum Endpoints {
    Table,
    FailingSince,
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    Id,
    AppId,
    Status,
}
