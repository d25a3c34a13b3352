//! The pull path (guarantee 7, push and pull agree): polling endpoints read through the
//! official SDKs' `message.poller` calls, consumer positions kept by Herald, iterators
//! that belong to one poller, and a receiver that was down for a whole run catching up
//! through its poller after every push was dead-lettered.

use std::collections::BTreeSet;
use std::time::Duration;

use herald_e2e::sdk::{self, PollerRun, PollerSdk};
use herald_e2e::{eventually, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn create_poller(herald: &TestApp, app: &str, body: Value) -> String {
    let (status, poller) = herald.post(&format!("/api/v1/app/{app}/poller"), &body).await;
    assert_eq!(status, 201, "create poller: {poller}");
    poller["id"].as_str().expect("a poller id").to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().expect("data").iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

/// Messages of two types, then a pause and a moment to seek to, then three more: what
/// a poller filtered to `poll.a` shows, and what it shows after the moment.
async fn feed_with_a_moment(herald: &TestApp, app: &str) -> Value {
    let mut shown = Vec::new();
    for n in 0..7 {
        let event_type = if n % 3 == 2 { "poll.b" } else { "poll.a" };
        let msg = herald.send_message(app, event_type, json!({"n": n})).await;
        if event_type == "poll.a" {
            shown.push(msg["id"].as_str().unwrap().to_owned());
        }
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let moment = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut after = Vec::new();
    for n in 7..10 {
        let msg = herald.send_message(app, "poll.a", json!({"n": n})).await;
        after.push(msg["id"].as_str().unwrap().to_owned());
    }
    shown.extend(after.iter().cloned());
    json!({"ids": shown, "seek_after": moment.to_rfc3339(), "after_seek": after})
}

#[tokio::test]
async fn the_official_sdks_read_a_polling_endpoint_unchanged() {
    let herald = TestApp::spawn().await;
    herald.create_application("pull-sdk").await;
    let poller = create_poller(&herald, "pull-sdk", json!({"eventTypes": ["poll.a"], "uid": "reader"})).await;
    let expected = feed_with_a_moment(&herald, "pull-sdk").await;
    let server = format!("http://{}", herald.address);
    let sdks = [(PollerSdk::Python, poller.as_str()), (PollerSdk::Js, "reader"), (PollerSdk::Rust, poller.as_str())];
    for (sdk, poller_id) in sdks {
        let run = PollerRun {
            server_url: &server,
            token: &herald.api_key,
            app_id: "pull-sdk",
            poller_id,
            expected: expected.clone(),
        };
        let summary = sdk::run_poller(sdk, run).await;
        assert_eq!(summary["poll_ids"], expected["ids"], "{sdk:?}: {summary}");
        assert_eq!(summary["consumer_ids"], expected["ids"], "{sdk:?}: {summary}");
        assert_eq!(summary["seek_ids"], expected["after_seek"], "{sdk:?}: {summary}");
    }
    herald.stop().await;
}

#[tokio::test]
async fn polling_endpoints_are_managed_filtered_and_keep_their_iterators() {
    let herald = TestApp::spawn().await;
    herald.create_application("pull-manage").await;
    let base = "/api/v1/app/pull-manage/poller";
    let by_channel = create_poller(&herald, "pull-manage", json!({"channels": ["eu"], "uid": "eu-only"})).await;
    let everything = create_poller(&herald, "pull-manage", json!({"description": "all"})).await;

    let (status, listed) = herald.get(base).await;
    assert_eq!((status, listed["data"].as_array().map(Vec::len)), (200, Some(2)), "{listed}");
    let (status, details) = herald.get(&format!("{base}/eu-only/details")).await;
    assert_eq!((status, details["id"].as_str(), details["channels"].clone()), (200, Some(&*by_channel), json!(["eu"])));

    let mut eu = Vec::new();
    for (n, channel) in ["eu", "us", "eu", "us"].iter().enumerate() {
        let body = json!({"eventType": "a.b", "payload": {"n": n}, "channels": [channel]});
        let (status, msg) = herald.post("/api/v1/app/pull-manage/msg", &body).await;
        assert_eq!(status, 202, "{msg}");
        if *channel == "eu" {
            eu.push(msg["id"].as_str().unwrap().to_owned());
        }
    }
    let (status, page) = herald.get(&format!("{base}/{by_channel}")).await;
    assert_eq!((status, ids(&page)), (200, eu.clone()), "the channel filter: {page}");
    assert_eq!(page["done"], true);
    let (_, page) = herald.get(&format!("{base}/{everything}?channel=us")).await;
    assert_eq!(ids(&page).len(), 2, "the request's channel filter: {page}");

    // An iterator is its poller's own: refused on another, and when changed at all.
    let (_, page) = herald.get(&format!("{base}/{everything}?limit=1")).await;
    let iterator = page["iterator"].as_str().unwrap().to_owned();
    let (status, answer) = herald.get(&format!("{base}/{by_channel}?iterator={iterator}")).await;
    assert_eq!((status, answer["code"].as_str()), (422, Some("validation")), "{answer}");
    let mut tampered = iterator.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, _) = herald.get(&format!("{base}/{everything}?iterator={tampered}")).await;
    assert_eq!(status, 422, "a tampered iterator");
    let (status, page) = herald.get(&format!("{base}/{everything}?iterator={iterator}&limit=10")).await;
    assert_eq!((status, ids(&page).len()), (200, 3), "the rest after the first: {page}");

    // Another tenant cannot see the poller; a bad consumer id is a 422.
    let other = herald.create_other_tenant().await;
    let (status, _) = herald.request(Method::GET, &format!("{base}/{everything}"), Some(&other), None).await;
    assert_eq!(status, 404);
    let (status, _) = herald.get(&format!("{base}/{everything}/consumer/bad%20name")).await;
    assert_eq!(status, 422);

    // Disabled: reads answer 409; enabled again, they work; deleted, 404 and the uid is free.
    let patch = |body: Value| {
        let path = format!("{base}/{by_channel}");
        let herald = &herald;
        async move { herald.request(Method::PATCH, &path, Some(&herald.api_key), Some(&body.to_string())).await }
    };
    let (status, patched) = patch(json!({"disabled": true, "channels": null})).await;
    assert_eq!((status, patched["disabled"].as_bool(), patched["channels"].clone()), (200, Some(true), Value::Null));
    let (status, answer) = herald.get(&format!("{base}/{by_channel}")).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("conflict")), "{answer}");
    patch(json!({"disabled": false})).await;
    let (_, page) = herald.get(&format!("{base}/{by_channel}")).await;
    assert_eq!(ids(&page).len(), 4, "no channel filter any more: {page}");
    let (status, _) =
        herald.request(Method::DELETE, &format!("{base}/{by_channel}"), Some(&herald.api_key), None).await;
    assert_eq!(status, 204);
    let (status, _) = herald.get(&format!("{base}/{by_channel}")).await;
    assert_eq!(status, 404);
    create_poller(&herald, "pull-manage", json!({"uid": "eu-only"})).await;
    let (status, audit) = herald.get("/api/v1/audit-log?limit=250").await;
    assert_eq!(status, 200);
    let actions: BTreeSet<&str> =
        audit["data"].as_array().unwrap().iter().filter_map(|entry| entry["action"].as_str()).collect();
    for action in ["poller.create", "poller.update", "poller.delete"] {
        assert!(actions.contains(action), "{action} is in the audit log: {actions:?}");
    }
    herald.stop().await;
}

/// A consumer whose webhook endpoint refused connections for the whole run, so every
/// delivery was dead-lettered, reads every message through its polling endpoint:
/// nothing missing, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_the_whole_run_catches_up_through_its_poller() {
    let herald = TestApp::builder()
        .configure(|s| {
            s.retry_schedule = "0s".to_owned();
            s.retry_jitter = 0.0;
            s.breaker_failure_threshold = 100_000;
            s.breaker_min_attempts = 100_000;
        })
        .start()
        .await;
    // A port nothing listens on: every push is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    herald.create_application("pull-down").await;
    herald.create_endpoint("pull-down", &format!("http://{closed}/hook"), json!({})).await;
    let poller = create_poller(&herald, "pull-down", json!({})).await;
    let mut sent = BTreeSet::new();
    for n in 0..200 {
        let msg = herald.send_message("pull-down", "order.created", json!({"n": n})).await;
        sent.insert(msg["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(60), "every delivery dead-lettered", || async {
        let (status, page) = herald.get("/api/v1/app/pull-down/dead-letter?limit=250").await;
        assert_eq!(status, 200, "{page}");
        (page["data"].as_array().map(Vec::len) == Some(200)).then_some(())
    })
    .await;

    let path = format!("/api/v1/app/pull-down/poller/{poller}/consumer/catch-up");
    let mut read = Vec::new();
    let mut iterator: Option<String> = None;
    for _ in 0..100 {
        let query = iterator.as_ref().map_or("?limit=50".to_owned(), |it| format!("?limit=50&iterator={it}"));
        let (status, page) = herald.get(&format!("{path}{query}")).await;
        assert_eq!(status, 200, "{page}");
        read.extend(ids(&page));
        iterator = page["iterator"].as_str().map(str::to_owned);
        if page["done"] == true && page["data"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
    }
    let unique: BTreeSet<String> = read.iter().cloned().collect();
    assert_eq!(unique.len(), read.len(), "no message read twice");
    let missing: Vec<&String> = sent.difference(&unique).collect();
    assert!(missing.is_empty(), "{} of 200 missing: {missing:?}", missing.len());
    herald.stop().await;
}

/// Long-poll across processes: a reader waiting on one Herald is answered as soon as
/// another Herald of the installation accepts a message, not when its wait runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_answered_when_another_process_accepts_a_message() {
    let writer = TestApp::spawn().await;
    let reader = TestApp::builder().sharing_database_with(&writer).start().await;
    writer.create_application("pull-wait").await;
    let poller = create_poller(&writer, "pull-wait", json!({"eventTypes": ["wanted"]})).await;
    let path = format!("/api/v1/app/pull-wait/poller/{poller}/consumer/waiter");
    let key = writer.api_key.clone();

    // Nothing yet: the read waits; an unwanted event type does not end the wait.
    let started = std::time::Instant::now();
    let waiting = {
        let (reader, path, key) = (&reader, format!("{path}?wait=20"), key.clone());
        async move { reader.request(Method::GET, &path, Some(&key), None).await }
    };
    let send = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.send_message("pull-wait", "unwanted", json!({})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.send_message("pull-wait", "wanted", json!({"n": 1})).await["id"].as_str().unwrap().to_owned()
    };
    let ((status, page), sent) = tokio::join!(waiting, send);
    let waited = started.elapsed();
    assert_eq!((status, ids(&page)), (200, vec![sent]), "{page}");
    assert!(waited < Duration::from_secs(20), "answered by the message, not by the end of the wait ({waited:?})");

    // With nothing new, a wait runs out and answers an empty page; wait beyond the
    // setting is refused.
    let iterator = page["iterator"].as_str().unwrap();
    let (status, empty) =
        reader.request(Method::GET, &format!("{path}?iterator={iterator}&wait=1"), Some(&key), None).await;
    assert_eq!((status, ids(&empty).len(), empty["done"].as_bool()), (200, 0, Some(true)), "{empty}");
    let (status, refused) = reader.request(Method::GET, &format!("{path}?wait=3600"), Some(&key), None).await;
    assert_eq!((status, refused["code"].as_str()), (422, Some("validation")), "{refused}");
    reader.stop().await;
    writer.stop().await;
}

/// `ETag` and `If-None-Match`: the same read of an unchanged feed is a `304` without
/// a body; once something new is there, a `200` with it.
#[tokio::test]
async fn an_unchanged_feed_answers_not_modified() {
    let herald = TestApp::spawn().await;
    herald.create_application("pull-etag").await;
    let poller = create_poller(&herald, "pull-etag", json!({})).await;
    let first = herald.send_message("pull-etag", "a.b", json!({})).await["id"].as_str().unwrap().to_owned();
    let url = herald.url(&format!("/api/v1/app/pull-etag/poller/{poller}"));
    let client = reqwest::Client::new();
    let get = |tag: Option<String>| {
        let mut request = client.get(&url).bearer_auth(&herald.api_key);
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        request.send()
    };
    let answer = get(None).await.unwrap();
    assert_eq!(answer.status(), 200);
    let tag = answer.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(ids(&body), vec![first.clone()]);

    let unchanged = get(Some(tag.clone())).await.unwrap();
    assert_eq!(unchanged.status(), 304, "nothing new");
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), tag);
    assert!(unchanged.bytes().await.unwrap().is_empty(), "a 304 has no body");
    assert_eq!(get(Some(format!("W/{tag}, \"other\""))).await.unwrap().status(), 304, "weak and listed tags");

    let second = herald.send_message("pull-etag", "a.b", json!({})).await["id"].as_str().unwrap().to_owned();
    let changed = get(Some(tag.clone())).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(ids(&body), vec![first, second]);
    herald.stop().await;
}

/// One Server-Sent Event: its `id` and its data.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("id:") {
                    id = Some(rest.trim().to_owned());
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = serde_json::from_str(rest.trim()).ok();
                }
            }
            Some((id?, data?))
        })
        .collect()
}

/// Reads a stream until `count` events have come (or 20 s pass) and drops it.
async fn read_events(mut response: reqwest::Response, count: usize) -> Vec<(String, Value)> {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while events(&text).len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("events arrive in time");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
    }
    events(&text)
}

/// The Server-Sent Events stream of a poller: what is there, then what comes, and after
/// a reconnect with `Last-Event-ID`, only what came after the last event received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_sent_events_stream_resumes_after_the_last_event() {
    let herald = TestApp::spawn().await;
    herald.create_application("pull-sse").await;
    let poller = create_poller(&herald, "pull-sse", json!({"eventTypes": ["shown"]})).await;
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(herald.send_message("pull-sse", "shown", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
        herald.send_message("pull-sse", "hidden", json!({})).await;
    }
    let url = herald.url(&format!("/api/v1/app/pull-sse/poller/{poller}/stream"));
    let client = reqwest::Client::new();
    let response = client.get(&url).bearer_auth(&herald.api_key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let reading = read_events(response, 4);
    let sending = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        herald.send_message("pull-sse", "shown", json!({"n": 3})).await["id"].as_str().unwrap().to_owned()
    };
    let (received, live) = tokio::join!(reading, sending);
    sent.push(live);
    let received_ids: Vec<&str> = received.iter().map(|(_, data)| data["id"].as_str().unwrap()).collect();
    assert_eq!(received_ids, sent.iter().map(String::as_str).collect::<Vec<_>>(), "what was there, then what came");
    assert_eq!(received[0].1["eventType"], "shown");

    // Reconnect after the second event: the third and fourth come again, nothing else.
    let resume = received[1].0.clone();
    let later = herald.send_message("pull-sse", "shown", json!({"n": 4})).await["id"].as_str().unwrap().to_owned();
    let response = client.get(&url).bearer_auth(&herald.api_key).header("last-event-id", &resume).send().await.unwrap();
    let resumed = read_events(response, 3).await;
    let resumed_ids: Vec<&str> = resumed.iter().map(|(_, data)| data["id"].as_str().unwrap()).collect();
    assert_eq!(resumed_ids, vec![sent[2].as_str(), sent[3].as_str(), later.as_str()]);

    // The application's portal token streams it too.
    let (status, access) = herald.post("/api/v1/auth/app-portal-access/pull-sse", &json!({"readOnly": true})).await;
    assert_eq!(status, 200, "{access}");
    let token = access["token"].as_str().unwrap();
    let response = client.get(&url).bearer_auth(token).header("last-event-id", &resume).send().await.unwrap();
    assert_eq!(read_events(response, 1).await[0].1["id"].as_str(), Some(sent[2].as_str()));

    // Another poller's event id is refused.
    let other = create_poller(&herald, "pull-sse", json!({})).await;
    let (status, _) = {
        let url = herald.url(&format!("/api/v1/app/pull-sse/poller/{other}/stream"));
        let answer =
            client.get(&url).bearer_auth(&herald.api_key).header("last-event-id", &resume).send().await.unwrap();
        (answer.status().as_u16(), ())
    };
    assert_eq!(status, 422);
    herald.stop().await;
}

/// Reconciliation for a webhook consumer: it answered 200 to every delivery but lost
/// one in ten. Its reconciliation job lists the messages routed to its endpoint since
/// the run began (`GET …/endpoint/{id}/msg?after=`, paged, with their delivery state)
/// and processes what it has not: nothing is missing afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_dropped_one_in_ten_reconciles_to_nothing_missing() {
    let herald = TestApp::spawn().await;
    let receiver = herald_e2e::TestReceiver::start().await;
    herald.create_application("pull-reconcile").await;
    let endpoint = herald.create_endpoint("pull-reconcile", &receiver.url("/hook"), json!({})).await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut sent = BTreeSet::new();
    for n in 0..1_000 {
        let msg = herald.send_message("pull-reconcile", "order.created", json!({"n": n})).await;
        sent.insert(msg["id"].as_str().unwrap().to_owned());
    }
    let delivered = eventually(Duration::from_secs(60), "every delivery answered", || {
        let requests = receiver.requests();
        async move { (requests.len() >= 1_000).then_some(requests) }
    })
    .await;
    // The consumer processed what it received, except every tenth delivery.
    let mut processed: BTreeSet<String> = delivered
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 10 != 9)
        .filter_map(|(_, request)| request.header("webhook-id").map(str::to_owned))
        .collect();
    assert!(processed.len() <= 901, "about a tenth was lost: {} processed", processed.len());

    // The reconciliation job: everything routed to the endpoint since the run began.
    let after = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut iterator = String::new();
    let mut listed = 0;
    loop {
        let path =
            format!("/api/v1/app/pull-reconcile/endpoint/{endpoint}/msg?limit=250&after={after}&iterator={iterator}");
        let (status, page) = herald.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for message in page["data"].as_array().unwrap() {
            listed += 1;
            assert_eq!(message["statusText"], "success", "its delivery state: {message}");
            assert!(message["payload"]["n"].is_number(), "the payload to process again: {message}");
            processed.insert(message["id"].as_str().unwrap().to_owned());
        }
        if page["done"] == true {
            break;
        }
        iterator = page["iterator"].as_str().unwrap().to_owned();
    }
    assert_eq!(listed, 1_000, "the feed lists every message routed to the endpoint once");
    let missing: Vec<&String> = sent.difference(&processed).collect();
    assert!(missing.is_empty(), "{} missing after reconciling: {missing:?}", missing.len());
    herald.stop().await;
}

/// `examples/consumer/consumer.py`, run as its README says: it receives, verifies and
/// acknowledges pushed webhooks (receipts, with the endpoint's key); while it is down,
/// messages pile up; `reconcile` processes and acknowledges them from the endpoint's
/// feed; `pull` reads everything through a poller and finds nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_consumer_verifies_reconciles_and_pulls() {
    let herald = TestApp::builder().configure(|s| s.retry_schedule = "0s,1h".to_owned()).start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    herald.create_application("example").await;
    let url = format!("http://127.0.0.1:{port}/webhook");
    let endpoint = herald.create_endpoint("example", &url, json!({"receiptWindow": 60})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let (_, secret) = herald.get(&format!("/api/v1/app/example/endpoint/{endpoint_id}/secret")).await;
    let (_, endpoint_key) = herald.post(&format!("/api/v1/app/example/endpoint/{endpoint_id}/key"), &json!({})).await;
    let feed = format!("/api/v1/app/example/endpoint/{endpoint_id}/msg?limit=100");
    let confirmed = || async {
        let (_, page) = herald.get(&feed).await;
        page["data"].as_array().unwrap().iter().filter(|m| m["processedAt"].is_string()).count()
    };
    let poller = create_poller(&herald, "example", json!({})).await;
    let dir = std::env::temp_dir().join(format!("herald-example-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/consumer/consumer.py");
    let consumer = |args: &[&str]| {
        let mut command = std::process::Command::new("python3");
        command
            .arg(&script)
            .args(args)
            .env("HERALD_URL", herald.url(""))
            .env("HERALD_TOKEN", &herald.api_key)
            .env("HERALD_APP", "example")
            .env("HERALD_ENDPOINT", &endpoint_id)
            .env("HERALD_POLLER", &poller)
            .env("HERALD_SECRET", secret["key"].as_str().unwrap())
            .env("HERALD_ENDPOINT_KEY", endpoint_key["key"].as_str().unwrap())
            .env("CONSUMER_DB", dir.join("consumer.db"))
            .env("CONSUMER_OUT", dir.join("processed.jsonl"))
            .stdin(std::process::Stdio::null());
        command
    };
    let processed = || std::fs::read_to_string(dir.join("processed.jsonl")).unwrap_or_default().lines().count();

    let mut server = KillOnDrop(consumer(&["serve", "--port", &port.to_string()]).spawn().expect("python3 runs it"));
    eventually(Duration::from_secs(10), "the example listens", || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok().then_some(())
    })
    .await;
    for n in 0..30 {
        herald.send_message("example", "order.created", json!({"n": n})).await;
    }
    eventually(Duration::from_secs(30), "30 processed by push", || async { (processed() == 30).then_some(()) }).await;
    eventually(Duration::from_secs(30), "30 acknowledged", || async { (confirmed().await == 30).then_some(()) }).await;

    // Down: the next 20 are refused (their retry is an hour away).
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    for n in 30..50 {
        herald.send_message("example", "order.created", json!({"n": n})).await;
    }
    let output = consumer(&["reconcile", "--since-hours", "1"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let counts = (summary["listed"].as_u64(), summary["recovered"].as_u64(), summary["acknowledged"].as_u64());
    assert_eq!(counts, (Some(50), Some(20), Some(20)), "{summary}");
    assert_eq!(processed(), 50);
    assert_eq!(confirmed().await, 50, "every message processed is acknowledged");

    let output = consumer(&["pull"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((summary["read"].as_u64(), summary["recovered"].as_u64()), (Some(50), Some(0)), "{summary}");
    assert_eq!(processed(), 50, "nothing processed twice");
    herald.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// A child process that dies with the test, whether it passes or panics.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
