//! The failure battery: every way a receiver can misbehave, each ending in the right
//! attempt records and the right final state, and every delivery that arrives
//! verifying with the independent Standard Webhooks verifier.
//!
//! One Herald; each case has its own application, endpoint and receiver, and runs
//! concurrently with the others. The request timeout is one second and retries come
//! 300 ms apart, so the whole battery takes a few seconds.

use std::time::Duration;

use herald_e2e::verifier::verify_with_standardwebhooks;
use herald_e2e::{eventually, RecordedRequest, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One misbehaviour: what the receiver does first, and what Herald must record.
struct Case {
    name: &'static str,
    replies: Vec<Reply>,
    /// Outcome classes of the attempts, oldest first.
    outcomes: &'static [&'static str],
    /// The delivery's final state.
    status: &'static str,
}

fn cases() -> Vec<Case> {
    let slow = Duration::from_millis(1_500);
    vec![
        Case {
            name: "slow-receiver",
            replies: vec![Reply::status(503).after(slow)],
            outcomes: &["timeout", "success"],
            status: "succeeded",
        },
        Case {
            name: "server-error",
            replies: vec![Reply::status(500), Reply::status(502)],
            outcomes: &["http_status", "http_status", "success"],
            status: "succeeded",
        },
        Case {
            name: "ok-after-timeout",
            replies: vec![Reply::status(200).after(slow)],
            outcomes: &["timeout", "success"],
            status: "succeeded",
        },
        Case {
            name: "malformed",
            replies: vec![Reply::Garbage],
            outcomes: &["invalid_response", "success"],
            status: "succeeded",
        },
        Case { name: "reset", replies: vec![Reply::Reset], outcomes: &["connect", "success"], status: "succeeded" },
        Case { name: "hang", replies: vec![Reply::Hang], outcomes: &["timeout", "success"], status: "succeeded" },
        Case {
            name: "rate-limited",
            replies: vec![Reply::status(429).with_header("retry-after", "2")],
            outcomes: &["http_status", "success"],
            status: "succeeded",
        },
        Case {
            name: "never-succeeds",
            replies: vec![Reply::status(503), Reply::status(503), Reply::status(503), Reply::status(503)],
            outcomes: &["http_status", "http_status", "http_status", "http_status"],
            status: "failed",
        },
        Case { name: "gone", replies: vec![Reply::status(410)], outcomes: &["http_status"], status: "failed" },
    ]
}

async fn battery_app() -> TestApp {
    TestApp::builder()
        .configure(|s| {
            s.request_timeout = Duration::from_secs(1);
            s.retry_schedule = "0s,300ms,300ms,300ms".to_owned();
            s.retry_jitter = 0.0;
        })
        // Each case has one endpoint; its breaker must not turn failures into waiting.
        .configure(|s| {
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await
}

/// The message's attempts, oldest first, once its delivery is final.
async fn final_attempts(app: &TestApp, uid: &str, msg_id: &str) -> (String, Vec<Value>) {
    let status = eventually(Duration::from_secs(30), "a final delivery state", || async {
        let deliveries = app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.ok()?;
        let status = deliveries.first()?.status.to_string();
        (status != "pending").then_some(status)
    })
    .await;
    // Attempts are committed before their delivery moves, so they are all listed now.
    let mut attempts = app.attempts(uid, msg_id).await;
    attempts.reverse();
    (status.to_string(), attempts)
}

fn verify(requests: &[RecordedRequest], what: &str) {
    verify_with_standardwebhooks(SECRET, requests).unwrap_or_else(|e| panic!("{what}: the verifier refused: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_ends_in_the_right_records_and_state() {
    let app = battery_app().await;
    let mut running = Vec::new();
    for case in cases() {
        let receiver = TestReceiver::start().await;
        receiver.script(case.replies.clone());
        app.create_application(case.name).await;
        app.create_endpoint(case.name, &receiver.url("/hook"), json!({"secret": SECRET})).await;
        let message = app.send_message(case.name, "battery.case", json!({"case": case.name})).await;
        running.push((case, receiver, message["id"].as_str().unwrap().to_owned()));
    }
    for (case, receiver, msg_id) in running {
        let (status, attempts) = final_attempts(&app, case.name, &msg_id).await;
        let outcomes: Vec<&str> = attempts.iter().map(|a| a["outcome"].as_str().unwrap_or_default()).collect();
        assert_eq!(outcomes, case.outcomes, "{}: attempts {attempts:#?}", case.name);
        assert_eq!(status, case.status, "{}", case.name);
        let requests = receiver.requests();
        assert_eq!(requests.len(), case.outcomes.len(), "{}: one request per attempt", case.name);
        assert!(
            requests.iter().all(|r| r.header("webhook-id") == Some(msg_id.as_str())),
            "{}: every try carries the message id, the receiver's dedupe key",
            case.name
        );
        verify(&requests, case.name);
        match case.name {
            "rate-limited" => {
                // Retry-After: 2 pushes the retry past the schedule's 300 ms.
                let gap = requests[1].received_at.duration_since(requests[0].received_at);
                assert!(gap >= Duration::from_millis(1_900), "rate-limited: retried after only {gap:?}");
                assert_eq!(attempts[0]["responseStatusCode"], 429);
            }
            "server-error" => {
                assert_eq!(attempts[0]["responseStatusCode"], 500);
                assert_eq!(attempts[1]["responseStatusCode"], 502);
            }
            "gone" => {
                let (_, endpoints) = app.get(&format!("/api/v1/app/{}/endpoint", case.name)).await;
                assert_eq!(endpoints["data"][0]["disabled"], true, "410 disables the endpoint");
            }
            _ => {}
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_for_a_while_gets_the_delivery_when_it_is_back() {
    let app = battery_app().await;
    // A port with nothing listening: take one, then let it go.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    app.create_application("down").await;
    app.create_endpoint("down", &format!("http://{address}/hook"), json!({"secret": SECRET})).await;
    let msg_id =
        app.send_message("down", "battery.case", json!({"case": "down"})).await["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "a refused attempt", || async {
        (!app.attempts("down", &msg_id).await.is_empty()).then_some(())
    })
    .await;
    let receiver = TestReceiver::start_on(address).await;
    let (status, attempts) = final_attempts(&app, "down", &msg_id).await;
    assert_eq!(status, "succeeded");
    let outcomes: Vec<&str> = attempts.iter().map(|a| a["outcome"].as_str().unwrap_or_default()).collect();
    assert_eq!(outcomes.last(), Some(&"success"));
    assert!(outcomes[..outcomes.len() - 1].iter().all(|o| *o == "connect"), "{outcomes:?}");
    verify(&receiver.requests(), "down");
    app.stop().await;
}

#[tokio::test]
async fn a_one_mebibyte_payload_arrives_whole_and_verifies() {
    let app = battery_app().await;
    let receiver = TestReceiver::start().await;
    app.create_application("big").await;
    app.create_endpoint("big", &receiver.url("/hook"), json!({"secret": SECRET})).await;
    // The largest payload the default limit (1 MiB) accepts.
    let filler = "x".repeat(1_048_576 - r#"{"blob":""}"#.len());
    let payload = json!({ "blob": filler });
    assert_eq!(payload.to_string().len(), 1_048_576);
    let msg_id = app.send_message("big", "battery.case", payload.clone()).await["id"].as_str().unwrap().to_owned();
    let (status, _) = final_attempts(&app, "big", &msg_id).await;
    assert_eq!(status, "succeeded");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body.len(), 1_048_576);
    assert_eq!(serde_json::from_slice::<Value>(&requests[0].body).unwrap(), payload);
    verify(&requests, "big");
    // One byte more is refused with a clear 413.
    let too_big = json!({ "blob": format!("{filler}x") });
    let (status, body) =
        app.post("/api/v1/app/big/msg", &json!({"eventType": "battery.case", "payload": too_big})).await;
    assert_eq!(status, 413, "{body}");
    app.stop().await;
}
