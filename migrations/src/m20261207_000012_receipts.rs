//! Delivery receipts and endpoint keys.
//!
//! - `scoped_keys`: one table for every key that reaches a single endpoint, a polling
//!   endpoint (`sk_poll_…`) or a webhook endpoint (`sk_ep_…`); `scope_id` is that
//!   endpoint's id. The poller keys are copied over with ids `skey_…` (same body).
//!   `poller_keys` stays for the processes of the previous version still running
//!   during an upgrade (expand/contract); a later release drops it.
//! - `endpoints.receipt_window_secs`: set, the endpoint's consumer is expected to
//!   confirm each delivery it processed within that many seconds.
//! - `deliveries.receipt_expected` (the endpoint expected receipts when the delivery was
//!   created) and `deliveries.processed_at` (when the consumer confirmed it).
//! - A partial index of the deliveries still waiting for their receipt: receipts take
//!   them out, and deliveries of endpoints that expect none never enter it.
//!
//! Every addition is nullable or has a default, so the previous version keeps running
//! while this is applied.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COPY_POLLER_KEYS: &[&str] = &[
    "CREATE INDEX ix_scoped_keys_scope ON scoped_keys (scope_id, id)",
    "INSERT INTO scoped_keys (id, tenant_id, app_id, scope_id, key_hash, created_at, revoked_at) \
     SELECT 'skey_' || substr(id, 6), tenant_id, app_id, poller_id, key_hash, created_at, revoked_at FROM poller_keys",
];

/// The deliveries waiting for a receipt, per endpoint, oldest delivery first. The
/// listing and the metric repeat this predicate word for word (SQLite uses a partial
/// index only for a query whose `WHERE` implies it).
const UNCONFIRMED_INDEX: &str = "CREATE INDEX ix_deliveries_unconfirmed ON deliveries (endpoint_id, updated_at) \
     WHERE receipt_expected AND processed_at IS NULL AND status = 'succeeded'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScopedKeys::Table)
                    .col(ColumnDef::new(ScopedKeys::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(ScopedKeys::TenantId).string().not_null())
                    .col(ColumnDef::new(ScopedKeys::AppId).string().not_null())
                    .col(ColumnDef::new(ScopedKeys::ScopeId).string().not_null())
                    .col(ColumnDef::new(ScopedKeys::KeyHash).string().not_null().unique_key())
                    .col(ColumnDef::new(ScopedKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ScopedKeys::RevokedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        crate::execute_all(manager, COPY_POLLER_KEYS).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Endpoints::Table)
                    .add_column(ColumnDef::new(Endpoints::ReceiptWindowSecs).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(ColumnDef::new(Deliveries::ReceiptExpected).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(ColumnDef::new(Deliveries::ProcessedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        crate::execute_all(manager, &[UNCONFIRMED_INDEX]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &["DROP INDEX ix_deliveries_unconfirmed"]).await?;
        for column in [Deliveries::ProcessedAt, Deliveries::ReceiptExpected] {
            manager.alter_table(Table::alter().table(Deliveries::Table).drop_column(column).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(Endpoints::Table).drop_column(Endpoints::ReceiptWindowSecs).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(ScopedKeys::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    ReceiptWindowSecs,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    ReceiptExpected,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum ScopedKeys {
    Table,
    Id,
    TenantId,
    AppId,
    ScopeId,
    KeyHash,
    CreatedAt,
    RevokedAt,
}
