//! Observability: `/metrics` moves by exactly the workload, for the right tenant;
//! `deploy/` uses only metrics Herald has; readiness is per role (the API's needs the
//! database only, the worker's Redis too); one message's
//! spans reach an OTLP receiver as one trace.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use herald_e2e::redis_topology::RedisServer;
use herald_e2e::{eventually, Installation, Reply, TestApp, TestReceiver};
use serde_json::{json, Value};

/// One sample of a scrape: the metric name, its labels, its value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            Some((name.to_owned(), labels, value.parse().ok()?))
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include all of `labels` (0 when none).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let text = reqwest::get(format!("http://{}/metrics", app.metrics_address))
        .await
        .expect("scrape /metrics")
        .text()
        .await
        .expect("a text body");
    parse_samples(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_the_workload_for_the_right_tenant() {
    let app = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s,100ms".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await;
    let tenant = app.tenant_id.clone();
    let other_key = app.create_other_tenant().await;
    let receiver = TestReceiver::start().await;
    // The first request fails once; every later one succeeds.
    receiver.script([Reply::status(500)]);
    let dead = TestReceiver::start().await;
    dead.set_default(Reply::status(503));
    app.create_application("metered").await;
    app.create_endpoint("metered", &receiver.url("/ok"), json!({})).await;
    app.create_application("doomed").await;
    app.create_endpoint("doomed", &dead.url("/down"), json!({})).await;

    let before = scrape(&app).await;
    for n in 0..3 {
        app.send_message("metered", "meter.tick", json!({"n": n})).await;
    }
    app.send_message("doomed", "meter.tick", json!({"n": "dead"})).await;
    let (status, _) = app.post("/api/v1/app/metered/msg", &json!({"eventType": "meter.tick"})).await;
    assert_eq!(status, 422);
    // Another tenant's message counts for that tenant only.
    let body = json!({"eventType": "meter.tick", "payload": {}, "application": {"name": "Theirs"}});
    let (status, _) =
        app.request(reqwest::Method::POST, "/api/v1/app/theirs/msg", Some(&other_key), Some(&body.to_string())).await;
    assert_eq!(status, 202);

    let after = eventually(Duration::from_secs(30), "every delivery final in /metrics", || async {
        let after = scrape(&app).await;
        let finished = value(&after, "herald_deliveries_finished_total", &[("tenant", &tenant)])
            - value(&before, "herald_deliveries_finished_total", &[("tenant", &tenant)]);
        (finished >= 4.0).then_some(after)
    })
    .await;
    let moved = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    let ours = ("tenant", tenant.as_str());
    assert_eq!(moved("herald_messages_accepted_total", &[ours]), 4.0);
    assert_eq!(moved("herald_ingest_rejected_total", &[("code", "validation")]), 1.0);
    // 3 successes after one 500 on `metered`; two 503s on `doomed` (its whole schedule).
    assert_eq!(moved("herald_attempts_total", &[ours, ("outcome", "success")]), 3.0);
    assert_eq!(moved("herald_attempts_total", &[ours, ("outcome", "http_status")]), 3.0);
    assert_eq!(moved("herald_attempt_duration_seconds_count", &[ours]), 6.0);
    assert_eq!(moved("herald_deliveries_finished_total", &[ours, ("status", "succeeded")]), 3.0);
    assert_eq!(moved("herald_deliveries_finished_total", &[ours, ("status", "dead_lettered")]), 1.0);
    // The dead-letter gauge is a database count, refreshed at most every ten seconds.
    eventually(Duration::from_secs(30), "the dead letter in the gauge", || async {
        (value(&scrape(&app).await, "herald_dead_letters", &[ours]) == 1.0).then_some(())
    })
    .await;
    assert_eq!(value(&after, "herald_worker_up", &[]), 1.0);
    // The other tenant's message shows under its own tenant, not ours.
    let theirs: HashSet<&str> = after
        .iter()
        .filter(|(name, _, _)| name == "herald_messages_accepted_total")
        .filter_map(|(_, labels, _)| labels.get("tenant").map(String::as_str))
        .filter(|t| *t != tenant)
        .collect();
    assert_eq!(theirs.len(), 1, "one other tenant: {theirs:?}");
    let other = theirs.into_iter().next().unwrap();
    assert_eq!(value(&after, "herald_messages_accepted_total", &[("tenant", other)]), 1.0);
    // The queue gauges cover the tenant's partition; nothing is left waiting.
    assert!(after
        .iter()
        .any(|(name, labels, _)| name == "herald_queue_depth" && labels.get("tenant") == Some(&tenant)));
    assert_eq!(value(&after, "herald_delayed_deliveries", &[ours]), 0.0);
    app.stop().await;
}

#[test]
fn deploy_uses_only_metrics_that_herald_exposes() {
    let metrics = herald_observability::Metrics::new("0", Some(herald_observability::EndpointLabels { limit: 1 }));
    let exposed: HashSet<String> = metrics.names().into_iter().collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for file in ["deploy/grafana/herald.json", "deploy/prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        if file.ends_with(".json") {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("herald_") {
            let tail = &rest[start..];
            let end = tail.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(tail.len());
            let name = &tail[..end];
            let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            assert!(
                exposed.contains(name) || exposed.contains(base),
                "{file} uses {name}, which Herald does not expose ({exposed:?})"
            );
            checked += 1;
            rest = &tail[end..];
        }
    }
    assert!(checked > 20, "the dashboards and alerts use Herald's metrics ({checked} references)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_api_stays_ready_and_accepts_while_the_worker_reports_not_ready() {
    // A Redis of this test's own, so stopping it troubles nobody else.
    let mut redis = RedisServer::start();
    let app = TestApp::builder()
        .configure(|s| {
            s.redis_url = redis.url().into();
            s.redis_command_timeout = Duration::from_millis(500);
            s.reconcile_interval = Duration::from_secs(1);
            s.reconcile_grace = Duration::from_secs(1);
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let client = reqwest::Client::new();
    let worker_ready_url = format!("http://{}/ready", app.metrics_address);
    let worker_ready = || async {
        let response = client.get(&worker_ready_url).send().await.expect("the metrics listener answers");
        (response.status().as_u16(), response.json::<Value>().await.expect("JSON"))
    };
    let api_ready = || app.request(reqwest::Method::GET, "/api/v1/health/ready", None, None);
    assert_eq!(api_ready().await, (200, json!({"database": "ok", "redis": "ok", "required": ["database"]})));
    assert_eq!(
        worker_ready().await,
        (200, json!({"database": "ok", "redis": "ok", "required": ["database", "redis"]}))
    );

    redis.stop();
    let (_, body) = eventually(Duration::from_secs(10), "the worker not ready without Redis", || async {
        let (status, body) = worker_ready().await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(body["database"], "ok");
    assert!(body["redis"].as_str().is_some_and(|text| text.starts_with("error")), "{body}");
    // The API needs only the database: it stays ready, says what is wrong, and accepts.
    let (status, body) = api_ready().await;
    assert_eq!(status, 200, "{body}");
    assert!(body["redis"].as_str().is_some_and(|text| text.starts_with("error")), "{body}");
    let accepted = app.send_message("acme", "order.created", json!({"while": "redis is down"})).await;
    // Liveness is not readiness: the process still serves.
    let (status, _) = app.request(reqwest::Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(status, 204);

    redis.resume();
    eventually(Duration::from_secs(15), "the worker ready again once Redis is back", || async {
        (worker_ready().await.0 == 200).then_some(())
    })
    .await;
    let id = accepted["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the message accepted without Redis to arrive", || async {
        receiver.unique_webhook_ids().contains(&id).then_some(())
    })
    .await;
    app.stop().await;
}

/// The spans of every OTLP/HTTP JSON export the receiver got: (trace id, span id,
/// parent span id, name).
fn exported_spans(receiver: &TestReceiver) -> Vec<(String, String, String, String)> {
    let mut spans = Vec::new();
    for request in receiver.requests().iter().filter(|r| r.path == "/v1/traces") {
        let export: Value = serde_json::from_slice(&request.body).expect("an OTLP JSON export");
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                    spans.push((text("traceId"), text("spanId"), text("parentSpanId"), text("name")));
                }
            }
        }
    }
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_messages_ingest_queue_wait_and_attempts_share_one_trace() {
    let collector = TestReceiver::start().await;
    let installation = Installation::fresh()
        .set("HERALD_OTLP_ENDPOINT", &format!("http://{}", collector.address()))
        .set("HERALD_RETRY_SCHEDULE", "0s,200ms")
        .set("HERALD_RETRY_JITTER", "0.0");
    let key = installation.create_tenant("traced");
    let mut herald = installation.serve().await;
    let receiver = TestReceiver::start().await;
    receiver.script([Reply::status(500)]);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(herald.url(path)).bearer_auth(&key).json(&body).send();
    assert_eq!(post("/api/v1/app", json!({"name": "Traced", "uid": "traced"})).await.unwrap().status(), 201);
    let endpoint = json!({"url": receiver.url("/hook")});
    assert_eq!(post("/api/v1/app/traced/endpoint", endpoint).await.unwrap().status(), 201);
    let message = json!({"eventType": "trace.me", "payload": {"hello": "trace"}});
    assert_eq!(post("/api/v1/app/traced/msg", message).await.unwrap().status(), 202);
    eventually(Duration::from_secs(20), "the retry succeeded", || async {
        (receiver.request_count() >= 2).then_some(())
    })
    .await;
    // SIGTERM exports what is buffered.
    assert!(herald.terminate(Duration::from_secs(30)).await.success());

    let spans = exported_spans(&collector);
    let ingest: Vec<_> = spans.iter().filter(|s| s.3 == "message.create").collect();
    assert_eq!(ingest.len(), 1, "one ingest span: {spans:#?}");
    let trace = &ingest[0].0;
    assert!(!trace.is_empty());
    let in_trace = |name: &str| spans.iter().filter(|s| s.3 == name && &s.0 == trace).count();
    assert_eq!(in_trace("attempt"), 2, "both attempts in the message's trace: {spans:#?}");
    assert_eq!(in_trace("queue.wait"), 2, "a queue wait before each attempt: {spans:#?}");
    let parented = spans.iter().filter(|s| &s.0 == trace && s.3 != "message.create").all(|s| s.2 == ingest[0].1);
    assert!(parented, "queue waits and attempts are children of the ingest span: {spans:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_says_how_many_failed_in_the_last_hour_and_for_whom() {
    overview_says_who_failed(TestApp::builder()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_the_same_on_sqlite() {
    overview_says_who_failed(TestApp::builder().sqlite()).await;
}

async fn overview_says_who_failed(builder: herald_e2e::TestAppBuilder) {
    let app = builder
        .configure(|s| {
            s.retry_schedule = "0s,100ms".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 1000;
            s.breaker_min_attempts = 1000;
        })
        .start()
        .await;
    let fine = TestReceiver::start().await;
    let flaky = TestReceiver::start().await;
    flaky.script([Reply::status(500)]);
    let broken = TestReceiver::start().await;
    broken.set_default(Reply::status(503));
    for (uid, receiver) in [("fine", &fine), ("flaky", &flaky), ("broken", &broken)] {
        app.create_application(uid).await;
        app.create_endpoint(uid, &receiver.url("/hook"), json!({})).await;
    }
    let mut sent = Vec::new();
    for uid in ["fine", "fine", "flaky", "broken"] {
        sent.push(app.send_message(uid, "stats.tick", json!({"app": uid})).await["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(30), "every delivery final", || async {
        for msg_id in &sent {
            let deliveries =
                app.store.message_deliveries(&herald_core::MessageId::parse(msg_id).unwrap()).await.ok()?;
            if deliveries.iter().any(|d| d.status == herald_core::DeliveryStatus::Pending) {
                return None;
            }
        }
        Some(())
    })
    .await;

    let (status, overview) = app.get("/api/v1/stats/overview?buckets=4").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["total"], json!({"succeeded": 3, "failed": 1, "pending": 0, "discarded": 0}));
    assert_eq!(overview["failingDeliveries"], 2, "flaky and broken failed in the last hour: {overview}");
    assert_eq!(overview["failedAttempts"], 3, "{overview}");
    assert_eq!(overview["deadLetters"], 1);
    let whom: Vec<(&str, u64, u64)> = overview["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["appUid"].as_str().unwrap(),
                a["failingDeliveries"].as_u64().unwrap(),
                a["deadLetters"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(whom, [("broken", 1, 1), ("flaky", 1, 0), ("fine", 0, 0)], "most failures first: {overview}");
    // The click-through: the messages behind each count, one application at a time.
    let since = overview["since"].as_str().unwrap().replace('+', "%2B");
    for (uid, expected) in [("broken", 1), ("flaky", 1), ("fine", 0)] {
        let (status, failed) = app.get(&format!("/api/v1/app/{uid}/msg?failed_since={since}")).await;
        assert_eq!(status, 200, "{failed}");
        assert_eq!(failed["data"].as_array().map(Vec::len), Some(expected), "{uid}: {failed}");
    }
    let series = overview["series"].as_array().unwrap();
    assert_eq!(series.len(), 4);
    let succeeded: u64 = series.iter().map(|point| point["succeeded"].as_u64().unwrap()).sum();
    assert_eq!(succeeded, 3, "the slices add up to the window: {overview}");

    // A window that excludes everything counts nothing; bad windows are refused.
    let (status, empty) = app.get("/api/v1/stats/overview?since=2020-01-01T00:00:00Z&until=2020-01-01T01:00:00Z").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["failingDeliveries"], 0);
    assert_eq!(empty["deadLetters"], 1, "dead letters are counted whenever they were created");
    for (query, field) in [("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "since"), ("buckets=0", "buckets")]
    {
        let (status, body) = app.get(&format!("/api/v1/stats/overview?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{body}");
    }
    // Another tenant sees none of it.
    let other = app.create_other_tenant().await;
    let (status, theirs) = app.request(reqwest::Method::GET, "/api/v1/stats/overview", Some(&other), None).await;
    assert_eq!(status, 200);
    assert_eq!(theirs["applications"], json!([]));
    assert_eq!(theirs["deadLetters"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_delivery_and_never_carry_secrets_or_payloads() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MARKER: &str = "payload-marker-5be1c0ffee";
    let log_file = std::env::temp_dir().join(format!("herald-json-logs-{}.log", uuid::Uuid::new_v4().simple()));
    let mut installation = Installation::fresh().set("HERALD_LOG_FORMAT", "json").set("HERALD_LOG_LEVEL", "info");
    installation.log_file = Some(log_file.clone());
    let key = installation.create_tenant("logged");
    let mut herald = installation.serve().await;
    // 410 Gone: the worker logs that it disables the endpoint, inside the attempt's span.
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(410));
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(herald.url(path)).bearer_auth(&key).json(&body).send();
    assert_eq!(post("/api/v1/app", json!({"name": "Logged", "uid": "logged"})).await.unwrap().status(), 201);
    let endpoint = json!({"url": receiver.url("/hook"), "secret": SECRET});
    assert_eq!(post("/api/v1/app/logged/endpoint", endpoint).await.unwrap().status(), 201);
    let message = json!({"eventType": "log.me", "payload": {"marker": MARKER}});
    let answer: Value = post("/api/v1/app/logged/msg", message).await.unwrap().json().await.unwrap();
    let msg_id = answer["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(20), "the 410 attempt", || async { (receiver.request_count() >= 1).then_some(()) })
        .await;
    // Give the worker a moment to record it, then stop so every line is written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(herald.terminate(Duration::from_secs(30)).await.success());

    let text = std::fs::read_to_string(&log_file).expect("the log file");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let disabled = lines
        .iter()
        .find(|line| line["message"].as_str().is_some_and(|m| m.contains("410 Gone")))
        .unwrap_or_else(|| panic!("no line about the 410: {text}"));
    let span = &disabled["span"];
    assert_eq!(span["name"], "attempt", "{disabled}");
    assert_eq!(span["msg"], msg_id.as_str(), "{disabled}");
    assert_eq!(span["attempt"], 1, "{disabled}");
    for field in ["tenant", "app", "endpoint"] {
        assert!(span[field].as_str().is_some_and(|v| !v.is_empty()), "{field} missing: {disabled}");
    }
    for secret in [MARKER, SECRET, key.as_str()] {
        assert!(!text.contains(secret), "the logs carry a secret or a payload: {secret}");
    }
    let _ = std::fs::remove_file(&log_file);
}
