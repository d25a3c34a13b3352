//! Ordered delivery: an endpoint may ask for the messages of one ordering key to
//! arrive strictly one after another.
//!
//! - `endpoints.ordered`: the endpoint's opt-in (default off).
//! - `messages.ordering_key`: the key the producer gave, if any.
//! - `deliveries.ordering_key`, `deliveries.sequence`: set on deliveries to an ordered
//!   endpoint; the sequence counts that key's deliveries to that endpoint from 1.
//! - `ordering_keys`: the last sequence handed out per endpoint and key. Its row is
//!   also the lock that orders "a new message joins the key" against "the key's head
//!   finished, release the next".
//!
//! Expand only: the new columns are nullable or defaulted, so the previous version
//! keeps running against this schema (it delivers every message unordered).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite accepts one change per `ALTER TABLE`, so each column is its own statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Endpoints::Table)
                    .add_column(ColumnDef::new(Endpoints::Ordered).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(ColumnDef::new(Messages::OrderingKey).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(ColumnDef::new(Deliveries::OrderingKey).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(ColumnDef::new(Deliveries::Sequence).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderingKeys::Table)
                    .col(ColumnDef::new(OrderingKeys::EndpointId).string().not_null())
                    .col(ColumnDef::new(OrderingKeys::OrderingKey).string().not_null())
                    .col(ColumnDef::new(OrderingKeys::LastSequence).big_integer().not_null())
                    .primary_key(Index::create().col(OrderingKeys::EndpointId).col(OrderingKeys::OrderingKey))
                    .to_owned(),
            )
            .await?;
        // "Is anything of this key still pending?" and "which held delivery is next?"
        // read only the key's pending rows, however long its history.
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_ordering")
                    .table(Deliveries::Table)
                    .col(Deliveries::EndpointId)
                    .col(Deliveries::OrderingKey)
                    .col(Deliveries::Status)
                    .col(Deliveries::Sequence)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_deliveries_ordering").table(Deliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OrderingKeys::Table).to_owned()).await?;
        for column in [Deliveries::Sequence, Deliveries::OrderingKey] {
            manager.alter_table(Table::alter().table(Deliveries::Table).drop_column(column).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(Messages::Table).drop_column(Messages::OrderingKey).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Endpoints::Table).drop_column(Endpoints::Ordered).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Endpoints {
    Table,
    Ordered,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    OrderingKey,
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    EndpointId,
    Status,
    OrderingKey,
    Sequence,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderingKeys {
    Table,
    EndpointId,
    OrderingKey,
    LastSequence,
}
