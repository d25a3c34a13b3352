//! The operational outbox: a notice for the tenant (`endpoint.disabled`,
//! `message.attempt.exhausted`) is written in the transaction that records the attempt
//! behind it, and sent from there by the worker's relay, so a crash between the two
//! loses nothing.
//!
//! Expand only: a new table the previous version never reads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OperationalOutbox::Table)
                    .col(ColumnDef::new(OperationalOutbox::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(OperationalOutbox::TenantId).string().not_null())
                    .col(ColumnDef::new(OperationalOutbox::Notice).json().not_null())
                    .col(ColumnDef::new(OperationalOutbox::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OperationalOutbox::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum OperationalOutbox {
    Table,
    Id,
    TenantId,
    Notice,
    CreatedAt,
}
