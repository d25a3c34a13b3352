//! The database goes away and comes back. While it is away nothing is accepted (a
//! `503` with the code `unavailable`, never a `2xx`); when it is back Herald recovers
//! without a restart, and every message it accepted is delivered, including those
//! whose attempts were in flight when the database went.

use std::collections::HashSet;
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
        .configure(|s| {
            s.database_url = database_url.to_string().into();
            s.retry_schedule = "0s,1s,1s,1s,1s,1s,1s,1s".to_owned();
            s.retry_jitter = 0.0;
        })
        // Attempts whose record could not be committed are reclaimed after this.
        .configure(|s| s.reclaim_idle = Duration::from_secs(2))
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
            let deliveries =
                app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.ok()?;
            if deliveries.len() != 1 || deliveries[0].status != herald_core::DeliveryStatus::Succeeded {
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

/// How long the database is stopped under load.
const OUTAGE: Duration = Duration::from_secs(20);
/// Every ingest request is answered within this, outage or not.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// One ingest request's fate: which sender, its number, the status and how long it took.
struct Sent {
    marker: String,
    status: u16,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_stopped_under_load_every_request_is_answered_fast_and_every_202_arrives() {
    let postgres = herald_e2e::PrivatePostgres::start();
    let database_url = postgres.fresh_url();
    let app = TestApp::builder()
        .database(database_url.clone())
        .configure(|s| {
            s.retry_schedule = "0s,1s,1s,2s,2s,5s,5s,5s".to_owned();
            s.retry_jitter = 0.0;
            s.reconcile_interval = Duration::from_secs(2);
            s.reclaim_idle = Duration::from_secs(3);
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;

    let stop = tokio_util::sync::CancellationToken::new();
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..4 {
        let (client, url, key, stop) =
            (reqwest::Client::new(), app.url("/api/v1/app/acme/msg"), app.api_key.clone(), stop.clone());
        senders.spawn(async move {
            let mut sent = Vec::new();
            // Bounded: at most this many requests per sender, whatever the timing.
            for n in 0..20_000 {
                if stop.is_cancelled() {
                    break;
                }
                let marker = format!("{sender}-{n}");
                let started = std::time::Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"eventType": "order.created", "payload": {"marker": marker}}))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                let took = started.elapsed();
                let status = response.map_or(0, |response| response.status().as_u16());
                let failed = status != 202;
                sent.push(Sent { marker, status, took });
                if failed {
                    // A client backs off a little after a refusal; so does this one.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            sent
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.stop();
    tokio::time::sleep(OUTAGE).await;
    postgres.resume();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.cancel();
    let mut sent = Vec::new();
    while let Some(result) = senders.join_next().await {
        sent.extend(result.expect("a sender task"));
    }

    let slowest = sent.iter().map(|s| s.took).max().unwrap();
    let refused: Vec<&Sent> = sent.iter().filter(|s| s.status == 503).collect();
    let accepted: HashSet<&str> = sent.iter().filter(|s| s.status == 202).map(|s| s.marker.as_str()).collect();
    let other: Vec<(u16, &str)> =
        sent.iter().filter(|s| ![202, 503].contains(&s.status)).map(|s| (s.status, s.marker.as_str())).collect();
    println!(
        "{} requests: {} accepted, {} refused with 503, slowest answer {:?}",
        sent.len(),
        accepted.len(),
        refused.len(),
        slowest
    );
    assert!(other.is_empty(), "every answer is 202 or 503: {other:?}");
    assert!(!refused.is_empty(), "the outage was noticed");
    assert!(accepted.len() > refused.len(), "most requests, outside the outage, were accepted");
    for s in &sent {
        assert!(s.took <= ANSWER_WITHIN, "request {} answered {} after {:?}", s.marker, s.status, s.took);
    }

    // Everything answered 202 arrives; nothing answered 503 was stored or sent.
    let markers_arrived = || {
        receiver
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .filter_map(|body| body["marker"].as_str().map(str::to_owned))
            .collect::<HashSet<String>>()
    };
    eventually(Duration::from_secs(90), "every accepted message to arrive", || async {
        let arrived = markers_arrived();
        accepted.iter().all(|marker| arrived.contains(*marker)).then_some(())
    })
    .await;
    let arrived = markers_arrived();
    for s in &refused {
        assert!(!arrived.contains(&s.marker), "{} was refused with 503 but delivered", s.marker);
    }
    let output = Command::new("psql")
        .arg(&database_url)
        .args(["-qAt", "-c", "SELECT count(*) FROM messages"])
        .output()
        .expect("psql runs");
    let stored: usize = String::from_utf8_lossy(&output.stdout).trim().parse().expect("a count");
    assert_eq!(stored, accepted.len(), "the database holds exactly the accepted messages");
    app.stop().await;
}
