//! Redis is the transport, never the only copy: when it loses everything, the
//! reconciler rebuilds the queue from the database.

use std::time::Duration;

use herald_e2e::{eventually, services, Reply, TestApp, TestReceiver};
use serde_json::json;

/// Deletes every key of one Herald installation — what `FLUSHALL` does to it, without
/// touching the other tests that share this Redis.
pub(crate) async fn wipe_installation_keys(prefix: &str) -> usize {
    let client = redis::Client::open(services::redis_url()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("DEL");
    }
    keys.len()
}

#[tokio::test]
async fn deliveries_survive_redis_losing_all_their_keys() {
    let app = TestApp::builder()
        .setting("retry_schedule", "\"0s,3s\"")
        .setting("retry_jitter", "0.0")
        .setting("reconcile_interval", "\"500ms\"")
        .setting("reconcile_grace", "\"1s\"")
        // Twenty 503s in a row would open the endpoint's breaker; this test is about Redis.
        .setting("breaker_failure_threshold", "1000")
        .setting("breaker_min_attempts", "1000")
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let mut accepted = Vec::new();
    for n in 0..20 {
        accepted
            .push(app.send_message("acme", "order.created", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }
    // Every delivery failed once and now waits in the delayed set for its retry.
    eventually(Duration::from_secs(20), "first attempts of all 20", || async {
        (receiver.request_count() >= 20).then_some(())
    })
    .await;
    let wiped = wipe_installation_keys(&app.settings.redis_prefix).await;
    assert!(wiped > 0, "the installation had keys to lose");
    receiver.set_default(Reply::status(200));

    eventually(Duration::from_secs(60), "every delivery to succeed", || async {
        for msg_id in &accepted {
            let deliveries = app.store.message_deliveries(msg_id).await.ok()?;
            if deliveries.iter().any(|d| d.status != "succeeded") {
                return None;
            }
        }
        Some(())
    })
    .await;
    app.stop().await;
}
