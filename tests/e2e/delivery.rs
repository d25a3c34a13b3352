//! Deliveries as a receiver sees them: signed, filtered, retried on the schedule.

use std::time::Duration;

use herald_core::EndpointSecret;
use herald_e2e::verifier::verify_with_standardwebhooks;
use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::json;

/// A secret chosen by the caller, as the Svix API allows (one of the official vectors).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn a_message_arrives_signed_and_verifies_with_the_independent_verifier() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/hook"), json!({"secret": SECRET})).await;

    let payload = json!({"invoice": "in_1", "amount": 4200, "note": "ünïcode ✓"});
    let message = app.send_message("acme", "invoice.paid", payload.clone()).await;
    let msg_id = message["id"].as_str().unwrap().to_owned();

    let request =
        eventually(Duration::from_secs(20), "the delivery", || async { receiver.requests().first().cloned() }).await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("webhook-id"), Some(msg_id.as_str()));
    assert_eq!(request.header("svix-id"), Some(msg_id.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, payload);

    // Our own verifier, then the independent reference implementation.
    let timestamp: i64 = request.header("webhook-timestamp").unwrap().parse().unwrap();
    let signature = request.header("webhook-signature").unwrap();
    assert!(EndpointSecret::parse(SECRET).unwrap().verify(&msg_id, timestamp, &request.body, signature));
    verify_with_standardwebhooks(SECRET, &[request]).expect("standardwebhooks accepts the delivery");

    let attempts = eventually(Duration::from_secs(10), "the attempt record", || async {
        Some(app.attempts("acme", &msg_id).await).filter(|attempts| !attempts.is_empty())
    })
    .await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 0);
    assert_eq!(attempts[0]["statusText"], "success");
    assert_eq!(attempts[0]["responseStatusCode"], 200);
    assert_eq!(attempts[0]["outcome"], "success");
    assert_eq!(attempts[0]["triggerType"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_generated_secret_signs_deliveries_the_verifier_accepts() {
    let app = TestApp::builder().sqlite().start().await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let endpoint_row = app.store.list_application_endpoints(&endpoint_app_id(&app, "acme").await).await.unwrap();
    let secret = endpoint_row.iter().find(|e| e.id.as_str() == endpoint["id"]).unwrap().secret.clone();
    assert!(secret.starts_with("whsec_"));

    for n in 0..5 {
        app.send_message("acme", "user.created", json!({"n": n})).await;
    }
    eventually(Duration::from_secs(20), "five deliveries", || async { (receiver.request_count() >= 5).then_some(()) })
        .await;
    verify_with_standardwebhooks(&secret, &receiver.requests()).expect("standardwebhooks accepts every delivery");
    app.stop().await;
}

async fn endpoint_app_id(app: &TestApp, uid: &str) -> herald_core::ApplicationId {
    let tenant = herald_core::TenantId::parse(&app.tenant_id).unwrap();
    app.store.find_application(&tenant, uid).await.unwrap().unwrap().id.into_inner()
}

/// Editors keep changing an endpoint's description while the worker disables it on a
/// `410` and someone deletes it: an edit that loaded the endpoint before either never
/// undoes it (it writes only the description).
#[tokio::test]
async fn edits_racing_the_worker_and_a_delete_never_re_enable_or_revive_an_endpoint() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let app = Arc::new(TestApp::spawn().await);
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(410));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let path = format!("/api/v1/app/acme/endpoint/{}", endpoint["id"].as_str().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let editors: Vec<_> = (0..4)
        .map(|editor| {
            let (app, path, stop) = (app.clone(), path.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..10_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({"description": format!("editor {editor}, edit {n}")}).to_string();
                    let (status, _) = app.request(reqwest::Method::PATCH, &path, Some(&app.api_key), Some(&body)).await;
                    answers.push(status);
                }
                answers
            })
        })
        .collect();

    for round in 0..5 {
        let message = app.send_message("acme", "invoice.paid", json!({"round": round})).await;
        let msg_id = message["id"].as_str().unwrap().to_owned();
        eventually(Duration::from_secs(20), "the delivery to be dead-lettered", || async {
            let deliveries =
                app.store.message_deliveries(&herald_core::MessageId::parse(&msg_id).unwrap()).await.unwrap();
            (deliveries[0].status == herald_core::DeliveryStatus::Failed).then_some(())
        })
        .await;
        // The editors go on for a while after the worker disabled it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, shown) = app.get(&path).await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["disabled"], true, "round {round}: an edit re-enabled the endpoint the worker disabled");
        // Re-enabled on purpose for the next round.
        let (status, shown) =
            app.request(reqwest::Method::PATCH, &path, Some(&app.api_key), Some(r#"{"disabled": false}"#)).await;
        assert_eq!((status, &shown["disabled"]), (200, &json!(false)), "{shown}");
    }

    let (status, _) = app.request(reqwest::Method::DELETE, &path, Some(&app.api_key), None).await;
    assert_eq!(status, 204);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for editor in editors {
        let answers = editor.await.unwrap();
        assert!(answers.iter().all(|status| [200, 404].contains(status)), "edits answered {answers:?}");
        assert_eq!(answers.last(), Some(&404), "an edit after the delete found the endpoint");
    }
    assert_eq!(app.get(&path).await.0, 404, "an edit brought the deleted endpoint back");
    let app_id = endpoint_app_id(&app, "acme").await;
    assert!(app.store.list_application_endpoints(&app_id).await.unwrap().is_empty(), "the endpoint came back");
    Arc::into_inner(app).expect("the editors are done").stop().await;
}

#[tokio::test]
async fn endpoints_receive_only_the_event_types_they_filter_for() {
    let app = TestApp::spawn().await;
    let invoices = TestReceiver::start().await;
    let everything = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &invoices.url("/"), json!({"filterTypes": ["invoice.paid"]})).await;
    app.create_endpoint("acme", &everything.url("/"), json!({})).await;

    app.send_message("acme", "user.created", json!({"kind": "user"})).await;
    app.send_message("acme", "invoice.paid", json!({"kind": "invoice"})).await;

    eventually(Duration::from_secs(20), "both messages at the catch-all endpoint", || async {
        (everything.request_count() == 2).then_some(())
    })
    .await;
    eventually(Duration::from_secs(20), "the invoice at the filtered endpoint", || async {
        (invoices.request_count() >= 1).then_some(())
    })
    .await;
    let received = invoices.requests();
    assert_eq!(received.len(), 1, "the filtered endpoint got only the invoice");
    assert_eq!(received[0].body_text(), r#"{"kind":"invoice"}"#);
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_exactly_three_attempts_spaced_by_the_schedule() {
    let app = TestApp::builder()
        .configure(|s| s.retry_schedule = "0s,1s,2s".to_owned())
        .configure(|s| s.retry_jitter = 0.0)
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.script([Reply::status(500), Reply::status(500)]);
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let message = app.send_message("acme", "invoice.paid", json!({"id": 1})).await;
    let msg_id = message["id"].as_str().unwrap();

    let attempts = eventually(Duration::from_secs(30), "three recorded attempts", || async {
        Some(app.attempts("acme", msg_id).await).filter(|attempts| attempts.len() >= 3)
    })
    .await;
    // Nothing more happens after the success.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "exactly three attempts reached the receiver");
    assert_eq!(app.attempts("acme", msg_id).await.len(), 3);

    let first_gap = requests[1].received_at - requests[0].received_at;
    let second_gap = requests[2].received_at - requests[1].received_at;
    assert!(first_gap >= Duration::from_secs(1), "first retry came after {first_gap:?}, before the 1 s delay");
    assert!(second_gap >= Duration::from_secs(2), "second retry came after {second_gap:?}, before the 2 s delay");
    // Generous upper bounds: the promoter ticks every 200 ms; these catch a broken
    // schedule (e.g. the 5-minute default), not scheduling noise.
    assert!(first_gap < Duration::from_secs(4), "first retry was late: {first_gap:?}");
    assert!(second_gap < Duration::from_secs(5), "second retry was late: {second_gap:?}");

    // Newest first: success, then the two failures, each pointing at its next attempt.
    let statuses: Vec<_> = attempts.iter().map(|a| a["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, [0, 2, 2]);
    let codes: Vec<_> = attempts.iter().map(|a| a["responseStatusCode"].as_i64().unwrap()).collect();
    assert_eq!(codes, [200, 500, 500]);
    assert!(attempts[0]["nextAttempt"].is_null());
    assert!(attempts[1]["nextAttempt"].is_string());
    let deliveries = app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.unwrap();
    assert_eq!(*deliveries[0].status, herald_core::DeliveryStatus::Succeeded);
    assert_eq!(deliveries[0].attempt_count, 3);
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_that_never_succeeds_is_dead_lettered_after_the_last_attempt() {
    let app = TestApp::builder()
        .configure(|s| s.retry_schedule = "0s,200ms".to_owned())
        .configure(|s| s.retry_jitter = 0.0)
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let message = app.send_message("acme", "invoice.paid", json!({"id": 1})).await;
    let msg_id = message["id"].as_str().unwrap();

    let deliveries = eventually(Duration::from_secs(20), "the delivery to be dead-lettered", || async {
        let deliveries = app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.unwrap();
        (deliveries[0].status == herald_core::DeliveryStatus::Failed).then_some(deliveries)
    })
    .await;
    assert_eq!(deliveries[0].attempt_count, 2);
    assert!(deliveries[0].next_attempt_at.is_none());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.request_count(), 2, "no attempt beyond the schedule");
    app.stop().await;
}

#[tokio::test]
async fn a_410_dead_letters_the_delivery_and_disables_the_endpoint() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(410));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let message = app.send_message("acme", "invoice.paid", json!({"id": 1})).await;
    let msg_id = message["id"].as_str().unwrap();

    eventually(Duration::from_secs(20), "the delivery to be dead-lettered", || async {
        let deliveries = app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.unwrap();
        (deliveries[0].status == herald_core::DeliveryStatus::Failed).then_some(())
    })
    .await;
    let app_id = endpoint_app_id(&app, "acme").await;
    let endpoints = app.store.list_application_endpoints(&app_id).await.unwrap();
    assert!(endpoints.iter().find(|e| e.id.as_str() == endpoint["id"]).unwrap().disabled, "410 disabled the endpoint");

    // A disabled endpoint gets no deliveries for new messages.
    app.send_message("acme", "invoice.paid", json!({"id": 2})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.request_count(), 1);
    app.stop().await;
}
