//! Ingest backpressure: a tenant over its ingest rate limit gets `429 rate_limited`,
//! and one over a backlog cap `429 backlog_full`, with `Retry-After` before anything
//! is written (no message, no idempotency claim), while another tenant's ingest goes
//! on untouched; the operator sets and lifts limits and caps per tenant through
//! `/admin/v1`.

use std::time::Duration;

use herald_e2e::process::Installation;
use herald_e2e::{eventually, TestApp, TestReceiver};
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
    let series = format!("herald_ingest_throttled_total{{reason=\"rate_limit\",tenant=\"{}\"}} ", herald.tenant_id);
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

/// One message from a process-level client: the status, `Retry-After` and body.
async fn send_one(client: &reqwest::Client, url: &str, key: &str) -> (u16, Option<String>, Value) {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(&json!({"eventType": "order.created", "payload": {"n": 1}}))
        .send()
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

/// With only `herald api` running nothing is delivered, so backlogs only grow: a tenant
/// over its count cap, and then one over its age cap, get `429 backlog_full` with nothing
/// written, while the other goes on; a worker drains them and both are admitted again,
/// and every accepted message arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_a_backlog_cap_gets_429_with_nothing_written_until_its_deliveries_drain() {
    let receiver = TestReceiver::start().await;
    let installation = Installation::fresh().set("HERALD_OPERATOR_TOKEN", OPERATOR);
    let capped = installation.create_tenant("capped");
    let other = installation.create_tenant("other");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let api = installation.clone().set("HERALD_METRICS_LISTEN", &metrics).start("api").await;
    let client = reqwest::Client::new();
    for key in [&capped, &other] {
        for (path, body) in [
            ("/api/v1/app", json!({"name": "Shop", "uid": "shop"})),
            ("/api/v1/app/shop/endpoint", json!({"url": receiver.url("/hooks")})),
        ] {
            let response = client.post(api.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 201, "{path}");
        }
    }
    let tenants: Value =
        client.get(api.url("/admin/v1/tenant")).bearer_auth(OPERATOR).send().await.unwrap().json().await.unwrap();
    let id_of = |name: &str| {
        tenants.as_array().unwrap().iter().find(|t| t["name"] == name).expect("listed")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let patch = |name: &str, body: Value| {
        let request = client.patch(api.url(&format!("/admin/v1/tenant/{}", id_of(name)))).bearer_auth(OPERATOR);
        async move {
            let response = request.json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, tenant) = patch("capped", json!({"maxBacklog": 20})).await;
    assert_eq!((status, &tenant["maxBacklog"], &tenant["maxBacklogAge"]), (200, &json!(20), &Value::Null), "{tenant}");
    for refused in [json!({"maxBacklog": -1}), json!({"maxBacklogAge": 2_592_001}), json!({"maxBacklog": "many"})] {
        let (status, answer) = patch("capped", refused.clone()).await;
        assert!(status == 422 || status == 400, "{refused} → {status} {answer}");
    }

    // 20 deliveries fill the cap; within the second the backlog is read, message
    // creation is refused, and then refusals write nothing.
    let msg = api.url("/api/v1/app/shop/msg");
    for _ in 0..20 {
        assert_eq!(send_one(&client, &msg, &capped).await.0, 202);
    }
    let (retry_after, refused) = eventually(Duration::from_secs(10), "the capped tenant to be refused", || async {
        let (status, retry_after, body) = send_one(&client, &msg, &capped).await;
        (status == 429).then_some((retry_after, body))
    })
    .await;
    assert_eq!(refused["code"], "backlog_full", "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("the cap is 20"), "{refused}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    let count = |key: String| {
        let request = client.get(api.url("/api/v1/app/shop/msg?limit=250")).bearer_auth(key);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["data"].as_array().unwrap().len() }
    };
    let written = count(capped.clone()).await;
    assert!((20..=40).contains(&written), "{written} messages: the cap, and at most a second's sending past it");
    for _ in 0..10 {
        assert_eq!(send_one(&client, &msg, &capped).await.0, 429);
    }
    assert_eq!(count(capped.clone()).await, written, "a refused request writes nothing");
    // The other tenant is not held back by the capped one.
    for _ in 0..30 {
        assert_eq!(send_one(&client, &msg, &other).await.0, 202, "the other tenant is admitted");
    }

    // The age cap: the other tenant's oldest delivery has waited since before the
    // sending above; a cap of 1 s refuses it.
    let (status, tenant) = patch("other", json!({"maxBacklogAge": 1})).await;
    assert_eq!((status, &tenant["maxBacklogAge"]), (200, &json!(1)), "{tenant}");
    let (_, aged) = eventually(Duration::from_secs(10), "the other tenant to be refused for age", || async {
        let (status, retry_after, body) = send_one(&client, &msg, &other).await;
        (status == 429).then_some((retry_after, body))
    })
    .await;
    assert_eq!(aged["code"], "backlog_full", "{aged}");
    assert!(aged["detail"].as_str().unwrap().contains("oldest ready delivery"), "{aged}");

    // The metric counts the refusals by reason.
    let text = reqwest::get(format!("http://{metrics}/metrics")).await.unwrap().text().await.unwrap();
    let series = format!("herald_ingest_throttled_total{{reason=\"backlog\",tenant=\"{}\"}} ", id_of("capped"));
    let counted: f64 = text.lines().find_map(|l| l.strip_prefix(&series)).expect("the series").trim().parse().unwrap();
    assert!(counted >= 11.0, "{counted} counted");

    // A worker drains both backlogs: every accepted message arrives, and both tenants
    // are admitted again.
    let _worker = installation.start("worker").await;
    let accepted = written + count(other.clone()).await;
    eventually(Duration::from_secs(30), "every accepted message to arrive", || async {
        (receiver.unique_webhook_ids().len() >= accepted).then_some(())
    })
    .await;
    assert_eq!(receiver.unique_webhook_ids().len(), accepted, "only accepted messages were delivered");
    for key in [&capped, &other] {
        eventually(Duration::from_secs(10), "the tenant to be admitted again", || async {
            (send_one(&client, &msg, key).await.0 == 202).then_some(())
        })
        .await;
    }
}
