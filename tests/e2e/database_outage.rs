//! The database goes away and comes back. While it is away nothing is accepted (a
//! `503` with the code `unavailable`, never a `2xx`); when it is back Herald recovers
//! without a restart, and every message it accepted is delivered, including those
//! whose attempts were in flight when the database went.

use std::process::Command;
use std::time::Duration;

use herald_e2e::{eventually, services, Reply, TestApp, TestReceiver};
use serde_json::json;

/// Runs `sql` on the server's maintenance database with `psql`.
fn psql(sql: &str) {
    let status = Command::new("psql")
        .arg(services::postgres_admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql -c {sql:?} failed");
}

/// The database a `postgres://…/name?…` URL names.
fn database_name(url: &str) -> &str {
    let name = url.rsplit_once('/').map_or(url, |(_, name)| name);
    name.split_once('?').map_or(name, |(name, _)| name)
}

/// Cuts the database off: no new connections, and every open one terminated. What
/// Herald sees is what a restart or a network cut shows it.
fn take_database_away(name: &str) {
    psql(&format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false"));
    psql(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
}

fn bring_database_back(name: &str) {
    psql(&format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true"));
}

#[tokio::test]
async fn nothing_is_accepted_while_the_database_is_away_and_everything_accepted_arrives_after() {
    let database_url = services::fresh_postgres_url();
    let database = database_name(&database_url).to_owned();
    let app = TestApp::builder()
        .setting("database_url", &format!("{database_url:?}"))
        .setting("retry_schedule", "\"0s,1s,1s,1s,1s,1s,1s,1s\"")
        .setting("retry_jitter", "0.0")
        // Attempts whose record could not be committed are reclaimed after this.
        .setting("reclaim_idle", "\"2s\"")
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    // Slow answers, so the database goes away while attempts are in flight.
    receiver.set_default(Reply::status(200).after(Duration::from_millis(400)));
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;

    let mut accepted = Vec::new();
    for n in 0..10 {
        let message = app.send_message("acme", "order.created", json!({"n": n})).await;
        accepted.push(message["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(10), "the first attempts to be under way", || async {
        (receiver.request_count() >= 1).then_some(())
    })
    .await;

    take_database_away(&database);
    for n in 0..10 {
        let (status, body) =
            app.post("/api/v1/app/acme/msg", &json!({"eventType": "order.created", "payload": {"away": n}})).await;
        assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")), "while the database is away: {body}");
    }
    // Longer than the pool's idle ping threshold, as an outage of any length is.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    bring_database_back(&database);
    receiver.set_default(Reply::status(200));

    // Back without a restart: the first request after the outage is accepted.
    for n in 0..10 {
        let message = app.send_message("acme", "order.created", json!({"after": n})).await;
        accepted.push(message["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(60), "every accepted message to be delivered", || async {
        for msg_id in &accepted {
            let deliveries = app.store.message_deliveries(msg_id).await.ok()?;
            if deliveries.len() != 1 || deliveries[0].status != "succeeded" {
                return None;
            }
        }
        Some(())
    })
    .await;
    let delivered = receiver.unique_webhook_ids();
    for msg_id in &accepted {
        assert!(delivered.contains(msg_id), "{msg_id} reached the receiver");
    }
    assert_eq!(delivered.len(), accepted.len(), "nothing refused during the outage was delivered");
    app.stop().await;
}
