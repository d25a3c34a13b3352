//! The pull path: an append-only feed per application, polling endpoints and their
//! consumers' cursors.
//!
//! - `messages.feed_seq`: the message's place in its application's feed, 1, 2, 3, …
//!   in the order the messages were *committed* (ids sort by creation time, which is
//!   not the order transactions commit in, so a reader keyed on ids could step past a
//!   message that commits a moment later and never see it). Existing messages are
//!   numbered in id order. `ux_messages_feed` (app, feed_seq) serves every read.
//! - `message_feeds`: each application's last number. A message write takes the next
//!   numbers with an upsert that holds the row until its transaction commits, so two
//!   writers to one application number in commit order.
//! - `pollers`: polling endpoints (`poll_…`), filtered like webhook endpoints.
//! - `poller_consumers`: a consumer's committed position in a poller's feed.
//! - `poller_keys`: keys that read one poller and nothing else (stored hashed).
//!
//! New tables and a column the previous version never reads. A process of the
//! previous version would write messages without a number (refused on PostgreSQL,
//! where the column is `NOT NULL`), so an upgrade stops the old processes before the
//! new ones start (docs/operations.md, "Upgrades").

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Numbers the messages already written, per application, in id order; then each
/// application's last number.
const BACKFILL: &[&str] = &[
    "UPDATE messages SET feed_seq = numbered.seq FROM \
     (SELECT id, row_number() OVER (PARTITION BY app_id ORDER BY id) AS seq FROM messages) AS numbered \
     WHERE messages.id = numbered.id",
    "INSERT INTO message_feeds (app_id, last_seq) SELECT app_id, MAX(feed_seq) FROM messages GROUP BY app_id",
    "CREATE UNIQUE INDEX ux_messages_feed ON messages (app_id, feed_seq)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(ColumnDef::new(Messages::FeedSeq).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MessageFeeds::Table)
                    .col(ColumnDef::new(MessageFeeds::AppId).string().not_null().primary_key())
                    .col(ColumnDef::new(MessageFeeds::LastSeq).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        crate::execute_all(manager, BACKFILL).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            crate::execute_all(manager, &["ALTER TABLE messages ALTER COLUMN feed_seq SET NOT NULL"]).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Pollers::Table)
                    .col(ColumnDef::new(Pollers::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Pollers::TenantId).string().not_null())
                    .col(ColumnDef::new(Pollers::AppId).string().not_null())
                    .col(ColumnDef::new(Pollers::Uid).string().null())
                    .col(ColumnDef::new(Pollers::Description).text().not_null())
                    .col(ColumnDef::new(Pollers::FilterTypes).json().null())
                    .col(ColumnDef::new(Pollers::Channels).json().null())
                    .col(ColumnDef::new(Pollers::Metadata).json().not_null())
                    .col(ColumnDef::new(Pollers::Disabled).boolean().not_null())
                    .col(ColumnDef::new(Pollers::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Pollers::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Pollers::DeletedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        crate::execute_all(
            manager,
            &[
                "CREATE INDEX ix_pollers_app ON pollers (app_id, id)",
                "CREATE UNIQUE INDEX ux_pollers_app_uid ON pollers (app_id, uid) WHERE uid IS NOT NULL",
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(PollerConsumers::Table)
                    .col(ColumnDef::new(PollerConsumers::PollerId).string().not_null())
                    .col(ColumnDef::new(PollerConsumers::ConsumerId).string().not_null())
                    .col(ColumnDef::new(PollerConsumers::Position).big_integer().not_null())
                    .col(ColumnDef::new(PollerConsumers::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PollerConsumers::UpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(PollerConsumers::PollerId).col(PollerConsumers::ConsumerId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PollerKeys::Table)
                    .col(ColumnDef::new(PollerKeys::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(PollerKeys::TenantId).string().not_null())
                    .col(ColumnDef::new(PollerKeys::AppId).string().not_null())
                    .col(ColumnDef::new(PollerKeys::PollerId).string().not_null())
                    .col(ColumnDef::new(PollerKeys::KeyHash).string().not_null().unique_key())
                    .col(ColumnDef::new(PollerKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PollerKeys::RevokedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        crate::execute_all(manager, &["CREATE INDEX ix_poller_keys_poller ON poller_keys (poller_id, id)"]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PollerKeys::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PollerConsumers::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Pollers::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(MessageFeeds::Table).to_owned()).await?;
        crate::execute_all(manager, &["DROP INDEX ux_messages_feed"]).await?;
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::FeedSeq).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    FeedSeq,
}

#[derive(DeriveIden)]
enum MessageFeeds {
    Table,
    AppId,
    LastSeq,
}

#[derive(DeriveIden)]
enum Pollers {
    Table,
    Id,
    TenantId,
    AppId,
    Uid,
    Description,
    FilterTypes,
    Channels,
    Metadata,
    Disabled,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum PollerConsumers {
    Table,
    PollerId,
    ConsumerId,
    Position,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PollerKeys {
    Table,
    Id,
    TenantId,
    AppId,
    PollerId,
    KeyHash,
    CreatedAt,
    RevokedAt,
}
