//! Ordered delivery: an endpoint in ordered mode receives the messages of one
//! ordering key strictly one after another, through failures and retries; a failing
//! head holds back only its own key; a dead-lettered head lets the key go on, and the
//! sequence header shows the gap.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use herald_e2e::verifier::verify_with_standardwebhooks;
use herald_e2e::{eventually, RecordedRequest, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Twenty attempts 20 ms apart: a delivery failing a quarter of the time at random
/// never runs out of them.
fn ordered_app() -> herald_e2e::TestAppBuilder {
    let schedule = std::iter::once("0s").chain(std::iter::repeat_n("20ms", 19)).collect::<Vec<_>>().join(",");
    TestApp::builder()
        .configure(|s| {
            s.retry_schedule = schedule.to_string();
            s.retry_jitter = 0.0;
        })
        // The random failures must stay failures, not an open breaker's waiting.
        .configure(|s| {
            s.breaker_failure_threshold = 100000;
            s.breaker_min_attempts = 100000;
        })
}

/// Roughly one request in four fails with a 5xx, spread at random but the same every
/// run (a fixed multiplicative hash of the request's position).
fn random_failures(count: usize) -> Vec<Reply> {
    (0..count as u64)
        .map(|i| {
            let spread = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 100;
            if spread < 25 {
                Reply::status([500, 502, 503][(spread % 3) as usize])
            } else {
                Reply::status(200)
            }
        })
        .collect()
}

fn payload_of(request: &RecordedRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON payload")
}

async fn send_keyed(app: &TestApp, app_uid: &str, key: &str, n: usize) {
    let body = json!({"eventType": "order.step", "orderingKey": key, "payload": {"key": key, "n": n}});
    let (status, answer) = app.post(&format!("/api/v1/app/{app_uid}/msg"), &body).await;
    assert_eq!(status, 202, "send {key}#{n}: {answer}");
    assert_eq!(answer["orderingKey"], key);
}

/// Sends `per_key` messages on each of `keys` keys (the keys concurrently, each key's
/// messages one after another), through a receiver failing at random, and checks
/// that every key arrived strictly in order.
async fn every_key_arrives_in_order(app: TestApp, keys: usize, per_key: usize) {
    let total = keys * per_key;
    let receiver = TestReceiver::start().await;
    let script = random_failures(total * 3 / 2);
    receiver.script(script.clone());
    app.create_application("ordered").await;
    let endpoint =
        app.create_endpoint("ordered", &receiver.url("/hook"), json!({"secret": SECRET, "ordered": true})).await;
    assert_eq!(endpoint["ordered"], true);

    let names: Vec<String> = (0..keys).map(|k| format!("customer-{k}")).collect();
    join_all(names.iter().map(|key| {
        let app = &app;
        async move {
            for n in 0..per_key {
                send_keyed(app, "ordered", key, n).await;
            }
        }
    }))
    .await;

    // The receiver answered request `i` with `script[i]` (200 past the script).
    let succeeded = |i: usize| script.get(i).is_none_or(|reply| matches!(reply, Reply::Respond { status: 200, .. }));
    let requests = eventually(Duration::from_secs(180), "every ordered message delivered", || async {
        let requests = receiver.requests();
        let delivered = (0..requests.len()).filter(|&i| succeeded(i)).count();
        (delivered >= total).then_some(requests)
    })
    .await;

    let mut done: HashMap<String, u64> = HashMap::new();
    let mut failures = 0;
    for (i, request) in requests.iter().enumerate() {
        let payload = payload_of(request);
        let key = payload["key"].as_str().expect("key").to_owned();
        let n = payload["n"].as_u64().expect("n");
        let finished = done.entry(key.clone()).or_default();
        // Strictly one after another: every request of a key is its head, the message
        // after the last one that succeeded. Nothing overtakes, nothing runs alongside.
        assert_eq!(n, *finished, "request {i}: {key}#{n} arrived while {key}#{finished} was the head");
        assert_eq!(request.header("herald-ordering-key"), Some(key.as_str()), "request {i}");
        assert_eq!(request.header("herald-sequence"), Some((n + 1).to_string().as_str()), "request {i}");
        if succeeded(i) {
            *finished += 1;
        } else {
            failures += 1;
        }
    }
    assert_eq!(done.len(), keys);
    assert!(done.values().all(|&count| count == per_key as u64), "every key complete: {done:?}");
    assert!(failures >= total / 10, "the receiver failed only {failures} times");
    assert_eq!(receiver.unique_webhook_ids().len(), total);
    verify_with_standardwebhooks(SECRET, &requests).expect("every delivery verifies");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_over_ten_keys_arrive_in_per_key_order_through_random_failures() {
    every_key_arrives_in_order(ordered_app().start().await, 10, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_holds_on_sqlite_too() {
    every_key_arrives_in_order(ordered_app().sqlite().start().await, 4, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_head_holds_back_only_its_own_key_and_its_dead_letter_leaves_a_gap() {
    let app = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,1s,1s".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 100000;
            s.breaker_min_attempts = 100000;
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    // The first message of key `stuck` always fails; everything else succeeds.
    receiver.rule(|request| {
        let head =
            request.header("herald-ordering-key") == Some("stuck") && request.header("herald-sequence") == Some("1");
        head.then(|| Reply::status(500))
    });
    app.create_application("heads").await;
    app.create_endpoint("heads", &receiver.url("/hook"), json!({"secret": SECRET, "ordered": true})).await;
    for n in 0..3 {
        send_keyed(&app, "heads", "stuck", n).await;
    }
    for n in 0..5 {
        send_keyed(&app, "heads", "free", n).await;
    }
    // A message without a key is not ordered: it does not wait for anyone.
    let loose = app.send_message("heads", "order.step", json!({"key": null})).await;
    assert!(loose.get("orderingKey").is_none(), "{loose}");

    let requests = eventually(Duration::from_secs(30), "both keys finished", || async {
        let requests = receiver.requests();
        // stuck: three tries of #1, then #2 and #3; free: five; one keyless.
        let expected = 3 + 2 + 5 + 1;
        (requests.len() >= expected).then_some(requests)
    })
    .await;
    let arrivals: Vec<(Option<String>, Option<u64>)> = requests
        .iter()
        .map(|r| {
            let payload = payload_of(r);
            (payload["key"].as_str().map(str::to_owned), payload["n"].as_u64())
        })
        .collect();
    let position = |key: &str, n: u64| {
        arrivals.iter().position(|(k, m)| k.as_deref() == Some(key) && *m == Some(n)).expect("arrived")
    };
    // `free` and the keyless message went through while `stuck`'s head was failing.
    let stuck_released = position("stuck", 1);
    assert!(position("free", 4) < stuck_released, "free waited for stuck: {arrivals:?}");
    assert!(arrivals.iter().position(|(k, _)| k.is_none()).expect("keyless arrived") < stuck_released);
    // The head was tried three times, dead-lettered, and then the key went on.
    let stuck: Vec<&RecordedRequest> =
        requests.iter().filter(|r| r.header("herald-ordering-key") == Some("stuck")).collect();
    let sequences: Vec<&str> = stuck.iter().filter_map(|r| r.header("herald-sequence")).collect();
    assert_eq!(sequences, ["1", "1", "1", "2", "3"], "the receiver sees the gap after 1");
    let free: Vec<&str> = requests
        .iter()
        .filter(|r| r.header("herald-ordering-key") == Some("free"))
        .filter_map(|r| r.header("herald-sequence"))
        .collect();
    assert_eq!(free, ["1", "2", "3", "4", "5"]);

    // The dead-lettered head waits in the dead-letter queue.
    let (status, dead) = app.get("/api/v1/app/heads/dead-letter").await;
    assert_eq!(status, 200, "{dead}");
    assert_eq!(dead["data"].as_array().map(Vec::len), Some(1), "{dead}");
    verify_with_standardwebhooks(SECRET, &requests).expect("every delivery verifies");
    app.stop().await;
}

#[tokio::test]
async fn ordering_keys_are_checked() {
    let app = TestApp::spawn().await;
    app.create_application("keys").await;
    for key in [json!(""), json!("has space"), json!("x".repeat(257)), json!("naïve")] {
        let body = json!({"eventType": "order.step", "orderingKey": key, "payload": {}});
        let (status, answer) = app.post("/api/v1/app/keys/msg", &body).await;
        assert_eq!(status, 422, "{key}: {answer}");
        assert_eq!(answer["detail"][0]["loc"], json!(["body", "orderingKey"]), "{answer}");
    }
    let (status, answer) = app
        .post("/api/v1/app/keys/msg", &json!({"eventType": "order.step", "orderingKey": "cus_1:eu", "payload": {}}))
        .await;
    assert_eq!(status, 202, "{answer}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_holds_when_redis_loses_every_key_mid_run() {
    let app = ordered_app()
        .configure(|s| s.reconcile_interval = Duration::from_millis(500))
        .configure(|s| s.reconcile_grace = Duration::from_secs(1))
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(200).after(Duration::from_millis(20)));
    app.create_application("lossy").await;
    app.create_endpoint("lossy", &receiver.url("/hook"), json!({"secret": SECRET, "ordered": true})).await;
    let (keys, per_key) = (4, 50);
    let names: Vec<String> = (0..keys).map(|k| format!("account-{k}")).collect();
    let sending = join_all(names.iter().map(|key| {
        let app = &app;
        async move {
            for n in 0..per_key {
                send_keyed(app, "lossy", key, n).await;
            }
        }
    }));
    let wiping = async {
        eventually(Duration::from_secs(30), "some deliveries under way", || async {
            (receiver.request_count() >= 40).then_some(())
        })
        .await;
        // Held deliveries were never in Redis; the heads in flight or queued are lost.
        assert!(crate::redis_loss::wipe_installation_keys(&app.settings.redis_prefix).await > 0);
    };
    tokio::join!(sending, wiping);

    let requests = eventually(Duration::from_secs(120), "every message of every key", || async {
        let requests = receiver.requests();
        let distinct: std::collections::HashSet<(String, u64)> = requests
            .iter()
            .map(payload_of)
            .map(|p| (p["key"].as_str().unwrap().to_owned(), p["n"].as_u64().unwrap()))
            .collect();
        (distinct.len() >= keys * per_key).then_some(requests)
    })
    .await;
    // At least once, still in order: a message may come twice (a head that was in
    // flight when Redis lost it), but never before the one ahead of it was delivered.
    let mut delivered: HashMap<String, u64> = HashMap::new();
    for (i, request) in requests.iter().enumerate() {
        let payload = payload_of(request);
        let key = payload["key"].as_str().unwrap().to_owned();
        let n = payload["n"].as_u64().unwrap();
        let next = delivered.entry(key.clone()).or_default();
        assert!(n <= *next, "request {i}: {key}#{n} arrived before {key}#{next}");
        *next = (*next).max(n + 1);
    }
    assert!(delivered.values().all(|&next| next == per_key as u64), "{delivered:?}");
    app.stop().await;
}
