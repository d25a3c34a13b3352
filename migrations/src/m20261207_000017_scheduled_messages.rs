//! `messages.deliver_at`: a message sent with `deliverAt` is delivered not before it
//! (its deliveries are created due then) and shows it. Nullable: most messages go at
//! once, and the previous version keeps running while it is added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(ColumnDef::new(Messages::DeliverAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::DeliverAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    DeliverAt,
}
