//! `herald-bench`: how fast Herald delivers, end to end, on this machine.
//!
//! Starts Herald in-process (API and worker on a runtime of their own) against the
//! local PostgreSQL and Redis, runs a fast receiver on 127.0.0.1, and drives message
//! creation over HTTP with the tenant's API key:
//!
//! - **throughput**: closed loop (`--in-flight` requests, default 32) to one endpoint;
//!   delivered messages per second, from the first request to the last receipt;
//! - **latency**: open loop at 200 and 500 msg/s; p50/p99/p99.9 accept-to-receipt,
//!   measured at the receiver from the send timestamp carried in the payload;
//! - **fan-out**: the same with 10 endpoints per message;
//! - **neighbour**: another tenant's endpoint hangs with a backlog while this tenant
//!   sends at 200 and 500 msg/s.
//!
//! Before measuring, a warm-up (`--warm-up` messages) runs and the bench database is
//! analysed, as autovacuum does on a running install within a minute or so: a fresh,
//! never-analysed database otherwise keeps whatever plans PostgreSQL cached while its
//! tables were nearly empty (sequential scans, on a machine with autovacuum off). Then
//! a `CHECKPOINT`, so an earlier run's writes are not flushed during this one.
//!
//! The pull path's scenarios, `longpoll` and `pullread`, are in `pull.rs` and run only
//! when named in `--only`.
//!
//! Every attempt is recorded in PostgreSQL as usual; at the end the bench compares the
//! attempt rows with the deliveries the receiver saw. Numbers go in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use hdrhistogram::Histogram;

/// The allocator `herald` itself uses (see its `main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

mod pull;

#[derive(Debug, Parser)]
#[command(about = "Measures Herald's delivery throughput and latency on this machine")]
struct Args {
    /// A PostgreSQL URL; the bench creates a fresh database next to the one it names,
    /// with the same options (add `?sslmode=disable` to skip TLS on loopback).
    #[arg(long, env = "HERALD_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    #[arg(long, env = "HERALD_BENCH_REDIS", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Messages per closed-loop run (fan-out runs send a tenth as many messages).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Seconds per open-loop run.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Requests in flight in closed-loop runs.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Messages sent before measuring, after which the database is analysed (0: neither).
    #[arg(long, default_value_t = 2_000)]
    warm_up: usize,
    /// Open-loop arrival rates, messages per second.
    #[arg(long, value_delimiter = ',', default_value = "200,500")]
    rates: Vec<u32>,
    /// Scenarios to run: throughput, latency, fanout, neighbour, overview; and, only when
    /// named, the pull path's longpoll and pullread (which writes a million messages).
    #[arg(long, value_delimiter = ',', default_value = "throughput,latency,fanout,neighbour,overview")]
    only: Vec<String>,
    /// Extra Herald settings as TOML lines, e.g. `--set 'worker_concurrency = 512'`.
    #[arg(long = "set")]
    settings: Vec<String>,
}

/// What a bench payload carries: when it was sent, in µs since the bench started.
#[derive(Debug, Deserialize)]
struct Probe {
    #[serde(rename = "sentAtUs")]
    sent_at_us: u64,
}

/// What the receiver has seen since the last reset.
#[derive(Debug)]
struct Seen {
    latency_us: Histogram<u64>,
    count: usize,
    last: Option<Instant>,
    /// Deliveries slower than [`SLOW_US`] by the UTC second they arrived in: how many, and the slowest.
    slow: BTreeMap<i64, (usize, u64)>,
}

/// A delivery slower than this is counted by the second it arrived in, so a latency
/// spike can be matched with what else happened then (a PostgreSQL checkpoint, say).
const SLOW_US: u64 = 10_000;

#[derive(Debug)]
struct Receiver {
    epoch: Instant,
    seen: Mutex<Seen>,
    hanging: AtomicUsize,
}

impl Receiver {
    fn reset(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.latency_us.reset();
        seen.count = 0;
        seen.last = None;
        seen.slow.clear();
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).count
    }
}

async fn receive(State(receiver): State<Arc<Receiver>>, body: Bytes) -> StatusCode {
    let now_us = receiver.epoch.elapsed().as_micros() as u64;
    let Ok(probe) = serde_json::from_slice::<Probe>(&body) else { return StatusCode::BAD_REQUEST };
    let mut seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
    let latency_us = now_us.saturating_sub(probe.sent_at_us).max(1);
    let _ = seen.latency_us.record(latency_us);
    if latency_us > SLOW_US {
        let (count, slowest) = seen.slow.entry(chrono::Utc::now().timestamp()).or_default();
        *count += 1;
        *slowest = (*slowest).max(latency_us);
    }
    seen.count += 1;
    seen.last = Some(Instant::now());
    StatusCode::OK
}

async fn hang(State(receiver): State<Arc<Receiver>>) -> StatusCode {
    receiver.hanging.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    StatusCode::OK
}

/// A client of the Herald under test.
#[derive(Debug, Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    epoch: Instant,
}

impl Client {
    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let response = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.key).json(&body).send().await?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// An application with `endpoints` endpoints on the receiver's `route`.
    async fn application(&self, uid: &str, receiver: &str, route: &str, endpoints: usize) -> anyhow::Result<()> {
        self.post("/api/v1/app", serde_json::json!({"name": uid, "uid": uid})).await?;
        for n in 0..endpoints {
            let url = format!("{receiver}/{route}/{uid}/{n}");
            self.post(&format!("/api/v1/app/{uid}/endpoint"), serde_json::json!({"url": url})).await?;
        }
        Ok(())
    }

    /// Sends one message stamped with the current time; true when accepted.
    async fn send(&self, app: &str) -> bool {
        let sent_at_us = self.epoch.elapsed().as_micros() as u64;
        let body = format!(
            r#"{{"eventType":"bench.tick","payload":{{"sentAtUs":{sent_at_us},"order":"ord_1234567890","amount":4200}}}}"#
        );
        let request = self
            .http
            .post(format!("{}/api/v1/app/{app}/msg", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body);
        matches!(request.send().await, Ok(response) if response.status() == StatusCode::ACCEPTED)
    }

    /// Closed loop: `total` messages with `in_flight` requests outstanding.
    async fn closed_loop(&self, app: &str, total: usize, in_flight: usize) -> usize {
        let next = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..in_flight {
            let (client, app, next, accepted) = (self.clone(), app.to_owned(), next.clone(), accepted.clone());
            tasks.spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    if client.send(&app).await {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        accepted.load(Ordering::Relaxed)
    }

    /// Open loop: `rate` messages per second for `seconds`, whatever the answers take.
    async fn open_loop(&self, app: &str, rate: u32, seconds: u64) -> usize {
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..u64::from(rate) * seconds {
            ticker.tick().await;
            let (client, app) = (self.clone(), app.to_owned());
            tasks.spawn(async move { client.send(&app).await });
        }
        let mut accepted = 0;
        while let Some(done) = tasks.join_next().await {
            accepted += usize::from(done.unwrap_or(false));
        }
        accepted
    }
}

/// Waits until the receiver has seen `expected` deliveries (or gives up after a minute
/// without progress). Returns what it saw.
async fn drain(receiver: &Receiver, expected: usize) -> (usize, Option<Instant>, Histogram<u64>) {
    let mut last_count = 0;
    let mut last_progress = Instant::now();
    loop {
        let count = receiver.count();
        if count >= expected || last_progress.elapsed() > Duration::from_secs(60) {
            break;
        }
        if count != last_count {
            last_count = count;
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
    (seen.count, seen.last, seen.latency_us.clone())
}

/// Tells, on stderr so the tables stay whole, in which seconds deliveries were slow.
fn report_slow(receiver: &Receiver, scenario: &str) {
    let seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
    let seconds: Vec<String> = seen
        .slow
        .iter()
        .map(|(second, (count, slowest))| {
            let at = chrono::DateTime::from_timestamp(*second, 0)
                .map_or_else(String::new, |at| at.format("%H:%M:%S").to_string());
            format!("{at} {count}× (max {:.1} ms)", *slowest as f64 / 1_000.0)
        })
        .collect();
    if !seconds.is_empty() {
        eprintln!("slow (> {} ms) in {scenario}, UTC: {}", SLOW_US / 1_000, seconds.join(", "));
    }
}

fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1_000.0
}

fn latency_row(name: &str, offered: String, delivered: usize, expected: usize, histogram: &Histogram<u64>) {
    println!(
        "| {name} | {offered} | {delivered}/{expected} | {:.2} | {:.2} | {:.2} | {:.2} |",
        millis(histogram, 0.5),
        millis(histogram, 0.99),
        millis(histogram, 0.999),
        histogram.max() as f64 / 1_000.0,
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Herald runs on a runtime of its own, as it would in its own process; the load
    // and the receiver share the other one.
    let herald_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("herald").enable_all().build()?;
    let bench_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bench").enable_all().build()?;
    let result = bench_runtime.block_on(run(args, herald_runtime.handle().clone()));
    herald_runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn run(args: Args, herald_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    // Keep the URL's options (`?sslmode=disable`, …) and swap the database name.
    let (url, options) = args.postgres.split_once('?').map_or((args.postgres.as_str(), ""), |(u, q)| (u, q));
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    let options = if options.is_empty() { String::new() } else { format!("?{options}") };
    let mut toml = vec![
        format!("database_url = {:?}", format!("{base}/herald_bench_{}{options}", &tag[..12])),
        format!("redis_url = {:?}", args.redis),
        format!("redis_prefix = {:?}", format!("herald-bench-{}", &tag[..12])),
        "listen = \"127.0.0.1:0\"".to_owned(),
        "metrics_listen = \"127.0.0.1:0\"".to_owned(),
        "allow_private_targets = true".to_owned(),
        "log_level = \"warn\"".to_owned(),
    ];
    toml.extend(args.settings.iter().cloned());
    let settings = herald::Settings::with_overrides(&toml.join("\n")).context("bench settings")?;
    let _telemetry = herald::telemetry::init(&settings, false)?;
    let tenant = herald::create_tenant(&settings, "bench").await?;
    let neighbour = herald::create_tenant(&settings, "hanging neighbour").await?;
    let shutdown = CancellationToken::new();
    let running = {
        let (settings, shutdown) = (settings.clone(), shutdown.clone());
        herald_runtime.spawn(async move { herald::start(&settings, herald::Roles::Both, shutdown).await }).await??
    };
    let api = running.api_address.context("the API is running")?;

    let epoch = Instant::now();
    let receiver = Arc::new(Receiver {
        epoch,
        seen: Mutex::new(Seen {
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)?,
            count: 0,
            last: None,
            slow: BTreeMap::new(),
        }),
        hanging: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/hook/{*rest}", post(receive))
        .route("/hang/{*rest}", post(hang))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let client = Client { http, base: format!("http://{api}"), key: tenant.api_key.clone(), epoch };
    let wanted = |name: &str| args.only.iter().any(|only| only == name);
    let mut delivered_total = 0;
    println!("Herald {} on {} cores; Redis {}; PostgreSQL", env!("CARGO_PKG_VERSION"), cores(), args.redis);
    if args.warm_up > 0 {
        client.application("warm-up", &receiver_url, "hook", 1).await?;
        receiver.reset();
        let accepted = client.closed_loop("warm-up", args.warm_up, args.in_flight).await;
        delivered_total += drain(&receiver, accepted).await.0;
        analyze_and_checkpoint(&settings).await?;
    }

    if wanted("throughput") || wanted("fanout") {
        println!();
        println!("| scenario | messages | deliveries | seconds | accepted msg/s | delivered/s |");
        println!("|---|---|---|---|---|---|");
    }
    for (scenario, fan_out) in [("throughput", 1), ("fanout", 10)] {
        if !wanted(scenario) {
            continue;
        }
        let app = format!("{scenario}-closed");
        client.application(&app, &receiver_url, "hook", fan_out).await?;
        receiver.reset();
        let messages = args.messages / fan_out;
        let started = Instant::now();
        let accepted = client.closed_loop(&app, messages, args.in_flight).await;
        let accept_seconds = started.elapsed().as_secs_f64();
        let (delivered, last, _) = drain(&receiver, accepted * fan_out).await;
        delivered_total += delivered;
        let seconds = last.map_or(0.0, |last| last.duration_since(started).as_secs_f64());
        println!(
            "| {scenario} (fan-out {fan_out}, {} in flight) | {accepted} | {delivered} | {seconds:.2} | {:.0} | {:.0} |",
            args.in_flight,
            accepted as f64 / accept_seconds,
            delivered as f64 / seconds.max(f64::EPSILON),
        );
    }

    let open_loops: Vec<(&str, usize)> =
        [("latency", 1), ("fanout", 10)].into_iter().filter(|(name, _)| wanted(name)).collect();
    if !open_loops.is_empty() || wanted("neighbour") {
        println!();
        println!("| scenario | offered | delivered | p50 ms | p99 ms | p99.9 ms | max ms |");
        println!("|---|---|---|---|---|---|---|");
    }
    for (scenario, fan_out) in open_loops {
        for &rate in &args.rates {
            let app = format!("{scenario}-open-{rate}");
            client.application(&app, &receiver_url, "hook", fan_out).await?;
            receiver.reset();
            let accepted = client.open_loop(&app, rate, args.seconds).await;
            let (delivered, _, histogram) = drain(&receiver, accepted * fan_out).await;
            delivered_total += delivered;
            let name = format!("open loop, fan-out {fan_out}");
            latency_row(&name, format!("{rate} msg/s × {} s", args.seconds), delivered, accepted * fan_out, &histogram);
            report_slow(&receiver, &format!("{name} at {rate} msg/s"));
        }
    }

    if wanted("neighbour") {
        // The neighbour's endpoint hangs; its backlog is queued before we start.
        let other = Client { key: neighbour.api_key.clone(), ..client.clone() };
        other.application("neighbour", &receiver_url, "hang", 1).await?;
        let backlog = other.closed_loop("neighbour", 2_000, args.in_flight).await;
        for &rate in &args.rates {
            let app = format!("beside-hanging-{rate}");
            client.application(&app, &receiver_url, "hook", 1).await?;
            receiver.reset();
            let accepted = client.open_loop(&app, rate, args.seconds).await;
            let (delivered, _, histogram) = drain(&receiver, accepted).await;
            delivered_total += delivered;
            let name = format!("beside a hanging tenant ({backlog} queued)");
            latency_row(&name, format!("{rate} msg/s × {} s", args.seconds), delivered, accepted, &histogram);
            report_slow(&receiver, &format!("{name} at {rate} msg/s"));
        }
        println!();
        println!("The hanging endpoint was sent {} requests.", receiver.hanging.load(Ordering::Relaxed));
    }

    if wanted("overview") {
        overview(&settings, &client).await?;
    }
    if wanted("longpoll") {
        pull::long_poll(&settings, &client, &herald_runtime).await?;
    }
    if wanted("pullread") {
        pull::pull_read(&settings, &running.store, &client, &tenant.id).await?;
    }

    // Every delivery the receiver saw has its attempt row (written asynchronously in
    // batches, so give the writer a moment).
    let mut recorded = 0;
    for _ in 0..100 {
        recorded = running.store.count_tenant_attempts(&tenant.id, true).await?;
        if recorded as usize >= delivered_total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!();
    println!("Successful attempts recorded in PostgreSQL: {recorded}; deliveries received: {delivered_total}.");
    shutdown.cancel();
    let _ = running.task.await;
    if (recorded as usize) < delivered_total {
        bail!("{} deliveries have no attempt record", delivered_total - recorded as usize);
    }
    Ok(())
}

/// Refreshes the planner's statistics of the bench database, as autovacuum would, then
/// checkpoints, so what an earlier run wrote (the overview's 1.5 million rows) is not
/// flushed to disk while this one measures.
async fn analyze_and_checkpoint(settings: &herald::Settings) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait as _;
    use secrecy::ExposeSecret;
    let db = sea_orm::Database::connect(settings.database_url.expose_secret()).await?;
    db.execute_unprepared("ANALYZE").await.context("while analysing the bench database")?;
    if let Err(error) = db.execute_unprepared("CHECKPOINT").await {
        eprintln!("could not checkpoint before measuring (needs superuser or pg_checkpoint): {error}");
    }
    db.close().await?;
    Ok(())
}

/// Deliveries and attempts seeded for the overview scenario (two attempts each).
const OVERVIEW_DELIVERIES: u64 = 500_000;

/// The tenant overview for a tenant with a million attempts in the last hour: the rows
/// are written straight into PostgreSQL with `psql` (sending them through Herald would
/// take this machine ten minutes), then `GET /api/v1/stats/overview` is timed.
async fn overview(settings: &herald::Settings, client: &Client) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let tenant = herald::create_tenant(settings, "overview").await?;
    let client = Client { key: tenant.api_key.clone(), ..client.clone() };
    let mut apps = Vec::new();
    for n in 0..10 {
        let app = client.post("/api/v1/app", serde_json::json!({"name": format!("Customer {n}")})).await?;
        apps.push(format!("'{}'", app["id"].as_str().context("an application id")?));
    }
    let first = apps[0].trim_matches('\'');
    let endpoint = client
        .post(&format!("/api/v1/app/{first}/endpoint"), serde_json::json!({"url": "https://example.com/hook"}))
        .await?;
    let endpoint = endpoint["id"].as_str().context("an endpoint id")?.to_owned();
    let seed = format!(
        "INSERT INTO messages (id, tenant_id, app_id, event_type, payload, created_at, payload_expunged, feed_seq) \
         SELECT 'msg_bench' || g, '{tenant}', (ARRAY[{apps}])[1 + g % 10], 'bench.tick', '{{}}', \
           now() - (g % 3500) * interval '1 second', false, g FROM generate_series(1, {n}) g; \
         INSERT INTO deliveries (id, tenant_id, app_id, msg_id, endpoint_id, status, attempt_count, next_attempt_at, \
           cycle_start, next_trigger, created_at, updated_at) \
         SELECT 'dlv_bench' || g, '{tenant}', (ARRAY[{apps}])[1 + g % 10], 'msg_bench' || g, '{endpoint}', \
           CASE WHEN g % 50 = 0 THEN 'failed' WHEN g % 7 = 0 THEN 'pending' ELSE 'succeeded' END, 2, NULL, 0, 0, \
           now() - (g % 3500) * interval '1 second', now() FROM generate_series(1, {n}) g; \
         INSERT INTO attempts (id, tenant_id, app_id, msg_id, endpoint_id, delivery_id, attempt_number, url, status, \
           outcome_class, response_status_code, response, response_duration_ms, trigger_type, created_at) \
         SELECT 'atmpt_bench' || g || '_' || a, '{tenant}', (ARRAY[{apps}])[1 + g % 10], 'msg_bench' || g, '{endpoint}', \
           'dlv_bench' || g, a, 'https://example.com/hook', CASE WHEN a = 1 AND g % 10 = 0 THEN 2 ELSE 0 END, \
           'success', 200, '', 5, 0, now() - (g % 3500) * interval '1 second' \
         FROM generate_series(1, {n}) g, generate_series(1, 2) a; ANALYZE deliveries; ANALYZE attempts;",
        tenant = tenant.id,
        apps = apps.join(","),
        n = OVERVIEW_DELIVERIES,
        endpoint = endpoint,
    );
    let url = settings.database_url.expose_secret().to_owned();
    let seeded = tokio::process::Command::new("psql")
        .args([url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c", &seed])
        .status()
        .await?;
    anyhow::ensure!(seeded.success(), "psql could not seed the overview rows");
    let mut took = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let response =
            client.http.get(format!("{}/api/v1/stats/overview", client.base)).bearer_auth(&client.key).send().await?;
        anyhow::ensure!(response.status().is_success(), "overview: {}", response.status());
        let answer: serde_json::Value = response.json().await?;
        took.push(started.elapsed().as_secs_f64() * 1_000.0);
        anyhow::ensure!(answer["failedAttempts"] == OVERVIEW_DELIVERIES / 10, "unexpected counts: {answer}");
    }
    took.sort_by(f64::total_cmp);
    println!();
    println!(
        "Tenant overview over {} deliveries and {} attempts in the last hour: median {:.0} ms, slowest {:.0} ms (5 calls).",
        OVERVIEW_DELIVERIES,
        OVERVIEW_DELIVERIES * 2,
        took[2],
        took[4]
    );
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
