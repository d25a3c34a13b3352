//! Secrets at rest and the audit log.
//!
//! - `maintenance_passes`: one row per one-time data pass that has finished. The first
//!   start after this migration seals every plain endpoint secret, previous secret and
//!   custom header value and every stored idempotent answer (the store's sealing pass,
//!   which needs the key and so cannot run inside a migration), then records
//!   `seal_plain_secrets` here so later starts skip it.
//! - `endpoints.signing_key`: the sealed ed25519 private key of an endpoint that opted
//!   into asymmetric signatures (`v1a`); `NULL` for HMAC-only endpoints.
//! - `audit_log`: every management action, with its actor, target and outcome,
//!   written in the transaction of the change.
//!
//! Expand only: new tables and a nullable column the previous version never reads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MaintenancePasses::Table)
                    .col(ColumnDef::new(MaintenancePasses::Name).string().not_null().primary_key())
                    .col(ColumnDef::new(MaintenancePasses::FinishedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Endpoints::Table)
                    .add_column(ColumnDef::new(Endpoints::SigningKey).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(ColumnDef::new(AuditLog::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(AuditLog::TenantId).string().null())
                    .col(ColumnDef::new(AuditLog::ActorKind).string().not_null())
                    .col(ColumnDef::new(AuditLog::ActorId).string().not_null())
                    .col(ColumnDef::new(AuditLog::Action).string().not_null())
                    .col(ColumnDef::new(AuditLog::TargetKind).string().not_null())
                    .col(ColumnDef::new(AuditLog::TargetId).string().not_null())
                    .col(ColumnDef::new(AuditLog::Outcome).string().not_null())
                    .col(ColumnDef::new(AuditLog::Detail).json().not_null())
                    .col(ColumnDef::new(AuditLog::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_tenant_id")
                    .table(AuditLog::Table)
                    .col(AuditLog::TenantId)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditLog::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Endpoints::Table).drop_column(Endpoints::SigningKey).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(MaintenancePasses::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum MaintenancePasses {
    Table,
    Name,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    SigningKey,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    ActorKind,
    ActorId,
    Action,
    TargetKind,
    TargetId,
    Outcome,
    Detail,
    CreatedAt,
}
