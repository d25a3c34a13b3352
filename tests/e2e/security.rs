//! Attacks on what a credential may learn or change: replays of another credential's
//! `Idempotency-Key`, secrets left readable in the database, credentials in attempt
//! records, and headers that would let an endpoint's owner tamper with the framing.

use std::time::Duration;

use herald_e2e::verifier::{verify_ed25519_with_pynacl, verify_with_standardwebhooks};
use herald_e2e::{eventually, services, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{json, Value};

/// A POST with a bearer credential and an `Idempotency-Key`; the status, whether it was
/// replayed, and the JSON body.
async fn post_with_key(herald: &TestApp, credential: &str, path: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    let response = herald
        .http
        .post(herald.url(path))
        .bearer_auth(credential)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (status, replayed, response.json::<Value>().await.unwrap_or(Value::Null))
}

async fn portal_token(herald: &TestApp, app: &str, read_only: bool) -> String {
    let (status, body) =
        herald.post(&format!("/api/v1/auth/app-portal-access/{app}"), &json!({"readOnly": read_only})).await;
    assert_eq!(status, 200, "portal access: {body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_idempotency_key_replays_only_to_the_credential_that_first_used_it() {
    let herald = TestApp::spawn().await;
    let a1 = herald.create_application("replay-a1").await["id"].as_str().unwrap().to_owned();
    let a2 = herald.create_application("replay-a2").await["id"].as_str().unwrap().to_owned();
    let endpoint = herald.create_endpoint(&a2, "http://127.0.0.1:9/hook", json!({})).await;
    let endpoint = endpoint["id"].as_str().unwrap();
    let a1_token = portal_token(&herald, &a1, false).await;
    let a2_read_only = portal_token(&herald, &a2, true).await;

    // The tenant issues A2 a portal token under a key; A1's token repeats that key on
    // the same request and must not get A2's token.
    let access = format!("/api/v1/auth/app-portal-access/{a2}");
    let (status, _, tenant_answer) = post_with_key(&herald, &herald.api_key, &access, "k-access", &json!({})).await;
    assert_eq!(status, 200, "{tenant_answer}");
    let (status, replayed, stolen) = post_with_key(&herald, &a1_token, &access, "k-access", &json!({})).await;
    assert_eq!((status, replayed), (403, false), "A1's token is refused on its own authority: {stolen}");
    assert!(!stolen.to_string().contains("hpt_"), "no token leaks: {stolen}");

    // The tenant rotates A2's secret under a key; a read-only token of A2 repeats it.
    let rotate = format!("/api/v1/app/{a2}/endpoint/{endpoint}/secret/rotate");
    let (status, _, rotated) = post_with_key(&herald, &herald.api_key, &rotate, "k-rotate", &json!({})).await;
    assert!((200..300).contains(&status), "rotation: {status} {rotated}");
    let (status, replayed, answer) = post_with_key(&herald, &a2_read_only, &rotate, "k-rotate", &json!({})).await;
    assert_eq!((status, replayed), (403, false), "a read-only token may not rotate: {answer}");
    assert!(!answer.to_string().contains("whsec_"), "no secret leaks: {answer}");

    // A portal token's refusal is not stored: the tenant's own later request with the
    // same key is served afresh, and succeeds.
    let create_app = "/api/v1/app";
    let (status, _, refused) =
        post_with_key(&herald, &a1_token, create_app, "k-app", &json!({"name": "x", "uid": "replay-x"})).await;
    assert_eq!(status, 403, "{refused}");
    let (status, replayed, created) =
        post_with_key(&herald, &herald.api_key, create_app, "k-app", &json!({"name": "x", "uid": "replay-x"})).await;
    assert_eq!((status, replayed), (201, false), "the tenant gets its own answer: {created}");
    let (status, replayed, again) =
        post_with_key(&herald, &herald.api_key, create_app, "k-app", &json!({"name": "x", "uid": "replay-x"})).await;
    assert_eq!((status, replayed, &again), (201, true, &created), "and its own repeat is replayed");

    // A read-only token can log itself out, and is then refused.
    let (status, _, _) = post_with_key(&herald, &a2_read_only, "/api/v1/auth/logout", "k-out", &json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = herald.request(Method::GET, &format!("/api/v1/app/{a2}"), Some(&a2_read_only), None).await;
    assert_eq!(status, 401);
    herald.stop().await;
}

/// Everything the test's PostgreSQL database holds, as `pg_dump` writes it: what an
/// attacker with a backup but not the key would read.
fn database_dump(herald: &TestApp) -> String {
    database_text(&herald.database_url())
}

/// Every row of a database as `pg_dump` writes it.
fn database_text(database_url: &str) -> String {
    let url = database_url.split_once('?').map_or(database_url, |(base, _)| base).to_owned();
    let output =
        std::process::Command::new("pg_dump").args(["--data-only", "--no-owner", &url]).output().expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("the dump is UTF-8")
}

#[tokio::test]
async fn credential_headers_are_sent_but_never_shown_and_framing_headers_are_refused() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let app = herald.create_application("headers").await["id"].as_str().unwrap().to_owned();
    for name in ["Connection", "Upgrade", "TE", "Keep-Alive", "Expect", "Proxy-Authorization", "Content-Encoding"] {
        let body = json!({"url": receiver.url("/hook"), "headers": {name: "x"}});
        let (status, answer) = herald.post(&format!("/api/v1/app/{app}/endpoint"), &body).await;
        assert_eq!((status, answer["code"].as_str()), (422, Some("validation")), "{name}: {answer}");
    }
    let endpoint = herald
        .create_endpoint(
            &app,
            &receiver.url("/hook"),
            json!({"headers": {"Authorization": "Bearer hunter2-credential", "X-Region": "eu"}}),
        )
        .await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let headers_path = format!("/api/v1/app/{app}/endpoint/{endpoint}/headers");
    let put = json!({"headers": {"Transfer-Encoding": "chunked"}});
    let (status, _) = herald.request(Method::PUT, &headers_path, Some(&herald.api_key), Some(&put.to_string())).await;
    assert_eq!(status, 422, "PUT refuses framing headers");
    let patch = json!({"headers": {"Proxy-Connection": "keep-alive"}});
    let (status, _) =
        herald.request(Method::PATCH, &headers_path, Some(&herald.api_key), Some(&patch.to_string())).await;
    assert_eq!(status, 422, "PATCH refuses hop-by-hop headers");

    let msg = herald.send_message(&app, "a.b", json!({"n": 1})).await;
    let msg = msg["id"].as_str().unwrap().to_owned();
    let request =
        eventually(Duration::from_secs(10), "the delivery", || async { receiver.requests().into_iter().next() }).await;
    assert_eq!(request.header("authorization"), Some("Bearer hunter2-credential"), "the receiver gets it");
    let attempts_path = format!("/api/v1/app/{app}/attempt/msg/{msg}");
    let reader = portal_token(&herald, &app, true).await;
    for credential in [herald.api_key.clone(), reader] {
        let attempt = eventually(Duration::from_secs(10), "the attempt record", || {
            let (herald, path, credential) = (&herald, &attempts_path, &credential);
            async move {
                let (_, page) = herald.request(Method::GET, path, Some(credential), None).await;
                page["data"][0].as_object().cloned()
            }
        })
        .await;
        let headers = &attempt["requestHeaders"];
        assert_eq!(headers["authorization"], "********", "masked for every caller: {headers}");
        assert_eq!(headers["x-region"], "eu", "other values stay readable");
        assert!(headers["webhook-signature"].as_str().is_some_and(|s| s.starts_with("v1,")));
    }
    let (_, shown) = herald.get(&headers_path).await;
    assert!(!shown.to_string().contains("hunter2"), "withheld from the headers route: {shown}");
    herald.stop().await;
}

#[tokio::test]
async fn a_database_dump_holds_no_secret_and_key_rotation_keeps_deliveries_verifiable() {
    let key_file = std::env::temp_dir().join(format!("herald-keys-{}", services::unique_tag()));
    let herald = TestApp::builder()
        .configure(|s| {
            s.encryption_keys = "".into();
            s.encryption_key_file = key_file.display().to_string();
        })
        .start()
        .await;
    assert!(std::fs::read_to_string(&key_file).unwrap().contains(':'), "Herald created the key file");
    let receiver = TestReceiver::start().await;
    let app = herald.create_application("sealed").await["id"].as_str().unwrap().to_owned();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let endpoint = herald
        .create_endpoint(
            &app,
            &receiver.url("/hook"),
            json!({"secret": secret, "headers": {"Authorization": "Bearer hunter2-credential"}}),
        )
        .await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    // Answers that carry a token or a secret, stored for Idempotency-Key replays.
    let access = format!("/api/v1/auth/app-portal-access/{app}");
    let (status, _, issued) = post_with_key(&herald, &herald.api_key, &access, "k-token", &json!({})).await;
    assert_eq!(status, 200);
    let token = issued["token"].as_str().unwrap().to_owned();
    let (_, replayed, again) = post_with_key(&herald, &herald.api_key, &access, "k-token", &json!({})).await;
    assert!(replayed && again["token"] == token, "the sealed answer replays: {again}");
    let rotate = format!("/api/v1/app/{app}/endpoint/{endpoint}/secret/rotate");
    let (status, _, _) = post_with_key(&herald, &herald.api_key, &rotate, "k-rotate", &json!({})).await;
    assert!((200..300).contains(&status));
    let (_, current) = herald.get(&format!("/api/v1/app/{app}/endpoint/{endpoint}/secret")).await;
    let current = current["key"].as_str().unwrap().to_owned();

    herald.send_message(&app, "a.b", json!({"n": 1})).await;
    eventually(Duration::from_secs(10), "the first delivery", || async {
        (receiver.request_count() >= 1).then_some(())
    })
    .await;

    let dump = database_dump(&herald);
    for secret_text in [secret, current.as_str(), "hunter2", token.as_str(), herald.api_key.as_str()] {
        assert!(!dump.contains(secret_text), "the dump holds {secret_text}");
    }
    assert!(!dump.contains("whsec_") && !dump.contains("hpt_"), "no secret or token in any column");
    let first_key = std::fs::read_to_string(&key_file).unwrap();

    // Rotate the key while Herald runs: it picks the new key up from the file.
    let (new_key, changed) = herald::keys::rotate(&herald.settings).await.expect("herald keys rotate");
    assert!(changed >= 2, "the endpoint and the stored answers were re-sealed ({changed})");
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), first_key);
    let dump = database_dump(&herald);
    assert!(dump.contains(&format!("hs1:{new_key}:")));
    let old_id = first_key.lines().rfind(|line| line.contains(':')).unwrap().split(':').next().unwrap();
    assert!(!dump.contains(&format!("hs1:{old_id}:")), "nothing is left sealed with the old key");

    herald.send_message(&app, "a.b", json!({"n": 2})).await;
    eventually(Duration::from_secs(10), "the second delivery", || async {
        (receiver.request_count() >= 2).then_some(())
    })
    .await;
    verify_with_standardwebhooks(&current, &receiver.requests()).expect("every delivery verifies");
    let (_, shown) = herald.get(&format!("/api/v1/app/{app}/endpoint/{endpoint}/secret")).await;
    assert_eq!(shown["key"], current, "the secret reads back after rotation");
    let (_, replayed, again) = post_with_key(&herald, &herald.api_key, &access, "k-token", &json!({})).await;
    assert!(replayed && again["token"] == token, "stored answers open with the new key");
    herald.stop().await;
    let _ = std::fs::remove_file(&key_file);
}

#[tokio::test]
async fn an_endpoint_that_opts_into_ed25519_gets_v1a_signatures_an_independent_library_verifies() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let app = herald.create_application("ed25519").await["id"].as_str().unwrap().to_owned();
    let endpoint = herald.create_endpoint(&app, &receiver.url("/hook"), json!({})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let key_path = format!("/api/v1/app/{app}/endpoint/{endpoint}/signing-key");
    let (status, _) = herald.get(&key_path).await;
    assert_eq!(status, 404, "HMAC only until it opts in");
    let reader = portal_token(&herald, &app, true).await;
    let (status, _) = herald.request(Method::POST, &key_path, Some(&reader), None).await;
    assert_eq!(status, 403, "a read-only token cannot opt in");
    let (status, created) = herald.post(&key_path, &json!({})).await;
    assert_eq!(status, 201, "{created}");
    let public_key = created["publicKey"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("whpk_"));
    let (status, shown) = herald.request(Method::GET, &key_path, Some(&reader), None).await;
    assert_eq!((status, shown["publicKey"].as_str()), (200, Some(public_key.as_str())), "the portal reads it");

    herald.send_message(&app, "a.b", json!({"n": 1})).await;
    let requests = eventually(Duration::from_secs(10), "the delivery", || async {
        let requests = receiver.requests();
        (!requests.is_empty()).then_some(requests)
    })
    .await;
    let signature = requests[0].header("webhook-signature").unwrap().to_owned();
    assert!(signature.starts_with("v1,") && signature.contains(" v1a,"), "{signature}");
    verify_ed25519_with_pynacl(&public_key, &requests).expect("PyNaCl verifies the v1a signature");
    let (_, secret) = herald.get(&format!("/api/v1/app/{app}/endpoint/{endpoint}/secret")).await;
    verify_with_standardwebhooks(secret["key"].as_str().unwrap(), &requests).expect("the v1 signature still verifies");
    let mut tampered = requests[0].clone();
    tampered.body = br#"{"n": 2}"#.to_vec();
    assert!(verify_ed25519_with_pynacl(&public_key, &[tampered]).is_err(), "a changed body fails");
    assert!(!database_dump(&herald).contains("whsk_"), "the private key is sealed");

    let (status, _) = herald.request(Method::DELETE, &key_path, Some(&herald.api_key), None).await;
    assert_eq!(status, 204);
    herald.send_message(&app, "a.b", json!({"n": 3})).await;
    let later =
        eventually(Duration::from_secs(10), "the second delivery", || async { receiver.requests().get(1).cloned() })
            .await;
    assert!(!later.header("webhook-signature").unwrap().contains("v1a,"), "opted out again");
    herald.stop().await;
}

#[tokio::test]
async fn every_management_action_is_audited_exactly_once_with_its_actor_and_no_secret() {
    const OPERATOR: &str = "audit-operator-token";
    let herald = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    let call = |method: Method, path: String, credential: String, body: Option<Value>| {
        let herald = &herald;
        async move {
            let body = body.map(|body| body.to_string());
            let (status, answer) = herald.request(method.clone(), &path, Some(&credential), body.as_deref()).await;
            assert!((200..300).contains(&status), "{method} {path} -> {status} {answer}");
            answer
        }
    };
    let operator = OPERATOR.to_owned();

    let created =
        call(Method::POST, "/admin/v1/tenant".into(), operator.clone(), Some(json!({"name": "audited"}))).await;
    let tenant = created["id"].as_str().unwrap().to_owned();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    let keys = call(Method::GET, format!("/admin/v1/tenant/{tenant}/api-key"), operator.clone(), None).await;
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    let second =
        call(Method::POST, format!("/admin/v1/tenant/{tenant}/api-key"), operator.clone(), Some(json!({"name": "ci"})))
            .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second_key = second["key"].as_str().unwrap().to_owned();
    let settings = Some(json!({"schemaValidation": "flag"}));
    call(Method::PATCH, format!("/admin/v1/tenant/{tenant}"), operator.clone(), settings).await;

    let app = call(Method::POST, "/api/v1/app".into(), key.clone(), Some(json!({"name": "A"}))).await;
    let app = app["id"].as_str().unwrap().to_owned();
    let endpoint_body = json!({"url": "http://127.0.0.1:9/hook?token=url-credential"});
    let endpoint = call(Method::POST, format!("/api/v1/app/{app}/endpoint"), key.clone(), Some(endpoint_body)).await;
    let ep = endpoint["id"].as_str().unwrap().to_owned();
    let ep_path = format!("/api/v1/app/{app}/endpoint/{ep}");
    call(Method::PATCH, ep_path.clone(), key.clone(), Some(json!({"description": "d"}))).await;
    let headers = json!({"headers": {"Authorization": "Bearer audit-credential"}});
    call(Method::PUT, format!("{ep_path}/headers"), key.clone(), Some(headers)).await;
    // A rotation repeated with its Idempotency-Key is replayed, not done (or logged) twice.
    let rotate = format!("{ep_path}/secret/rotate");
    for _ in 0..2 {
        let (status, _, _) = post_with_key(&herald, &key, &rotate, "audit-rotate", &json!({})).await;
        assert_eq!(status, 200);
    }
    call(Method::POST, format!("{ep_path}/signing-key"), key.clone(), None).await;
    call(Method::DELETE, format!("{ep_path}/signing-key"), key.clone(), None).await;
    let access =
        call(Method::POST, format!("/api/v1/auth/app-portal-access/{app}"), key.clone(), Some(json!({}))).await;
    let token = access["token"].as_str().unwrap().to_owned();
    let since = Some(json!({"since": "2020-01-01T00:00:00Z"}));
    call(Method::POST, format!("{ep_path}/recover"), token.clone(), since.clone()).await;
    call(Method::POST, format!("{ep_path}/replay-missing"), token.clone(), since.clone()).await;
    call(Method::POST, format!("{ep_path}/bulk-replay"), token.clone(), since).await;
    call(Method::POST, format!("/api/v1/app/{app}/dead-letter/replay"), token.clone(), Some(json!({}))).await;
    call(Method::POST, format!("/api/v1/app/{app}/dead-letter/discard"), token.clone(), Some(json!({}))).await;
    let (status, _) = herald.request(Method::GET, "/api/v1/audit-log", Some(&token), None).await;
    assert_eq!(status, 403, "a portal token does not read the tenant's audit log");
    // Cut short to ten minutes: still valid for the logout below.
    call(Method::POST, format!("/api/v1/auth/app/{app}/expire-all"), key.clone(), Some(json!({"expiry": 600}))).await;
    let (status, _) = herald.request(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, 204);
    call(Method::DELETE, ep_path.clone(), key.clone(), None).await;
    call(Method::DELETE, format!("/admin/v1/tenant/{tenant}/api-key/{second_id}"), operator.clone(), None).await;
    let (status, _) = herald.request(Method::GET, "/api/v1/audit-log", Some(&second_key), None).await;
    assert_eq!(status, 401, "the revoked key stops at once");

    let token_id = {
        let log = call(Method::GET, "/api/v1/audit-log?action=portal_token.issue".into(), key.clone(), None).await;
        log["data"][0]["targetId"].as_str().unwrap().to_owned()
    };
    let log = call(Method::GET, "/api/v1/audit-log?order=ascending&limit=250".into(), key.clone(), None).await;
    let entries = log["data"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap_or_default();
            (field("action"), field("actorKind"), field("actorId"), field("targetId"))
        })
        .collect();
    let expected = vec![
        ("tenant.create", "operator", "operator", tenant.as_str()),
        ("api_key.create", "operator", "operator", second_id.as_str()),
        ("tenant.settings.update", "operator", "operator", tenant.as_str()),
        ("endpoint.create", "api_key", key_id.as_str(), ep.as_str()),
        ("endpoint.update", "api_key", key_id.as_str(), ep.as_str()),
        ("endpoint.headers.update", "api_key", key_id.as_str(), ep.as_str()),
        ("endpoint.secret.rotate", "api_key", key_id.as_str(), ep.as_str()),
        ("endpoint.signing_key.create", "api_key", key_id.as_str(), ep.as_str()),
        ("endpoint.signing_key.delete", "api_key", key_id.as_str(), ep.as_str()),
        ("portal_token.issue", "api_key", key_id.as_str(), token_id.as_str()),
        ("endpoint.recover", "portal_token", token_id.as_str(), ep.as_str()),
        ("endpoint.replay_missing", "portal_token", token_id.as_str(), ep.as_str()),
        ("endpoint.bulk_replay", "portal_token", token_id.as_str(), ep.as_str()),
        ("dead_letter.replay", "portal_token", token_id.as_str(), app.as_str()),
        ("dead_letter.discard", "portal_token", token_id.as_str(), app.as_str()),
        ("portal_token.expire_all", "api_key", key_id.as_str(), app.as_str()),
        ("portal_token.logout", "portal_token", token_id.as_str(), token_id.as_str()),
        ("endpoint.delete", "api_key", key_id.as_str(), ep.as_str()),
        ("api_key.revoke", "operator", "operator", second_id.as_str()),
    ];
    assert_eq!(seen, expected, "each action once, in order, with its actor");
    assert!(entries.iter().all(|e| e["outcome"] == "success" && e["timestamp"].is_string()), "{log}");
    let text = log.to_string();
    // API keys start `sk_`: no value may start so (a task id, `qtask_…`, merely contains it),
    // and neither key may appear anywhere.
    let secrets = ["whsec_", "whsk_", "hpt_", "\"sk_", "audit-credential", "url-credential", token.as_str()];
    for secret in secrets.into_iter().chain([key.as_str(), second_key.as_str()]) {
        assert!(!text.contains(secret), "the audit log holds {secret}: {text}");
    }

    // The operator reads the same entries, for one tenant or for all.
    let admin =
        call(Method::GET, format!("/admin/v1/audit-log?tenantId={tenant}&limit=250"), operator.clone(), None).await;
    assert_eq!(admin["data"].as_array().unwrap().len(), expected.len());
    let all = call(Method::GET, "/admin/v1/audit-log?limit=250".into(), operator.clone(), None).await;
    let tenants: std::collections::BTreeSet<&str> =
        all["data"].as_array().unwrap().iter().filter_map(|e| e["tenantId"].as_str()).collect();
    assert!(tenants.contains(tenant.as_str()) && tenants.contains(herald.tenant_id.as_str()), "{tenants:?}");
    let (status, _) = herald.request(Method::GET, "/admin/v1/audit-log", Some(&key), None).await;
    assert_eq!(status, 401, "an API key is not the operator");
    let (status, answer) = herald.request(Method::GET, "/api/v1/audit-log?action=nope", Some(&key), None).await;
    assert_eq!((status, answer["code"].as_str()), (422, Some("validation")));
    herald.stop().await;
}

#[tokio::test]
async fn a_request_without_a_credential_is_refused_before_anything_else_is_checked() {
    let herald = TestApp::builder().configure(|s| s.operator_token = "set".into()).start().await;
    let (status, document) = herald.request(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let mut refused = Vec::new();
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if operation["security"].as_array().is_none_or(Vec::is_empty) {
                continue; // health and the document itself
            }
            // Unknown objects, a bad query and a body that is not JSON: each would be
            // a 404, 422 or 400 for a caller with a credential.
            let path =
                path.split('/').map(|part| if part.starts_with('{') { "nope" } else { part }).collect::<Vec<_>>();
            let url = format!("{}?limit=lots&iterator=%%%", path.join("/"));
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, answer) = herald.request(method.clone(), &url, None, Some("{not json")).await;
            if status != 401 || answer["code"] != "authentication_failed" {
                refused.push(format!("{method} {url} -> {status} {answer}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "every secured operation was tried ({checked})");
    assert!(refused.is_empty(), "answered before authentication:\n{}", refused.join("\n"));
    herald.stop().await;
}

#[tokio::test]
async fn a_revoked_api_key_stops_at_once_here_and_within_a_second_in_another_process() {
    const OPERATOR: &str = "revocation-operator";
    let revoking = TestApp::builder().configure(|s| s.operator_token = OPERATOR.to_string().into()).start().await;
    let other = TestApp::builder().sharing_database_with(&revoking).start().await;
    let key = revoking.api_key.clone();
    for herald in [&revoking, &other] {
        let (status, _) = herald.request(Method::GET, "/api/v1/app", Some(&key), None).await;
        assert_eq!(status, 200, "the key works (and is cached) in both processes");
    }
    let (_, keys) = revoking
        .request(Method::GET, &format!("/admin/v1/tenant/{}/api-key", revoking.tenant_id), Some(OPERATOR), None)
        .await;
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    let revoke = format!("/admin/v1/tenant/{}/api-key/{key_id}", revoking.tenant_id);
    let (status, _) = revoking.request(Method::DELETE, &revoke, Some(OPERATOR), None).await;
    assert_eq!(status, 204);
    let revoked_at = std::time::Instant::now();
    let (status, _) = revoking.request(Method::GET, "/api/v1/app", Some(&key), None).await;
    assert_eq!(status, 401, "the revoking process refuses the key at once");
    let mut last = 200;
    while revoked_at.elapsed() < Duration::from_millis(1500) {
        (last, _) = other.request(Method::GET, "/api/v1/app", Some(&key), None).await;
        if last == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = revoked_at.elapsed();
    assert_eq!(last, 401, "the other process still accepted the key after {waited:?}");
    assert!(waited <= Duration::from_millis(1100), "the other process took {waited:?}");
    other.stop().await;
    revoking.stop().await;
}

/// Runs SQL on a test database with `psql`, as an operator (or an earlier version) would.
fn psql(database_url: &str, sql: &str) -> String {
    let url = database_url.split_once('?').map_or(database_url, |(base, _)| base);
    let output = std::process::Command::new("psql")
        .args([url, "--no-psqlrc", "--tuples-only", "--no-align", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn an_upgrade_seals_secrets_an_earlier_version_stored_in_the_clear() {
    let receiver = TestReceiver::start().await;
    let earlier = TestApp::spawn().await;
    let app = earlier.create_application("upgraded").await["id"].as_str().unwrap().to_owned();
    let endpoint = earlier.create_endpoint(&app, &receiver.url("/hook"), json!({})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let (database, key) = (earlier.database_url(), earlier.api_key.clone());
    earlier.stop().await;

    // The rows as the version before sealing left them, and no record of the pass.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    psql(
        &database,
        &format!(
            "UPDATE endpoints SET secret = '{secret}', previous_secret = NULL, \
             headers = '{{\"Authorization\": \"Bearer plain-credential\"}}' WHERE id = '{endpoint}'; \
             DELETE FROM maintenance_passes;"
        ),
    );
    assert!(database_text(&database).contains("plain-credential"));

    let upgraded = TestApp::builder().database(database.clone()).start().await;
    let stored = psql(&database, &format!("SELECT secret, headers::text FROM endpoints WHERE id = '{endpoint}'"));
    assert!(stored.starts_with("hs1:") && !stored.contains("whsec_"), "the secret is sealed: {stored}");
    assert!(!stored.contains("plain-credential") && stored.contains("hs1:"), "the header value is sealed: {stored}");
    let passes = psql(&database, "SELECT name FROM maintenance_passes");
    assert_eq!(passes.trim(), "seal_plain_secrets", "the pass is recorded, so later starts skip it");
    let dump = database_text(&database);
    assert!(!dump.contains(secret) && !dump.contains("plain-credential"), "nothing readable is left");

    // Deliveries still sign with the secret and send the header the earlier version kept.
    let message = json!({"eventType": "a.b", "payload": {"after": "upgrade"}}).to_string();
    let (status, _) =
        upgraded.request(Method::POST, &format!("/api/v1/app/{app}/msg"), Some(&key), Some(&message)).await;
    assert_eq!(status, 202, "the earlier tenant's key still works");
    let request =
        eventually(Duration::from_secs(10), "the delivery", || async { receiver.requests().into_iter().next() }).await;
    assert_eq!(request.header("authorization"), Some("Bearer plain-credential"));
    verify_with_standardwebhooks(secret, &receiver.requests()).expect("the delivery verifies with the old secret");
    upgraded.stop().await;
}
