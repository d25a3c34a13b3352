//! The dead-letter queue: deliveries that exhausted their retries are listed per
//! application and endpoint, replayed one by one or in bulk (by a background task at the
//! endpoint's pace, so a replay never storms the receiver), and discarded. Also: what an attempt record carries
//! (request and response headers), and the SSRF allow-list.

use std::time::Duration;

use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

async fn dead_letter_app() -> TestApp {
    TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,100ms".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await
}

/// Waits until the application's dead-letter queue holds `count` entries and returns them.
async fn dead_letters(app: &TestApp, query: &str, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), "dead letters", || async {
        let (status, body) = app.get(&format!("/api/v1/app/shop/dead-letter?limit=250{query}")).await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().cloned().unwrap_or_default();
        (data.len() == count).then_some(data)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_replayed_by_paced_tasks_and_discarded() {
    let app = dead_letter_app().await;
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500).with_header("x-receiver", "failing"));
    let other = TestReceiver::start().await;
    other.set_default(Reply::status(503));
    app.create_application("shop").await;
    let endpoint = app.create_endpoint("shop", &failing.url("/hook"), json!({"uid": "failing"})).await;
    let other_endpoint = app.create_endpoint("shop", &other.url("/hook"), json!({"uid": "other"})).await;
    let mut msg_ids = Vec::new();
    for n in 0..10 {
        msg_ids.push(app.send_message("shop", "order.paid", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }

    // Two endpoints × ten messages, each after two attempts.
    dead_letters(&app, "", 20).await;
    let listed = dead_letters(&app, "&endpoint_id=failing", 10).await;
    for letter in &listed {
        assert_eq!(letter["endpointId"], endpoint["id"]);
        assert_eq!(letter["attemptCount"], 2);
        assert_eq!(letter["lastStatusCode"], 500);
        assert_eq!(letter["lastOutcome"], "http_status");
        assert_eq!(letter["eventType"], "order.paid");
    }
    // The attempt record carries what was sent and what came back.
    let attempts = app.attempts("shop", &msg_ids[0]).await;
    let sent = attempts.iter().find(|a| a["endpointId"] == endpoint["id"]).unwrap();
    assert_eq!(sent["requestHeaders"]["webhook-id"], msg_ids[0].as_str());
    assert!(sent["requestHeaders"]["webhook-signature"].as_str().unwrap().starts_with("v1,"));
    assert_eq!(sent["responseHeaders"]["x-receiver"], "failing");
    // A time range that ends before anything was dead-lettered selects nothing.
    let (_, none) = app.get("/api/v1/app/shop/dead-letter?until=2000-01-01T00:00:00Z").await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);

    // Replay one: only that delivery goes out again, and it succeeds.
    failing.set_default(Reply::status(200));
    let before = failing.request_count();
    let sent_before = attempts.len();
    let (status, one) = app
        .post("/api/v1/app/shop/dead-letter/replay", &json!({"endpointId": "failing", "msgIds": [msg_ids[0]]}))
        .await;
    assert_eq!(status, 202, "{one}");
    assert_eq!(one["replayed"], 1);
    let tasks = one["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{one}");
    assert_eq!(tasks[0]["task"], "endpoint.recover");
    assert_eq!(tasks[0]["data"]["endpointId"], endpoint["id"]);
    assert_eq!(tasks[0]["data"]["total"], 1);
    dead_letters(&app, "&endpoint_id=failing", 9).await;
    eventually(Duration::from_secs(10), "the replayed delivery", || async {
        (failing.request_count() == before + 1).then_some(())
    })
    .await;
    // Attempts are recorded in batches after the request went out: wait for the record.
    let replayed = eventually(Duration::from_secs(10), "the replayed attempt's record", || async {
        let attempts = app.attempts("shop", &msg_ids[0]).await;
        (attempts.len() > sent_before).then_some(attempts)
    })
    .await;
    assert_eq!(replayed[0]["outcome"], "success");
    assert_eq!(failing.request_count(), before + 1, "only the one replayed delivery went out");

    // Replay the rest in bulk, with the endpoint limited to 5 a second: the task releases
    // them at that pace, so nine go out over more than a second, never all at once.
    let limit = json!({"rateLimit": 5}).to_string();
    let (status, patched) = app
        .request(reqwest::Method::PATCH, "/api/v1/app/shop/endpoint/failing", Some(&app.api_key), Some(&limit))
        .await;
    assert_eq!(status, 200, "{patched}");
    let (status, bulk) = app.post("/api/v1/app/shop/dead-letter/replay", &json!({})).await;
    assert_eq!(status, 202, "{bulk}");
    // Nine of the failing endpoint's and ten of the other's: one task each.
    assert_eq!(bulk["replayed"], 19);
    let tasks = bulk["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{bulk}");
    let task = tasks.iter().find(|task| task["data"]["endpointId"] == endpoint["id"]).unwrap();
    assert_eq!(task["data"]["total"], 9);
    let task_id = task["id"].as_str().unwrap().to_owned();
    let finished = eventually(Duration::from_secs(15), "the replay task to finish", || async {
        let (status, task) = app.get(&format!("/api/v1/background-task/{task_id}")).await;
        assert_eq!(status, 200, "{task}");
        (task["status"] == "finished").then_some(task)
    })
    .await;
    assert_eq!(finished["data"]["done"], 9);
    eventually(Duration::from_secs(10), "nine replayed deliveries", || async {
        (failing.request_count() == before + 10).then_some(())
    })
    .await;
    let received: Vec<_> = failing.requests().into_iter().skip(before + 1).collect();
    assert_eq!(received.len(), 9);
    let spread = received.last().unwrap().received_at.duration_since(received[0].received_at);
    assert!(spread >= Duration::from_millis(800), "a bulk replay went out within {spread:?}");
    // The other endpoint still fails: its replayed deliveries run their schedule again
    // and come back to the queue.
    dead_letters(&app, "&endpoint_id=other", 10).await;
    // Every replayed delivery succeeded, in a manual retry cycle (trigger type 1).
    for msg_id in &msg_ids {
        let attempts = app.attempts("shop", msg_id).await;
        let latest = attempts.iter().find(|a| a["endpointId"] == endpoint["id"]).unwrap();
        assert_eq!(latest["outcome"], "success", "{msg_id}");
        assert_eq!(latest["triggerType"], 1);
    }

    // Discard the other endpoint's: they leave the queue and are never attempted again.
    let other_before = other.request_count();
    let (status, discarded) =
        app.post("/api/v1/app/shop/dead-letter/discard", &json!({"endpointId": other_endpoint["id"]})).await;
    assert_eq!(status, 200, "{discarded}");
    assert_eq!(discarded["discarded"], 10);
    dead_letters(&app, "", 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(other.request_count(), other_before);

    // Bad selections are clear 4xx answers.
    let (status, body) = app.post("/api/v1/app/shop/dead-letter/replay", &json!({"msgIds": []})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation")), "{body}");
    let (status, _) = app.post("/api/v1/app/shop/dead-letter/replay", &json!({"endpointId": "nope"})).await;
    assert_eq!(status, 404);
    let (status, _) = app.post("/api/v1/app/shop/dead-letter/discard", &json!({"surprise": true})).await;
    assert_eq!(status, 422);
    app.stop().await;
}

#[tokio::test]
async fn another_tenant_cannot_see_or_replay_the_dead_letters() {
    let app = dead_letter_app().await;
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500));
    app.create_application("shop").await;
    app.create_endpoint("shop", &failing.url("/hook"), json!({})).await;
    app.send_message("shop", "order.paid", json!({"n": 1})).await;
    let listed = dead_letters(&app, "", 1).await;
    let other_key = app.create_other_tenant().await;
    assert!(listed[0]["msgId"].is_string());
    let app_id = "shop";
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/v1/app/{app_id}/dead-letter")),
        (reqwest::Method::POST, format!("/api/v1/app/{app_id}/dead-letter/replay")),
        (reqwest::Method::POST, format!("/api/v1/app/{app_id}/dead-letter/discard")),
    ] {
        let (status, _) = app.request(method, &path, Some(&other_key), Some("{}")).await;
        assert_eq!(status, 404, "{path}");
    }
    dead_letters(&app, "", 1).await;
    app.stop().await;
}

#[tokio::test]
async fn the_ssrf_allow_list_opens_only_the_listed_networks() {
    let app = TestApp::builder()
        .configure(|s| {
            s.allow_private_targets = false;
            s.allowed_target_cidrs = "127.0.0.1/32".to_owned();
            s.retry_schedule = "0s".to_owned();
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    app.create_application("shop").await;
    app.create_endpoint("shop", &receiver.url("/allowed"), json!({})).await;
    // 127.0.0.2 is loopback too, but outside the allowed network.
    let blocked_url = receiver.url("/blocked").replace("127.0.0.1", "127.0.0.2");
    app.create_endpoint("shop", &blocked_url, json!({})).await;
    let msg_id = app.send_message("shop", "order.paid", json!({})).await["id"].as_str().unwrap().to_owned();
    let attempts = eventually(Duration::from_secs(10), "two attempts", || async {
        let attempts = app.attempts("shop", &msg_id).await;
        (attempts.len() == 2).then_some(attempts)
    })
    .await;
    let outcome_of = |url: &str| attempts.iter().find(|a| a["url"] == url).map(|a| a["outcome"].clone());
    assert_eq!(outcome_of(&receiver.url("/allowed")), Some(json!("success")));
    assert_eq!(outcome_of(&blocked_url), Some(json!("blocked")));
    let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/allowed".to_owned()]);
    app.stop().await;
}
