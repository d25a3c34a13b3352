//! Paced recovery: an endpoint that was down comes back to a backlog. With a
//! `rateLimit` it is never sent more than that many a second (counted at the receiver,
//! second by second); without one its backlog comes back on the recovery ramp (5 a
//! second, doubling each second it answers), not all at once. Everything arrives.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::json;

/// A Herald whose breaker opens quickly and probes every two seconds, and an endpoint
/// (with `extra` fields) whose receiver is down; `messages` are accepted for it, and
/// the receiver comes back once the breaker has opened.
async fn backlog_for_a_returning_endpoint(messages: usize, extra: serde_json::Value) -> (TestApp, TestReceiver) {
    let app = TestApp::builder()
        .configure(|s| {
            s.breaker_failure_threshold = 3;
            s.breaker_cool_down = Duration::from_secs(2);
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/hook"), extra).await;
    let stats_path = format!("/api/v1/app/acme/endpoint/{}/stats", endpoint["id"].as_str().unwrap());
    stream::iter(0..messages)
        .for_each_concurrent(16, |n| {
            let app = &app;
            async move {
                app.send_message("acme", "invoice.paid", json!({ "n": n })).await;
            }
        })
        .await;
    eventually(Duration::from_secs(30), "the breaker to open", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["breaker"]["state"] == "open").then_some(())
    })
    .await;
    receiver.set_default(Reply::status(200));
    (app, receiver)
}

/// Arrivals per second, counting from `start`.
fn per_second(arrivals: &[Instant], start: Instant) -> Vec<usize> {
    let mut counts = Vec::new();
    for at in arrivals.iter().filter(|at| **at >= start) {
        let second = at.duration_since(start).as_secs() as usize;
        if counts.len() <= second {
            counts.resize(second + 1, 0);
        }
        counts[second] += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_3000_comes_back_at_the_endpoints_rate_limit_of_20() {
    const MESSAGES: usize = 3_000;
    let (app, receiver) = backlog_for_a_returning_endpoint(MESSAGES, json!({"rateLimit": 20})).await;
    eventually(Duration::from_secs(400), "every message to arrive", || async {
        (receiver.unique_webhook_ids().len() == MESSAGES).then_some(())
    })
    .await;
    let arrivals: Vec<Instant> = receiver.requests().iter().map(|r| r.received_at).collect();
    // Every request counts, the failed ones before the endpoint came back too.
    let seconds = per_second(&arrivals, arrivals[0]);
    eprintln!("rateLimit 20, {MESSAGES} backlog, requests per second: {seconds:?}");
    let busiest = seconds.iter().copied().max().unwrap();
    assert!(busiest <= 20, "{busiest} requests in one second; per second: {seconds:?}");
    assert!(seconds.len() >= MESSAGES / 20, "{} seconds for {MESSAGES} at 20/s", seconds.len());
    // And no sliding second either (a second's worth, plus one at the edge).
    let most_in_any_second = arrivals
        .iter()
        .map(|start| {
            arrivals.iter().filter(|at| **at >= *start && at.duration_since(*start) < Duration::from_secs(1)).count()
        })
        .max()
        .unwrap();
    assert!(most_in_any_second <= 21, "{most_in_any_second} in one sliding second");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_rate_limit_a_backlog_comes_back_on_the_ramp() {
    const MESSAGES: usize = 400;
    let (app, receiver) = backlog_for_a_returning_endpoint(MESSAGES, json!({})).await;
    let down = receiver.request_count();
    eventually(Duration::from_secs(60), "every message to arrive", || async {
        (receiver.unique_webhook_ids().len() == MESSAGES).then_some(())
    })
    .await;
    let requests = receiver.requests();
    // From the first request after the endpoint came back (the probe that closes the
    // breaker): second k holds at most the ramp's pace 5·2^k, plus one at each edge
    // of a step (a fresh pace sends its first at once).
    let back = requests[down..].iter().map(|r| r.received_at).collect::<Vec<_>>();
    let seconds = per_second(&back, back[0]);
    eprintln!("no rateLimit, {MESSAGES} backlog, requests per second after the endpoint came back: {seconds:?}");
    for (k, count) in seconds.iter().enumerate() {
        let pace = 5.0 * 2f64.powi(k as i32);
        if pace >= 1_000.0 {
            break;
        }
        assert!(*count as f64 <= pace + 2.0, "second {k}: {count} sent at pace {pace}; per second: {seconds:?}");
    }
    assert!(seconds.len() >= 6, "400 on the ramp take at least six seconds (5+10+…+160 = 315): {seconds:?}");
    app.stop().await;
}
