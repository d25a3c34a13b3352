//! Tenant and application isolation, written once over every route:
//! - a key of tenant A gets `404` for every object of tenant B (as if it did not exist);
//! - a portal token for application X gets `403` for application Y of the same tenant,
//!   and for every tenant-wide route;
//! - a logged-out portal token gets `401`.

use std::time::Duration;

use herald_e2e::{eventually, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{json, Value};

/// The objects of one application that the routes below need.
#[derive(Clone)]
struct Objects {
    app: String,
    endpoint: String,
    msg: String,
    attempt: String,
    poller: String,
}

/// Creates an application with an endpoint, a message and an attempt, as `key`.
async fn objects(herald: &TestApp, key: &str, uid: &str, receiver: &TestReceiver) -> Objects {
    let post = |path: String, body: Value| async move {
        herald.request(Method::POST, &path, Some(key), Some(&body.to_string())).await
    };
    let (status, app) = post("/api/v1/app".into(), json!({"name": uid, "uid": uid})).await;
    assert_eq!(status, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    let (status, endpoint) = post(format!("/api/v1/app/{app}/endpoint"), json!({"url": receiver.url("/hook")})).await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, msg) = post(format!("/api/v1/app/{app}/msg"), json!({"eventType": "a.b", "payload": {"n": 1}})).await;
    assert_eq!(status, 202, "{msg}");
    let msg = msg["id"].as_str().unwrap().to_owned();
    let attempt = eventually(Duration::from_secs(10), "an attempt", || {
        let path = format!("/api/v1/app/{app}/attempt/msg/{msg}");
        async move {
            let (_, body) = herald.request(Method::GET, &path, Some(key), None).await;
            body["data"][0]["id"].as_str().map(str::to_owned)
        }
    })
    .await;
    let (status, poller) = post(format!("/api/v1/app/{app}/poller"), json!({"eventTypes": ["a.b"]})).await;
    assert_eq!(status, 201, "{poller}");
    let poller = poller["id"].as_str().unwrap().to_owned();
    Objects { app, endpoint: endpoint["id"].as_str().unwrap().to_owned(), msg, attempt, poller }
}

/// Every route that names an application's objects, with a body that would be valid.
fn app_routes(o: &Objects) -> Vec<(Method, String, Option<Value>)> {
    let (app, ep, msg, at, poll) = (&o.app, &o.endpoint, &o.msg, &o.attempt, &o.poller);
    let endpoint = json!({"url": "https://example.com/hook"});
    vec![
        (Method::GET, format!("/api/v1/app/{app}"), None),
        (Method::PUT, format!("/api/v1/app/{app}"), Some(json!({"name": "taken over"}))),
        (Method::PATCH, format!("/api/v1/app/{app}"), Some(json!({"name": "taken over"}))),
        (Method::GET, format!("/api/v1/app/{app}/endpoint"), None),
        (Method::POST, format!("/api/v1/app/{app}/endpoint"), Some(endpoint.clone())),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}"), None),
        (Method::PUT, format!("/api/v1/app/{app}/endpoint/{ep}"), Some(endpoint)),
        (Method::PATCH, format!("/api/v1/app/{app}/endpoint/{ep}"), Some(json!({"description": "x"}))),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/headers"), None),
        (Method::PUT, format!("/api/v1/app/{app}/endpoint/{ep}/headers"), Some(json!({"headers": {"x-a": "1"}}))),
        (Method::PATCH, format!("/api/v1/app/{app}/endpoint/{ep}/headers"), Some(json!({"headers": {"x-a": "1"}}))),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/secret"), None),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/secret/rotate"), Some(json!({}))),
        (
            Method::POST,
            format!("/api/v1/app/{app}/endpoint/{ep}/recover"),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/send-example"), Some(json!({"eventType": "a.b"}))),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/signing-key"), None),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/signing-key"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/endpoint/{ep}/signing-key"), None),
        (Method::GET, format!("/api/v1/app/{app}/dead-letter"), None),
        (Method::POST, format!("/api/v1/app/{app}/dead-letter/replay"), Some(json!({}))),
        (Method::POST, format!("/api/v1/app/{app}/dead-letter/discard"), Some(json!({}))),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/stats"), None),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/msg"), None),
        (Method::GET, format!("/api/v1/app/{app}/msg"), None),
        (Method::POST, format!("/api/v1/app/{app}/msg"), Some(json!({"eventType": "a.b", "payload": {}}))),
        (Method::GET, format!("/api/v1/app/{app}/msg/{msg}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/msg/{msg}/content"), None),
        (Method::GET, format!("/api/v1/app/{app}/attempt/endpoint/{ep}"), None),
        (Method::GET, format!("/api/v1/app/{app}/attempt/msg/{msg}"), None),
        (Method::GET, format!("/api/v1/app/{app}/msg/{msg}/attempt/{at}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/msg/{msg}/attempt/{at}/content"), None),
        (Method::GET, format!("/api/v1/app/{app}/msg/{msg}/endpoint"), None),
        (Method::POST, format!("/api/v1/app/{app}/msg/{msg}/endpoint/{ep}/resend"), None),
        (Method::GET, format!("/api/v1/app/{app}/poller"), None),
        (Method::POST, format!("/api/v1/app/{app}/poller"), Some(json!({"description": "x"}))),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}"), None),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}/details"), None),
        (Method::PATCH, format!("/api/v1/app/{app}/poller/{poll}"), Some(json!({"description": "x"}))),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}/consumer/c1"), None),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}/consumer/c1?wait=1"), None),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}/stream"), None),
        (
            Method::POST,
            format!("/api/v1/app/{app}/poller/{poll}/consumer/c1/seek"),
            Some(json!({"after": "2020-01-01T00:00:00Z"})),
        ),
        (Method::GET, format!("/api/v1/app/{app}/poller/{poll}/key"), None),
        (Method::POST, format!("/api/v1/app/{app}/poller/{poll}/key"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/poller/{poll}/key/pkey_0000000000000000000000"), None),
        (Method::POST, format!("/api/v1/auth/app-portal-access/{app}"), Some(json!({}))),
        (Method::DELETE, format!("/api/v1/app/{app}/poller/{poll}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/endpoint/{ep}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}"), None),
    ]
}

async fn expect_all(herald: &TestApp, key: &str, routes: &[(Method, String, Option<Value>)], expected: &[u16]) {
    let mut wrong = Vec::new();
    for (method, path, body) in routes {
        let body = body.as_ref().map(Value::to_string);
        let (status, answer) = herald.request(method.clone(), path, Some(key), body.as_deref()).await;
        if !expected.contains(&status) || answer["code"].as_str().is_none() {
            wrong.push(format!("{method} {path} -> {status} {answer}"));
        }
    }
    assert!(wrong.is_empty(), "expected {expected:?} with a code from:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_tenant_key_never_reaches_another_tenants_objects() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let key_a = herald.api_key.clone();
    let key_b = herald.create_other_tenant().await;
    let b = objects(&herald, &key_b, "b-app", &receiver).await;
    let (status, _) = herald
        .request(Method::POST, "/api/v1/event-type", Some(&key_b), Some(r#"{"name": "b.only", "description": "B"}"#))
        .await;
    assert_eq!(status, 201);

    let mut routes = app_routes(&b);
    // The producer-chosen uid is another way in; it must fail the same way. (Uids are
    // per tenant: a PUT with B's uid creates A's own application, checked below.)
    routes.extend(app_routes(&Objects { app: "b-app".into(), ..b }).into_iter().take(1));
    routes.push((Method::GET, "/api/v1/event-type/b.only".into(), None));
    routes.push((Method::PATCH, "/api/v1/event-type/b.only".into(), Some(json!({"description": "mine"}))));
    routes.push((Method::DELETE, "/api/v1/event-type/b.only".into(), None));
    expect_all(&herald, &key_a, &routes, &[404]).await;

    let (status, own) =
        herald.request(Method::PUT, "/api/v1/app/b-app", Some(&key_a), Some(r#"{"name": "A's"}"#)).await;
    assert_eq!(status, 201, "A's PUT with B's uid creates A's own application: {own}");

    // Nothing of B's changed, and A's lists do not show it.
    let b = objects_of(&herald, &key_b).await;
    assert_eq!(b["name"], "b-app", "B's application is untouched: {b}");
    let (_, listed) = herald.request(Method::GET, "/api/v1/app", Some(&key_a), None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "A lists only its own application: {listed}");
    assert_eq!(listed["data"][0]["id"], own["id"]);
    let (_, event_type) = herald.request(Method::GET, "/api/v1/event-type/b.only", Some(&key_b), None).await;
    assert_eq!((event_type["description"].as_str(), event_type["archived"].as_bool()), (Some("B"), Some(false)));
    herald.stop().await;
}

async fn objects_of(herald: &TestApp, key: &str) -> Value {
    let (status, app) = herald.request(Method::GET, "/api/v1/app/b-app", Some(key), None).await;
    assert_eq!(status, 200, "{app}");
    let (status, endpoints) = herald
        .request(Method::GET, &format!("/api/v1/app/{}/endpoint", app["id"].as_str().unwrap()), Some(key), None)
        .await;
    assert_eq!((status, endpoints["data"].as_array().map(Vec::len)), (200, Some(1)), "B's endpoint is still there");
    app
}

#[tokio::test]
async fn a_portal_token_reaches_its_application_only() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let key = herald.api_key.clone();
    let x = objects(&herald, &key, "app-x", &receiver).await;
    let y = objects(&herald, &key, "app-y", &receiver).await;
    let (status, access) = herald.post(&format!("/api/v1/auth/app-portal-access/{}", x.app), &json!({})).await;
    assert_eq!(status, 200, "{access}");
    let token = access["token"].as_str().unwrap().to_owned();
    assert!(access["url"].as_str().unwrap().contains(&token), "the portal URL carries the token");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(access["expiresAt"].clone()).expect("expiresAt");
    let lifetime = expires - chrono::Utc::now();
    assert!((3_500..=3_600).contains(&lifetime.num_seconds()), "an hour by default: {access}");

    // Every route of its own application answers (except deleting it, tenant-only).
    let own: Vec<_> = app_routes(&x)
        .into_iter()
        .filter(|(method, path, _)| {
            // A stream of its own poller stays open (pull::a_server_sent_events_stream_…).
            !(path.ends_with("/content") || path.contains("app-portal-access") || path.ends_with("/stream"))
                && *method != Method::DELETE
                && !(path == &format!("/api/v1/app/{}", x.app) && *method != Method::GET)
                && !path.ends_with("/msg") | (*method == Method::GET)
        })
        .collect();
    let mut failed = Vec::new();
    for (method, path, body) in &own {
        let body = body.as_ref().map(Value::to_string);
        let (status, answer) = herald.request(method.clone(), path, Some(&token), body.as_deref()).await;
        if !(200..300).contains(&status) {
            failed.push(format!("{method} {path} -> {status} {answer}"));
        }
    }
    assert!(failed.is_empty(), "the portal token is refused on its own application:\n{}", failed.join("\n"));

    // Another application of the same tenant, by id or uid, and every tenant-wide route.
    let mut routes = app_routes(&y);
    routes.extend(app_routes(&Objects { app: "app-y".into(), ..y }).into_iter().take(3));
    routes.push((Method::GET, "/api/v1/app".into(), None));
    routes.push((Method::POST, "/api/v1/app".into(), Some(json!({"name": "new"}))));
    routes.push((Method::POST, "/api/v1/event-type".into(), Some(json!({"name": "p.t", "description": "d"}))));
    routes.push((Method::PUT, "/api/v1/event-type/p.t".into(), Some(json!({"description": "d"}))));
    routes.push((Method::POST, format!("/api/v1/app/{}/msg", x.app), Some(json!({"eventType": "a.b", "payload": {}}))));
    routes.push((Method::POST, format!("/api/v1/auth/app-portal-access/{}", x.app), Some(json!({}))));
    routes.push((Method::DELETE, format!("/api/v1/app/{}", x.app), None));
    routes.push((Method::GET, "/api/v1/audit-log".into(), None));
    expect_all(&herald, &token, &routes, &[403]).await;

    // Reading event types (to choose filters) is allowed.
    let (status, _) = herald.request(Method::GET, "/api/v1/event-type", Some(&token), None).await;
    assert_eq!(status, 200);

    // A read-only token reads but does not write.
    let (_, read_only) =
        herald.post(&format!("/api/v1/auth/app-portal-access/{}", x.app), &json!({"readOnly": true})).await;
    let read_only = read_only["token"].as_str().unwrap().to_owned();
    let (status, _) =
        herald.request(Method::GET, &format!("/api/v1/app/{}/endpoint", x.app), Some(&read_only), None).await;
    assert_eq!(status, 200);
    let body = json!({"url": "https://example.com/x"}).to_string();
    let path = format!("/api/v1/app/{}/endpoint", x.app);
    let (status, _) = herald.request(Method::POST, &path, Some(&read_only), Some(&body)).await;
    assert_eq!(status, 403);

    // After logout the token is refused everywhere.
    let (status, _) = herald.request(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, 204);
    expect_all(&herald, &token, &app_routes(&x)[..3], &[401]).await;
    let (status, _) = herald.request(Method::POST, "/api/v1/auth/logout", Some(&key), None).await;
    assert_eq!(status, 403, "an API key does not log out");
    herald.stop().await;
}

/// A poller key (`sk_poll_…`) reads its own polling endpoint (and moves and seeks its
/// consumers) and gets `403` for everything else: the application's other routes and
/// pollers, other applications, tenant-wide routes. Revoked, or with its poller deleted,
/// it is no credential at all.
#[tokio::test]
async fn a_poller_key_reads_its_own_poller_only() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let key = herald.api_key.clone();
    let x = objects(&herald, &key, "key-x", &receiver).await;
    let y = objects(&herald, &key, "key-y", &receiver).await;
    let other_tenant = herald.create_other_tenant().await;
    let z = objects(&herald, &other_tenant, "key-z", &receiver).await;
    let (status, created) = herald.post(&format!("/api/v1/app/{}/poller/{}/key", x.app, x.poller), &json!({})).await;
    assert_eq!(status, 201, "{created}");
    let poller_key = created["key"].as_str().unwrap().to_owned();
    assert!(poller_key.starts_with("sk_poll_"), "{created}");
    let (_, listed) = herald.get(&format!("/api/v1/app/{}/poller/{}/key", x.app, x.poller)).await;
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("key").is_none(), "the key is shown once: {listed}");

    // Its own poller's reads answer.
    let own = format!("/api/v1/app/{}/poller/{}", x.app, x.poller);
    let reads = [
        (Method::GET, own.clone(), None),
        (Method::GET, format!("{own}/consumer/c1"), None),
        (Method::POST, format!("{own}/consumer/c1/seek"), Some(r#"{"after": "2020-01-01T00:00:00Z"}"#)),
    ];
    for (method, path, body) in &reads {
        let (status, answer) = herald.request(method.clone(), path, Some(&poller_key), *body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
    }
    let (_, page) = herald.request(Method::GET, &own, Some(&poller_key), None).await;
    assert_eq!(page["data"][0]["id"].as_str(), Some(x.msg.as_str()), "{page}");

    // Everything else of its application, its application's other poller, the other
    // application, another tenant's application and tenant-wide routes: 403.
    let (status, second) =
        herald.post(&format!("/api/v1/app/{}/poller", x.app), &json!({"description": "second"})).await;
    assert_eq!(status, 201);
    let second = Objects { poller: second["id"].as_str().unwrap().to_owned(), ..x.clone() };
    let is_own_read =
        |path: &str| path == own || path.starts_with(&format!("{own}/consumer")) || path == format!("{own}/stream");
    let mut routes: Vec<_> = app_routes(&x).into_iter().filter(|(_, path, _)| !is_own_read(path)).collect();
    routes.extend(app_routes(&second).into_iter().filter(|(_, path, _)| path.contains(&second.poller)));
    let missing = Objects { poller: "poll_0000000000000000000000".into(), ..x.clone() };
    routes.extend(app_routes(&missing).into_iter().filter(|(_, path, _)| path.contains(&missing.poller)));
    routes.extend(app_routes(&y));
    routes.extend(app_routes(&z));
    routes.push((Method::GET, "/api/v1/app".into(), None));
    routes.push((Method::POST, "/api/v1/event-type".into(), Some(json!({"name": "k.t", "description": "d"}))));
    routes.push((Method::GET, "/api/v1/audit-log".into(), None));
    routes.push((Method::GET, "/api/v1/stats/overview".into(), None));
    routes.push((Method::POST, "/api/v1/auth/logout".into(), None));
    expect_all(&herald, &poller_key, &routes, &[403]).await;

    // Revoked: no credential. A key of a deleted poller: the same.
    let key_path = format!("/api/v1/app/{}/poller/{}/key/{}", x.app, x.poller, created["id"].as_str().unwrap());
    let (status, _) = herald.request(Method::DELETE, &key_path, Some(&key), None).await;
    assert_eq!(status, 204);
    let (status, _) = herald.request(Method::GET, &own, Some(&poller_key), None).await;
    assert_eq!(status, 401, "a revoked poller key");
    let (_, another) = herald.post(&format!("/api/v1/app/{}/poller/{}/key", x.app, x.poller), &json!({})).await;
    let another = another["key"].as_str().unwrap().to_owned();
    let (status, _) = herald.request(Method::DELETE, &own, Some(&key), None).await;
    assert_eq!(status, 204);
    let (status, _) = herald.request(Method::GET, &own, Some(&another), None).await;
    assert_eq!(status, 401, "the key of a deleted poller");
    herald.stop().await;
}
