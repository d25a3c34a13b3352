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

/// A `since` for the replay routes.
const SINCE: &str = "2020-01-01T00:00:00Z";

/// Whether only the tenant's API key may use this route of an application: a portal
/// token gets `403` even for its own application (an attempt's content it may expunge).
fn tenant_only(path: &str) -> bool {
    let message_content = path.ends_with("/content") && !path.contains("/attempt/");
    let endings = ["/cancel", "/precheck/active", "/bulk-expunge", "/expunge-all-contents", "/expire-all"];
    message_content || endings.iter().any(|t| path.ends_with(t))
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
        (Method::GET, format!("/api/v1/stats/app/{app}/attempt"), None),
        (Method::GET, format!("/api/v1/stats/app/{app}/ep/{ep}/attempt"), None),
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
        (Method::DELETE, format!("/api/v1/app/{app}/poller/{poll}/key/skey_0000000000000000000000"), None),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/key"), None),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/key"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/endpoint/{ep}/key/skey_0000000000000000000000"), None),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/receipt"), Some(json!({"msgIds": [msg]}))),
        (Method::GET, format!("/api/v1/app/{app}/endpoint/{ep}/receipt/unconfirmed"), None),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/replay-missing"), Some(json!({"since": SINCE}))),
        (Method::POST, format!("/api/v1/app/{app}/endpoint/{ep}/bulk-replay"), Some(json!({"since": SINCE}))),
        (Method::POST, format!("/api/v1/app/{app}/msg/{msg}/cancel"), None),
        (Method::POST, format!("/api/v1/app/{app}/msg/precheck/active"), Some(json!({"eventType": "a.b"}))),
        (Method::POST, format!("/api/v1/app/{app}/msg/bulk-expunge"), Some(json!({"ids": ["msg_nothing"]}))),
        (Method::POST, format!("/api/v1/app/{app}/msg/expunge-all-contents"), None),
        (Method::POST, format!("/api/v1/auth/app/{app}/expire-all"), Some(json!({"expiry": 600}))),
        (Method::POST, format!("/api/v1/auth/app-portal-access/{app}"), Some(json!({}))),
        (Method::DELETE, format!("/api/v1/app/{app}/poller/{poll}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}/endpoint/{ep}"), None),
        (Method::DELETE, format!("/api/v1/app/{app}"), None),
    ]
}

/// Tenant-wide routes of Svix's surface beyond applications: no portal token or scoped
/// key reaches them.
fn tenant_wide_svix_routes() -> Vec<(Method, String, Option<Value>)> {
    let ops = "/api/v1/operational-webhook/endpoint";
    vec![
        (Method::GET, ops.into(), None),
        (Method::POST, ops.into(), Some(json!({"url": "https://example.com/ops"}))),
        (Method::GET, format!("{ops}/ops"), None),
        (Method::PUT, format!("{ops}/ops"), Some(json!({"url": "https://example.com/ops"}))),
        (Method::DELETE, format!("{ops}/ops"), None),
        (Method::GET, format!("{ops}/ops/headers"), None),
        (Method::PUT, format!("{ops}/ops/headers"), Some(json!({"headers": {}}))),
        (Method::GET, format!("{ops}/ops/secret"), None),
        (Method::POST, format!("{ops}/ops/secret/rotate"), Some(json!({}))),
        (Method::POST, "/api/v1/event-type/import/openapi".into(), Some(json!({"spec": {"webhooks": {}}}))),
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
            !(path.ends_with("/content")
                || tenant_only(path)
                || path.contains("app-portal-access")
                || path.ends_with("/stream"))
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
    routes.extend(app_routes(&x).into_iter().filter(|(_, path, _)| tenant_only(path)));
    routes.push((Method::DELETE, format!("/api/v1/app/{}", x.app), None));
    routes.push((Method::GET, "/api/v1/audit-log".into(), None));
    routes.push((Method::GET, "/api/v1/background-task".into(), None));
    routes.push((Method::GET, "/api/v1/background-task/qtask_0000000000000000000000".into(), None));
    routes.extend(tenant_wide_svix_routes());
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

/// A route relative to an object's path: method, the rest of the path, a body.
type RelativeRoute = (Method, &'static str, Option<String>);

/// What a kind of scoped key reaches, for [`a_scoped_key_reaches_its_own_endpoint_only`].
struct ScopedKind {
    /// `poller` or `endpoint`: the path segment of the object the key belongs to.
    segment: &'static str,
    prefix: &'static str,
    /// The object's id in `Objects`, and `Objects` with another in its place.
    id: fn(&Objects) -> &String,
    with_id: fn(&Objects, String) -> Objects,
    missing: &'static str,
    /// The routes of its own object the key may use (each answers 200), after `own`.
    allowed: fn(&Objects) -> Vec<RelativeRoute>,
}

/// A scoped key (`sk_poll_…`, `sk_ep_…`) reaches what its kind allows of its own
/// object and gets `403` everywhere else: its application's other routes and objects
/// of the kind (existing or not), other applications, tenant-wide routes. Revoked, or
/// with its object deleted, it is no credential at all.
async fn a_scoped_key_reaches_its_own_endpoint_only(kind: ScopedKind) {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let key = herald.api_key.clone();
    let x = objects(&herald, &key, "key-x", &receiver).await;
    let y = objects(&herald, &key, "key-y", &receiver).await;
    let other_tenant = herald.create_other_tenant().await;
    let z = objects(&herald, &other_tenant, "key-z", &receiver).await;
    let own = format!("/api/v1/app/{}/{}/{}", x.app, kind.segment, (kind.id)(&x));
    let (status, created) = herald.post(&format!("{own}/key"), &json!({})).await;
    assert_eq!(status, 201, "{created}");
    let scoped_key = created["key"].as_str().unwrap().to_owned();
    assert!(scoped_key.starts_with(kind.prefix), "{created}");
    assert!(created["id"].as_str().unwrap().starts_with("skey_"), "{created}");
    let (_, listed) = herald.get(&format!("{own}/key")).await;
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("key").is_none(), "the key is shown once: {listed}");

    // What it may do with its own object answers.
    let allowed: Vec<(Method, String, Option<String>)> =
        (kind.allowed)(&x).into_iter().map(|(method, tail, body)| (method, format!("{own}{tail}"), body)).collect();
    for (method, path, body) in &allowed {
        let (status, answer) = herald.request(method.clone(), path, Some(&scoped_key), body.as_deref()).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
    }
    // Its own poller's stream answers 200 and stays open (pull::a_server_sent_events_stream_…).
    let stream = format!("{own}/stream");
    let is_allowed =
        |path: &str| path == stream || allowed.iter().any(|(_, allowed, _)| path.split('?').next() == Some(allowed));

    // Everything else of its application, another object of its kind (and a missing
    // one), the other application, another tenant's application, tenant-wide: 403.
    let (status, second) = herald
        .post(
            &format!("/api/v1/app/{}/{}", x.app, kind.segment),
            &match kind.segment {
                "endpoint" => json!({"url": receiver.url("/second")}),
                _ => json!({"description": "second"}),
            },
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let second = (kind.with_id)(&x, second["id"].as_str().unwrap().to_owned());
    let missing = (kind.with_id)(&x, kind.missing.to_owned());
    let mut routes: Vec<_> = app_routes(&x).into_iter().filter(|(_, path, _)| !is_allowed(path)).collect();
    for other in [&second, &missing] {
        let id = (kind.id)(other).clone();
        routes.extend(app_routes(other).into_iter().filter(|(_, path, _)| path.contains(&id)));
    }
    routes.extend(app_routes(&y));
    routes.extend(app_routes(&z));
    routes.push((Method::GET, "/api/v1/app".into(), None));
    routes.push((Method::POST, "/api/v1/event-type".into(), Some(json!({"name": "k.t", "description": "d"}))));
    routes.push((Method::GET, "/api/v1/audit-log".into(), None));
    routes.push((Method::GET, "/api/v1/background-task".into(), None));
    routes.push((Method::GET, "/api/v1/background-task/qtask_0000000000000000000000".into(), None));
    routes.extend(tenant_wide_svix_routes());
    routes.push((Method::GET, "/api/v1/stats/overview".into(), None));
    routes.push((Method::POST, "/api/v1/auth/logout".into(), None));
    expect_all(&herald, &scoped_key, &routes, &[403]).await;

    // Revoked: no credential. A key of a deleted object: the same.
    let (first_method, first_path, first_body) = &allowed[0];
    let key_path = format!("{own}/key/{}", created["id"].as_str().unwrap());
    let (status, _) = herald.request(Method::DELETE, &key_path, Some(&key), None).await;
    assert_eq!(status, 204);
    let (status, _) = herald.request(first_method.clone(), first_path, Some(&scoped_key), first_body.as_deref()).await;
    assert_eq!(status, 401, "a revoked key");
    let (_, another) = herald.post(&format!("{own}/key"), &json!({})).await;
    let another = another["key"].as_str().unwrap().to_owned();
    let (status, _) = herald.request(Method::DELETE, &own, Some(&key), None).await;
    assert_eq!(status, 204);
    let (status, _) = herald.request(first_method.clone(), first_path, Some(&another), first_body.as_deref()).await;
    assert_eq!(status, 401, "the key of a deleted {}", kind.segment);
    herald.stop().await;
}

/// A poller key (`sk_poll_…`) reads its own polling endpoint (and moves and seeks its
/// consumers) and nothing else.
#[tokio::test]
async fn a_poller_key_reads_its_own_poller_only() {
    a_scoped_key_reaches_its_own_endpoint_only(ScopedKind {
        segment: "poller",
        prefix: "sk_poll_",
        id: |o| &o.poller,
        with_id: |o, poller| Objects { poller, ..o.clone() },
        missing: "poll_0000000000000000000000",
        allowed: |_| {
            vec![
                (Method::GET, "", None),
                (Method::GET, "/consumer/c1", None),
                (Method::POST, "/consumer/c1/seek", Some(r#"{"after": "2020-01-01T00:00:00Z"}"#.into())),
            ]
        },
    })
    .await;
}

/// An endpoint key (`sk_ep_…`) reads its own webhook endpoint's messages (the
/// reconciliation feed) and confirms their receipt, and nothing else.
#[tokio::test]
async fn an_endpoint_key_reaches_its_own_endpoint_only() {
    a_scoped_key_reaches_its_own_endpoint_only(ScopedKind {
        segment: "endpoint",
        prefix: "sk_ep_",
        id: |o| &o.endpoint,
        with_id: |o, endpoint| Objects { endpoint, ..o.clone() },
        missing: "ep_0000000000000000000000",
        allowed: |o| {
            vec![(Method::GET, "/msg", None), (Method::POST, "/receipt", Some(json!({"msgIds": [o.msg]}).to_string()))]
        },
    })
    .await;
}
