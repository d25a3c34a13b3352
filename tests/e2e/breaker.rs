//! The circuit breaker: a dead endpoint costs at most the probe traffic while the
//! breaker is open, its deliveries wait without spending attempts, the state shows in
//! the endpoint's stats (read from Redis, where every worker shares it), and the
//! endpoint recovers when it comes back.

use std::time::Duration;

use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::json;

const MESSAGES: usize = 20;

#[tokio::test]
async fn a_dead_endpoint_costs_only_probes_while_open_and_recovers() {
    let app = TestApp::builder()
        .configure(|s| {
            s.breaker_failure_threshold = 3;
            s.breaker_cool_down = Duration::from_secs(2);
            s.endpoint_concurrency = 2;
            s.request_timeout = Duration::from_secs(1);
        })
        // Six attempts half a second apart: without the breaker every delivery would be
        // dead-lettered within about three seconds of failures.
        .configure(|s| {
            s.retry_schedule = "0s,500ms,500ms,500ms,500ms,500ms".to_owned();
            s.retry_jitter = 0.0;
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/hook"), json!({})).await;
    let stats_path = format!("/api/v1/app/acme/endpoint/{}/stats", endpoint["id"].as_str().unwrap());
    for n in 0..MESSAGES {
        app.send_message("acme", "invoice.paid", json!({ "n": n })).await;
    }

    let stats = eventually(Duration::from_secs(20), "the breaker to open", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["breaker"]["state"] == "open").then_some(stats)
    })
    .await;
    assert!(stats["breaker"]["consecutiveFailures"].as_u64().unwrap() >= 3, "{stats}");
    assert!(stats["breaker"]["openUntil"].is_string(), "{stats}");

    // Four seconds open: two cool-downs, so at most two probes, plus what was already
    // in flight when it opened (two slots).
    let at_open = receiver.request_count();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let while_open = receiver.request_count() - at_open;
    assert!(while_open <= 4, "{while_open} requests reached the dead endpoint while its breaker was open");
    let (_, stats) = app.get(&stats_path).await;
    assert_eq!(stats["fail"], 0, "no delivery spent its attempts while the breaker was open: {stats}");

    // The endpoint comes back: the next probe closes the breaker and everything arrives.
    receiver.set_default(Reply::status(200));
    eventually(Duration::from_secs(30), "every delivery after recovery", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["success"] == MESSAGES as u64).then_some(())
    })
    .await;
    let (_, stats) = app.get(&stats_path).await;
    assert_eq!(stats["breaker"]["state"], "closed", "{stats}");
    assert_eq!(stats["breaker"]["consecutiveFailures"], 0, "{stats}");
    assert!(stats["breaker"].get("openUntil").is_none(), "{stats}");
    assert_eq!(receiver.unique_webhook_ids().len(), MESSAGES);
    app.stop().await;
}

/// A message the receiver always rejects cannot keep the breaker open once the
/// endpoint is back. A failed probe goes to its retry and then to the back of the
/// endpoint's waiting set, and each half-open releases the oldest waiting deliveries,
/// so the next probe is another delivery. Here the poisoned message is the first one
/// sent (the oldest) and its retries come back every 300 ms, well inside each
/// cool-down.
#[tokio::test]
async fn a_poisoned_message_cannot_keep_the_breaker_open() {
    let app = TestApp::builder()
        .configure(|s| {
            s.breaker_failure_threshold = 3;
            s.breaker_cool_down = Duration::from_secs(1);
            s.endpoint_concurrency = 1;
            s.request_timeout = Duration::from_secs(1);
            s.retry_schedule = format!("0s{}", ",300ms".repeat(30));
            s.retry_jitter = 0.0;
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/hook"), json!({})).await;
    let stats_path = format!("/api/v1/app/acme/endpoint/{}/stats", endpoint["id"].as_str().unwrap());
    app.send_message("acme", "invoice.paid", json!({ "poison": true })).await;
    for n in 0..MESSAGES {
        app.send_message("acme", "invoice.paid", json!({ "n": n })).await;
    }
    eventually(Duration::from_secs(20), "the breaker to open", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["breaker"]["state"] == "open").then_some(())
    })
    .await;

    // The endpoint is back, except for the poisoned message.
    receiver.rule(|request| request.body_text().contains("\"poison\":true").then(|| Reply::status(500)));
    receiver.set_default(Reply::status(200));
    eventually(Duration::from_secs(30), "every other delivery after recovery", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["success"] == MESSAGES as u64).then_some(())
    })
    .await;
    let poisoned = receiver.requests().iter().filter(|r| r.body_text().contains("\"poison\":true")).count();
    assert!(poisoned >= 1, "the poisoned message was tried");
    app.stop().await;
}
