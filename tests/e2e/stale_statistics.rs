//! A process started on empty tables whose statistics are never refreshed (autovacuum
//! off for Herald's tables) accepts 100,000 messages without a plan that scans a
//! table per message. PostgreSQL plans a prepared statement, or a foreign-key check,
//! once per connection; planned on an empty table that is a sequential scan, and a
//! scan per insert grows with the table (ingest fell from 1,263 to 150 msg/s when the
//! foreign-key checks did it). The test counts the sequential scans PostgreSQL
//! reports for the hot tables; the rates per 10,000 are printed, not asserted.

use std::process::Command;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use herald_e2e::{services, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

const MESSAGES: usize = 100_000;
const HOT_TABLES: &[&str] = &["applications", "endpoints", "messages", "deliveries", "attempts"];

fn psql(url: &str, sql: &str) -> String {
    let output =
        Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]).output().expect("psql");
    assert!(output.status.success(), "psql -c {sql:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_messages_on_tables_never_analysed_scan_no_table_per_message() {
    let database_url = services::fresh_postgres_url();
    // The schema first, with autovacuum (and so automatic ANALYZE) off for the hot tables.
    let migrate = TestApp::builder().database(database_url.clone()).start().await;
    migrate.stop().await;
    for table in HOT_TABLES {
        psql(&database_url, &format!("ALTER TABLE {table} SET (autovacuum_enabled = false)"));
    }
    let app = TestApp::builder().database(database_url.clone()).start().await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let scans_before = seq_scans(&database_url);

    let started = Instant::now();
    let mut window = Instant::now();
    let mut rates = Vec::new();
    for chunk in 0..10 {
        let statuses: Vec<u16> = stream::iter(0..MESSAGES / 10)
            .map(|n| {
                let body = json!({"eventType": "order.created", "payload": {"chunk": chunk, "n": n}}).to_string();
                let app = &app;
                async move { app.request(Method::POST, "/api/v1/app/acme/msg", Some(&app.api_key), Some(&body)).await.0 }
            })
            .buffer_unordered(32)
            .collect()
            .await;
        assert!(statuses.iter().all(|status| *status == 202), "every message is accepted");
        rates.push(((MESSAGES / 10) as f64 / window.elapsed().as_secs_f64()).round());
        window = Instant::now();
    }
    eprintln!("{MESSAGES} messages in {:?}; accepted per second, by 10,000: {rates:?}", started.elapsed());

    // Backends report their statistics after a second of quiet.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let scans = seq_scans(&database_url);
    for (table, before) in &scans_before {
        let after = scans.iter().find(|(name, _)| name == table).map_or(0, |(_, count)| *count);
        // Listing and the start-up passes scan a little; a scan per message is 100,000.
        assert!(after - before < 1_000, "{table}: {} sequential scans for {MESSAGES} messages", after - before);
    }
    let stored = psql(&database_url, "SELECT count(*) FROM messages");
    assert_eq!(stored.parse::<usize>().ok(), Some(MESSAGES), "every message is stored");
    app.stop().await;
}

/// Sequential scans so far per hot table.
fn seq_scans(url: &str) -> Vec<(String, i64)> {
    let list = HOT_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(",");
    psql(url, &format!("SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname IN ({list})"))
        .lines()
        .filter_map(|line| {
            let (name, count) = line.split_once('|')?;
            Some((name.to_owned(), count.parse().ok()?))
        })
        .collect()
}
