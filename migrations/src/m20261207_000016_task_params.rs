//! `background_tasks.params`: what a task selects beyond its endpoint and window, as
//! JSON (a bulk replay's event types, channel, tag, delivery status and status-code
//! class). Nullable: a recover or replay-missing has none, and the previous version
//! keeps running while it is added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BackgroundTasks::Table)
                    .add_column(ColumnDef::new(BackgroundTasks::Params).json().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(BackgroundTasks::Table).drop_column(BackgroundTasks::Params).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BackgroundTasks {
    Table,
    Params,
}
