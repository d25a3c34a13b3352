//! Partial indexes: index only the rows a query looks for.
//!
//! Almost every delivery succeeds at once, so an index over all deliveries or all
//! attempts is mostly rows nobody asks it for, and each costs a B-tree insertion on
//! the hot path (a delivery is inserted, then updated to its final state; neither
//! update is HOT, because `status` is indexed). These indexes now hold only:
//!
//! - `ix_deliveries_pending_due`: pending deliveries by due time (the reconciler);
//!   replaces `ix_deliveries_due (status, next_attempt_at)`.
//! - `ix_deliveries_dead`: dead letters by tenant and application (the overview,
//!   `/metrics`); replaces `ix_deliveries_status_tenant (status, tenant_id, app_id)`.
//! - `ix_attempts_failed`: failed attempts by tenant and time (the overview and
//!   `failed_since`); replaces `ix_attempts_tenant_created`.
//! - `ix_deliveries_keyed`: only deliveries with an ordering key; replaces
//!   `ix_deliveries_ordering`.
//!
//! A query served by one of them must spell its condition in the SQL text (see
//! `herald_store::conditions`): a bound parameter does not prove it to the planner.
//! The syntax is the same on PostgreSQL and SQLite; sea-query's index builder has no
//! `WHERE`, so the statements are written out.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX ix_deliveries_pending_due ON deliveries (next_attempt_at) WHERE status = 'pending'",
    "DROP INDEX ix_deliveries_due",
    "CREATE INDEX ix_deliveries_dead ON deliveries (tenant_id, app_id) WHERE status = 'failed'",
    "DROP INDEX ix_deliveries_status_tenant",
    "CREATE INDEX ix_attempts_failed ON attempts (tenant_id, created_at, app_id, delivery_id, msg_id) WHERE status = 2",
    "DROP INDEX ix_attempts_tenant_created",
    "CREATE INDEX ix_deliveries_keyed ON deliveries (endpoint_id, ordering_key, status, sequence) \
     WHERE ordering_key IS NOT NULL",
    "DROP INDEX ix_deliveries_ordering",
];

const DOWN: &[&str] = &[
    "CREATE INDEX ix_deliveries_ordering ON deliveries (endpoint_id, ordering_key, status, sequence)",
    "DROP INDEX ix_deliveries_keyed",
    "CREATE INDEX ix_attempts_tenant_created ON attempts (tenant_id, created_at, status, app_id, delivery_id)",
    "DROP INDEX ix_attempts_failed",
    "CREATE INDEX ix_deliveries_status_tenant ON deliveries (status, tenant_id, app_id)",
    "DROP INDEX ix_deliveries_dead",
    "CREATE INDEX ix_deliveries_due ON deliveries (status, next_attempt_at)",
    "DROP INDEX ix_deliveries_pending_due",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
