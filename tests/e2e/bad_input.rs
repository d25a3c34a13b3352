//! Bad input gets a 4xx with a Svix-style `{code, detail}` body, and nothing is written.

use std::time::Duration;

use herald_e2e::{eventually, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    /// `None`: no Authorization header; `Some("")`: this app's key; otherwise that key.
    key: Option<&'static str>,
    body: Option<String>,
    status: u16,
    code: &'static str,
}

fn case(name: &'static str, path: &'static str, body: &str, status: u16, code: &'static str) -> Case {
    Case { name, method: Method::POST, path, key: Some(""), body: Some(body.to_owned()), status, code }
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let app = TestApp::builder().configure(|s| s.max_payload_bytes = 1024).start().await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let big = format!(r#"{{"eventType": "a.b", "payload": {{"blob": "{}"}}}}"#, "x".repeat(2048));
    let huge = format!(r#"{{"eventType": "a.b", "payload": {{"blob": "{}"}}}}"#, "x".repeat(200_000));
    let nested = |depth: usize| {
        let payload = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        format!(r#"{{"eventType": "a.b", "payload": {payload}}}"#)
    };

    let cases = [
        case("invalid JSON", "/api/v1/app/acme/msg", r#"{"eventType": "#, 400, "invalid_json"),
        case("not JSON at all", "/api/v1/app/acme/msg", "hello", 400, "invalid_json"),
        case("missing payload", "/api/v1/app/acme/msg", r#"{"eventType": "a.b"}"#, 422, "validation"),
        case("missing event type", "/api/v1/app/acme/msg", r#"{"payload": {}}"#, 422, "validation"),
        case(
            "payload not an object",
            "/api/v1/app/acme/msg",
            r#"{"eventType": "a.b", "payload": [1]}"#,
            422,
            "validation",
        ),
        case(
            "event type with spaces",
            "/api/v1/app/acme/msg",
            r#"{"eventType": "a b", "payload": {}}"#,
            422,
            "validation",
        ),
        case("wrong field type", "/api/v1/app/acme/msg", r#"{"eventType": 5, "payload": {}}"#, 422, "validation"),
        case(
            "NUL in an application's metadata (found by schemathesis)",
            "/api/v1/app",
            r#"{"name": "Nul", "metadata": {"k": "a\u0000b"}}"#,
            422,
            "validation",
        ),
        case("payload over the limit", "/api/v1/app/acme/msg", &big, 413, "payload_too_large"),
        case("request over the limit", "/api/v1/app/acme/msg", &huge, 413, "payload_too_large"),
        case(
            "unknown application",
            "/api/v1/app/nobody/msg",
            r#"{"eventType": "a.b", "payload": {}}"#,
            404,
            "not_found",
        ),
        case(
            "unknown app for an endpoint",
            "/api/v1/app/nobody/endpoint",
            r#"{"url": "https://example.com"}"#,
            404,
            "not_found",
        ),
        case("endpoint without url", "/api/v1/app/acme/endpoint", r#"{"description": "x"}"#, 422, "validation"),
        case("endpoint with a bad url", "/api/v1/app/acme/endpoint", r#"{"url": "not a url"}"#, 422, "validation"),
        case("endpoint with ftp", "/api/v1/app/acme/endpoint", r#"{"url": "ftp://example.com"}"#, 422, "validation"),
        case(
            "endpoint with a bad secret",
            "/api/v1/app/acme/endpoint",
            r#"{"url": "https://example.com", "secret": "whsec_short"}"#,
            422,
            "validation",
        ),
        case("application without name", "/api/v1/app", r#"{"uid": "x"}"#, 422, "validation"),
        case("application with a bad uid", "/api/v1/app", r#"{"name": "x", "uid": "has space"}"#, 422, "validation"),
        case("duplicate application uid", "/api/v1/app", r#"{"name": "x", "uid": "acme"}"#, 409, "conflict"),
        case("event type without description", "/api/v1/event-type", r#"{"name": "a.b"}"#, 422, "validation"),
        case("nested past max_json_depth", "/api/v1/app/acme/msg", &nested(200), 422, "validation"),
        case("bytes after the body", "/api/v1/app", r#"{"name": "x"} {"name": "y"}"#, 400, "invalid_json"),
        case("garbage after the body", "/api/v1/app", r#"{"name": "x"}]"#, 400, "invalid_json"),
        case("an array for an object", "/api/v1/app", r#"[{"name": "x"}]"#, 422, "validation"),
        Case {
            method: Method::GET,
            body: None,
            ..case("a path that is not UTF-8", "/api/v1/app/%FF%FE/endpoint", "", 400, "invalid_path")
        },
        Case {
            key: None,
            ..case("a path that is not UTF-8, unauthenticated", "/api/v1/app/%C3%28/msg", "{", 400, "invalid_path")
        },
        Case {
            key: None,
            ..case(
                "missing API key",
                "/api/v1/app/acme/msg",
                r#"{"eventType": "a.b", "payload": {}}"#,
                401,
                "authentication_failed",
            )
        },
        Case {
            key: Some("sk_wrong"),
            ..case(
                "wrong API key",
                "/api/v1/app/acme/msg",
                r#"{"eventType": "a.b", "payload": {}}"#,
                401,
                "authentication_failed",
            )
        },
        Case {
            key: Some("sk_wrong"),
            ..case("wrong API key on create app", "/api/v1/app", r#"{"name": "x"}"#, 401, "authentication_failed")
        },
        Case {
            method: Method::GET,
            key: Some("sk_wrong"),
            body: None,
            ..case("wrong API key on attempts", "/api/v1/app/acme/attempt/msg/msg_x", "", 401, "authentication_failed")
        },
        Case {
            method: Method::GET,
            body: None,
            ..case("unknown message", "/api/v1/app/acme/attempt/msg/msg_missing", "", 404, "not_found")
        },
        Case {
            method: Method::GET,
            body: None,
            ..case("bad limit", "/api/v1/app/acme/attempt/msg/msg_x?limit=lots", "", 422, "validation")
        },
        Case { method: Method::GET, body: None, ..case("unknown route", "/api/v1/nothing-here", "", 404, "not_found") },
    ];

    for case in &cases {
        let key = match case.key {
            Some("") => Some(app.api_key.as_str()),
            other => other,
        };
        let (status, body) = app.request(case.method.clone(), case.path, key, case.body.as_deref()).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["code"], case.code, "{}: {body}", case.name);
        assert!(!body["detail"].is_null(), "{}: a detail explains the error: {body}", case.name);
    }

    // Validation errors name the failing field, as Svix's HTTPValidationError does.
    let (_, body) = app.post("/api/v1/app/acme/endpoint", &json!({"url": "not a url"})).await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "url"]));
    let (_, body) = app.post("/api/v1/app/acme/msg", &json!({"payload": {}})).await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "eventType"]));
    let (status, body) =
        app.request(Method::POST, "/api/v1/app/acme/msg", Some(&app.api_key), Some(&nested(200))).await;
    assert_eq!(status, 422);
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("deeper than 128"), "{body}");
    // 128 levels in all (the body's own object, then the payload's 127) are accepted,
    // stored, listed and delivered (below). The answers nest deeper than this test's
    // JSON parser reads, so only their statuses are checked.
    let (status, _) = app.request(Method::POST, "/api/v1/app/acme/msg", Some(&app.api_key), Some(&nested(127))).await;
    assert_eq!(status, 202);
    let (status, _) = app.get("/api/v1/app/acme/msg?with_content=true").await;
    assert_eq!(status, 200, "the stored payload reads back");

    // Nothing was half-written: no message reached the receiver, no extra application exists.
    eventually(Duration::from_secs(10), "the deeply nested message's delivery", || async {
        (receiver.request_count() >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.request_count(), 1, "only the accepted deeply nested message was delivered");
    let tenant = herald_core::TenantId::parse(&app.tenant_id).unwrap();
    assert!(app.store.find_application(&tenant, "x").await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_application_is_not_found() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let theirs = app.create_application("theirs").await;
    app.create_endpoint("theirs", &receiver.url("/"), json!({})).await;
    let message = app.send_message("theirs", "a.b", json!({})).await;
    let other_key = app.create_other_tenant().await;

    let app_id = theirs["id"].as_str().unwrap();
    let msg_id = message["id"].as_str().unwrap();
    let send = r#"{"eventType": "a.b", "payload": {}}"#;
    for (method, path, body) in [
        (Method::POST, format!("/api/v1/app/{app_id}/msg"), Some(send)),
        (Method::POST, "/api/v1/app/theirs/msg".to_owned(), Some(send)),
        (Method::POST, format!("/api/v1/app/{app_id}/endpoint"), Some(r#"{"url": "https://example.com"}"#)),
        (Method::GET, format!("/api/v1/app/{app_id}/attempt/msg/{msg_id}"), None),
    ] {
        let (status, answer) = app.request(method, &path, Some(&other_key), body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert_eq!(answer["code"], "not_found");
    }
    // The other tenant may use the same uid for its own application.
    let (status, _) =
        app.request(Method::POST, "/api/v1/app", Some(&other_key), Some(r#"{"name": "x", "uid": "theirs"}"#)).await;
    assert_eq!(status, 201);
    app.stop().await;
}

#[tokio::test]
async fn routes_answer_with_and_without_a_trailing_slash() {
    let app = TestApp::spawn().await;
    let (status, _) = app.request(Method::GET, "/api/v1/health/", None, None).await;
    assert_eq!(status, 204);
    let (status, body) = app.post("/api/v1/app/", &json!({"name": "Slash", "uid": "slash"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post("/api/v1/app/?get_if_exists=true", &json!({"name": "Slash", "uid": "slash"})).await;
    assert_eq!(status, 200, "get_if_exists returns the existing application: {body}");
    let (status, body) = app.post("/api/v1/event-type/", &json!({"name": "invoice.paid", "description": "Paid"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post("/api/v1/event-type", &json!({"name": "invoice.paid", "description": "Paid"})).await;
    assert_eq!(status, 409, "{body}");
    app.stop().await;
}
