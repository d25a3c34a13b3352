//! Retention through the running service: a payload reads as expunged once its payload
//! retention is over, and the message is gone (with its attempts) once its metadata
//! retention is; a tenant's overrides and a sender's `payloadRetentionHours` change the
//! periods of the messages accepted after them; the pruner's work shows in `/metrics`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_e2e::{eventually, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{json, Value};

const OPERATOR: &str = "operator-token-for-retention";

fn instant(message: &Value, field: &str) -> DateTime<Utc> {
    message[field].as_str().unwrap_or_else(|| panic!("{field} in {message}")).parse().unwrap()
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_then_messages_are_pruned_when_their_retention_is_over() {
    let herald = TestApp::builder()
        .configure(|s| {
            s.payload_retention = Duration::from_secs(2);
            s.metadata_retention = Duration::from_secs(4);
            s.prune_interval = Duration::from_millis(200);
            s.operator_token = OPERATOR.to_string().into();
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    herald.create_application("acme").await;
    let endpoint = herald.create_endpoint("acme", &receiver.url("/hook"), json!({})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();

    let gone = herald.send_message("acme", "invoice.paid", json!({"card": "4242"})).await;
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    assert_eq!(seconds_between(instant(&gone, "timestamp"), instant(&gone, "payloadExpiresAt")), 2, "{gone}");
    assert_eq!(seconds_between(instant(&gone, "timestamp"), instant(&gone, "expiresAt")), 4, "{gone}");
    assert_eq!(gone["payloadExpunged"], false);
    eventually(Duration::from_secs(10), "the first message delivered", || async {
        (receiver.request_count() == 1).then_some(())
    })
    .await;

    // From now on this tenant keeps messages for an hour; payloads still two seconds,
    // unless the sender asks for longer.
    let path = format!("/admin/v1/tenant/{}", herald.tenant_id);
    let patch = |body: Value| {
        let path = &path;
        let herald = &herald;
        async move { herald.request(Method::PATCH, path, Some(OPERATOR), Some(&body.to_string())).await }
    };
    let (status, tenant) = patch(json!({"metadataRetention": 3600})).await;
    assert_eq!((status, &tenant["metadataRetention"], &tenant["payloadRetention"]), (200, &json!(3600), &Value::Null));
    for bad in
        [json!({"payloadRetention": 0}), json!({"metadataRetention": 315_576_001}), json!({"payloadRetention": -1})]
    {
        let (status, error) = patch(bad.clone()).await;
        assert!(status == 422 || status == 400, "{bad}: {status} {error}");
    }
    // The tenant is read through a cache that lives a second.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let kept = herald.send_message("acme", "invoice.paid", json!({"card": "5555"})).await;
    assert_eq!(seconds_between(instant(&kept, "timestamp"), instant(&kept, "expiresAt")), 3600, "{kept}");
    let asked = json!({"eventType": "invoice.paid", "payload": {"card": "6666"}, "payloadRetentionHours": 1});
    let (status, asked) = herald.post("/api/v1/app/acme/msg", &asked).await;
    assert_eq!(status, 202, "{asked}");
    assert_eq!(seconds_between(instant(&asked, "timestamp"), instant(&asked, "payloadExpiresAt")), 3600, "{asked}");
    for bad in [
        json!({"eventType": "a", "payload": {}, "payloadRetentionHours": 0}),
        json!({"eventType": "a", "payload": {}, "payloadRetentionHours": 2161}),
        json!({"eventType": "a", "payload": {}, "payloadRetentionHours": 1, "payloadRetentionPeriod": 5}),
        // Its payload would be gone before it is due (the tenant keeps payloads 2 s).
        json!({"eventType": "a", "payload": {}, "deliverAt": Utc::now() + chrono::Duration::minutes(1)}),
    ] {
        let (status, error) = herald.post("/api/v1/app/acme/msg", &bad).await;
        assert_eq!(status, 422, "{bad}: {error}");
    }

    let herald = &herald;
    let read = |id: String| async move { herald.get(&format!("/api/v1/app/acme/msg/{id}")).await };
    let expunged = eventually(Duration::from_secs(10), "the first payload expunged", || async {
        let (status, message) = read(gone_id.clone()).await;
        (status == 200 && message["payloadExpunged"] == true).then_some(message)
    })
    .await;
    assert_eq!(expunged["payload"], json!({}), "{expunged}");
    assert_eq!(herald.attempts("acme", &gone_id).await.len(), 1, "the attempts stay until the message goes");

    // Deleted once its payload has been gone for ten seconds and its delivery has settled.
    eventually(Duration::from_secs(30), "the first message deleted", || async {
        (read(gone_id.clone()).await.0 == 404).then_some(())
    })
    .await;
    // Its attempt went with it: the endpoint's attempts no longer name it.
    let (status, attempts) = herald.get(&format!("/api/v1/app/acme/attempt/endpoint/{endpoint_id}?limit=250")).await;
    assert_eq!(status, 200, "{attempts}");
    let named: Vec<&str> = attempts["data"].as_array().unwrap().iter().filter_map(|a| a["msgId"].as_str()).collect();
    assert!(!named.is_empty() && !named.contains(&gone_id.as_str()), "{attempts}");
    let (status, listed) = herald.get("/api/v1/app/acme/msg?limit=50").await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(!listed.contains(&gone_id.as_str()), "{listed:?}");

    // The message kept for an hour has lost its payload (two seconds) but not itself;
    // the one whose sender asked for an hour keeps both.
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let kept = eventually(Duration::from_secs(10), "the kept message's payload expunged", || async {
        let (status, kept) = read(kept_id.clone()).await;
        assert_eq!(status, 200, "kept for an hour: {kept}");
        (kept["payloadExpunged"] == true).then_some(kept)
    })
    .await;
    assert_eq!(kept["payload"], json!({}), "{kept}");
    let (status, asked) = read(asked["id"].as_str().unwrap().to_owned()).await;
    assert_eq!((status, &asked["payloadExpunged"], &asked["payload"]), (200, &json!(false), &json!({"card": "6666"})));

    let metrics =
        reqwest::get(format!("http://{}/metrics", herald.metrics_address)).await.unwrap().text().await.unwrap();
    let count = |kind: &str| -> f64 {
        let prefix = format!("herald_retention_pruned_total{{kind=\"{kind}\"}} ");
        metrics.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|n| n.parse().ok()).unwrap_or(0.0)
    };
    assert!(count("payload") >= 2.0 && count("message") >= 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expunge_all_contents_is_a_task_that_expunges_what_was_accepted_before_it() {
    let herald = TestApp::builder().start().await;
    herald.create_application("acme").await;
    herald.create_application("other").await;
    let mut ids = Vec::new();
    for n in 0..30 {
        ids.push(herald.send_message("acme", "invoice.paid", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }
    let theirs = herald.send_message("other", "invoice.paid", json!({"keep": true})).await;

    // Svix's call: no body, 202 with the task.
    let (status, task) =
        herald.request(Method::POST, "/api/v1/app/acme/msg/expunge-all-contents", Some(&herald.api_key), None).await;
    assert_eq!(status, 202, "{task}");
    assert_eq!((task["task"].as_str(), task["status"].as_str()), (Some("application.purge_content"), Some("running")));
    assert!(task["updatedAt"].is_string(), "{task}");
    let task_id = task["id"].as_str().unwrap().to_owned();
    let kept = herald.send_message("acme", "invoice.paid", json!({"after": true})).await;

    let finished = eventually(Duration::from_secs(15), "the purge task to finish", || async {
        let (status, task) = herald.get(&format!("/api/v1/background-task/{task_id}")).await;
        assert_eq!(status, 200, "{task}");
        (task["status"] == "finished").then_some(task)
    })
    .await;
    assert_eq!(finished["data"]["messagesPurged"], 30, "{finished}");
    assert_eq!(finished["data"]["total"], 30);
    assert!(finished["data"].get("endpointId").is_none(), "an application-level task has no endpoint: {finished}");
    for id in &ids {
        let (status, message) = herald.get(&format!("/api/v1/app/acme/msg/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!((&message["payloadExpunged"], &message["payload"]), (&json!(true), &json!({})), "{message}");
    }
    let (_, kept) = herald.get(&format!("/api/v1/app/acme/msg/{}", kept["id"].as_str().unwrap())).await;
    assert_eq!(kept["payload"], json!({"after": true}), "a message accepted after the call keeps its payload");
    let (_, theirs) = herald.get(&format!("/api/v1/app/other/msg/{}", theirs["id"].as_str().unwrap())).await;
    assert_eq!(theirs["payload"], json!({"keep": true}), "another application keeps its payloads");

    // The task is listed under Svix's type, and an unknown application is a 404.
    let (_, listed) = herald.get("/api/v1/background-task?task=application.purge_content").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let (status, _) =
        herald.request(Method::POST, "/api/v1/app/nope/msg/expunge-all-contents", Some(&herald.api_key), None).await;
    assert_eq!(status, 404);
    herald.stop().await;
}
