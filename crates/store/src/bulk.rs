//! PostgreSQL's batch statements (one statement text whatever the batch size) and
//! its connection pool.
//!
//! A multi-row `INSERT … VALUES (…), (…)` or an `IN (…)` list built for each batch has
//! a new text for every batch size, so PostgreSQL parses, analyses and plans it again
//! nearly every time. Here each column travels as one array parameter and `unnest`
//! turns the arrays back into rows: the text never changes, sqlx prepares it once per
//! connection, and PostgreSQL keeps its plan. The moves of a batch's deliveries are one
//! `UPDATE … FROM unnest(…)` joined on the primary key, whatever their states and due
//! times, where the sea-orm form needs one `UPDATE` per distinct move (see
//! docs/benchmarks.md for what this saved).
//!
//! SQLite has no arrays; it keeps the sea-orm statements. Callers choose this path
//! only when [`Store::kind`](crate::Store::kind) is PostgreSQL. The column lists are
//! written out here, so a new column must be added here too; the tests in
//! `crates/store/tests/bulk.rs` read every row back through its entity and compare.

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _, PgExecutor};
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, QueryResult, RuntimeErr, SqlxPostgresConnector};

use crate::attempts::NewAttempt;
use crate::deliveries::AttemptRecord;
use crate::entity::{delivery, endpoint, message};

/// Messages and their deliveries, in one statement (so its own transaction). Each
/// message takes the next number of its application's feed (`crate::feed`): the
/// upsert of `message_feeds` holds each application's row until the statement
/// commits, and takes the rows in application order, so two batches never wait on
/// each other in a circle. The foreign key from a delivery to its message is checked
/// at the end of the statement, when the message is there. Answers each message's id
/// and feed number.
const INSERT_MESSAGES: &str = "\
WITH m AS (
    SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::bool[], $12::varchar[],
                         $13::varchar[], $29::timestamptz[], $30::timestamptz[], $31::timestamptz[])
        WITH ORDINALITY
        AS m (id, tenant_id, app_id, event_type, event_id, payload, channels, created_at,
              tags, schema_violations, payload_expunged, ordering_key, trace_context, deliver_at,
              payload_expires_at, expires_at, ord)
), counts AS (
    SELECT app_id, count(*) AS n FROM m GROUP BY app_id
), feeds AS (
    INSERT INTO message_feeds (app_id, last_seq)
    SELECT app_id, n FROM counts ORDER BY app_id
    ON CONFLICT (app_id) DO UPDATE SET last_seq = message_feeds.last_seq + excluded.last_seq
    RETURNING app_id, last_seq
), new_messages AS (
    INSERT INTO messages (id, tenant_id, app_id, event_type, event_id, payload, channels, created_at,
                          tags, schema_violations, payload_expunged, ordering_key, trace_context, deliver_at,
                          payload_expires_at, expires_at, feed_seq)
    SELECT m.id, m.tenant_id, m.app_id, m.event_type, m.event_id, m.payload, m.channels::json, m.created_at,
           m.tags::json, m.schema_violations::json, m.payload_expunged, m.ordering_key, m.trace_context, m.deliver_at,
           m.payload_expires_at, m.expires_at, f.last_seq - c.n + row_number() OVER (PARTITION BY m.app_id ORDER BY m.ord)
    FROM m JOIN feeds f ON f.app_id = m.app_id JOIN counts c ON c.app_id = m.app_id
    RETURNING id, feed_seq
), new_deliveries AS (
    INSERT INTO deliveries (id, tenant_id, app_id, msg_id, endpoint_id, status, attempt_count, next_attempt_at,
                            created_at, updated_at, cycle_start, next_trigger, ordering_key, sequence,
                            receipt_expected)
    SELECT * FROM unnest($14::varchar[], $15::varchar[], $16::varchar[], $17::varchar[], $18::varchar[],
                         $19::text[], $20::int[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[],
                         $24::int[], $25::smallint[], $26::varchar[], $27::bigint[], $28::bool[])
)
SELECT id, feed_seq FROM new_messages";

/// Attempts, their deliveries' moves and the end of their endpoints' failure streaks,
/// in one statement. A delivery moves only if it is still pending (`was`) with the
/// expected attempt count. `was` is a column of the moves, not a literal: with
/// `d.status = 'pending'` the planner prefers the partial index of pending deliveries,
/// whose dead entries pile up between vacuums (a bitmap of 20,000 entries to find 60
/// rows); with the column it joins on the primary key.
const RECORD_ATTEMPTS: &str = "\
WITH new_attempts AS (
    INSERT INTO attempts (id, tenant_id, app_id, msg_id, endpoint_id, delivery_id, attempt_number, url, status,
                          outcome_class, response_status_code, response, response_duration_ms, trigger_type,
                          next_attempt_at, created_at, request_headers, response_headers)
    SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[],
                         $6::varchar[], $7::int[], $8::text[], $9::smallint[], $10::text[], $11::smallint[],
                         $12::text[], $13::bigint[], $14::smallint[], $15::timestamptz[], $16::timestamptz[],
                         $17::text[], $18::text[])
), moved AS (
    UPDATE deliveries AS d
    SET status = m.status, attempt_count = m.expected + 1, next_attempt_at = m.next_attempt_at,
        next_trigger = 0, updated_at = m.updated_at
    FROM unnest($19::varchar[], $20::text[], $21::int[], $22::timestamptz[], $23::timestamptz[], $24::text[])
        AS m (id, status, expected, next_attempt_at, updated_at, was)
    WHERE d.id = m.id AND d.status = m.was AND d.attempt_count = m.expected
)
UPDATE endpoints SET failing_since = NULL WHERE id = ANY($25::varchar[]) AND failing_since IS NOT NULL";

const SELECT_DELIVERIES: &str = "SELECT * FROM deliveries WHERE id = ANY($1::varchar[])";
const SELECT_MESSAGES: &str = "SELECT * FROM messages WHERE id = ANY($1::varchar[])";
const SELECT_ENDPOINTS: &str = "SELECT * FROM endpoints WHERE id = ANY($1::varchar[]) AND deleted_at IS NULL";

/// One column of `rows` as an array parameter.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

fn json_text<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(|value| serde_json::to_string(value).expect("a JSON value serializes"))
}

/// Every statement is planned for its own execution, never from a generic plan
/// PostgreSQL cached earlier on the connection. A generic plan made while a table was
/// empty (a fresh install; statistics never refreshed when autovacuum is off) is a
/// sequential scan, and PostgreSQL keeps using it as the table grows: one scan of
/// `deliveries` per attempt batch. A custom plan sees the table's current size even
/// without statistics. The price is planning each execution, a fraction of a
/// millisecond for these statements (docs/benchmarks.md).
const CUSTOM_PLANS: (&str, &str) = ("plan_cache_mode", "force_custom_plan");

/// A connection idle this long is pinged before it is handed out.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The PostgreSQL pool, built here rather than by sea-orm to choose when connections
/// are tested. sqlx pings a connection when it goes back to the pool; by default it
/// pings it again when it is taken out, one more round trip for every statement.
/// Here only a connection that sat idle for [`PING_AFTER_IDLE`] is pinged first (one
/// in steady use was pinged when it was last released), so a database that restarted
/// while Herald was quiet is noticed before a request is sent.
pub(crate) async fn connect(url: &str, shape: crate::PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let options: PgConnectOptions = url.parse().map_err(db_err)?;
    let pool = PgPoolOptions::new()
        .max_connections(shape.max_connections)
        .min_connections(1)
        .acquire_timeout(shape.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        // Plan every execution from the tables as they are now (see `CUSTOM_PLANS`).
        .connect_with(options.options([CUSTOM_PLANS]).disable_statement_logging())
        .await
        .map_err(|error| DbErr::Conn(RuntimeErr::SqlxError(error)))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// sqlx's errors as sea-orm's, so the store's error mapping (conflicts, refused
/// values, a database gone away) applies to both paths alike.
pub(crate) fn db_err(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(error))
}

/// Writes `messages` and `deliveries` and sets each message's `feed_seq` to the number
/// it took.
pub(crate) async fn insert_messages(
    executor: impl PgExecutor<'_>,
    messages: &mut [&mut message::Model],
    deliveries: &[&delivery::Model],
) -> Result<(), DbErr> {
    let numbered: Vec<(String, i64)> = sqlx::query_as(INSERT_MESSAGES)
        .bind(column(messages, |m| m.id.to_string()))
        .bind(column(messages, |m| m.tenant_id.to_string()))
        .bind(column(messages, |m| m.app_id.to_string()))
        .bind(column(messages, |m| m.event_type.clone()))
        .bind(column(messages, |m| m.event_id.clone()))
        .bind(column(messages, |m| m.payload.clone()))
        .bind(column(messages, |m| json_text(&m.channels)))
        .bind(column(messages, |m| m.created_at))
        .bind(column(messages, |m| json_text(&m.tags)))
        .bind(column(messages, |m| json_text(&m.schema_violations)))
        .bind(column(messages, |m| m.payload_expunged))
        .bind(column(messages, |m| m.ordering_key.clone()))
        .bind(column(messages, |m| m.trace_context.clone()))
        .bind(column(deliveries, |d| d.id.to_string()))
        .bind(column(deliveries, |d| d.tenant_id.to_string()))
        .bind(column(deliveries, |d| d.app_id.to_string()))
        .bind(column(deliveries, |d| d.msg_id.to_string()))
        .bind(column(deliveries, |d| d.endpoint_id.to_string()))
        .bind(column(deliveries, |d| d.status.to_string()))
        .bind(column(deliveries, |d| d.attempt_count))
        .bind(column(deliveries, |d| d.next_attempt_at))
        .bind(column(deliveries, |d| d.created_at))
        .bind(column(deliveries, |d| d.updated_at))
        .bind(column(deliveries, |d| d.cycle_start))
        .bind(column(deliveries, |d| d.next_trigger))
        .bind(column(deliveries, |d| d.ordering_key.clone()))
        .bind(column(deliveries, |d| d.sequence))
        .bind(column(deliveries, |d| d.receipt_expected))
        .bind(column(messages, |m| m.deliver_at))
        .bind(column(messages, |m| m.payload_expires_at))
        .bind(column(messages, |m| m.expires_at))
        .fetch_all(executor)
        .await
        .map_err(db_err)?;
    let numbers: std::collections::HashMap<String, i64> = numbered.into_iter().collect();
    for message in messages.iter_mut() {
        message.feed_seq = *numbers.get(message.id.as_str()).ok_or_else(|| {
            DbErr::Custom(format!("the message insert did not number message {}", message.id.as_str()))
        })?;
    }
    Ok(())
}

/// Records attempts and moves their deliveries (see [`RECORD_ATTEMPTS`]); ends the
/// failure streak of `succeeded_endpoints`.
pub(crate) async fn record_attempts(
    executor: impl PgExecutor<'_>,
    records: &[AttemptRecord],
    succeeded_endpoints: Vec<String>,
) -> Result<(), DbErr> {
    let attempts: Vec<&NewAttempt> = records.iter().map(|record| &record.attempt).collect();
    sqlx::query(RECORD_ATTEMPTS)
        .bind(column(&attempts, |a| a.id.as_str().to_owned()))
        .bind(column(&attempts, |a| a.tenant_id.to_string()))
        .bind(column(&attempts, |a| a.app_id.to_string()))
        .bind(column(&attempts, |a| a.msg_id.to_string()))
        .bind(column(&attempts, |a| a.endpoint_id.to_string()))
        .bind(column(&attempts, |a| a.delivery_id.to_string()))
        .bind(column(&attempts, |a| a.attempt_number))
        .bind(column(&attempts, |a| a.url.clone()))
        .bind(column(&attempts, |a| a.status))
        .bind(column(&attempts, |a| a.outcome_class.clone()))
        .bind(column(&attempts, |a| a.response_status_code))
        .bind(column(&attempts, |a| a.response.clone()))
        .bind(column(&attempts, |a| a.response_duration_ms))
        .bind(column(&attempts, |a| a.trigger_type))
        .bind(column(&attempts, |a| a.next_attempt_at))
        .bind(column(&attempts, |a| a.created_at))
        .bind(column(&attempts, |a| a.request_headers.clone()))
        .bind(column(&attempts, |a| a.response_headers.clone()))
        .bind(column(records, |r| r.attempt.delivery_id.to_string()))
        .bind(column(records, |r| r.transition.status().as_str()))
        .bind(column(records, |r| r.expected_attempt_count))
        .bind(column(records, |r| r.transition.next_attempt_at()))
        .bind(column(records, |r| r.attempt.created_at))
        .bind(column(records, |_| herald_core::DeliveryStatus::Pending.as_str()))
        .bind(succeeded_endpoints)
        .execute(executor)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn select_by_ids<M: FromQueryResult>(
    executor: impl PgExecutor<'_>,
    sql: &'static str,
    ids: Vec<String>,
) -> Result<Vec<M>, DbErr> {
    let rows = sqlx::query(sql).bind(ids).fetch_all(executor).await.map_err(db_err)?;
    rows.into_iter().map(|row| M::from_query_result(&QueryResult::from(row), "")).collect()
}

pub(crate) async fn deliveries_by_id(
    executor: impl PgExecutor<'_>,
    ids: Vec<String>,
) -> Result<Vec<delivery::Model>, DbErr> {
    select_by_ids(executor, SELECT_DELIVERIES, ids).await
}

pub(crate) async fn messages_by_id(
    executor: impl PgExecutor<'_>,
    ids: Vec<String>,
) -> Result<Vec<message::Model>, DbErr> {
    select_by_ids(executor, SELECT_MESSAGES, ids).await
}

/// Endpoints not deleted, by id.
pub(crate) async fn live_endpoints_by_id(
    executor: impl PgExecutor<'_>,
    ids: Vec<String>,
) -> Result<Vec<endpoint::Model>, DbErr> {
    select_by_ids(executor, SELECT_ENDPOINTS, ids).await
}
