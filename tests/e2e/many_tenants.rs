//! Many tenants sending at once: 10,000 messages over 50 tenants × 4 applications,
//! to one `herald serve` and to 2 `herald api` + 3 `herald worker` processes. Stream
//! entry ids are unique only within one partition's stream, so two tenants' entries
//! written in the same millisecond share an id; a worker that told held entries apart
//! by id alone dropped the second one until the reclaimer took it over a minute
//! later. Every delivery must arrive within 10 s of the last acceptance.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use herald_e2e::process::Installation;
use herald_e2e::{TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

const TENANTS: usize = 50;
const APPS_PER_TENANT: usize = 4;
pub(crate) const MESSAGES: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_sending_at_once_are_all_delivered_within_seconds() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let apps = fifty_tenants_with_four_applications(&herald, &receiver).await;
    let started = Instant::now();
    send_round_robin(&herald, &apps, 0..MESSAGES).await;
    let last_accepted = Instant::now();

    all_delivered_within_ten_seconds(&receiver, started, last_accepted, "one serve").await;
    herald.stop().await;
}

/// Creates 50 tenants (the app's own and 49 more) with 4 applications each, every
/// application with one endpoint at `receiver`. Returns each application's tenant key
/// and uid.
pub(crate) async fn fifty_tenants_with_four_applications(
    herald: &TestApp,
    receiver: &TestReceiver,
) -> Vec<(String, String)> {
    let mut apps = Vec::new();
    for tenant in 0..TENANTS {
        let key = if tenant == 0 { herald.api_key.clone() } else { herald.create_other_tenant().await };
        for app in 0..APPS_PER_TENANT {
            let uid = format!("t{tenant}-a{app}");
            let body = json!({"name": uid, "uid": uid}).to_string();
            let (status, _) = herald.request(Method::POST, "/api/v1/app", Some(&key), Some(&body)).await;
            assert_eq!(status, 201);
            let endpoint = json!({"url": receiver.url(&format!("/{uid}"))}).to_string();
            let path = format!("/api/v1/app/{uid}/endpoint");
            let (status, _) = herald.request(Method::POST, &path, Some(&key), Some(&endpoint)).await;
            assert_eq!(status, 201);
            apps.push((key.clone(), uid));
        }
    }
    apps
}

/// Sends messages `numbers` round-robin over every application, 32 requests in flight
/// (so every tenant's stream gets entries in the same milliseconds as the others'),
/// and checks that each is accepted.
pub(crate) async fn send_round_robin(herald: &TestApp, apps: &[(String, String)], numbers: std::ops::Range<usize>) {
    let accepted: Vec<u16> = stream::iter(numbers)
        .map(|n| {
            let (key, uid) = &apps[n % apps.len()];
            let body = json!({"eventType": "load.test", "payload": {"n": n}}).to_string();
            let path = format!("/api/v1/app/{uid}/msg");
            async move { herald.request(Method::POST, &path, Some(key), Some(&body)).await.0 }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(accepted.iter().all(|status| *status == 202), "every message is accepted");
}

const OPERATOR_TOKEN: &str = "many-tenants-operator";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_through_two_api_and_three_worker_processes_are_all_delivered_within_seconds() {
    through_two_api_and_three_worker_processes(Installation::fresh(), "2 api + 3 worker processes").await;
}

/// The 10,000 messages over 50 tenants through 2 `herald api` and 3 `herald worker`
/// processes of `installation`, delivered within 10 s of the last acceptance.
pub(crate) async fn through_two_api_and_three_worker_processes(installation: Installation, setup: &str) {
    let receiver = TestReceiver::start().await;
    let installation = installation.set("HERALD_OPERATOR_TOKEN", OPERATOR_TOKEN);
    let apis = [installation.start("api").await, installation.start("api").await];
    let _workers =
        [installation.start("worker").await, installation.start("worker").await, installation.start("worker").await];
    let client = reqwest::Client::new();
    let post = |url: String, key: String, body: serde_json::Value| {
        let request = client.post(url).bearer_auth(key).json(&body).send();
        async move {
            let response = request.await.expect("the API answers");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let mut apps = Vec::new();
    for tenant in 0..TENANTS {
        let (status, created) =
            post(apis[0].url("/admin/v1/tenant"), OPERATOR_TOKEN.into(), json!({"name": format!("t{tenant}")})).await;
        assert_eq!(status, 201, "{created}");
        let key = created["apiKey"].as_str().expect("an API key").to_owned();
        for app in 0..APPS_PER_TENANT {
            let uid = format!("t{tenant}-a{app}");
            let (status, _) = post(apis[1].url("/api/v1/app"), key.clone(), json!({"name": uid, "uid": uid})).await;
            assert_eq!(status, 201);
            let path = format!("/api/v1/app/{uid}/endpoint");
            let (status, _) =
                post(apis[0].url(&path), key.clone(), json!({"url": receiver.url(&format!("/{uid}"))})).await;
            assert_eq!(status, 201);
            apps.push((key.clone(), uid));
        }
    }

    // Round-robin over every application and both API processes, 32 in flight.
    let started = Instant::now();
    let accepted: Vec<u16> = stream::iter(0..MESSAGES)
        .map(|n| {
            let (key, uid) = &apps[n % apps.len()];
            let url = apis[n % 2].url(&format!("/api/v1/app/{uid}/msg"));
            let sent = post(url, key.clone(), json!({"eventType": "load.test", "payload": {"n": n}}));
            async move { sent.await.0 }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(accepted.iter().all(|status| *status == 202), "every message is accepted");
    let last_accepted = Instant::now();

    all_delivered_within_ten_seconds(&receiver, started, last_accepted, setup).await;
}

/// Waits until every message has arrived, at most 10 s after the last acceptance.
pub(crate) async fn all_delivered_within_ten_seconds(
    receiver: &TestReceiver,
    started: Instant,
    last_accepted: Instant,
    setup: &str,
) {
    let mut delivered = receiver.unique_webhook_ids().len();
    while delivered < MESSAGES && last_accepted.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        delivered = receiver.unique_webhook_ids().len();
    }
    assert_eq!(
        delivered,
        MESSAGES,
        "{setup}: {delivered} of {MESSAGES} delivered 10 s after the last acceptance ({:?} after the first)",
        started.elapsed()
    );
    eprintln!(
        "{MESSAGES} messages over {TENANTS} tenants, {setup}: accepted in {:?}, all delivered {:?} after the last \
         acceptance",
        last_accepted - started,
        last_accepted.elapsed()
    );
}
