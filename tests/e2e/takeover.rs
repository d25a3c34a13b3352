//! A worker dies with deliveries in hand: `kill -9` of one of three `herald worker`
//! processes while 1,000 deliveries are in flight to a slow receiver. Its lease in
//! Redis lapses, a survivor hands everything it held back to the stream at once, and
//! every delivery arrives within `worker_lease + 30 s` of the kill. Reclaiming by idle
//! time and the reconciler are set far away, so only the takeover can do it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use herald_e2e::process::Installation;
use herald_e2e::{Reply, TestReceiver};
use serde_json::{json, Value};

const MESSAGES: usize = 1_000;
const LEASE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_of_three_workers_delays_its_deliveries_by_at_most_the_lease() {
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(200).after(Duration::from_millis(300)));
    let installation = Installation::fresh()
        .set("HERALD_WORKER_LEASE", "5s")
        .set("HERALD_RECLAIM_IDLE", "10m")
        .set("HERALD_RECONCILE_INTERVAL", "10m");
    let key = installation.create_tenant("takeover");
    let api = installation.start("api").await;
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/api/v1/app", json!({"name": "Acme", "uid": "acme"})),
        ("/api/v1/app/acme/endpoint", json!({"url": receiver.url("/hooks")})),
    ] {
        let response = client.post(api.url(path)).bearer_auth(&key).json(&body).send().await.expect("the API answers");
        assert_eq!(response.status().as_u16(), 201, "{path}");
    }
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(installation.start("worker").await);
    }

    let accepted: Vec<String> = stream::iter(0..MESSAGES)
        .map(|n| {
            let request = client
                .post(api.url("/api/v1/app/acme/msg"))
                .bearer_auth(&key)
                .json(&json!({"eventType": "order.created", "payload": {"n": n}}))
                .send();
            async move {
                let response = request.await.expect("the API answers");
                assert_eq!(response.status().as_u16(), 202);
                response.json::<Value>().await.expect("JSON")["id"].as_str().expect("an id").to_owned()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    // Mid-run: every worker has deliveries in hand (each takes its share, up to its
    // lanes' limits, and works through them 32 at a time).
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.unique_webhook_ids().len() < 100 {
        assert!(Instant::now() < deadline, "deliveries did not get under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers[0].kill_hard();
    let killed = Instant::now();
    let before = receiver.unique_webhook_ids().len();
    assert!(before < MESSAGES - 200, "the kill must land with plenty in flight ({before} already delivered)");

    let accepted: HashSet<String> = accepted.into_iter().collect();
    let limit = LEASE + Duration::from_secs(30);
    while !accepted.is_subset(&receiver.unique_webhook_ids()) && killed.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing = accepted.difference(&receiver.unique_webhook_ids()).count();
    assert_eq!(missing, 0, "{missing} deliveries had not arrived {limit:?} after the kill");
    eprintln!(
        "{MESSAGES} deliveries, worker killed with {before} delivered: all delivered {:?} after the kill",
        killed.elapsed()
    );
}
