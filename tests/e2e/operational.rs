//! Operational webhooks and endpoint auto-disable: a tenant's `herald-operational`
//! application hears `endpoint.disabled` (after a 410, or after failing for
//! `endpoint_disable_after`) and `message.attempt.exhausted`, signed like any delivery.

use std::time::Duration;

use herald_e2e::verifier::verify_with_standardwebhooks;
use herald_e2e::{eventually, RecordedRequest, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

const OPERATIONAL_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Waits for an operational event of `event_type` about `field` = `value`.
async fn operational_event(receiver: &TestReceiver, event_type: &str, field: &str, value: &Value) -> Value {
    eventually(Duration::from_secs(20), event_type, || async {
        receiver.requests().iter().find_map(|request: &RecordedRequest| {
            let body: Value = serde_json::from_slice(&request.body).ok()?;
            (body["type"] == event_type && &body["data"][field] == value).then_some(body)
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_endpoints_and_exhausted_deliveries_are_announced() {
    let app = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,1200ms,1200ms".to_owned();
            s.retry_jitter = 0.0;
            s.endpoint_disable_after = Some(Duration::from_secs(2));
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await;
    let operational = TestReceiver::start().await;
    app.create_application("herald-operational").await;
    app.create_endpoint("herald-operational", &operational.url("/ops"), json!({"secret": OPERATIONAL_SECRET})).await;

    // 410 Gone: disabled at once, announced with the reason.
    let gone = TestReceiver::start().await;
    gone.set_default(Reply::status(410));
    app.create_application("gone").await;
    let gone_endpoint = app.create_endpoint("gone", &gone.url("/hook"), json!({"uid": "gone-ep"})).await;
    app.send_message("gone", "order.paid", json!({})).await;
    let event = operational_event(&operational, "endpoint.disabled", "endpointId", &gone_endpoint["id"]).await;
    assert_eq!(event["data"]["reason"], "gone");
    assert_eq!(event["data"]["appUid"], "gone");
    assert_eq!(event["data"]["endpointUid"], "gone-ep");

    // 500 every time: three attempts 1.2 s apart. The delivery is exhausted and, as
    // the endpoint has failed for longer than two seconds by the third, it is disabled.
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500));
    app.create_application("failing").await;
    let failing_endpoint = app.create_endpoint("failing", &failing.url("/hook"), json!({})).await;
    let message = app
        .post("/api/v1/app/failing/msg", &json!({"eventType": "order.paid", "eventId": "ord_7", "payload": {}}))
        .await
        .1;
    let exhausted = operational_event(&operational, "message.attempt.exhausted", "msgId", &message["id"]).await;
    assert_eq!(exhausted["data"]["endpointId"], failing_endpoint["id"]);
    assert_eq!(exhausted["data"]["msgEventId"], "ord_7");
    assert_eq!(exhausted["data"]["lastAttempt"]["responseStatusCode"], 500);
    let disabled = operational_event(&operational, "endpoint.disabled", "endpointId", &failing_endpoint["id"]).await;
    assert_eq!(disabled["data"]["reason"], "failing");
    assert!(disabled["data"]["failSince"].is_string());
    let (_, endpoint) =
        app.get(&format!("/api/v1/app/failing/endpoint/{}", failing_endpoint["id"].as_str().unwrap())).await;
    assert_eq!(endpoint["disabled"], true);
    assert_eq!(failing.request_count(), 3);

    // Every operational delivery is signed with the operational endpoint's secret.
    verify_with_standardwebhooks(OPERATIONAL_SECRET, &operational.requests()).expect("operational webhooks verify");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_recovers_in_time_stays_enabled_and_the_operational_app_does_not_feed_itself() {
    let app = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,300ms,300ms,300ms,300ms".to_owned();
            s.retry_jitter = 0.0;
            s.endpoint_disable_after = Some(Duration::from_secs(2));
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await;
    // The operational endpoint itself is gone: it is disabled, and nothing is announced
    // about it (to itself).
    let operational = TestReceiver::start().await;
    operational.set_default(Reply::status(410));
    app.create_application("herald-operational").await;
    let ops_endpoint = app.create_endpoint("herald-operational", &operational.url("/ops"), json!({})).await;

    // Fails twice (under a second of failing), then succeeds: the streak ends in time.
    let flaky = TestReceiver::start().await;
    flaky.script([Reply::status(500), Reply::status(500)]);
    app.create_application("flaky").await;
    let flaky_endpoint = app.create_endpoint("flaky", &flaky.url("/hook"), json!({})).await;
    let msg_id = app.send_message("flaky", "order.paid", json!({})).await["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "the third attempt succeeds", || async {
        let attempts = app.attempts("flaky", &msg_id).await;
        (attempts.first().is_some_and(|a| a["outcome"] == "success")).then_some(())
    })
    .await;
    // Three more failures 1.5 s later are a new, short streak; had the success not
    // ended the first one, it would now be over two seconds long.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    flaky.script([Reply::status(500), Reply::status(500), Reply::status(500)]);
    let second = app.send_message("flaky", "order.paid", json!({})).await["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "three failed attempts", || async {
        (app.attempts("flaky", &second).await.len() >= 3).then_some(())
    })
    .await;
    let (_, endpoint) =
        app.get(&format!("/api/v1/app/flaky/endpoint/{}", flaky_endpoint["id"].as_str().unwrap())).await;
    assert_eq!(endpoint["disabled"], false, "a success ended the first streak");

    // Something to announce: an endpoint that answers 410. The operational endpoint
    // answers 410 to that notice, so it is disabled in turn, and no notice about
    // itself is created (it would only be sent to itself).
    let gone = TestReceiver::start().await;
    gone.set_default(Reply::status(410));
    app.create_application("gone").await;
    app.create_endpoint("gone", &gone.url("/hook"), json!({})).await;
    app.send_message("gone", "order.paid", json!({})).await;
    let ops_path = format!("/api/v1/app/herald-operational/endpoint/{}", ops_endpoint["id"].as_str().unwrap());
    eventually(Duration::from_secs(20), "the operational endpoint disabled", || async {
        (app.get(&ops_path).await.1["disabled"] == true).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, messages) = app.get("/api/v1/app/herald-operational/msg?limit=250").await;
    let notices: Vec<&Value> = messages["data"].as_array().unwrap().iter().collect();
    assert_eq!(notices.len(), 1, "one notice, about the gone endpoint only: {messages}");
    assert_eq!(notices[0]["eventType"], "endpoint.disabled");
    assert_eq!(operational.request_count(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_webhook_endpoints_are_managed_through_svix_routes() {
    let app = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s".to_owned();
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await;
    let request = |method: reqwest::Method, path: String, body: Option<Value>| {
        let app = &app;
        async move {
            let body = body.map(|body| body.to_string());
            app.request(method, &path, Some(&app.api_key), body.as_deref()).await
        }
    };
    let base = "/api/v1/operational-webhook/endpoint".to_owned();
    // Before the first endpoint there is no operational application: an empty list.
    let (status, listed) = request(reqwest::Method::GET, base.clone(), None).await;
    assert_eq!((status, &listed["data"], &listed["done"]), (200, &json!([]), &json!(true)), "{listed}");
    let (status, _) = request(reqwest::Method::GET, format!("{base}/ops"), None).await;
    assert_eq!(status, 404);

    // Created through the operational routes: Svix's `OperationalWebhookEndpointIn`.
    let operational = TestReceiver::start().await;
    let created_in = json!({"url": operational.url("/ops"), "uid": "ops", "secret": OPERATIONAL_SECRET,
        "filterTypes": ["message.attempt.exhausted"], "metadata": {"team": "sre"}, "description": "pager"});
    let (status, created) = request(reqwest::Method::POST, base.clone(), Some(created_in)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((&created["uid"], &created["filterTypes"]), (&json!("ops"), &json!(["message.attempt.exhausted"])));
    for key in ["id", "createdAt", "updatedAt", "url", "description", "metadata"] {
        assert!(created.get(key).is_some(), "{key} in {created}");
    }
    let (_, listed) = request(reqwest::Method::GET, format!("{base}?limit=10"), None).await;
    assert_eq!(listed["data"][0]["id"], created["id"], "{listed}");
    // Another tenant has operational endpoints of its own, and none of these.
    let other = app.create_other_tenant().await;
    let (status, theirs) = app.request(reqwest::Method::GET, &base, Some(&other), None).await;
    assert_eq!((status, &theirs["data"]), (200, &json!([])), "{theirs}");
    let (status, _) = app.request(reqwest::Method::GET, &format!("{base}/ops"), Some(&other), None).await;
    assert_eq!(status, 404);
    // It is an endpoint of the operational application, like one made by hand.
    let (status, same) = app.get("/api/v1/app/herald-operational/endpoint/ops").await;
    assert_eq!((status, &same["id"]), (200, &created["id"]));

    // Update, upsert (SDK 2.x's name for the PUT: a missing one is created), headers, secret.
    let (status, updated) = request(
        reqwest::Method::PUT,
        format!("{base}/ops"),
        Some(json!({"url": operational.url("/ops"), "description": "pager duty"})),
    )
    .await;
    assert_eq!((status, &updated["description"]), (200, &json!("pager duty")), "{updated}");
    let upsert = json!({"url": "https://example.com/upserted", "eventTypes": ["endpoint.disabled"], "throttleRate": 5});
    let (status, upserted) = request(reqwest::Method::PUT, format!("{base}/second"), Some(upsert)).await;
    assert_eq!(status, 201, "{upserted}");
    assert_eq!(
        (&upserted["uid"], &upserted["eventTypes"], &upserted["throttleRate"]),
        (&json!("second"), &json!(["endpoint.disabled"]), &json!(5))
    );
    let (status, _) = request(reqwest::Method::DELETE, format!("{base}/second"), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        request(reqwest::Method::PUT, format!("{base}/ops/headers"), Some(json!({"headers": {"x-team": "sre"}}))).await;
    assert_eq!(status, 204);
    let (_, headers) = request(reqwest::Method::GET, format!("{base}/ops/headers"), None).await;
    assert_eq!(headers["headers"]["x-team"], "sre", "{headers}");
    let (_, secret) = request(reqwest::Method::GET, format!("{base}/ops/secret"), None).await;
    assert_eq!(secret["key"], OPERATIONAL_SECRET);

    // The endpoint hears what it filtered for: a delivery exhausted elsewhere.
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500));
    app.create_application("shop").await;
    app.create_endpoint("shop", &failing.url("/hook"), json!({})).await;
    let message = app.send_message("shop", "order.paid", json!({})).await;
    let exhausted = operational_event(&operational, "message.attempt.exhausted", "msgId", &message["id"]).await;
    assert_eq!(exhausted["type"], "message.attempt.exhausted");
    let sent = operational.requests();
    assert_eq!(sent[0].header("x-team"), Some("sre"), "custom headers are sent");
    verify_with_standardwebhooks(OPERATIONAL_SECRET, &operational.requests()).expect("operational webhooks verify");

    // Rotation and deletion.
    let (status, rotated) = request(reqwest::Method::POST, format!("{base}/ops/secret/rotate"), Some(json!({}))).await;
    assert!((200..300).contains(&status), "{status} {rotated}");
    let (_, secret) = request(reqwest::Method::GET, format!("{base}/ops/secret"), None).await;
    assert_ne!(secret["key"], OPERATIONAL_SECRET, "a new secret after rotation");
    let (status, _) = request(reqwest::Method::DELETE, format!("{base}/ops"), None).await;
    assert_eq!(status, 204);
    let (status, _) = request(reqwest::Method::GET, format!("{base}/ops"), None).await;
    assert_eq!(status, 404);
    app.stop().await;
}
