//! Herald's database migrations. They run on PostgreSQL and SQLite alike; see
//! `migrations/README.md` for the rules a new migration follows.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261123_000002_full_api;
mod m20261201_000003_delivery_engine;
mod m20261202_000004_ordered_delivery;
mod m20261202_000005_observability;
mod m20261202_000006_partial_indexes;
mod m20261202_000007_operational_outbox;
mod m20261203_000008_event_id_index;
mod m20261205_000009_secrets_and_audit;
mod m20261206_000010_hot_path_foreign_keys;
mod m20261207_000011_pull_feed;
mod m20261207_000012_receipts;
mod m20261207_000013_ingest_limits;
mod m20261207_000014_backlog_caps;
mod m20261207_000015_background_tasks;
mod m20261207_000016_task_params;
mod m20261207_000017_scheduled_messages;
mod m20261207_000018_auto_redrive;
mod m20261207_000019_one_delivery_per_endpoint;
mod m20261207_000020_portal_sessions;
mod m20261207_000021_retention;
mod m20261207_000022_event_type_groups;
mod m20261208_000023_application_tasks;
mod m20261208_000024_portal_feature_flags;

/// Runs hand-written statements in order (sea-query's index builder has no `WHERE`, so
/// partial indexes are written out; the syntax is the same on both databases). Used
/// from `m20261203_000008` on; earlier migrations keep their own copy, because a
/// migration that has landed is not edited.
async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// All of Herald's migrations, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_full_api::Migration),
            Box::new(m20261201_000003_delivery_engine::Migration),
            Box::new(m20261202_000004_ordered_delivery::Migration),
            Box::new(m20261202_000005_observability::Migration),
            Box::new(m20261202_000006_partial_indexes::Migration),
            Box::new(m20261202_000007_operational_outbox::Migration),
            Box::new(m20261203_000008_event_id_index::Migration),
            Box::new(m20261205_000009_secrets_and_audit::Migration),
            Box::new(m20261206_000010_hot_path_foreign_keys::Migration),
            Box::new(m20261207_000011_pull_feed::Migration),
            Box::new(m20261207_000012_receipts::Migration),
            Box::new(m20261207_000013_ingest_limits::Migration),
            Box::new(m20261207_000014_backlog_caps::Migration),
            Box::new(m20261207_000015_background_tasks::Migration),
            Box::new(m20261207_000016_task_params::Migration),
            Box::new(m20261207_000017_scheduled_messages::Migration),
            Box::new(m20261207_000018_auto_redrive::Migration),
            Box::new(m20261207_000019_one_delivery_per_endpoint::Migration),
            Box::new(m20261207_000020_portal_sessions::Migration),
            Box::new(m20261207_000021_retention::Migration),
            Box::new(m20261207_000022_event_type_groups::Migration),
            Box::new(m20261208_000023_application_tasks::Migration),
            Box::new(m20261208_000024_portal_feature_flags::Migration),
        ]
    }
}
