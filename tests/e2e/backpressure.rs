//! Ingest backpressure: a tenant over its ingest rate limit gets `429 rate_limited`
//! with `Retry-After` before anything is written (no message, no idempotency claim),
//! while another tenant's ingest goes on untouched; the operator sets and lifts the
//! limit per tenant through `/admin/v1`.

use std::time::Duration;

use herald_e2e::{eventually, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const OPERATOR: &str = "operator-token-for-backpressure";

/// Sends `count` messages one after another as `key`; the statuses and the 429s' bodies.
async fn send(herald: &TestApp, key: &str, app: &str, count: usize) -> (Vec<u16>, Vec<(Option<String>, Value)>) {
    let mut statuses = Vec::new();
    let mut refusals = Vec::new();
    for n in 0..count {
        let body = json!({"eventType": "order.created", "payload": {"n": n}}).to_string();
        let response = herald
            .http
            .post(herald.url(&format!("/api/v1/app/{app}/msg")))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == 429 {
            refusals.push((retry_after, answer));
        }
        statuses.push(status);
    }
    (statuses, refusals)
}

async fn messages_of(herald: &TestApp, key: &str, app: &str) -> usize {
    let (status, page) =
        herald.request(Method::GET, &format!("/api/v1/app/{app}/msg?limit=250"), Some(key), None).await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().len()
}

async fn patch_tenant(herald: &TestApp, body: Value) -> (u16, Value) {
    herald
        .request(
            Method::PATCH,
            &format!("/admin/v1/tenant/{}", herald.tenant_id),
            Some(OPERATOR),
            Some(&body.to_string()),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_ingest_limit_gets_429_with_nothing_written_while_another_is_untouched() {
    let herald = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    let key = herald.api_key.clone();
    let other = herald.create_other_tenant().await;
    for credential in [&key, &other] {
        let (status, app) = herald
            .request(Method::POST, "/api/v1/app", Some(credential), Some(r#"{"name": "Shop", "uid": "shop"}"#))
            .await;
        assert_eq!(status, 201, "{app}");
    }
    let (status, tenant) = patch_tenant(&herald, json!({"ingestRateLimit": 5})).await;
    assert_eq!((status, &tenant["ingestRateLimit"]), (200, &json!(5)), "{tenant}");
    let (status, refused) = patch_tenant(&herald, json!({"ingestRateLimit": 2_000_000})).await;
    assert_eq!(status, 422, "{refused}");

    // Over the limit: a burst of 5 (and what a second of sending refills), then 429s
    // with a code and Retry-After; only the accepted messages exist.
    let started = std::time::Instant::now();
    let (statuses, refusals) = send(&herald, &key, "shop", 40).await;
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!(accepted + refusals.len(), 40, "every answer is 202 or 429: {statuses:?}");
    let most = 5 + (elapsed * 5.0).ceil() as usize;
    assert!((5..=most).contains(&accepted), "{accepted} accepted in {elapsed:.2} s at 5/s");
    for (retry_after, body) in &refusals {
        assert_eq!(body["code"], "rate_limited", "{body}");
        let seconds: u64 = retry_after.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=1).contains(&seconds), "Retry-After {seconds}");
    }
    assert_eq!(messages_of(&herald, &key, "shop").await, accepted, "a refused message is not written");

    // The other tenant, at the same time, is not limited.
    let (statuses, _) = send(&herald, &other, "shop", 40).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");

    // A refused request with an Idempotency-Key leaves no claim: once the budget is
    // back, the same key creates the message.
    let limited = herald.url("/api/v1/app/shop/msg");
    let body = r#"{"eventType": "order.created", "payload": {"n": "keyed"}}"#;
    let keyed = || {
        herald
            .http
            .post(&limited)
            .bearer_auth(&key)
            .header("idempotency-key", "order-keyed")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    send(&herald, &key, "shop", 10).await;
    let first = keyed().await.unwrap();
    assert_eq!(first.status().as_u16(), 429, "the budget was just spent");
    let retried = eventually(Duration::from_secs(5), "the keyed message admitted", || async {
        let response = keyed().await.unwrap();
        (response.status().as_u16() == 202).then_some(response.headers().get("idempotent-replayed").is_none())
    })
    .await;
    assert!(retried, "the 202 is a new message, not a replayed 429");

    // The metric counts the refusals, for this tenant.
    let text = reqwest::get(format!("http://{}/metrics", herald.metrics_address)).await.unwrap().text().await.unwrap();
    let series = format!("herald_ingest_throttled_total{{tenant=\"{}\"}} ", herald.tenant_id);
    let counted: f64 = text.lines().find_map(|l| l.strip_prefix(&series)).expect("the series").trim().parse().unwrap();
    assert!(counted >= refusals.len() as f64, "{counted} counted, {} refused", refusals.len());

    // Lifted (back to the setting, no limit): all accepted again, within the key cache's second.
    let (status, tenant) = patch_tenant(&herald, json!({"ingestRateLimit": null})).await;
    assert_eq!((status, &tenant["ingestRateLimit"]), (200, &Value::Null), "{tenant}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (statuses, _) = send(&herald, &key, "shop", 30).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    herald.stop().await;
}
