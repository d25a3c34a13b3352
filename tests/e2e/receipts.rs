//! Delivery receipts: a consumer confirms what it *processed* with its endpoint's key;
//! the producer lists what was delivered and not confirmed within the endpoint's
//! window; `/metrics` counts it per tenant; the reconciliation feed shows each
//! message's receipt.

use std::time::Duration;

use herald_e2e::{eventually, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{json, Value};

fn msg_ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|m| m["msgId"].as_str().unwrap().to_owned()).collect()
}

async fn unconfirmed_metric(herald: &TestApp) -> Option<f64> {
    let text = reqwest::get(format!("http://{}/metrics", herald.metrics_address)).await.unwrap().text().await.unwrap();
    let series = format!("herald_unconfirmed_deliveries{{tenant=\"{}\"}} ", herald.tenant_id);
    text.lines().find_map(|line| line.strip_prefix(&series)).map(|value| value.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_confirm_processing_and_the_rest_are_listed_and_counted_on_postgres() {
    receipts_confirm_processing_and_the_rest_are_listed_and_counted(TestApp::spawn().await).await;
}

/// The same on SQLite, whose partial index and booleans differ from PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_confirm_processing_and_the_rest_are_listed_and_counted_on_sqlite() {
    receipts_confirm_processing_and_the_rest_are_listed_and_counted(TestApp::builder().sqlite().start().await).await;
}

async fn receipts_confirm_processing_and_the_rest_are_listed_and_counted(herald: TestApp) {
    let receiver = TestReceiver::start().await;
    herald.create_application("receipts").await;
    let expecting = herald.create_endpoint("receipts", &receiver.url("/a"), json!({"receiptWindow": 1})).await;
    assert_eq!(expecting["receiptWindow"], 1, "{expecting}");
    let plain = herald.create_endpoint("receipts", &receiver.url("/b"), json!({})).await;
    assert_eq!(plain["receiptWindow"], Value::Null, "{plain}");
    let (ep, plain) = (expecting["id"].as_str().unwrap().to_owned(), plain["id"].as_str().unwrap().to_owned());
    let base = format!("/api/v1/app/receipts/endpoint/{ep}");
    let mut sent = Vec::new();
    for n in 0..5 {
        sent.push(
            herald.send_message("receipts", "order.paid", json!({"n": n})).await["id"].as_str().unwrap().to_owned(),
        );
    }
    eventually(Duration::from_secs(20), "10 deliveries answered", || async {
        (receiver.requests().len() >= 10).then_some(())
    })
    .await;

    // Once the window has passed, all five are delivered and unconfirmed; the endpoint
    // that expects no receipts has none waiting, whatever the window asked.
    let unconfirmed = eventually(Duration::from_secs(10), "five unconfirmed", || async {
        let (status, page) = herald.get(&format!("{base}/receipt/unconfirmed")).await;
        assert_eq!(status, 200, "{page}");
        (msg_ids(&page).len() == 5).then_some(page)
    })
    .await;
    let mut listed = msg_ids(&unconfirmed);
    listed.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(unconfirmed["data"][0]["eventType"], "order.paid", "{unconfirmed}");
    assert!(unconfirmed["data"][0]["deliveredAt"].is_string(), "{unconfirmed}");
    let (_, none) = herald.get(&format!("/api/v1/app/receipts/endpoint/{plain}/receipt/unconfirmed?within=0")).await;
    assert_eq!(msg_ids(&none).len(), 0, "{none}");
    let (_, recent) = herald.get(&format!("{base}/receipt/unconfirmed?within=3600")).await;
    assert_eq!(msg_ids(&recent).len(), 0, "none was delivered an hour ago: {recent}");
    let metric = eventually(Duration::from_secs(10), "the metric", || async {
        unconfirmed_metric(&herald).await.filter(|count| *count == 5.0)
    })
    .await;
    assert_eq!(metric, 5.0);

    // The consumer confirms three (one twice, plus an id never sent here) with the
    // endpoint's own key.
    let (status, key) = herald.post(&format!("{base}/key"), &json!({})).await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_ep_"));
    let stranger = "msg_0000000000000000000000";
    let body = json!({"msgIds": [sent[0], sent[1], sent[2], sent[0], stranger]}).to_string();
    let (status, receipt) = herald.request(Method::POST, &format!("{base}/receipt"), Some(&key), Some(&body)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["data"].as_array().unwrap().len(), 3, "{receipt}");
    assert_eq!(receipt["unknown"], json!([stranger]), "{receipt}");
    let first_time = receipt["data"][0]["processedAt"].clone();
    let again = json!({"msgIds": [receipt["data"][0]["msgId"]]}).to_string();
    let (_, repeated) = herald.request(Method::POST, &format!("{base}/receipt"), Some(&key), Some(&again)).await;
    assert_eq!(repeated["data"][0]["processedAt"], first_time, "a repeated receipt keeps the first time");
    // Not a receipt of another endpoint: the plain endpoint's deliveries stay as they were.
    let (_, plain_feed) = herald.get(&format!("/api/v1/app/receipts/endpoint/{plain}/msg")).await;
    assert!(plain_feed["data"].as_array().unwrap().iter().all(|m| m["processedAt"].is_null()), "{plain_feed}");

    // Two left, in the list, the metric and the reconciliation feed (read with the key).
    let (_, left) = herald.get(&format!("{base}/receipt/unconfirmed")).await;
    let mut left = msg_ids(&left);
    left.sort();
    let mut expected: Vec<String> = sent[3..].to_vec();
    expected.sort();
    assert_eq!(left, expected);
    eventually(Duration::from_secs(10), "the metric at 2", || async {
        unconfirmed_metric(&herald).await.filter(|count| *count == 2.0)
    })
    .await;
    let (status, feed) = herald.request(Method::GET, &format!("{base}/msg"), Some(&key), None).await;
    assert_eq!(status, 200, "{feed}");
    for message in feed["data"].as_array().unwrap() {
        let confirmed = sent[..3].contains(&message["id"].as_str().unwrap().to_owned());
        assert_eq!(message["processedAt"].is_string(), confirmed, "{message}");
    }

    // Bad receipts are coded 4xx and record nothing.
    let bad = [
        json!({"msgIds": []}),
        json!({"msgIds": ["not-an-id"]}),
        json!({"msgIds": [sent[3]], "extra": 1}),
        json!({"msgIds": vec![sent[3].clone(); 1_001]}),
    ];
    for body in bad {
        let (status, answer) =
            herald.request(Method::POST, &format!("{base}/receipt"), Some(&key), Some(&body.to_string())).await;
        assert_eq!((status, answer["code"].is_string()), (422, true), "{answer}");
    }
    let (_, still) = herald.get(&format!("{base}/receipt/unconfirmed")).await;
    assert_eq!(msg_ids(&still).len(), 2, "nothing recorded by a refused receipt: {still}");

    // The window is validated, and turned off with null.
    let (status, _) =
        herald.post("/api/v1/app/receipts/endpoint", &json!({"url": receiver.url("/c"), "receiptWindow": 0})).await;
    assert_eq!(status, 422);
    let (status, patched) =
        herald.request(Method::PATCH, &base, Some(&herald.api_key), Some(r#"{"receiptWindow": null}"#)).await;
    assert_eq!((status, &patched["receiptWindow"]), (200, &Value::Null), "{patched}");
    eventually(Duration::from_secs(10), "no endpoint expects receipts: no series", || async {
        unconfirmed_metric(&herald).await.is_none().then_some(())
    })
    .await;
    herald.stop().await;
}
