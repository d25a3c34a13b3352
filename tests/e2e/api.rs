//! The API's own promises beyond Svix's shapes: cursors that never repeat or skip,
//! idempotency (`eventId` and `Idempotency-Key`), schema validation per tenant, the
//! admin API, resend and recover, and the served OpenAPI document.

use std::collections::HashSet;
use std::time::Duration;

use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{json, Value};

const OPERATOR: &str = "operator-secret-for-tests";

#[tokio::test]
async fn cursor_paging_returns_every_message_once_while_messages_are_created() {
    let herald = TestApp::spawn().await;
    herald.create_application("paging").await;
    let mut before = HashSet::new();
    for n in 0..60 {
        before.insert(herald.send_message("paging", "a.b", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }

    // A writer keeps creating messages while a reader pages through, newest first.
    let writer = {
        let (url, key, http) = (herald.url("/api/v1/app/paging/msg"), herald.api_key.clone(), herald.http.clone());
        tokio::spawn(async move {
            for n in 0..40 {
                let body = json!({"eventType": "a.b", "payload": {"late": n}});
                http.post(&url).bearer_auth(&key).json(&body).send().await.unwrap().error_for_status().unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut iterator: Option<String> = None;
    loop {
        let query = iterator.as_ref().map(|it| format!("&iterator={it}")).unwrap_or_default();
        let (status, page) = herald.get(&format!("/api/v1/app/paging/msg?limit=7{query}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        if page["done"].as_bool().unwrap() {
            break;
        }
        iterator = Some(page["iterator"].as_str().unwrap().to_owned());
    }
    writer.await.unwrap();

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no message appears twice");
    assert!(before.iter().all(|id| unique.contains(id)), "every message that existed when paging began is listed");

    // prevIterator leads back to exactly the previous page. Read once the writes have
    // stopped: a message whose id was drawn before a page was read may commit after it,
    // and so rightly appear when that range is read again.
    let (_, first) = herald.get("/api/v1/app/paging/msg?limit=7").await;
    let (_, second) =
        herald.get(&format!("/api/v1/app/paging/msg?limit=7&iterator={}", first["iterator"].as_str().unwrap())).await;
    let back = second["prevIterator"].as_str().unwrap();
    let (_, previous) = herald.get(&format!("/api/v1/app/paging/msg?limit=7&iterator={back}")).await;
    assert_eq!(previous["data"], first["data"], "prevIterator returns the page before");

    let (status, body) = herald.get("/api/v1/app/paging/msg?iterator=not-ours").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation")), "a foreign cursor is refused: {body}");
    herald.stop().await;
}

async fn message_count(herald: &TestApp, app: &str) -> usize {
    let (_, page) = herald.get(&format!("/api/v1/app/{app}/msg?limit=250")).await;
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn repeats_of_an_event_id_or_idempotency_key_create_nothing() {
    let herald = TestApp::spawn().await;
    herald.create_application("idem").await;

    let body = json!({"eventType": "a.b", "eventId": "evt-1", "payload": {"first": true}});
    let (status, first) = herald.post("/api/v1/app/idem/msg", &body).await;
    assert_eq!(status, 202);
    let again = json!({"eventType": "a.b", "eventId": "evt-1", "payload": {"second": true}});
    let (status, repeat) = herald.post("/api/v1/app/idem/msg", &again).await;
    assert_eq!(status, 202);
    assert_eq!(repeat, first, "a repeated eventId answers with the original message");

    let send = |key: &'static str, payload: Value| {
        let request = herald
            .http
            .post(herald.url("/api/v1/app/idem/msg"))
            .bearer_auth(&herald.api_key)
            .header("idempotency-key", key)
            .json(&json!({"eventType": "a.b", "payload": payload}));
        async move {
            let response = request.send().await.unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            (response.status().as_u16(), replayed, response.json::<Value>().await.unwrap())
        }
    };
    let (status, replayed, original) = send("key-1", json!({"n": 1})).await;
    assert_eq!((status, replayed), (202, false));
    let (status, replayed, repeat) = send("key-1", json!({"n": 1})).await;
    assert_eq!((status, replayed), (202, true));
    assert_eq!(repeat, original, "the same key gets the first answer");
    let (status, _, conflict) = send("key-1", json!({"n": 2})).await;
    assert_eq!((status, conflict["code"].as_str()), (409, Some("idempotency_conflict")));

    assert_eq!(message_count(&herald, "idem").await, 2, "two messages in all");
    herald.stop().await;
}

#[tokio::test]
async fn schema_validation_accepts_flags_or_rejects_as_the_tenant_chose() {
    let herald = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    herald.create_application("schemas").await;
    let schema = json!({"1": {"type": "object", "required": ["user"], "properties": {"user": {"type": "object",
        "properties": {"id": {"type": "string"}}, "required": ["id"]}}}});
    let (status, body) = herald
        .post("/api/v1/event-type", &json!({"name": "user.created", "description": "d", "schemas": schema}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = herald
        .post("/api/v1/event-type", &json!({"name": "bad.schema", "description": "d", "schemas": {"1": {"type": 7}}}))
        .await;
    assert_eq!((status, body["detail"][0]["loc"].clone()), (422, json!(["body", "schemas", "1"])), "{body}");

    let bad = json!({"eventType": "user.created", "payload": {"user": {"id": 42}}});
    let good = json!({"eventType": "user.created", "payload": {"user": {"id": "u1"}}});

    // accept (the default): no check.
    let (status, body) = herald.post("/api/v1/app/schemas/msg", &bad).await;
    assert_eq!(status, 202);
    assert!(body.get("schemaViolations").is_none());

    set_mode(&herald, "flag").await;
    let (status, body) = herald.post("/api/v1/app/schemas/msg", &bad).await;
    assert_eq!(status, 202);
    let flagged = body["schemaViolations"][0].as_str().unwrap_or_default();
    assert!(flagged.contains("/user/id"), "the flag names the path: {body}");

    set_mode(&herald, "reject").await;
    let before = message_count(&herald, "schemas").await;
    let (status, body) = herald.post("/api/v1/app/schemas/msg", &bad).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation")), "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "payload", "user", "id"]), "{body}");
    assert_eq!(message_count(&herald, "schemas").await, before, "a rejected message is not written");
    let (status, _) = herald.post("/api/v1/app/schemas/msg", &good).await;
    assert_eq!(status, 202, "a valid payload passes");
    herald.stop().await;
}

async fn set_mode(herald: &TestApp, mode: &str) {
    let body = json!({"schemaValidation": mode}).to_string();
    let path = format!("/admin/v1/tenant/{}", herald.tenant_id);
    let (status, answer) = herald.request(Method::PATCH, &path, Some(OPERATOR), Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn the_admin_api_issues_and_revokes_keys_behind_the_operator_token() {
    let herald = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    let admin = |method: Method, path: &str, token: &str, body: Option<Value>| {
        let body = body.map(|b| b.to_string());
        let (path, token) = (path.to_owned(), token.to_owned());
        let herald = &herald;
        async move { herald.request(method, &path, Some(&token), body.as_deref()).await }
    };
    let (status, _) = admin(Method::GET, "/admin/v1/tenant", &herald.api_key, None).await;
    assert_eq!(status, 401, "a tenant key is not the operator token");

    let (status, created) = admin(Method::POST, "/admin/v1/tenant", OPERATOR, Some(json!({"name": "acme"}))).await;
    assert_eq!(status, 201, "{created}");
    let tenant = created["id"].as_str().unwrap().to_owned();
    let first_key = created["apiKey"].as_str().unwrap().to_owned();
    let (status, _) = herald.request(Method::GET, "/api/v1/app", Some(&first_key), None).await;
    assert_eq!(status, 200, "the new tenant's key works");

    let path = format!("/admin/v1/tenant/{tenant}/api-key");
    let (status, issued) = admin(Method::POST, &path, OPERATOR, Some(json!({"name": "ci"}))).await;
    assert_eq!(status, 201, "{issued}");
    let second_key = issued["key"].as_str().unwrap().to_owned();
    let (_, keys) = admin(Method::GET, &path, OPERATOR, None).await;
    assert_eq!(keys.as_array().map(Vec::len), Some(2));

    let revoke = format!("{path}/{}", issued["id"].as_str().unwrap());
    let (status, _) = admin(Method::DELETE, &revoke, OPERATOR, None).await;
    assert_eq!(status, 204);
    let (status, body) = herald.request(Method::GET, "/api/v1/app", Some(&second_key), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("authentication_failed")), "a revoked key stops at once");
    let (status, _) = herald.request(Method::GET, "/api/v1/app", Some(&first_key), None).await;
    assert_eq!(status, 200, "the other key still works");
    herald.stop().await;

    let without = TestApp::spawn().await;
    let (status, body) = without.request(Method::GET, "/admin/v1/tenant", Some("anything"), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("authentication_failed")), "no token configured: off");
    without.stop().await;
}

#[tokio::test]
async fn recover_and_resend_start_a_manual_cycle() {
    let herald = TestApp::builder()
        .configure(|s| s.retry_schedule = "0s".to_owned())
        .configure(|s| s.retry_jitter = 0.0)
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(500));
    herald.create_application("recover").await;
    let endpoint = herald.create_endpoint("recover", &receiver.url("/hook"), json!({})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(herald.send_message("recover", "a.b", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }
    let failed_path = format!("/api/v1/app/recover/endpoint/{endpoint}/msg?status=2");
    eventually(Duration::from_secs(10), "three dead-lettered deliveries", || async {
        let (_, page) = herald.get(&failed_path).await;
        (page["data"].as_array().map(Vec::len) == Some(3)).then_some(())
    })
    .await;

    receiver.set_default(Reply::status(200));
    let (status, out) =
        herald.post(&format!("/api/v1/app/recover/endpoint/{endpoint}/recover"), &json!({"since": since})).await;
    assert_eq!((status, out["recovered"].as_u64()), (202, Some(3)), "{out}");
    let succeeded_path = format!("/api/v1/app/recover/endpoint/{endpoint}/msg?status=0");
    eventually(Duration::from_secs(10), "all three delivered after recover", || async {
        let (_, page) = herald.get(&succeeded_path).await;
        (page["data"].as_array().map(Vec::len) == Some(3)).then_some(())
    })
    .await;
    let attempts = herald.attempts("recover", &ids[0]).await;
    assert_eq!(attempts[0]["triggerType"], 1, "the recovered attempt is manual: {attempts:?}");
    assert_eq!(attempts[1]["triggerType"], 0);

    // Resend a succeeded message: one more manual attempt, delivered again.
    let (status, _) =
        herald.post(&format!("/api/v1/app/recover/msg/{}/endpoint/{endpoint}/resend", ids[1]), &json!({})).await;
    assert_eq!(status, 202);
    eventually(Duration::from_secs(10), "the resent attempt", || async {
        let attempts = herald.attempts("recover", &ids[1]).await;
        (attempts.len() == 3 && attempts[0]["status"] == 0 && attempts[0]["triggerType"] == 1).then_some(())
    })
    .await;
    let (_, stats) = herald.get(&format!("/api/v1/app/recover/endpoint/{endpoint}/stats")).await;
    assert_eq!((stats["success"].as_u64(), stats["fail"].as_u64()), (Some(3), Some(0)), "{stats}");
    herald.stop().await;
}

#[tokio::test]
async fn the_openapi_document_and_reference_are_served() {
    let herald = TestApp::spawn().await;
    let (status, document) = herald.request(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(document, committed, "the served document is the committed one");
    let page = herald.http.get(herald.url("/api/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate"), "every route is on the page");
    herald.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_served_with_client_routes_and_api_paths_stay_json() {
    let dir = std::env::temp_dir().join(format!("herald-dashboard-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>Herald</title>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('herald')").unwrap();
    let herald = TestApp::builder().configure(|s| s.dashboard_dir = dir.display().to_string()).start().await;
    for path in ["/", "/apps/app_123/endpoints/ep_1", "/portal"] {
        let page = herald.http.get(herald.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert!(page.text().await.unwrap().contains("<title>Herald</title>"), "{path} serves the app");
    }
    let script = herald.http.get(herald.url("/assets/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    for path in ["/api/v1/nothing-here", "/admin/v1/nothing-here", "/api"] {
        let (status, body) = herald.request(Method::GET, path, None, None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{path}: {body}");
    }
    herald.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_searchable_by_name_uid_or_id() {
    let herald = TestApp::spawn().await;
    let acme = herald.create_application("acme").await;
    herald.post("/api/v1/app", &json!({"name": "Globex Europe", "uid": "globex-eu"})).await;
    herald.post("/api/v1/app", &json!({"name": "Initech 100%"})).await;
    let found = |query: String| {
        let herald = &herald;
        async move {
            let (status, body) = herald.get(&format!("/api/v1/app?search={query}")).await;
            assert_eq!(status, 200, "{body}");
            let mut names: Vec<String> =
                body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect();
            names.sort();
            names
        }
    };
    assert_eq!(found("ACM".into()).await, ["App acme"], "the name, ignoring case");
    assert_eq!(found("-eu".into()).await, ["Globex Europe"], "the uid");
    assert_eq!(found(acme["id"].as_str().unwrap().to_owned()).await, ["App acme"], "the id");
    assert_eq!(found("100%25".into()).await, ["Initech 100%"], "a `%` is a character, not a wildcard");
    assert!(found("nobody".into()).await.is_empty());
    assert_eq!(found("".into()).await.len(), 3, "an empty search lists everything");
    let (status, body) = herald.get(&format!("/api/v1/app?search={}", "x".repeat(257))).await;
    assert_eq!((status, body["detail"][0]["loc"].clone()), (422, json!(["query", "search"])), "{body}");
    herald.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_log_filters_by_delivery_status_and_shows_the_attempts_still_planned() {
    let herald = TestApp::builder()
        .configure(|s| s.retry_schedule = "0s,1h,2h".to_owned())
        .configure(|s| s.retry_jitter = 0.0)
        .start()
        .await;
    let fine = TestReceiver::start().await;
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(503));
    herald.create_application("log").await;
    let fine_endpoint = herald.create_endpoint("log", &fine.url("/ok"), json!({"filterTypes": ["a.ok"]})).await;
    herald.create_endpoint("log", &failing.url("/down"), json!({"filterTypes": ["b.bad"]})).await;
    let ok = herald.send_message("log", "a.ok", json!({})).await["id"].as_str().unwrap().to_owned();
    let bad = herald.send_message("log", "b.bad", json!({})).await["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(20), "both first attempts", || async {
        let ok_done = herald.attempts("log", &ok).await.len() == 1;
        let bad_tried = herald.attempts("log", &bad).await.len() == 1;
        (ok_done
            && bad_tried
            && herald.store.message_deliveries(&herald_core::MessageId::parse(&bad).unwrap()).await.ok()?[0]
                .next_attempt_at
                .is_some())
        .then_some(())
    })
    .await;
    let ids = |status: u8| {
        let herald = &herald;
        async move {
            let (code, body) = herald.get(&format!("/api/v1/app/log/msg?status={status}")).await;
            assert_eq!(code, 200, "{body}");
            body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(0).await, std::slice::from_ref(&ok), "succeeded");
    assert_eq!(ids(1).await, std::slice::from_ref(&bad), "pending, retrying in an hour");
    assert!(ids(2).await.is_empty(), "nothing dead-lettered yet");
    let (status, body) = herald.get("/api/v1/app/log/msg?status=7").await;
    assert_eq!((status, body["detail"][0]["loc"].clone()), (422, json!(["query", "status"])), "{body}");

    // The failing delivery has two attempts left: in an hour, then two hours after that.
    let (_, destinations) = herald.get(&format!("/api/v1/app/log/msg/{bad}/endpoint")).await;
    let destination = &destinations["data"][0];
    let upcoming: Vec<chrono::DateTime<chrono::Utc>> =
        serde_json::from_value(destination["upcomingAttempts"].clone()).expect("a list of times");
    let next: chrono::DateTime<chrono::Utc> = serde_json::from_value(destination["nextAttempt"].clone()).unwrap();
    assert_eq!(upcoming, [next, next + chrono::Duration::hours(2)], "{destination}");
    assert!((next - chrono::Utc::now()).num_minutes() >= 58, "the next try is an hour away: {destination}");
    let (_, delivered) = herald.get(&format!("/api/v1/app/log/msg/{ok}/endpoint")).await;
    assert_eq!(delivered["data"][0]["upcomingAttempts"], json!([]), "nothing planned once delivered");

    // An endpoint's log filters by tag too.
    let body = json!({"eventType": "a.ok", "payload": {}, "tags": ["vip"]});
    let (status, vip) = herald.post("/api/v1/app/log/msg", &body).await;
    assert_eq!(status, 202);
    let endpoint_log =
        |query: &str| format!("/api/v1/app/log/endpoint/{}/msg?{query}", fine_endpoint["id"].as_str().unwrap());
    let (_, tagged) = herald.get(&endpoint_log("tag=vip")).await;
    let tagged: Vec<&str> = tagged["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(tagged, [vip["id"].as_str().unwrap()]);
    let (_, all) = herald.get(&endpoint_log("")).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    herald.stop().await;
}

/// Svix's message and token housekeeping: `precheck/active` says whether a message
/// would go anywhere (by event type, channels and enabled endpoints) without creating
/// one; `bulk-expunge` expunges several payloads by id or eventId and says which it
/// found; `expire-all` ends an application's portal tokens, all of them or one
/// session's, at once or later, and leaves other applications' alone.
#[tokio::test]
async fn precheck_bulk_expunge_and_expire_all() {
    let herald = TestApp::spawn().await;
    herald.create_application("house").await;
    herald.create_application("other").await;
    let precheck = |body: Value| {
        let herald = &herald;
        async move { herald.post("/api/v1/app/house/msg/precheck/active", &body).await }
    };
    assert_eq!(precheck(json!({"eventType": "a.b"})).await, (200, json!({"active": false})), "no endpoint yet");
    let filtered = json!({"filterTypes": ["a.b"], "channels": ["eu"]});
    let endpoint = herald.create_endpoint("house", "https://example.com/hook", filtered).await;
    assert_eq!(precheck(json!({"eventType": "a.b", "channels": ["eu"]})).await.1, json!({"active": true}));
    assert_eq!(precheck(json!({"eventType": "a.b", "channels": ["us"]})).await.1, json!({"active": false}));
    assert_eq!(precheck(json!({"eventType": "c.d", "channels": ["eu"]})).await.1, json!({"active": false}));
    let path = format!("/api/v1/app/house/endpoint/{}", endpoint["id"].as_str().unwrap());
    let (status, _) = herald.request(Method::PATCH, &path, Some(&herald.api_key), Some(r#"{"disabled": true}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(precheck(json!({"eventType": "a.b", "channels": ["eu"]})).await.1, json!({"active": false}), "disabled");
    let (status, refused) = precheck(json!({"eventType": "not a slug"})).await;
    assert_eq!((status, refused["code"].as_str()), (422, Some("validation")));
    let (_, listed) = herald.get("/api/v1/app/house/msg").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "a precheck creates nothing");

    let first = herald.send_message("house", "a.b", json!({"secret": 1})).await;
    let body = json!({"eventType": "a.b", "eventId": "evt-2", "payload": {"secret": 2}});
    assert_eq!(herald.post("/api/v1/app/house/msg", &body).await.0, 202);
    let first = first["id"].as_str().unwrap().to_owned();
    let ids = json!({"ids": [first, "evt-2", "msg_0000000000000000000000"]});
    let (status, out) = herald.post("/api/v1/app/house/msg/bulk-expunge", &ids).await;
    assert_eq!(status, 200, "{out}");
    let expected = json!({"results": {first.as_str(): "expunged", "evt-2": "expunged", "msg_0000000000000000000000": "not-found"}});
    assert_eq!(out, expected);
    for id in [first.as_str(), "evt-2"] {
        let (_, read) = herald.get(&format!("/api/v1/app/house/msg/{id}")).await;
        assert_eq!(read["payload"], json!({}), "expunged: {read}");
    }
    let too_many: Vec<String> = (0..1_001).map(|n| format!("m{n}")).collect();
    let (status, _) = herald.post("/api/v1/app/house/msg/bulk-expunge", &json!({ "ids": too_many })).await;
    assert_eq!(status, 422);

    // Portal tokens: two sessions of `house`, one of `other`.
    let mut tokens = Vec::new();
    for (app, session) in [("house", "s1"), ("house", "s2"), ("other", "s1")] {
        let body = json!({"sessionId": session});
        let (status, access) = herald.post(&format!("/api/v1/auth/app-portal-access/{app}"), &body).await;
        assert_eq!(status, 200, "{access}");
        tokens.push((app, access["token"].as_str().unwrap().to_owned()));
    }
    let works = |app: &'static str, token: String| {
        let herald = &herald;
        async move { herald.request(Method::GET, &format!("/api/v1/app/{app}/endpoint"), Some(&token), None).await.0 }
    };
    let expire = |body: Value| {
        let herald = &herald;
        async move { herald.post("/api/v1/auth/app/house/expire-all", &body).await.0 }
    };
    assert_eq!(expire(json!({"sessionIds": ["s1"]})).await, 204);
    let statuses = [works("house", tokens[0].1.clone()).await, works("house", tokens[1].1.clone()).await];
    assert_eq!(statuses, [401, 200], "only session s1 of house ended");
    assert_eq!(works("other", tokens[2].1.clone()).await, 200, "another application's tokens are untouched");
    assert_eq!(expire(json!({"expiry": 2})).await, 204);
    assert_eq!(works("house", tokens[1].1.clone()).await, 200, "still valid for two seconds");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(works("house", tokens[1].1.clone()).await, 401, "then expired");
    assert_eq!(expire(json!({"expiry": 700_000})).await, 422);
    let (status, _) = herald.post("/api/v1/auth/app/nope/expire-all", &json!({})).await;
    assert_eq!(status, 404);
    herald.stop().await;
}

/// Svix's attempt statistics: an application's (and one endpoint's) attempts that
/// succeeded and failed, in five-minute buckets of a window of at most a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_statistics_count_successes_and_failures_in_five_minute_buckets() {
    let herald = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,1s".into();
            // Six failures in a row would open the failing endpoint's breaker.
            s.breaker_failure_threshold = 100;
        })
        .start()
        .await;
    let good = TestReceiver::start().await;
    let bad = TestReceiver::start().await;
    bad.set_default(Reply::status(500));
    herald.create_application("stats").await;
    let ok = herald.create_endpoint("stats", &good.url("/ok"), json!({})).await;
    let failing = herald.create_endpoint("stats", &bad.url("/bad"), json!({})).await;
    for n in 0..3 {
        herald.send_message("stats", "a.b", json!({"n": n})).await;
    }
    // Three successes at the good endpoint; two attempts of each of three at the bad one.
    eventually(Duration::from_secs(20), "every attempt", || async {
        (good.request_count() == 3 && bad.request_count() == 6).then_some(())
    })
    .await;
    let total = |answer: &Value, field: &str| -> i64 {
        answer["data"][field].as_array().map_or(0, |counts| counts.iter().map(|n| n.as_i64().unwrap()).sum())
    };
    let app = eventually(Duration::from_secs(10), "the attempts recorded", || async {
        let (status, answer) = herald.get("/api/v1/stats/app/stats/attempt").await;
        assert_eq!(status, 200, "{answer}");
        (total(&answer, "successCount") == 3 && total(&answer, "failureCount") == 6).then_some(answer)
    })
    .await;
    assert_eq!(app["period"], "FiveMinutes");
    let buckets = app["data"]["successCount"].as_array().unwrap().len();
    assert!((72..=73).contains(&buckets), "six hours of five minutes, the one in progress too: {buckets}");
    let start: chrono::DateTime<chrono::Utc> = app["startDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(start.timestamp() % 300, 0, "rounded down to five minutes: {start}");

    let one = |id: &Value| format!("/api/v1/stats/app/stats/ep/{}/attempt", id.as_str().unwrap());
    let (status, answer) = herald.get(&one(&ok["id"])).await;
    assert_eq!((status, total(&answer, "successCount"), total(&answer, "failureCount")), (200, 3, 0), "{answer}");
    let (status, answer) = herald.get(&one(&failing["id"])).await;
    assert_eq!((status, total(&answer, "successCount"), total(&answer, "failureCount")), (200, 0, 6), "{answer}");

    // A window of the past hour counts them too; an old one counts nothing.
    let now = chrono::Utc::now();
    let window = |start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>| {
        let encode = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!("/api/v1/stats/app/stats/attempt?startDate={}&endDate={}", encode(start), encode(end))
    };
    let (_, recent) = herald.get(&window(now - chrono::Duration::hours(1), now + chrono::Duration::hours(1))).await;
    assert_eq!(total(&recent, "successCount"), 3, "{recent}");
    let (_, old) = herald.get(&window(now - chrono::Duration::hours(30), now - chrono::Duration::hours(29))).await;
    assert_eq!(total(&old, "successCount") + total(&old, "failureCount"), 0, "{old}");

    for bad in [
        format!("/api/v1/stats/app/stats/attempt?startDate={}", now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        window(now, now - chrono::Duration::hours(1)),
        window(now - chrono::Duration::days(3), now),
    ] {
        let (status, answer) = herald.get(&bad).await;
        assert_eq!(status, 422, "{bad}: {answer}");
    }
    let (status, _) = herald.get("/api/v1/stats/app/nobody/attempt").await;
    assert_eq!(status, 404);
}

/// An OpenAPI 3.1 document as a producer keeps it, in YAML.
const PETS_SPEC: &str = r##"
openapi: 3.1.0
info: {title: Pets, version: "1"}
webhooks:
  pet.new:
    post:
      description: A new pet has been added
      x-svix-group-name: pets
      x-svix-feature-flags: [beta]
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
  pet.gone:
    post:
      summary: A pet left
      deprecated: true
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
"##;

#[tokio::test]
async fn event_types_are_imported_from_an_openapi_document_all_or_nothing() {
    let herald = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    let import = |body: Value| {
        let herald = &herald;
        async move { herald.post("/api/v1/event-type/import/openapi", &body).await }
    };
    let (status, _) = herald.post("/api/v1/event-type", &json!({"name": "old.one", "description": "old"})).await;
    assert_eq!(status, 201);

    // A dry run says what would change and changes nothing.
    let (status, dry) = import(json!({"specRaw": PETS_SPEC, "dryRun": true})).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["data"]["modified"], json!([]));
    let would: Vec<&str> =
        dry["data"]["to_modify"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(would.len(), 2, "{dry}");
    let (status, _) = herald.get("/api/v1/event-type/pet.new").await;
    assert_eq!(status, 404, "a dry run created nothing");

    // The real thing: both created, with the body's schema as version 1.
    let (status, done) = import(json!({"specRaw": PETS_SPEC})).await;
    assert_eq!(status, 200, "{done}");
    let mut modified: Vec<&str> =
        done["data"]["modified"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    modified.sort();
    assert_eq!(modified, vec!["pet.gone", "pet.new"]);
    assert!(done["data"].get("to_modify").is_none(), "{done}");
    let (_, new) = herald.get("/api/v1/event-type/pet.new").await;
    assert_eq!(new["description"], "A new pet has been added");
    assert_eq!((&new["groupName"], &new["featureFlags"]), (&json!("pets"), &json!(["beta"])));
    assert_eq!(new["schemas"]["1"]["required"], json!(["name"]), "{new}");
    let (_, gone) = herald.get("/api/v1/event-type/pet.gone").await;
    assert_eq!((&gone["description"], &gone["deprecated"]), (&json!("A pet left"), &json!(true)));
    // The imported schema checks payloads like any other.
    herald.create_application("pets").await;
    set_mode(&herald, "reject").await;
    // The API reads the tenant's settings through a one-second cache.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (status, body) = herald.post("/api/v1/app/pets/msg", &json!({"eventType": "pet.new", "payload": {}})).await;
    assert_eq!(status, 422, "a payload without the required name: {body}");

    // The same document again changes nothing; a changed one, with replaceAll, changes
    // that type and archives the ones it no longer defines (through `spec` as JSON, at
    // the path with a trailing slash that Svix's GitHub Action uses).
    let (_, again) = import(json!({"specRaw": PETS_SPEC})).await;
    assert_eq!(again["data"]["modified"], json!([]));
    let spec = json!({"openapi": "3.1.0", "webhooks": {"pet.new": {"post": {"description": "Renamed"}}}});
    let (status, replaced) =
        herald.post("/api/v1/event-type/import/openapi/", &json!({"spec": spec, "replaceAll": true})).await;
    assert_eq!(status, 200, "{replaced}");
    let mut modified: Vec<&str> =
        replaced["data"]["modified"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    modified.sort();
    assert_eq!(modified, vec!["old.one", "pet.gone", "pet.new"]);
    let (_, old) = herald.get("/api/v1/event-type/old.one").await;
    assert_eq!(old["archived"], true);

    // Bad documents change nothing and say where the problem is.
    let broken = json!({"webhooks": {
        "ok.one": {"post": {"description": "fine"}},
        "bad name!": {"post": {}},
        "remote": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "https://example.com/x"}}}}}}
    }});
    let (status, body) = import(json!({"spec": broken})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation")), "{body}");
    let (status, _) = herald.get("/api/v1/event-type/ok.one").await;
    assert_eq!(status, 404, "nothing of a bad document is imported");
    for bad in [
        json!({}),
        json!({"spec": {"webhooks": {}}, "specRaw": "webhooks: {}"}),
        json!({"specRaw": "a: [unclosed"}),
        json!({"specRaw": "openapi: 3.1.0"}),
    ] {
        let (status, body) = import(bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    herald.stop().await;
}

#[tokio::test]
async fn a_portal_token_sees_the_event_types_behind_its_feature_flags_only() {
    let herald = TestApp::spawn().await;
    for body in [
        json!({"name": "public.one", "description": "for everyone"}),
        json!({"name": "beta.one", "description": "beta", "featureFlags": ["beta"]}),
        json!({"name": "legacy.one", "description": "old flag", "featureFlag": "old"}),
    ] {
        let (status, created) = herald.post("/api/v1/event-type", &body).await;
        assert_eq!(status, 201, "{created}");
    }
    herald.create_application("portal").await;
    let names = |listing: &Value| -> Vec<String> {
        listing["data"].as_array().unwrap().iter().map(|et| et["name"].as_str().unwrap().to_owned()).collect()
    };
    let token = |flags: Value| {
        let herald = &herald;
        async move {
            let (status, access) =
                herald.post("/api/v1/auth/app-portal-access/portal", &json!({"featureFlags": flags})).await;
            assert_eq!(status, 200, "{access}");
            access["token"].as_str().unwrap().to_owned()
        }
    };
    let plain = token(json!(null)).await;
    let beta = token(json!(["beta", "other"])).await;

    let (_, all) = herald.get("/api/v1/event-type").await;
    assert_eq!(names(&all), vec!["beta.one", "legacy.one", "public.one"], "an API key sees every event type");
    let (status, listed) = herald.request(Method::GET, "/api/v1/event-type", Some(&plain), None).await;
    assert_eq!((status, names(&listed)), (200, vec!["public.one".to_owned()]));
    let (status, listed) = herald.request(Method::GET, "/api/v1/event-type?limit=1", Some(&beta), None).await;
    assert_eq!(status, 200);
    // Following the iterator reaches every visible one, and no iterator names a hidden
    // one (an iterator is the base64 of a name).
    let mut seen = names(&listed);
    let mut next = listed["iterator"].as_str().unwrap().to_owned();
    let mut iterators = vec![next.clone()];
    for _ in 0..5 {
        let at = next.clone();
        let (_, page) =
            herald.request(Method::GET, &format!("/api/v1/event-type?limit=1&iterator={at}"), Some(&beta), None).await;
        seen.extend(names(&page));
        for key in ["iterator", "prevIterator"] {
            if let Some(iterator) = page[key].as_str() {
                iterators.push(iterator.to_owned());
            }
        }
        if page["done"] == true {
            break;
        }
        next = page["iterator"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, vec!["beta.one", "public.one"]);
    use base64::Engine;
    for iterator in &iterators {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(iterator).unwrap();
        assert!(!String::from_utf8_lossy(&decoded).contains("legacy"), "an iterator names a hidden event type");
    }
    for (key, name, expected) in
        [(&plain, "beta.one", 404), (&plain, "legacy.one", 404), (&beta, "beta.one", 200), (&beta, "legacy.one", 404)]
    {
        let (status, _) = herald.request(Method::GET, &format!("/api/v1/event-type/{name}"), Some(key), None).await;
        assert_eq!(status, expected, "{name}");
    }
    herald.stop().await;
}
