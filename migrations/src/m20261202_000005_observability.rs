//! Observability.
//!
//! - `messages.trace_context`: the W3C `traceparent` of the request that created the
//!   message, so its attempts, made later by any worker, join the same trace.
//! - Indexes for the operator's counts: a tenant's deliveries in a time window by
//!   application and state (the overview), and dead letters by tenant and application
//!   (the overview and `/metrics`), and a tenant's failed attempts in a window by
//!   application. Each covers its query, so PostgreSQL answers from the index alone.
//!
//! Expand only: the previous version neither reads nor writes the new column.

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
                    .add_column(ColumnDef::new(Messages::TraceContext).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_tenant_created")
                    .table(Deliveries::Table)
                    .col(Deliveries::TenantId)
                    .col(Deliveries::CreatedAt)
                    .col(Deliveries::AppId)
                    .col(Deliveries::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attempts_tenant_created")
                    .table(Attempts::Table)
                    .col(Attempts::TenantId)
                    .col(Attempts::CreatedAt)
                    .col(Attempts::Status)
                    .col(Attempts::AppId)
                    .col(Attempts::DeliveryId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_status_tenant")
                    .table(Deliveries::Table)
                    .col(Deliveries::Status)
                    .col(Deliveries::TenantId)
                    .col(Deliveries::AppId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_attempts_tenant_created").table(Attempts::Table).to_owned()).await?;
        for name in ["ix_deliveries_status_tenant", "ix_deliveries_tenant_created"] {
            manager.drop_index(Index::drop().name(name).table(Deliveries::Table).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(Messages::Table).drop_column(Messages::TraceContext).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    TenantId,
    AppId,
    Status,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    TraceContext,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    TenantId,
    AppId,
    DeliveryId,
    Status,
    CreatedAt,
}
