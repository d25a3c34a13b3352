//! A backlog that cannot be delivered yet costs Redis work as the endpoint takes
//! deliveries, not in proportion to its size. Earlier versions parked such
//! deliveries in the delayed set at most a minute ahead (or until the breaker's
//! cool-down ended), so a backlog of N came back, was read and parked again every
//! minute: about 4,400 Redis commands/s for 50,000 behind one hanging endpoint. Now
//! the backlog waits in its endpoint's waiting set and is touched only when released.
//!
//! Each test runs Herald on a Redis of its own and counts the commands that Redis
//! served while the backlog waited; then the endpoint recovers and every delivery
//! arrives.

use std::time::{Duration, Instant};

use herald::Settings;
use herald_e2e::redis_topology::RedisServer;
use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use serde_json::json;

use crate::many_tenants::send_round_robin;

const BACKLOG: usize = 5_000;

/// How many of the backlog's deliveries wait in Redis waiting sets right now.
async fn waiting_in_redis(redis: &RedisServer) -> usize {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:waiting:*").query_async(&mut conn).await.expect("KEYS");
    let mut total = 0;
    for key in keys {
        let size: usize = redis::cmd("ZCARD").arg(&key).query_async(&mut conn).await.expect("ZCARD");
        total += size;
    }
    total
}

/// Sends the backlog to an endpoint that answers `reply`, waits until it is parked,
/// counts Redis commands for `window`, then lets the endpoint recover and waits for
/// every delivery. Returns the commands per second while parked.
async fn park_measure_and_recover(
    settings: impl FnOnce(&mut Settings),
    reply: Reply,
    window: Duration,
    what: &str,
) -> f64 {
    let redis = RedisServer::start();
    let app = TestApp::builder().configure(|s| s.redis_url = redis.url().into()).configure(settings).start().await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(reply);
    app.create_application("stuck").await;
    let endpoint = app.create_endpoint("stuck", &receiver.url("/"), json!({})).await;
    send_round_robin(&app, &[(app.api_key.clone(), "stuck".to_owned())], 0..BACKLOG).await;

    // Everything but what is in flight or about to be retried waits in Redis.
    eventually(Duration::from_secs(60), "the backlog to be parked", || async {
        (waiting_in_redis(&redis).await >= BACKLOG - 100).then_some(())
    })
    .await;
    let before = redis.commands_processed();
    tokio::time::sleep(window).await;
    let commands = redis.commands_processed() - before;
    let per_second = commands as f64 / window.as_secs_f64();
    eprintln!("{what}: {BACKLOG} parked deliveries cost {commands} Redis commands in {window:?} ({per_second:.1}/s)");
    // Touching every parked delivery once takes at least three commands each (promote,
    // read, park again); the whole window must cost well under one such pass.
    assert!(commands < BACKLOG as u64, "{what}: {commands} Redis commands in {window:?} for a parked backlog");

    receiver.set_default(Reply::status(204));
    let recovered = Instant::now();
    let stats_path = format!("/api/v1/app/stuck/endpoint/{}/stats", endpoint["id"].as_str().unwrap());
    eventually(Duration::from_secs(90), "every delivery after the endpoint recovered", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["success"] == BACKLOG as u64).then_some(())
    })
    .await;
    eprintln!("{what}: the backlog of {BACKLOG} was delivered {:?} after the endpoint recovered", recovered.elapsed());
    app.stop().await;
    per_second
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_behind_a_hanging_endpoint_costs_redis_nothing_while_it_waits() {
    // Lanes alone hold the backlog back: the breaker is kept out. The window covers the
    // first wake (a minute after parking), when one batch is released.
    let settings = |s: &mut Settings| {
        s.request_timeout = Duration::from_secs(2);
        s.endpoint_concurrency = 4;
        s.retry_schedule = "0s,1s,1s,1s,1s,1s,1s,1s,1s,1s".to_owned();
        s.breaker_failure_threshold = 1_000_000;
        s.breaker_min_attempts = 1_000_000;
    };
    park_measure_and_recover(settings, Reply::Hang, Duration::from_secs(65), "hanging endpoint").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_behind_an_open_breaker_costs_redis_only_its_probes() {
    // Cool-downs of 3 s: in 15 s the breaker half-opens five times, and each time one
    // batch is released for its probe instead of the whole backlog.
    let settings = |s: &mut Settings| {
        s.breaker_failure_threshold = 3;
        s.breaker_cool_down = Duration::from_secs(3);
        s.endpoint_concurrency = 4;
        s.retry_schedule = "0s,1s,1s,1s,1s,1s,1s,1s,1s,1s".to_owned();
    };
    park_measure_and_recover(settings, Reply::status(503), Duration::from_secs(15), "open breaker").await;
}
