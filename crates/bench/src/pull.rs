//! The pull path's scenarios.
//!
//! - **longpoll**: how soon a long-polling reader (`wait=10`) is answered after a
//!   message is accepted (`202` received), when it waits on the API process that
//!   accepted the message and on another API process of the installation (a second,
//!   API-only Herald on the same database and Redis). 200 messages each, one at a time.
//! - **pullread**: reading 100 messages from a poller whose application holds
//!   1,000,000 messages (written through the store's batch write, as ingest writes
//!   them, and analysed): a `poll` from a random time (`after=`) and a consumer reading
//!   on with its iterator, 300 reads each, for a poller that shows every message and
//!   for one whose filter matches one message in a hundred.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hdrhistogram::Histogram;
use herald_core::{ApplicationId, MessageId, TenantId};
use herald_store::{NewMessage, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{millis, Client};

const LONG_POLLS: usize = 200;
const PULL_MESSAGES: usize = 1_000_000;
const PULL_BATCH: usize = 2_000;
const PULL_READS: usize = 300;

impl Client {
    async fn get(&self, base: &str, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{base}{path}")).bearer_auth(&self.key).send().await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        ensure!(status.is_success(), "GET {path}: {status} {answer}");
        Ok(answer)
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn row(name: &str, histogram: &Histogram<u64>) {
    println!(
        "{name:<58} {:>5} reads  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
        histogram.len(),
        millis(histogram, 0.5),
        millis(histogram, 0.99),
        histogram.max() as f64 / 1_000.0
    );
}

/// The `longpoll` scenario (see the module's notes).
pub async fn long_poll(
    settings: &herald::Settings,
    client: &Client,
    herald_runtime: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let second = {
        let (settings, shutdown) = (settings.clone(), shutdown.clone());
        herald_runtime.spawn(async move { herald::start(&settings, herald::Roles::ApiOnly, shutdown).await }).await??
    };
    let other = format!("http://{}", second.api_address.context("the second API runs")?);
    client.post("/api/v1/app", json!({"name": "longpoll", "uid": "longpoll"})).await?;
    let poller = client.post("/api/v1/app/longpoll/poller", json!({})).await?;
    let path = format!("/api/v1/app/longpoll/poller/{}", poller["id"].as_str().context("a poller id")?);
    println!();
    println!("Long-poll: from the producer's 202 to the waiting reader's answer, {LONG_POLLS} messages one at a time");
    for (name, base) in
        [("reader on the accepting process", client.base.clone()), ("reader on another API process", other)]
    {
        let mut iterator = String::new();
        loop {
            let page = client.get(&base, &format!("{path}?limit=250&iterator={iterator}")).await?;
            iterator = page["iterator"].as_str().context("an iterator")?.to_owned();
            if page["done"] == true {
                break;
            }
        }
        let mut took = histogram();
        for n in 0..LONG_POLLS {
            let waiting = {
                let (client, base, path) =
                    (client.clone(), base.clone(), format!("{path}?iterator={iterator}&wait=10"));
                tokio::spawn(async move {
                    let answer = client.get(&base, &path).await;
                    (Instant::now(), answer)
                })
            };
            // Let the reader reach its wait, then send.
            tokio::time::sleep(Duration::from_millis(30 + (n % 20) as u64)).await;
            client.post("/api/v1/app/longpoll/msg", json!({"eventType": "bench.poll", "payload": {"n": n}})).await?;
            let accepted = Instant::now();
            let (answered, page) = waiting.await?;
            let page = page?;
            ensure!(page["data"].as_array().map(Vec::len) == Some(1), "the reader got the message: {page}");
            iterator = page["iterator"].as_str().context("an iterator")?.to_owned();
            took.record(answered.saturating_duration_since(accepted).as_micros().max(1) as u64)?;
        }
        row(name, &took);
    }
    shutdown.cancel();
    let _ = second.task.await;
    Ok(())
}

/// The `pullread` scenario (see the module's notes).
pub async fn pull_read(
    settings: &herald::Settings,
    store: &Store,
    client: &Client,
    tenant: &TenantId,
) -> anyhow::Result<()> {
    let app = client.post("/api/v1/app", json!({"name": "pullread", "uid": "pullread"})).await?;
    let app_id = ApplicationId::parse(app["id"].as_str().context("an application id")?)?;
    let every = client.post("/api/v1/app/pullread/poller", json!({})).await?;
    let rare = client.post("/api/v1/app/pullread/poller", json!({"eventTypes": ["bench.rare"]})).await?;
    let started = Instant::now();
    let now = chrono::Utc::now();
    let first = now - chrono::Duration::milliseconds(PULL_MESSAGES as i64);
    for batch in 0..PULL_MESSAGES / PULL_BATCH {
        let messages = (0..PULL_BATCH)
            .map(|i| {
                let n = batch * PULL_BATCH + i;
                let at = first + chrono::Duration::milliseconds(n as i64);
                let new = NewMessage {
                    id: MessageId::generate(at.timestamp_millis() as u64, rand::random()),
                    tenant_id: tenant.clone(),
                    app_id: app_id.clone(),
                    event_type: if n.is_multiple_of(100) { "bench.rare".into() } else { "bench.common".into() },
                    event_id: None,
                    payload: format!(r#"{{"n":{n},"customer":"cus_{:08}","amount":{}}}"#, n % 10_007, n % 977),
                    channels: None,
                    tags: None,
                    schema_violations: None,
                    ordering_key: None,
                    trace_context: None,
                    deliver_at: None,
                    expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
                    now: at,
                };
                (new, Vec::new())
            })
            .collect();
        store.create_messages(messages).await?;
    }
    crate::analyze_and_checkpoint(settings).await?;
    println!();
    println!(
        "Pull reads of 100 messages over one application's {PULL_MESSAGES} messages (written in {:.0} s), {PULL_READS} reads each",
        started.elapsed().as_secs_f64()
    );
    for (name, poller) in [("every message", &every), ("1 in 100 (eventTypes filter)", &rare)] {
        let path = format!("/api/v1/app/pullread/poller/{}", poller["id"].as_str().context("a poller id")?);
        let mut from_time = histogram();
        let mut reading_on = histogram();
        let mut iterator = String::new();
        for n in 0..PULL_READS {
            // A random point in the history, then the next page from there.
            let offset = rand::random::<u64>() % PULL_MESSAGES as u64;
            let after = first + chrono::Duration::milliseconds(offset as i64);
            let after = after.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let timed = Instant::now();
            let page = client.get(&client.base, &format!("{path}?limit=100&after={after}")).await?;
            from_time.record(timed.elapsed().as_micros().max(1) as u64)?;
            ensure!(page["data"].as_array().is_some(), "a page: {page}");
            if n.is_multiple_of(10) {
                iterator = page["iterator"].as_str().context("an iterator")?.to_owned();
            }
            let timed = Instant::now();
            let next = client.get(&client.base, &format!("{path}?limit=100&iterator={iterator}")).await?;
            reading_on.record(timed.elapsed().as_micros().max(1) as u64)?;
            iterator = next["iterator"].as_str().context("an iterator")?.to_owned();
        }
        row(&format!("poll(after=random time), {name}"), &from_time);
        row(&format!("poll(iterator) reading on, {name}"), &reading_on);
    }
    Ok(())
}
