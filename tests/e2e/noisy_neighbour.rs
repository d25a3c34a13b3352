//! Isolation under load, stated without wall-clock thresholds: tenant A's customer X
//! has an endpoint that hangs with 10,000 deliveries queued. Messages sent afterwards
//! by tenant B, and by A's other customer Y, are all delivered while X's backlog is
//! still almost entirely pending, and X's endpoint never sees more attempts at once
//! than its lane allows.
//!
//! Without lanes Y's 50 messages sit behind X's 10,000 in tenant A's partition, and
//! the test times out.

use std::time::Duration;

use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

const BACKLOG: usize = 10_000;
const ENDPOINT_CONCURRENCY: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_with_a_deep_backlog_does_not_hold_back_anyone_else() {
    let app = TestApp::builder()
        .configure(|s| {
            s.request_timeout = Duration::from_secs(2);
            s.endpoint_concurrency = ENDPOINT_CONCURRENCY;
            s.tenant_concurrency = 8;
            s.retry_schedule = "0s,10m".to_owned();
        })
        // Lanes alone must hold: an endpoint that is slow without failing never trips
        // the breaker, so the breaker is kept out of this test.
        .configure(|s| {
            s.breaker_failure_threshold = 1000000;
            s.breaker_min_attempts = 1000000;
        })
        .start()
        .await;
    let hanging = TestReceiver::start().await;
    hanging.set_default(Reply::Hang);
    let customer_y = TestReceiver::start().await;
    let tenant_b = TestReceiver::start().await;

    app.create_application("customer-x").await;
    let x_endpoint = app.create_endpoint("customer-x", &hanging.url("/x"), json!({})).await;
    app.create_application("customer-y").await;
    app.create_endpoint("customer-y", &customer_y.url("/y"), json!({})).await;

    // X's backlog, sent as fast as the API takes it.
    let body = json!({"eventType": "invoice.paid", "payload": {"n": 0}}).to_string();
    let sent = send_many(&app, "/api/v1/app/customer-x/msg", &app.api_key, &body, BACKLOG).await;
    assert_eq!(sent, BACKLOG);

    // Then tenant B and customer Y, 50 messages each.
    let b_key = app.create_other_tenant().await;
    let (status, _) =
        app.request(reqwest::Method::POST, "/api/v1/app", Some(&b_key), Some(r#"{"name":"B","uid":"b-app"}"#)).await;
    assert_eq!(status, 201);
    let endpoint = json!({"url": tenant_b.url("/b")}).to_string();
    let (status, _) =
        app.request(reqwest::Method::POST, "/api/v1/app/b-app/endpoint", Some(&b_key), Some(&endpoint)).await;
    assert_eq!(status, 201);
    assert_eq!(send_many(&app, "/api/v1/app/b-app/msg", &b_key, &body, 50).await, 50);
    assert_eq!(send_many(&app, "/api/v1/app/customer-y/msg", &app.api_key, &body, 50).await, 50);

    eventually(Duration::from_secs(120), "tenant B's and customer Y's 50 deliveries each", || async {
        (tenant_b.unique_webhook_ids().len() == 50 && customer_y.unique_webhook_ids().len() == 50).then_some(())
    })
    .await;

    // X's backlog is still almost entirely pending...
    let x_id = x_endpoint["id"].as_str().unwrap();
    let (status, stats) = app.get(&format!("/api/v1/app/customer-x/endpoint/{x_id}/stats")).await;
    assert_eq!(status, 200, "{stats}");
    let pending = stats["pending"].as_u64().unwrap() as usize;
    assert!(pending >= BACKLOG * 99 / 100, "X's backlog should be almost entirely pending: {stats}");
    assert!(hanging.request_count() < BACKLOG / 100, "X's endpoint got {} requests", hanging.request_count());
    // ...and its endpoint never had more attempts in flight than its lane allows. Each
    // hanging attempt holds its slot for the whole 2 s timeout, so no more than the lane's
    // slots can start within any 1.5 s (the margin absorbs scheduling delays on a busy
    // machine). Counted from arrivals, not from the receiver noticing closed connections,
    // which lags behind the client giving up.
    let mut arrivals: Vec<_> = hanging.requests().iter().map(|r| r.received_at).collect();
    arrivals.sort();
    let busiest = arrivals
        .iter()
        .map(|start| {
            arrivals.iter().filter(|t| **t >= *start && t.duration_since(*start) < Duration::from_millis(1_500)).count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest >= 1, "X's endpoint was tried at all");
    assert!(busiest <= ENDPOINT_CONCURRENCY, "{busiest} attempts to X's endpoint started within 1.5 s");
    assert_eq!(stats["breaker"]["state"], Value::from("closed"), "{stats}");
    app.stop().await;
}

/// Sends `count` copies of `body` to `path` with `key`, 32 at a time; returns how many
/// were accepted (202).
async fn send_many(app: &TestApp, path: &str, key: &str, body: &str, count: usize) -> usize {
    let mut accepted = 0;
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..count {
        if pending.len() >= 32 {
            accepted += usize::from(pending.join_next().await.expect("a request").expect("no panic"));
        }
        let request = app.http.post(app.url(path)).bearer_auth(key).header("content-type", "application/json");
        let request = request.body(body.to_owned());
        pending.spawn(async move { request.send().await.is_ok_and(|response| response.status().as_u16() == 202) });
    }
    while let Some(done) = pending.join_next().await {
        accepted += usize::from(done.expect("no panic"));
    }
    accepted
}
