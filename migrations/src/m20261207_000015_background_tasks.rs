//! Background tasks: work that goes on after its request is answered, such as a paced
//! `recover`. A task keeps its selection (`app_id`, `endpoint_id`, `since`, `until`)
//! and its progress (`cursor`, the last delivery it released, and the counts), so a
//! restarted worker carries on where the last one stopped.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BackgroundTasks::Table)
                    .col(ColumnDef::new(BackgroundTasks::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(BackgroundTasks::TenantId).string().not_null())
                    .col(ColumnDef::new(BackgroundTasks::AppId).string().not_null())
                    .col(ColumnDef::new(BackgroundTasks::EndpointId).string().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Task).string().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Status).string().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Since).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Until).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Cursor).string().null())
                    .col(ColumnDef::new(BackgroundTasks::Total).big_integer().not_null())
                    .col(ColumnDef::new(BackgroundTasks::Done).big_integer().not_null())
                    .col(ColumnDef::new(BackgroundTasks::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(BackgroundTasks::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        // A tenant's tasks, by id (its listing); and the runner's look for running ones.
        manager
            .create_index(
                Index::create()
                    .name("ix_background_tasks_tenant")
                    .table(BackgroundTasks::Table)
                    .col(BackgroundTasks::TenantId)
                    .col(BackgroundTasks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_background_tasks_status")
                    .table(BackgroundTasks::Table)
                    .col(BackgroundTasks::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(BackgroundTasks::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum BackgroundTasks {
    Table,
    Id,
    TenantId,
    AppId,
    EndpointId,
    Task,
    Status,
    Since,
    Until,
    Cursor,
    Total,
    Done,
    CreatedAt,
    UpdatedAt,
}
