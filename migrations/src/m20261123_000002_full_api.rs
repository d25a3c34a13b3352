//! The full `/api/v1`: soft deletion of applications and endpoints, secret rotation,
//! message tags and schema findings, `eventId` uniqueness, manual retry cycles on
//! deliveries, per-tenant schema validation, idempotency keys and portal tokens.
//!
//! Expand only: every new column is nullable or has a default, so the previous
//! version keeps running against this schema.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SQLite accepts one change per `ALTER TABLE`, so each column is its own statement.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    column: ColumnDef,
) -> Result<(), DbErr> {
    let mut column = column;
    manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await
}

fn nullable_timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            Tenants::Table,
            ColumnDef::new(Tenants::SchemaValidation).text().not_null().default("accept").to_owned(),
        )
        .await?;
        add_column(manager, Applications::Table, nullable_timestamp(Applications::DeletedAt)).await?;
        add_column(manager, Endpoints::Table, nullable_timestamp(Endpoints::DeletedAt)).await?;
        add_column(manager, Endpoints::Table, ColumnDef::new(Endpoints::PreviousSecret).text().null().to_owned())
            .await?;
        add_column(manager, Endpoints::Table, nullable_timestamp(Endpoints::PreviousSecretExpiresAt)).await?;
        add_column(manager, Messages::Table, ColumnDef::new(Messages::Tags).json().null().to_owned()).await?;
        add_column(manager, Messages::Table, ColumnDef::new(Messages::SchemaViolations).json().null().to_owned())
            .await?;
        add_column(
            manager,
            Messages::Table,
            ColumnDef::new(Messages::PayloadExpunged).boolean().not_null().default(false).to_owned(),
        )
        .await?;
        add_column(
            manager,
            Deliveries::Table,
            ColumnDef::new(Deliveries::CycleStart).integer().not_null().default(0).to_owned(),
        )
        .await?;
        add_column(
            manager,
            Deliveries::Table,
            ColumnDef::new(Deliveries::NextTrigger).small_integer().not_null().default(0).to_owned(),
        )
        .await?;

        manager
            .create_index(
                Index::create()
                    .name("ux_messages_app_event_id")
                    .table(Messages::Table)
                    .col(Messages::AppId)
                    .col(Messages::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_endpoint_id")
                    .table(Deliveries::Table)
                    .col(Deliveries::EndpointId)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::TenantId).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Key).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Request).text().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::ResponseStatus).small_integer().null())
                    .col(ColumnDef::new(IdempotencyKeys::ResponseBody).text().null())
                    .col(ColumnDef::new(IdempotencyKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(IdempotencyKeys::TenantId).col(IdempotencyKeys::Key))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_created")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PortalTokens::Table)
                    .col(ColumnDef::new(PortalTokens::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(PortalTokens::TenantId).string().not_null())
                    .col(ColumnDef::new(PortalTokens::AppId).string().not_null())
                    .col(ColumnDef::new(PortalTokens::TokenHash).text().not_null())
                    .col(ColumnDef::new(PortalTokens::ReadOnly).boolean().not_null().default(false))
                    .col(ColumnDef::new(PortalTokens::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(nullable_timestamp(PortalTokens::RevokedAt))
                    .col(ColumnDef::new(PortalTokens::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_portal_tokens_hash")
                    .table(PortalTokens::Table)
                    .col(PortalTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PortalTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_deliveries_endpoint_id").table(Deliveries::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ux_messages_app_event_id").table(Messages::Table).to_owned()).await?;
        let columns: [(DynIden, DynIden); 10] = [
            (Tenants::Table.into_iden(), Tenants::SchemaValidation.into_iden()),
            (Applications::Table.into_iden(), Applications::DeletedAt.into_iden()),
            (Endpoints::Table.into_iden(), Endpoints::DeletedAt.into_iden()),
            (Endpoints::Table.into_iden(), Endpoints::PreviousSecret.into_iden()),
            (Endpoints::Table.into_iden(), Endpoints::PreviousSecretExpiresAt.into_iden()),
            (Messages::Table.into_iden(), Messages::Tags.into_iden()),
            (Messages::Table.into_iden(), Messages::SchemaViolations.into_iden()),
            (Messages::Table.into_iden(), Messages::PayloadExpunged.into_iden()),
            (Deliveries::Table.into_iden(), Deliveries::CycleStart.into_iden()),
            (Deliveries::Table.into_iden(), Deliveries::NextTrigger.into_iden()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    SchemaValidation,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Endpoints {
    Table,
    DeletedAt,
    PreviousSecret,
    PreviousSecretExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    AppId,
    EventId,
    Tags,
    SchemaViolations,
    PayloadExpunged,
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    Id,
    EndpointId,
    CycleStart,
    NextTrigger,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    TenantId,
    Key,
    Request,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PortalTokens {
    Table,
    Id,
    TenantId,
    AppId,
    TokenHash,
    ReadOnly,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}
