//! Application-level background tasks (Svix's `application.purge_content`, started by
//! `expunge-all-contents`): a task's `endpoint_id` becomes nullable.
//!
//! PostgreSQL drops the constraint in place. SQLite cannot change a column's
//! constraints, so the table is rebuilt the way its documentation prescribes: a copy
//! created from the stored definition without the `NOT NULL`, the rows copied, the old
//! table dropped and the copy renamed, its indexes created again. The table holds one
//! row per task, so this is quick.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::execute_all(manager, &["ALTER TABLE background_tasks ALTER COLUMN endpoint_id DROP NOT NULL"])
                    .await
            }
            _ => rebuild_sqlite(manager, |definition| without_not_null(definition, "endpoint_id")).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Application-level tasks cannot be kept by the previous version.
        crate::execute_all(manager, &["DELETE FROM background_tasks WHERE endpoint_id IS NULL"]).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::execute_all(manager, &["ALTER TABLE background_tasks ALTER COLUMN endpoint_id SET NOT NULL"])
                    .await
            }
            _ => rebuild_sqlite(manager, |definition| with_not_null(definition, "endpoint_id")).await,
        }
    }
}

/// Rebuilds SQLite's `background_tasks` from its stored definition changed by `change`.
async fn rebuild_sqlite(
    manager: &SchemaManager<'_>,
    change: impl Fn(&str) -> Result<Option<String>, DbErr>,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let stored = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let table = db
        .query_one(stored("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'background_tasks'"))
        .await?
        .ok_or_else(|| DbErr::Migration("background_tasks has no stored definition".into()))?
        .try_get::<String>("", "sql")?;
    let indexes: Vec<String> = db
        .query_all(stored(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'background_tasks' AND sql IS NOT NULL",
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "sql"))
        .collect::<Result<_, _>>()?;
    // SQLite migrations run outside a transaction: a process stopped between the rebuild
    // and the migration's record finds the work done, and does not redo it.
    let Some(changed) = change(&table)? else { return Ok(()) };
    let copy = changed.replacen("background_tasks", "background_tasks_rebuilt", 1);
    // One call, so every statement runs on one connection of the pool (the schema a
    // statement sees is its connection's), inside a savepoint, so a failure leaves the
    // table as it was whether or not the migrator runs in a transaction.
    let mut statements = vec![
        "SAVEPOINT rebuild_background_tasks".to_owned(),
        copy,
        "INSERT INTO background_tasks_rebuilt SELECT * FROM background_tasks".to_owned(),
        "DROP TABLE background_tasks".to_owned(),
        "ALTER TABLE background_tasks_rebuilt RENAME TO background_tasks".to_owned(),
    ];
    statements.extend(indexes);
    statements.push("RELEASE rebuild_background_tasks".to_owned());
    if let Err(error) = db.execute_unprepared(&statements.join(";\n")).await {
        // Undone, so the table is as it was and the connection holds no savepoint.
        let undo = "ROLLBACK TO rebuild_background_tasks; RELEASE rebuild_background_tasks";
        let _ = db.execute_unprepared(undo).await;
        return Err(error);
    }
    Ok(())
}

/// `definition` with `column`'s `NOT NULL` taken out; `None` when it has none.
fn without_not_null(definition: &str, column: &str) -> Result<Option<String>, DbErr> {
    let (start, end) = column_span(definition, column)?;
    let declared = &definition[start..end];
    let relaxed = declared.replacen(" NOT NULL", "", 1);
    if relaxed == declared {
        return Ok(None);
    }
    Ok(Some(format!("{}{relaxed}{}", &definition[..start], &definition[end..])))
}

/// `definition` with `NOT NULL` added to `column`; `None` when it has it.
fn with_not_null(definition: &str, column: &str) -> Result<Option<String>, DbErr> {
    let (start, end) = column_span(definition, column)?;
    if definition[start..end].contains(" NOT NULL") {
        return Ok(None);
    }
    Ok(Some(format!("{}{} NOT NULL{}", &definition[..start], &definition[start..end], &definition[end..])))
}

/// Where `column`'s declaration starts and ends (before its comma or the closing
/// parenthesis) in a `CREATE TABLE` statement.
fn column_span(definition: &str, column: &str) -> Result<(usize, usize), DbErr> {
    let start = definition
        .find(&format!("\"{column}\""))
        .ok_or_else(|| DbErr::Migration(format!("no column `{column}` in: {definition}")))?;
    let end = definition[start..].find([',', ')']).map_or(definition.len(), |offset| start + offset);
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migrator;
    use sea_orm_migration::sea_orm::Database;
    use sea_orm_migration::MigratorTrait;

    /// On a SQLite file (one database for every pooled connection): a task recorded
    /// before the rebuild survives it with its indexes, an application-level task can be
    /// written after it, and going back down drops that task and restores the constraint.
    #[tokio::test]
    async fn the_sqlite_rebuild_keeps_the_tasks_and_their_indexes() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("herald-migration-023-{}-{nanos}.db", std::process::id()));
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
        let before =
            Migrator::migrations().iter().position(|m| m.name() == "m20261208_000023_application_tasks").unwrap();
        Migrator::up(&db, Some(before as u32)).await.unwrap();
        let row = |id: &str, endpoint: &str| {
            format!(
                "INSERT INTO background_tasks (id, tenant_id, app_id, endpoint_id, task, status, since, until, total, \
                 done, created_at, updated_at) VALUES ('{id}', 't', 'a', {endpoint}, 'endpoint.recover', 'running', \
                 '2026-01-01', '2026-01-02', 1, 0, '2026-01-01', '2026-01-01')"
            )
        };
        db.execute_unprepared(&row("qtask_old", "'ep_1'")).await.unwrap();
        assert!(db.execute_unprepared(&row("qtask_app", "NULL")).await.is_err(), "NOT NULL before the migration");

        Migrator::up(&db, Some(1)).await.unwrap();
        db.execute_unprepared(&row("qtask_app", "NULL")).await.unwrap();
        let count = |sql: &'static str| {
            let db = db.clone();
            async move {
                let found =
                    db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
                found.try_get_by_index::<i64>(0).unwrap()
            }
        };
        assert_eq!(count("SELECT count(*) FROM background_tasks WHERE endpoint_id = 'ep_1'").await, 1);
        let indexes = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'background_tasks' \
                       AND name LIKE 'ix_%'";
        assert_eq!(count(indexes).await, 2, "both indexes are back");

        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(count("SELECT count(*) FROM background_tasks").await, 1, "the application-level task is gone");
        assert!(db.execute_unprepared(&row("qtask_again", "NULL")).await.is_err(), "NOT NULL again");
        drop(db);
        let _ = std::fs::remove_file(path);
    }

    const STORED: &str = r#"CREATE TABLE "background_tasks" ( "id" varchar NOT NULL PRIMARY KEY, "endpoint_id" varchar NOT NULL, "task" varchar NOT NULL )"#;

    #[test]
    fn only_the_named_column_loses_and_gets_back_its_not_null() {
        let relaxed = without_not_null(STORED, "endpoint_id").unwrap().unwrap();
        assert_eq!(
            relaxed,
            r#"CREATE TABLE "background_tasks" ( "id" varchar NOT NULL PRIMARY KEY, "endpoint_id" varchar, "task" varchar NOT NULL )"#
        );
        assert_eq!(with_not_null(&relaxed, "endpoint_id").unwrap().as_deref(), Some(STORED));
        assert_eq!(without_not_null(&relaxed, "endpoint_id").unwrap(), None, "already nullable: nothing to do");
        assert_eq!(with_not_null(STORED, "endpoint_id").unwrap(), None, "already NOT NULL: nothing to do");
        assert!(without_not_null(STORED, "missing").is_err());
    }
}
