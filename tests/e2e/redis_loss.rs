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
        .configure(|s| {
            s.retry_schedule = "0s,3s".to_owned();
            s.retry_jitter = 0.0;
            s.reconcile_interval = Duration::from_millis(500);
            s.reconcile_grace = Duration::from_secs(1);
        })
        // Twenty 503s in a row would open the endpoint's breaker; this test is about Redis.
        .configure(|s| {
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
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
            let deliveries =
                app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.ok()?;
            if deliveries.iter().any(|d| d.status != herald_core::DeliveryStatus::Succeeded) {
                return None;
            }
        }
        Some(())
    })
    .await;
    app.stop().await;
}

/// The ready and due indexes live in their own Cluster slots, apart from the streams
/// and delayed sets they point at: a failover that loses a master's last writes can
/// lose an index entry while the work it pointed at survives. Here a Herald API queues
/// messages (and a worker parks retries) while the indexes are wiped; the reconciler
/// finds the work through the database and lists it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_no_index_lists_any_more_is_found_by_the_reconciler() {
    const OPERATOR: &str = "redis-loss-operator";
    let receiver = TestReceiver::start().await;
    let installation = herald_e2e::Installation::fresh()
        .set("HERALD_OPERATOR_TOKEN", OPERATOR)
        .set("HERALD_RECONCILE_INTERVAL", "500ms")
        .set("HERALD_RECONCILE_GRACE", "1s")
        .set("HERALD_RETRY_SCHEDULE", "0s,2s")
        .set("HERALD_RETRY_JITTER", "0.0")
        // Ten 503s in a row would open the endpoint's breaker; this test is about Redis.
        .set("HERALD_BREAKER_FAILURE_THRESHOLD", "1000")
        .set("HERALD_BREAKER_MIN_ATTEMPTS", "1000");
    let prefix = installation.env.iter().find(|(key, _)| key == "HERALD_REDIS_PREFIX").unwrap().1.clone();
    let api = installation.start("api").await;
    let client = reqwest::Client::new();
    let post = |path: &str, key: &str, body: serde_json::Value| {
        let request = client.post(api.url(path)).bearer_auth(key).json(&body).send();
        async move {
            let response = request.await.expect("the API answers");
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (status, tenant) = post("/admin/v1/tenant", OPERATOR, json!({"name": "t"})).await;
    assert_eq!(status, 201, "{tenant}");
    let key = tenant["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(post("/api/v1/app", &key, json!({"name": "A", "uid": "a"})).await.0, 201);
    let endpoint = json!({"url": receiver.url("/")});
    assert_eq!(post("/api/v1/app/a/endpoint", &key, endpoint).await.0, 201);

    let send = |n: u32| {
        let request = post("/api/v1/app/a/msg", &key, json!({"eventType": "e", "payload": {"n": n}}));
        async move {
            let (status, body) = request.await;
            assert_eq!(status, 202, "{body}");
        }
    };
    let index = |name: &str| format!("{prefix}:{name}");
    let redis_client = redis::Client::open(services::redis_url()).expect("redis url");
    let mut redis = redis_client.get_multiplexed_async_connection().await.expect("connect to Redis");

    // Ten messages in the stream, unread (no worker runs yet), and the ready index lost.
    for n in 0..10 {
        send(n).await;
    }
    let _: () = redis::cmd("DEL").arg(index("ready")).arg(index("signal")).query_async(&mut redis).await.unwrap();
    let worker = installation.start("worker").await;
    eventually(Duration::from_secs(20), "the ten unlisted messages delivered", || async {
        (receiver.unique_webhook_ids().len() == 10).then_some(())
    })
    .await;

    // Ten more fail once and wait in the delayed set for their retry; the due index is lost.
    receiver.set_default(Reply::status(503));
    for n in 10..20 {
        send(n).await;
    }
    eventually(Duration::from_secs(20), "ten first attempts, answered 503", || async {
        (receiver.request_count() >= 20).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _: () = redis::cmd("DEL").arg(index("due")).query_async(&mut redis).await.unwrap();
    receiver.set_default(Reply::status(200));
    eventually(Duration::from_secs(20), "the ten parked retries delivered", || async {
        (receiver.unique_webhook_ids().len() == 20 && receiver.request_count() >= 30).then_some(())
    })
    .await;
    drop((api, worker));
}
