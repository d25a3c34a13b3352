//! The hot path's foreign keys go (PostgreSQL): `messages.app_id`,
//! `deliveries.msg_id`, `deliveries.endpoint_id` and `attempts.delivery_id`.
//!
//! PostgreSQL checks a foreign key with a query it plans once per connection and
//! keeps. Planned while the parent table was empty (a fresh install, and statistics
//! never refreshed when autovacuum is off), that plan is a sequential scan, run once
//! per inserted row: 100,000 messages read 5 billion rows and ingest fell from 1,263
//! to 150 messages per second. The checks also protected nothing Herald does not
//! already guarantee: a message and its deliveries are written by one statement from
//! an application and endpoints just read; an attempt is written for a delivery just
//! loaded; and no parent row is ever deleted (applications and endpoints are
//! soft-deleted, messages and deliveries are kept). A retention job that deletes rows
//! must delete children before parents in one transaction (docs/decisions.md).
//!
//! SQLite keeps its constraints: it checks them through the parent's primary key,
//! without a planner, and dropping one there means rebuilding the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_app_id_fkey",
    "ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_msg_id_fkey",
    "ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_endpoint_id_fkey",
    "ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_delivery_id_fkey",
];

const DOWN: &[&str] = &[
    "ALTER TABLE messages ADD CONSTRAINT messages_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications (id)",
    "ALTER TABLE deliveries ADD CONSTRAINT deliveries_msg_id_fkey FOREIGN KEY (msg_id) REFERENCES messages (id)",
    "ALTER TABLE deliveries ADD CONSTRAINT deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES endpoints (id)",
    "ALTER TABLE attempts ADD CONSTRAINT attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries (id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        crate::execute_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        crate::execute_all(manager, DOWN).await
    }
}
