//! Paced recovery: an endpoint that was down comes back to a backlog. With a
//! `rateLimit` it is never sent more than that many a second (counted at the receiver,
//! second by second); without one its backlog comes back on the recovery ramp (5 a
//! second, doubling each second it answers), not all at once. Everything arrives. A
//! `recover` is a background task at the same pace that carries on across a restart.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use herald_e2e::{eventually, Reply, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

/// A Herald whose breaker opens quickly and probes every two seconds, and an endpoint
/// (with `extra` fields) whose receiver is down; `messages` are accepted for it, and
/// the receiver comes back once the breaker has opened.
async fn backlog_for_a_returning_endpoint(messages: usize, extra: serde_json::Value) -> (TestApp, TestReceiver) {
    let app = TestApp::builder()
        .configure(|s| {
            s.breaker_failure_threshold = 3;
            s.breaker_cool_down = Duration::from_secs(2);
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    app.create_application("acme").await;
    let endpoint = app.create_endpoint("acme", &receiver.url("/hook"), extra).await;
    let stats_path = format!("/api/v1/app/acme/endpoint/{}/stats", endpoint["id"].as_str().unwrap());
    stream::iter(0..messages)
        .for_each_concurrent(16, |n| {
            let app = &app;
            async move {
                app.send_message("acme", "invoice.paid", json!({ "n": n })).await;
            }
        })
        .await;
    eventually(Duration::from_secs(30), "the breaker to open", || async {
        let (_, stats) = app.get(&stats_path).await;
        (stats["breaker"]["state"] == "open").then_some(())
    })
    .await;
    receiver.set_default(Reply::status(200));
    (app, receiver)
}

/// Arrivals per second, counting from `start`.
fn per_second(arrivals: &[Instant], start: Instant) -> Vec<usize> {
    let mut counts = Vec::new();
    for at in arrivals.iter().filter(|at| **at >= start) {
        let second = at.duration_since(start).as_secs() as usize;
        if counts.len() <= second {
            counts.resize(second + 1, 0);
        }
        counts[second] += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_3000_comes_back_at_the_endpoints_rate_limit_of_20() {
    const MESSAGES: usize = 3_000;
    let (app, receiver) = backlog_for_a_returning_endpoint(MESSAGES, json!({"rateLimit": 20})).await;
    eventually(Duration::from_secs(400), "every message to arrive", || async {
        (receiver.unique_webhook_ids().len() == MESSAGES).then_some(())
    })
    .await;
    let arrivals: Vec<Instant> = receiver.requests().iter().map(|r| r.received_at).collect();
    // Every request counts, the failed ones before the endpoint came back too.
    let seconds = per_second(&arrivals, arrivals[0]);
    eprintln!("rateLimit 20, {MESSAGES} backlog, requests per second: {seconds:?}");
    let busiest = seconds.iter().copied().max().unwrap();
    assert!(busiest <= 20, "{busiest} requests in one second; per second: {seconds:?}");
    assert!(seconds.len() >= MESSAGES / 20, "{} seconds for {MESSAGES} at 20/s", seconds.len());
    // And no sliding second either (a second's worth, plus one at the edge).
    let most_in_any_second = arrivals
        .iter()
        .map(|start| {
            arrivals.iter().filter(|at| **at >= *start && at.duration_since(*start) < Duration::from_secs(1)).count()
        })
        .max()
        .unwrap();
    assert!(most_in_any_second <= 21, "{most_in_any_second} in one sliding second");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_rate_limit_a_backlog_comes_back_on_the_ramp() {
    const MESSAGES: usize = 400;
    let (app, receiver) = backlog_for_a_returning_endpoint(MESSAGES, json!({})).await;
    let down = receiver.request_count();
    eventually(Duration::from_secs(60), "every message to arrive", || async {
        (receiver.unique_webhook_ids().len() == MESSAGES).then_some(())
    })
    .await;
    let requests = receiver.requests();
    // From the first request after the endpoint came back (the probe that closes the
    // breaker): second k holds at most the ramp's pace 5·2^k, plus one at each edge
    // of a step (a fresh pace sends its first at once).
    let back = requests[down..].iter().map(|r| r.received_at).collect::<Vec<_>>();
    let seconds = per_second(&back, back[0]);
    eprintln!("no rateLimit, {MESSAGES} backlog, requests per second after the endpoint came back: {seconds:?}");
    for (k, count) in seconds.iter().enumerate() {
        let pace = 5.0 * 2f64.powi(k as i32);
        if pace >= 1_000.0 {
            break;
        }
        assert!(*count as f64 <= pace + 2.0, "second {k}: {count} sent at pace {pace}; per second: {seconds:?}");
    }
    assert!(seconds.len() >= 6, "400 on the ramp take at least six seconds (5+10+…+160 = 315): {seconds:?}");
    app.stop().await;
}

/// Starts Herald on the test defaults, with one attempt per delivery (a failure is a
/// dead letter at once) and a breaker that does not open, on `database` and `prefix`
/// when given (a restart of an earlier Herald).
async fn one_attempt_herald(earlier: Option<(String, String)>) -> TestApp {
    let mut builder = TestApp::builder().configure(|s| {
        s.retry_schedule = "0s".to_owned();
        s.retry_jitter = 0.0;
        s.breaker_failure_threshold = 100_000;
        s.breaker_min_attempts = 100_000;
    });
    if let Some((database, prefix)) = earlier {
        builder = builder.database(database).configure(move |s| s.redis_prefix = prefix);
    }
    builder.start().await
}

/// `recover` answers at once with a running task; the task releases the dead letters at
/// the endpoint's `rateLimit` (never more a second at the receiver), Herald is stopped
/// and started again in the middle, and the new process finishes the task: every
/// delivery arrives exactly once, and the task reads `finished` with its counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recover_is_a_paced_task_that_survives_a_restart() {
    const MESSAGES: usize = 60;
    let first = one_attempt_herald(None).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    first.create_application("acme").await;
    let endpoint = first.create_endpoint("acme", &receiver.url("/hook"), json!({"rateLimit": 10})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    stream::iter(0..MESSAGES)
        .for_each_concurrent(8, |n| {
            let first = &first;
            async move {
                first.send_message("acme", "invoice.paid", json!({ "n": n })).await;
            }
        })
        .await;
    let failed_path = format!("/api/v1/app/acme/endpoint/{endpoint}/msg?status=2&limit=250");
    eventually(Duration::from_secs(30), "every delivery dead-lettered", || async {
        let (_, page) = first.get(&failed_path).await;
        (page["data"].as_array().map(Vec::len) == Some(MESSAGES)).then_some(())
    })
    .await;

    // The endpoint is back; recover answers with the task before it is done.
    receiver.set_default(Reply::status(200));
    let failed = receiver.request_count();
    let (status, task) =
        first.post(&format!("/api/v1/app/acme/endpoint/{endpoint}/recover"), &json!({"since": since})).await;
    assert_eq!(
        (status, &task["status"], &task["task"]),
        (202, &json!("running"), &json!("endpoint.recover")),
        "{task}"
    );
    assert_eq!(task["recovered"], MESSAGES, "{task}");
    let task_id = task["id"].as_str().unwrap().to_owned();
    assert!(task_id.starts_with("qtask_"), "{task_id}");
    let (status, read) = first.get(&format!("/api/v1/background-task/{task_id}")).await;
    assert_eq!(
        (status, &read["data"]["total"], &read["data"]["endpointId"]),
        (200, &json!(MESSAGES), &json!(endpoint))
    );

    // Stopped a third of the way through, and started again on the same database and Redis.
    eventually(Duration::from_secs(30), "a third delivered", || async {
        (receiver.request_count() - failed >= MESSAGES / 3).then_some(())
    })
    .await;
    let (key, earlier) = (first.api_key.clone(), (first.database_url(), first.settings.redis_prefix.clone()));
    first.stop().await;
    let second = one_attempt_herald(Some(earlier)).await;
    let task_path = format!("/api/v1/background-task/{task_id}");
    let read_task = || second.request(Method::GET, &task_path, Some(&key), None);
    let done = eventually(Duration::from_secs(60), "the task to finish", || async {
        let (_, read) = read_task().await;
        (read["status"] == "finished").then_some(read)
    })
    .await;
    assert_eq!((&done["data"]["done"], &done["data"]["total"]), (&json!(MESSAGES), &json!(MESSAGES)), "{done}");
    eventually(Duration::from_secs(30), "every recovered delivery", || async {
        (receiver.request_count() - failed >= MESSAGES).then_some(())
    })
    .await;
    let list = "/api/v1/background-task?status=finished&task=endpoint.recover";
    let (status, listed) = second.request(Method::GET, list, Some(&key), None).await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["data"].as_array().unwrap().iter().any(|t| t["id"] == task_id.as_str()), "{listed}");
    let (status, refused) =
        second.request(Method::GET, "/api/v1/background-task?status=sleeping", Some(&key), None).await;
    assert_eq!(status, 422, "{refused}");
    let other = second.create_other_tenant().await;
    let (status, _) = second.request(Method::GET, &task_path, Some(&other), None).await;
    assert_eq!(status, 404, "another tenant's task is not found");
    // Anything still on its way would show as a duplicate below.
    tokio::time::sleep(Duration::from_secs(2)).await;
    second.stop().await;

    let recovered = &receiver.requests()[failed..];
    let unique: std::collections::HashSet<&str> = recovered.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!((recovered.len(), unique.len()), (MESSAGES, MESSAGES), "each recovered delivery exactly once");
    let arrivals: Vec<Instant> = recovered.iter().map(|r| r.received_at).collect();
    let seconds = per_second(&arrivals, arrivals[0]);
    assert!(seconds.iter().all(|count| *count <= 10), "rateLimit 10 at the receiver: {seconds:?}");
}

/// `bulk-replay` sends again what matched its filters (here: `invoice.paid` messages
/// that were delivered with a 2xx), as a background task at the endpoint's
/// `rateLimit`; Herald is stopped and started again in the middle and the new process
/// finishes it: each selected delivery arrives once more, exactly once, nothing else
/// does, and the task reads `finished` with its counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_replay_is_a_paced_filtered_task_that_survives_a_restart() {
    const PAID: usize = 45;
    const VOIDED: usize = 10;
    let first = one_attempt_herald(None).await;
    let receiver = TestReceiver::start().await;
    first.create_application("acme").await;
    let endpoint = first.create_endpoint("acme", &receiver.url("/hook"), json!({"rateLimit": 10})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let mut paid = std::collections::HashSet::new();
    for n in 0..PAID + VOIDED {
        let event_type = if n < PAID { "invoice.paid" } else { "invoice.voided" };
        let message = first.send_message("acme", event_type, json!({ "n": n })).await;
        if n < PAID {
            paid.insert(message["id"].as_str().unwrap().to_owned());
        }
    }
    eventually(Duration::from_secs(60), "every message delivered once", || async {
        (receiver.request_count() == PAID + VOIDED).then_some(())
    })
    .await;

    let path = format!("/api/v1/app/acme/endpoint/{endpoint}/bulk-replay");
    for (bad, field) in [
        (json!({"since": since, "status": 9}), "status"),
        (json!({"since": since, "statusCodeClass": 250}), "statusCodeClass"),
    ] {
        let (status, refused) = first.post(&path, &bad).await;
        assert_eq!((status, refused["code"].as_str()), (422, Some("validation")), "{field}: {refused}");
    }
    let filter = json!({"since": since, "eventTypes": ["invoice.paid"], "status": 0, "statusCodeClass": 200});
    let (status, task) = first.post(&path, &filter).await;
    assert_eq!(
        (status, &task["status"], &task["task"]),
        (202, &json!("running"), &json!("endpoint.bulk-replay")),
        "{task}"
    );
    let task_id = task["id"].as_str().unwrap().to_owned();
    let (_, read) = first.get(&format!("/api/v1/background-task/{task_id}")).await;
    assert_eq!(read["data"]["total"], PAID, "{read}");

    let before = PAID + VOIDED;
    eventually(Duration::from_secs(30), "a third replayed", || async {
        (receiver.request_count() - before >= PAID / 3).then_some(())
    })
    .await;
    let (key, earlier) = (first.api_key.clone(), (first.database_url(), first.settings.redis_prefix.clone()));
    first.stop().await;
    let second = one_attempt_herald(Some(earlier)).await;
    let task_path = format!("/api/v1/background-task/{task_id}");
    let done = eventually(Duration::from_secs(60), "the task to finish", || async {
        let (_, read) = second.request(Method::GET, &task_path, Some(&key), None).await;
        (read["status"] == "finished").then_some(read)
    })
    .await;
    assert_eq!((&done["data"]["done"], &done["data"]["total"]), (&json!(PAID), &json!(PAID)), "{done}");
    eventually(Duration::from_secs(30), "every replayed delivery", || async {
        (receiver.request_count() - before >= PAID).then_some(())
    })
    .await;
    // Anything still on its way would show as a duplicate below.
    tokio::time::sleep(Duration::from_secs(2)).await;
    second.stop().await;

    let replayed = &receiver.requests()[before..];
    let ids: Vec<String> = replayed
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["n"].as_u64().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!((replayed.len(), unique.len()), (PAID, PAID), "each selected delivery exactly once more: {ids:?}");
    let webhook_ids: std::collections::HashSet<&str> = replayed.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert!(webhook_ids.iter().all(|id| paid.contains(*id)), "only invoice.paid messages are replayed");
    let arrivals: Vec<Instant> = replayed.iter().map(|r| r.received_at).collect();
    let seconds = per_second(&arrivals, arrivals[0]);
    assert!(seconds.iter().all(|count| *count <= 10), "rateLimit 10 at the receiver: {seconds:?}");
}

/// `replay-missing` sends an endpoint the messages it never got (sent before it
/// existed) that its filters accept now, and nothing it already got; a second one
/// finds nothing left and finishes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_missing_sends_only_what_never_went_to_the_endpoint() {
    let herald = TestApp::builder().start().await;
    let receiver = TestReceiver::start().await;
    herald.create_application("acme").await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let mut missed = std::collections::HashSet::new();
    for n in 0..6 {
        missed.insert(
            herald.send_message("acme", "order.created", json!({ "n": n })).await["id"].as_str().unwrap().to_owned(),
        );
    }
    for n in 0..3 {
        herald.send_message("acme", "order.archived", json!({ "n": n })).await;
    }
    let extra = json!({"filterTypes": ["order.created"]});
    let endpoint = herald.create_endpoint("acme", &receiver.url("/hook"), extra).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let mut delivered = std::collections::HashSet::new();
    for n in 6..8 {
        delivered.insert(
            herald.send_message("acme", "order.created", json!({ "n": n })).await["id"].as_str().unwrap().to_owned(),
        );
    }
    eventually(Duration::from_secs(30), "the two new messages delivered", || async {
        (receiver.request_count() == 2).then_some(())
    })
    .await;

    let path = format!("/api/v1/app/acme/endpoint/{endpoint}/replay-missing");
    let (status, task) = herald.post(&path, &json!({"since": since})).await;
    assert_eq!((status, &task["task"]), (202, &json!("endpoint.replay")), "{task}");
    let task_path = format!("/api/v1/background-task/{}", task["id"].as_str().unwrap());
    let done = eventually(Duration::from_secs(30), "the task to finish", || async {
        let (_, read) = herald.get(&task_path).await;
        (read["status"] == "finished").then_some(read)
    })
    .await;
    assert_eq!((&done["data"]["done"], &done["data"]["total"]), (&json!(6), &json!(6)), "{done}");
    eventually(Duration::from_secs(30), "the six missed messages", || async {
        (receiver.request_count() == 8).then_some(())
    })
    .await;
    let (status, again) = herald.post(&path, &json!({"since": since})).await;
    assert_eq!((status, &again["status"]), (202, &json!("finished")), "nothing left to replay: {again}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = receiver.requests();
    let received: Vec<&str> = requests.iter().filter_map(|r| r.header("webhook-id")).collect();
    let expected: std::collections::HashSet<&str> = missed.iter().chain(&delivered).map(String::as_str).collect();
    assert_eq!(received.len(), 8, "{received:?}");
    assert_eq!(received.iter().copied().collect::<std::collections::HashSet<_>>(), expected);
    herald.stop().await;
}

/// Automatic redrive: endpoints fail long enough for an outage (more than
/// `auto_redrive_after`, here one second) and dead-letter five messages each; one is
/// disabled meanwhile and gets none of them. When the receiver answers again (and the
/// disabled one is enabled), the endpoint that did not opt out gets its dead letters
/// again, the disabled one the messages it missed, the opted-out one nothing more; the
/// redrive is a task recorded as started by Herald. A tenant that opts out gets no
/// redrive either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_comes_back_is_redriven_unless_it_or_its_tenant_opted_out() {
    const OPERATOR: &str = "redrive-operator";
    let herald = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 100_000;
            s.breaker_min_attempts = 100_000;
            s.auto_redrive_after = Some(Duration::from_secs(1));
            s.operator_token = OPERATOR.to_string().into();
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    herald.create_application("acme").await;
    let mut ids = Vec::new();
    for (path, extra) in
        [("/redriven", json!({})), ("/opted-out", json!({"autoRedrive": false})), ("/paused", json!({}))]
    {
        let endpoint = herald.create_endpoint("acme", &receiver.url(path), extra).await;
        ids.push(endpoint["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(herald.get(&format!("/api/v1/app/acme/endpoint/{}", ids[1])).await.1["autoRedrive"], false);
    let patch = |id: &str, body: serde_json::Value| {
        let path = format!("/api/v1/app/acme/endpoint/{id}");
        let herald = &herald;
        async move { herald.request(Method::PATCH, &path, Some(&herald.api_key), Some(&body.to_string())).await }
    };
    assert_eq!(patch(&ids[2], json!({"disabled": true})).await.0, 200);
    for n in 0..5 {
        herald.send_message("acme", "invoice.paid", json!({ "n": n })).await;
    }
    for id in &ids[..2] {
        let failed_path = format!("/api/v1/app/acme/endpoint/{id}/msg?status=2");
        eventually(Duration::from_secs(30), "five dead letters", || async {
            let (_, page) = herald.get(&failed_path).await;
            (page["data"].as_array().map(Vec::len) == Some(5)).then_some(())
        })
        .await;
    }
    // Failing for longer than auto_redrive_after: an outage.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    receiver.set_default(Reply::status(200));
    herald.send_message("acme", "invoice.paid", json!({ "n": "back" })).await;
    assert_eq!(patch(&ids[2], json!({"disabled": false})).await.0, 200);

    let answered = |path: &'static str| {
        let receiver = &receiver;
        move || receiver.requests().iter().filter(|r| r.path == path).count()
    };
    eventually(Duration::from_secs(30), "the redriven dead letters and the missed messages", || async {
        // 5 failed + the new one + 5 again; the paused one: the 6 it missed (the new
        // message found it disabled too).
        (answered("/redriven")() == 11 && answered("/paused")() == 6).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(answered("/opted-out")(), 6, "the opted-out endpoint gets nothing more");
    assert_eq!(answered("/redriven")(), 11, "each dead letter once more");
    assert_eq!(answered("/paused")(), 6, "each missed message once");
    let (_, tasks) = herald.get("/api/v1/background-task?task=endpoint.recover").await;
    let recover = tasks["data"].as_array().unwrap().iter().find(|t| t["data"]["endpointId"] == ids[0].as_str());
    assert_eq!(recover.map(|t| (&t["status"], &t["data"]["done"])), Some((&json!("finished"), &json!(5))), "{tasks}");
    let (_, log) = herald.get("/api/v1/audit-log?action=endpoint.recover").await;
    assert_eq!(log["data"][0]["actorKind"], "herald", "{log}");

    // The tenant opts out: a second outage of the same endpoint is not redriven.
    let tenant_path = format!("/admin/v1/tenant/{}", herald.tenant_id);
    let body = json!({"autoRedrive": false}).to_string();
    let (status, tenant) = herald.request(Method::PATCH, &tenant_path, Some(OPERATOR), Some(&body)).await;
    assert_eq!((status, &tenant["autoRedrive"]), (200, &json!(false)), "{tenant}");
    receiver.set_default(Reply::status(503));
    let before = answered("/redriven")();
    for n in 0..3 {
        herald.send_message("acme", "invoice.voided", json!({ "n": n })).await;
    }
    eventually(Duration::from_secs(30), "three more failures", || async {
        (answered("/redriven")() >= before + 3).then_some(())
    })
    .await;
    assert_eq!(answered("/redriven")(), before + 3);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    receiver.set_default(Reply::status(200));
    herald.send_message("acme", "invoice.voided", json!({ "n": "back" })).await;
    eventually(Duration::from_secs(10), "the new message", || async {
        (answered("/redriven")() == before + 4).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(answered("/redriven")(), before + 4, "the tenant opted out: no redrive");
    herald.stop().await;
}

/// An endpoint Herald disables itself (its receiver answered `410 Gone`) is in an
/// outage from then, however short `auto_redrive_after` is not: enabled again, it gets
/// the message that was gone and the three it missed while disabled, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_disabled_by_herald_gets_what_it_missed_when_enabled_again() {
    let herald = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s".to_owned();
            s.auto_redrive_after = Some(Duration::from_secs(3_600));
        })
        .start()
        .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(410));
    herald.create_application("acme").await;
    let endpoint = herald.create_endpoint("acme", &receiver.url("/hook"), json!({})).await;
    let path = format!("/api/v1/app/acme/endpoint/{}", endpoint["id"].as_str().unwrap());
    let gone = herald.send_message("acme", "invoice.paid", json!({"n": 0})).await["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "Herald to disable the endpoint", || async {
        (herald.get(&path).await.1["disabled"] == true).then_some(())
    })
    .await;
    let mut missed = Vec::new();
    for n in 1..4 {
        missed.push(
            herald.send_message("acme", "invoice.paid", json!({ "n": n })).await["id"].as_str().unwrap().to_owned(),
        );
    }
    receiver.set_default(Reply::status(200));
    let body = json!({"disabled": false}).to_string();
    assert_eq!(herald.request(Method::PATCH, &path, Some(&herald.api_key), Some(&body)).await.0, 200);
    eventually(Duration::from_secs(30), "the gone message again and the three missed", || async {
        (receiver.request_count() >= 5).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = receiver.requests();
    let ids: Vec<&str> = requests.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids.iter().filter(|id| **id == gone).count(), 2, "the gone message once more: {ids:?}");
    assert!(missed.iter().all(|id| ids.iter().filter(|seen| **seen == id.as_str()).count() == 1), "{ids:?}");
    herald.stop().await;
}
