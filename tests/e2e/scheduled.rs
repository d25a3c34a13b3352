//! Scheduled messages: a message sent with `deliverAt` is delivered not before it and
//! within a second after, shows it, and can be canceled until then (after which none
//! of its deliveries is made); bad schedules get a coded 4xx.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_e2e::{eventually, TestApp, TestReceiver};
use serde_json::json;

/// `deliverAt` with millisecond precision, as a client sends it.
fn in_ms(ms: i64) -> DateTime<Utc> {
    let at = Utc::now() + chrono::Duration::milliseconds(ms);
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_message_arrives_not_before_deliver_at_and_within_a_second_after() {
    let herald = TestApp::builder().start().await;
    let receiver = TestReceiver::start().await;
    herald.create_application("acme").await;
    herald.create_endpoint("acme", &receiver.url("/hook"), json!({})).await;
    // The receiver's clock is an Instant: anchor it to the wall clock once.
    let (anchor_instant, anchor_wall) = (Instant::now(), Utc::now());
    let wall = |at: Instant| anchor_wall + chrono::Duration::from_std(at - anchor_instant).unwrap();

    let deliver_at = in_ms(3_000);
    let body = json!({"eventType": "report.ready", "payload": {"n": 1}, "deliverAt": deliver_at});
    let (status, scheduled) = herald.post("/api/v1/app/acme/msg", &body).await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled["deliverAt"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap()), Some(deliver_at));
    let id = scheduled["id"].as_str().unwrap().to_owned();
    let (_, read) = herald.get(&format!("/api/v1/app/acme/msg/{id}")).await;
    assert_eq!(read["deliverAt"], scheduled["deliverAt"], "the message shows when it goes");
    // A message without deliverAt goes at once, ahead of it, and shows no deliverAt.
    let now = herald.send_message("acme", "report.ready", json!({"n": 2})).await;
    assert!(now.get("deliverAt").is_none(), "{now}");
    let past = json!({"eventType": "report.ready", "payload": {"n": 3}, "deliverAt": in_ms(-60_000)});
    let (status, past) = herald.post("/api/v1/app/acme/msg", &past).await;
    assert_eq!(status, 202, "a past deliverAt goes at once: {past}");
    assert!(past.get("deliverAt").is_none(), "and schedules nothing: {past}");
    eventually(Duration::from_secs(10), "both unscheduled messages", || async {
        (receiver.request_count() == 2).then_some(())
    })
    .await;
    assert!(Utc::now() < deliver_at, "the test itself was too slow to tell anything");
    assert!(
        receiver.requests().iter().all(|r| r.header("webhook-id") != Some(id.as_str())),
        "nothing of the scheduled message before its time"
    );

    eventually(Duration::from_secs(10), "the scheduled message", || async {
        (receiver.request_count() == 3).then_some(())
    })
    .await;
    let requests = receiver.requests();
    let arrived = requests.iter().find(|r| r.header("webhook-id") == Some(id.as_str())).expect("it arrived");
    let at = wall(arrived.received_at);
    let early = deliver_at - at;
    assert!(early <= chrono::Duration::milliseconds(20), "arrived {early} before deliverAt");
    let late = at - deliver_at;
    assert!(late <= chrono::Duration::seconds(1), "arrived {late} after deliverAt");
    herald.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_message_can_be_canceled_until_it_is_due_and_then_nothing_is_sent() {
    let herald = TestApp::builder().start().await;
    let receiver = TestReceiver::start().await;
    herald.create_application("acme").await;
    for path in ["/a", "/b"] {
        herald.create_endpoint("acme", &receiver.url(path), json!({})).await;
    }
    let body = json!({"eventType": "report.ready", "payload": {}, "deliverAt": in_ms(5_000), "eventId": "weekly-1"});
    let (status, scheduled) = herald.post("/api/v1/app/acme/msg", &body).await;
    assert_eq!(status, 202, "{scheduled}");
    let id = scheduled["id"].as_str().unwrap().to_owned();

    // By eventId, as every message route takes it.
    let (status, canceled) = herald.post("/api/v1/app/acme/msg/weekly-1/cancel", &json!({})).await;
    assert_eq!((status, &canceled["canceled"], &canceled["id"]), (200, &json!(2), &json!(id)), "{canceled}");
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(receiver.request_count(), 0, "a canceled message is never sent");
    let (_, destinations) = herald.get(&format!("/api/v1/app/acme/msg/{id}/endpoint")).await;
    let destinations = destinations["data"].as_array().unwrap();
    assert_eq!(destinations.len(), 2, "{destinations:?}");
    assert!(
        destinations.iter().all(|d| d["status"] == 2 && d["nextAttempt"].is_null()),
        "called off (discarded): {destinations:?}"
    );

    // Once due (or in its last two seconds, or never scheduled) it cannot be canceled.
    let soon = json!({"eventType": "report.ready", "payload": {}, "deliverAt": in_ms(1_000)});
    let soon = herald.post("/api/v1/app/acme/msg", &soon).await.1;
    let (status, refused) =
        herald.post(&format!("/api/v1/app/acme/msg/{}/cancel", soon["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("not_scheduled")), "too late: {refused}");
    let (status, refused) = herald.post(&format!("/api/v1/app/acme/msg/{id}/cancel"), &json!({})).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("not_scheduled")), "{refused}");
    let now = herald.send_message("acme", "report.ready", json!({})).await;
    let (status, refused) =
        herald.post(&format!("/api/v1/app/acme/msg/{}/cancel", now["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("not_scheduled")), "{refused}");
    let (status, _) = herald.post("/api/v1/app/acme/msg/msg_nope/cancel", &json!({})).await;
    assert_eq!(status, 404);

    // Bad schedules: too far ahead, or with an ordering key.
    let far = json!({"eventType": "report.ready", "payload": {}, "deliverAt": in_ms(25 * 3_600_000)});
    let ordered = json!({"eventType": "report.ready", "payload": {}, "deliverAt": in_ms(5_000), "orderingKey": "k"});
    for bad in [far, ordered] {
        let (status, refused) = herald.post("/api/v1/app/acme/msg", &bad).await;
        assert_eq!((status, refused["code"].as_str()), (422, Some("validation")), "{refused}");
        assert_eq!(refused["detail"][0]["loc"], json!(["body", "deliverAt"]), "{refused}");
    }
    // A resend still delivers a canceled message on purpose.
    let endpoints = herald.get("/api/v1/app/acme/endpoint").await.1;
    let first = endpoints["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = herald.post(&format!("/api/v1/app/acme/msg/{id}/endpoint/{first}/resend"), &json!({})).await;
    assert_eq!(status, 202);
    // Two each for the unscheduled and the too-late message, one for the resend.
    eventually(Duration::from_secs(10), "the resent message", || async {
        (receiver.request_count() == 5).then_some(())
    })
    .await;
    herald.stop().await;
}
