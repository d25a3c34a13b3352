//! Automatic redrive. `endpoints.auto_redrive` (default on) and `tenants.auto_redrive`
//! (`NULL` on, `false` off) opt out of it; `endpoints.redrive_from` is when the outage
//! that will be redriven began: set once the endpoint has been failing longer than the
//! setting `auto_redrive_after`, or when it is disabled, and cleared when the task
//! runner starts the redrive after it comes back. The new columns have defaults or are
//! nullable, so the previous version keeps running while they are added.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        let columns = [
            (Endpoints::Table, ColumnDef::new(Endpoints::AutoRedrive).boolean().not_null().default(true).to_owned()),
            (Endpoints::Table, ColumnDef::new(Endpoints::RedriveFrom).timestamp_with_time_zone().null().to_owned()),
            (Endpoints::Tenants, ColumnDef::new(Endpoints::AutoRedrive).boolean().null().to_owned()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (Endpoints::Table, Endpoints::AutoRedrive),
            (Endpoints::Table, Endpoints::RedriveFrom),
            (Endpoints::Tenants, Endpoints::AutoRedrive),
        ] {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    /// The `tenants` table, which takes `auto_redrive` too.
    Tenants,
    AutoRedrive,
    RedriveFrom,
}
