//! `portal_tokens.session_id`: the `sessionId` a portal token was issued with, so
//! `POST /api/v1/auth/app/{app_id}/expire-all` can expire one session's tokens.
//! Nullable, so the previous version keeps running while it is added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PortalTokens::Table)
                    .add_column(ColumnDef::new(PortalTokens::SessionId).string_len(256).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(PortalTokens::Table).drop_column(PortalTokens::SessionId).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PortalTokens {
    Table,
    SessionId,
}
