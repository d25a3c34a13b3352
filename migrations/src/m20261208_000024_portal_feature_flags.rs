//! The feature flags a portal token was issued with (`AppPortalAccessIn.featureFlags`):
//! event types behind a flag are shown only to tokens that carry it. Nullable, so the
//! previous version keeps running.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(PortalTokens::FeatureFlags).json().null().to_owned();
        manager.alter_table(Table::alter().table(PortalTokens::Table).add_column(&mut column).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(PortalTokens::Table).drop_column(PortalTokens::FeatureFlags).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PortalTokens {
    Table,
    FeatureFlags,
}
