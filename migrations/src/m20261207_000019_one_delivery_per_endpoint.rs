//! At most one delivery of a message to an endpoint, enforced: a unique index on
//! `deliveries (msg_id, endpoint_id)` in place of the plain `ix_deliveries_msg` (whose
//! lookups it serves as well, so writes maintain no more than before). Two writers that
//! both find no delivery — a resend and a replay-missing batch, each uncommitted when the
//! other looked — can then no longer both create one.
//!
//! Herald has always created one delivery per message and endpoint, so existing rows
//! satisfy it. On PostgreSQL the index is built inside the migration's transaction and
//! holds writes to `deliveries` while it builds (docs/operations.md, upgrades).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ux_deliveries_msg_endpoint")
                    .table(Deliveries::Table)
                    .col(Deliveries::MsgId)
                    .col(Deliveries::EndpointId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("ix_deliveries_msg").table(Deliveries::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name("ix_deliveries_msg").table(Deliveries::Table).col(Deliveries::MsgId).to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("ux_deliveries_msg_endpoint").table(Deliveries::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    MsgId,
    EndpointId,
}
