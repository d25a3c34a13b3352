//! The unique index on a message's `eventId` holds only messages that have one.
//!
//! Most messages carry no `eventId`, and each of them cost a B-tree insertion into
//! `ux_messages_app_event_id` on the hot path for a NULL nobody looks up. Uniqueness
//! is unchanged (NULLs never collided), and a lookup by `event_id = …` implies
//! `event_id IS NOT NULL`, so the planner still uses the index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE UNIQUE INDEX ux_messages_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL",
    "DROP INDEX ux_messages_app_event_id",
];

const DOWN: &[&str] =
    &["CREATE UNIQUE INDEX ux_messages_app_event_id ON messages (app_id, event_id)", "DROP INDEX ux_messages_event_id"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, DOWN).await
    }
}
