//! Svix's `featureFlags` (a list, beside the older single `feature_flag`) and
//! `groupName` on event types. Both nullable: the previous version keeps running.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            ColumnDef::new(EventTypes::FeatureFlags).json().null().to_owned(),
            ColumnDef::new(EventTypes::GroupName).string().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(EventTypes::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [EventTypes::FeatureFlags, EventTypes::GroupName] {
            manager.alter_table(Table::alter().table(EventTypes::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum EventTypes {
    Table,
    FeatureFlags,
    GroupName,
}
