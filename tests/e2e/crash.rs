//! The binary under abuse: `kill -9` mid-delivery, SIGTERM mid-delivery, restarts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_e2e::process::Installation;
use herald_e2e::{eventually, HeraldProcess, Reply, TestReceiver};
use herald_store::Store;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

async fn post(client: &reqwest::Client, herald: &HeraldProcess, key: &str, path: &str, body: Value) -> Value {
    let response = client.post(herald.url(path)).bearer_auth(key).json(&body).send().await.expect("the API answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON answer");
    assert!(matches!(status, 201 | 202), "{path} answered {status}: {body}");
    body
}

/// Sends `count` messages, `parallel` at a time, and returns the accepted ids.
async fn send_messages(herald: &HeraldProcess, key: &str, count: usize, parallel: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let gate = Arc::new(Semaphore::new(parallel));
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..count {
        let (client, gate, key, url) =
            (client.clone(), gate.clone(), key.to_owned(), herald.url("/api/v1/app/acme/msg"));
        sends.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore");
            let body = json!({"eventType": "order.created", "payload": {"n": n}});
            let response = client.post(url).bearer_auth(key).json(&body).send().await.expect("the API answers");
            assert_eq!(response.status().as_u16(), 202, "message {n} accepted");
            let message: Value = response.json().await.expect("JSON");
            message["id"].as_str().expect("an id").to_owned()
        });
    }
    let mut ids = Vec::with_capacity(count);
    while let Some(id) = sends.join_next().await {
        ids.push(id.expect("send task"));
    }
    ids
}

async fn set_up(herald: &HeraldProcess, key: &str, receiver: &TestReceiver) {
    let client = reqwest::Client::new();
    post(&client, herald, key, "/api/v1/app", json!({"name": "Acme", "uid": "acme"})).await;
    post(&client, herald, key, "/api/v1/app/acme/endpoint", json!({"url": receiver.url("/orders")})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_message_arrives_after_kill_9_and_a_restart() {
    let receiver = TestReceiver::start().await;
    // Slow enough that 1,000 deliveries take several seconds: the kill lands mid-run.
    receiver.set_default(Reply::status(200).after(Duration::from_millis(100)));
    let installation = Installation::fresh()
        .set("HERALD_WORKER_CONCURRENCY", "16")
        .set("HERALD_RECLAIM_IDLE", "2s")
        .set("HERALD_WORKER_LEASE", "2s")
        .set("HERALD_RECONCILE_INTERVAL", "1s")
        .set("HERALD_RECONCILE_GRACE", "10s");
    let key = installation.create_tenant("crash test");
    let mut herald = installation.serve().await;
    set_up(&herald, &key, &receiver).await;

    let accepted = send_messages(&herald, &key, 1_000, 16).await;
    assert_eq!(accepted.len(), 1_000);
    eventually(Duration::from_secs(60), "deliveries to be under way", || async {
        (receiver.request_count() >= 100).then_some(())
    })
    .await;
    herald.kill_hard();
    let delivered_before_kill = receiver.unique_webhook_ids().len();
    assert!(
        delivered_before_kill < 1_000,
        "the kill must land mid-run (all {delivered_before_kill} were already delivered)"
    );

    let _restarted = installation.serve().await;
    let accepted: HashSet<String> = accepted.into_iter().collect();
    eventually(Duration::from_secs(180), "every accepted message at the receiver", || async {
        let received = receiver.unique_webhook_ids();
        accepted.is_subset(&received).then_some(())
    })
    .await;
    let missing: Vec<_> = accepted.difference(&receiver.unique_webhook_ids()).cloned().collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_hands_back_in_flight_work_and_exits_0() {
    let receiver = TestReceiver::start().await;
    // Attempts outlast the shutdown grace, so in-flight deliveries must be handed back.
    receiver.set_default(Reply::status(200).after(Duration::from_secs(2)));
    let installation = Installation::fresh()
        .set("HERALD_WORKER_CONCURRENCY", "8")
        .set("HERALD_SHUTDOWN_GRACE", "500ms")
        .set("HERALD_RECLAIM_IDLE", "10m")
        .set("HERALD_RECONCILE_INTERVAL", "10m");
    let key = installation.create_tenant("sigterm test");
    let mut herald = installation.serve().await;
    set_up(&herald, &key, &receiver).await;
    let accepted = send_messages(&herald, &key, 40, 8).await;
    eventually(Duration::from_secs(30), "attempts in flight", || async {
        (receiver.request_count() >= 4).then_some(())
    })
    .await;

    let status = herald.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "herald exits 0 after SIGTERM, got {status}");

    // With reclaim and reconciliation far away, only a proper hand-back lets the
    // restarted Herald finish the interrupted deliveries quickly.
    receiver.set_default(Reply::status(200));
    let _restarted = installation.serve().await;
    let database_url = &installation.env.iter().find(|(k, _)| k == "HERALD_DATABASE_URL").expect("database url").1;
    let store = Store::connect(
        database_url,
        herald_store::PoolOptions::with_max_connections(2),
        herald_e2e::services::test_keyring(),
    )
    .await
    .expect("connect to the test database");
    eventually(Duration::from_secs(60), "every delivery to succeed", || async {
        for msg_id in &accepted {
            let deliveries = store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.ok()?;
            if deliveries.iter().any(|d| d.status != herald_core::DeliveryStatus::Succeeded) {
                return None;
            }
        }
        Some(())
    })
    .await;
    let accepted: HashSet<String> = accepted.into_iter().collect();
    assert!(accepted.is_subset(&receiver.unique_webhook_ids()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operational_notice_committed_before_a_kill_9_is_sent_once_after_the_restart() {
    let operational = TestReceiver::start().await;
    let gone = TestReceiver::start().await;
    gone.set_default(Reply::status(410));
    // The first Herald records the 410 (and the notice with it) but never relays.
    let installation = Installation::fresh().set("HERALD_OPERATIONAL_RELAY_INTERVAL", "1h");
    let key = installation.create_tenant("outbox test");
    let mut herald = installation.serve().await;
    let client = reqwest::Client::new();
    post(&client, &herald, &key, "/api/v1/app", json!({"name": "Ops", "uid": "herald-operational"})).await;
    let ops_endpoint = json!({"url": operational.url("/ops")});
    post(&client, &herald, &key, "/api/v1/app/herald-operational/endpoint", ops_endpoint).await;
    post(&client, &herald, &key, "/api/v1/app", json!({"name": "Acme", "uid": "acme"})).await;
    let endpoint = post(&client, &herald, &key, "/api/v1/app/acme/endpoint", json!({"url": gone.url("/hook")})).await;
    post(&client, &herald, &key, "/api/v1/app/acme/msg", json!({"eventType": "order.paid", "payload": {}})).await;

    let database_url = &installation.env.iter().find(|(k, _)| k == "HERALD_DATABASE_URL").expect("database url").1;
    let store = Store::connect(
        database_url,
        herald_store::PoolOptions::with_max_connections(2),
        herald_e2e::services::test_keyring(),
    )
    .await
    .expect("connect to the test database");
    let waiting = eventually(Duration::from_secs(30), "the notice in the outbox", || async {
        store.outbox_batch(10).await.ok().filter(|batch| !batch.is_empty())
    })
    .await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].notice.event_type(), "endpoint.disabled");
    herald.kill_hard();
    assert_eq!(operational.request_count(), 0, "nothing was sent before the kill");

    // Two Heralds relay the same outbox: the notice still arrives once.
    let restarted = installation.clone().set("HERALD_OPERATIONAL_RELAY_INTERVAL", "200ms");
    let _first = restarted.serve().await;
    let _second = restarted.serve().await;
    let event = eventually(Duration::from_secs(30), "endpoint.disabled at the operational endpoint", || async {
        operational.requests().first().and_then(|request| serde_json::from_slice::<Value>(&request.body).ok())
    })
    .await;
    assert_eq!(event["type"], "endpoint.disabled");
    assert_eq!(event["data"]["endpointId"], endpoint["id"]);
    assert_eq!(event["data"]["reason"], "gone");
    eventually(Duration::from_secs(10), "the outbox emptied", || async {
        store.outbox_batch(10).await.ok().filter(|batch| batch.is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(operational.unique_webhook_ids().len(), 1, "one notice, one message");
}
