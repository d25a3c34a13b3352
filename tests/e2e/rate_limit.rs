//! An endpoint's `rateLimit` (messages per second) holds: a burst of messages reaches
//! the receiver no faster than the limit allows, and waiting for the limit spends no
//! attempts.

use std::time::Duration;

use herald_e2e::{eventually, TestApp, TestReceiver};
use serde_json::json;

const RATE: usize = 5;
const MESSAGES: usize = 20;

#[tokio::test]
async fn deliveries_to_a_rate_limited_endpoint_are_spaced_by_its_limit() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/hook"), json!({"rateLimit": RATE})).await;
    for n in 0..MESSAGES {
        app.send_message("acme", "invoice.paid", json!({ "n": n })).await;
    }
    let requests = eventually(Duration::from_secs(30), "every delivery", || async {
        let requests = receiver.requests();
        (requests.len() >= MESSAGES).then_some(requests)
    })
    .await;
    assert_eq!(requests.len(), MESSAGES, "each delivery exactly once");

    // A full bucket lets RATE through at once; every further one waits 1/RATE s. So no
    // window of one second holds more than 2 × RATE, and the whole run takes at least
    // (MESSAGES − RATE) / RATE seconds.
    let times: Vec<_> = requests.iter().map(|request| request.received_at).collect();
    for (i, start) in times.iter().enumerate() {
        let within = times[i..].iter().filter(|t| t.duration_since(*start) < Duration::from_secs(1)).count();
        assert!(within <= 2 * RATE, "{within} deliveries within one second");
    }
    let span = times.last().unwrap().duration_since(times[0]);
    let least = Duration::from_millis(((MESSAGES - RATE) * 1_000 / RATE) as u64 - 200);
    assert!(span >= least, "{MESSAGES} deliveries took only {span:?}");

    let (_, stats) = app.get(&format!("/api/v1/app/acme/endpoint/{}/stats", endpoint["id"].as_str().unwrap())).await;
    assert_eq!(stats["success"], MESSAGES as u64, "{stats}");
    let (_, attempts) =
        app.get(&format!("/api/v1/app/acme/attempt/endpoint/{}", endpoint["id"].as_str().unwrap())).await;
    assert_eq!(attempts["data"].as_array().unwrap().len(), MESSAGES, "waiting for the limit is not an attempt");
    app.stop().await;
}
