//! Many tenants sending at once. Stream entry ids are unique only within one
//! partition's stream, so two tenants' entries written in the same millisecond share
//! an id; a worker that told held entries apart by id alone dropped the second one
//! until the reclaimer took it over a minute later. Every delivery must arrive within
//! seconds of the last acceptance.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use herald_e2e::{TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

const TENANTS: usize = 50;
const APPS_PER_TENANT: usize = 4;
const MESSAGES: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_sending_at_once_are_all_delivered_within_seconds() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
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

    // Round-robin over every application, 32 requests in flight: every tenant's stream
    // gets entries in the same milliseconds as the others'.
    let started = Instant::now();
    let accepted: Vec<u16> = stream::iter(0..MESSAGES)
        .map(|n| {
            let (key, uid) = &apps[n % apps.len()];
            let body = json!({"eventType": "load.test", "payload": {"n": n}}).to_string();
            let path = format!("/api/v1/app/{uid}/msg");
            let herald = &herald;
            async move { herald.request(Method::POST, &path, Some(key), Some(&body)).await.0 }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(accepted.iter().all(|status| *status == 202), "every message is accepted");
    let last_accepted = Instant::now();

    let mut delivered = receiver.unique_webhook_ids().len();
    while delivered < MESSAGES && last_accepted.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        delivered = receiver.unique_webhook_ids().len();
    }
    assert_eq!(
        delivered,
        MESSAGES,
        "{} of {MESSAGES} delivered 10 s after the last acceptance ({:?} after the first)",
        delivered,
        started.elapsed()
    );
    eprintln!(
        "{MESSAGES} messages over {TENANTS} tenants: accepted in {:?}, all delivered {:?} after the last acceptance",
        last_accepted - started,
        last_accepted.elapsed()
    );
    herald.stop().await;
}
