//! `herald-scale`: what many tenants cost, measured as users run Herald.
//!
//! Runs the `herald` binary (`herald serve`, default settings) as its own process
//! against a fresh PostgreSQL database and a Redis server of its own (started here
//! from `redis-server` on a free port, so every command it counts is Herald's), and
//! drives it over HTTP from this process, which also hosts the receiver.
//!
//! - **idle**: for each tenant count (`--tenants`, default 1, 1,000 and 10,000) every
//!   tenant creates an application and an endpoint and sends one message; once all
//!   are delivered and a settling pause (`--settle-seconds`) has passed, it measures for `--idle-seconds`
//!   the Redis commands per second, Redis's CPU and the Herald process's CPU, and
//!   times one `/metrics` scrape.
//! - **busy**: one tenant sends `--busy-messages` messages, `--in-flight` at a time, to
//!   one endpoint, with no other tenants and with `--idle-tenants` (default 5,000)
//!   tenants that have each sent a message before; delivered per second, cold (the
//!   first run on the fresh database) and warm (the same again).
//! - **parked**: one tenant sends `--parked-messages` (default 50,000) to an endpoint
//!   that never answers; once the backlog is parked (the `herald_delayed_deliveries`
//!   gauge), it measures for `--parked-seconds` (default 90: past the first minute,
//!   when earlier versions sent the whole backlog round again) the Redis commands per
//!   second and the CPU of Redis and Herald.
//!
//! - **isolation**: a steady tenant sends `--steady-rate` messages a second to a receiver
//!   that answers at once, for `--isolation-seconds` alone (the baseline) and then again
//!   while a flooding tenant, capped at `--flood-cap` deliveries (`maxBacklog`), sends
//!   `--flood-rate` requests a second (0: as fast as `--in-flight` requests allow) to an
//!   endpoint that never answers, so it is
//!   soon over its cap and refused with `429 backlog_full`. It reports the steady
//!   tenant's ingest latency (request to `202`) and delivery latency (request to
//!   arrival) in both phases, and what the flood got.
//!
//! - **retention**: one tenant whose payloads are kept `--payload-retention` seconds and
//!   messages `--metadata-retention` seconds (its overrides; the binary keeps its default
//!   settings, so the pruner runs every 30 s) sends `--retention-rate` messages a second
//!   with a 1 KiB payload for `--retention-minutes`. Every `--report-seconds` it prints the
//!   database's size, the rows in `messages` and `attempts`, what the pruner removed
//!   (`herald_retention_pruned_total`) and the delivery latency of the window; at the end,
//!   the delivery p50/p99/p99.9 of messages sent in seconds while the pruner was deleting
//!   beside those sent in the other seconds after the first metadata period.
//!
//! Numbers go in docs/benchmarks.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "Measures what idle and busy tenants cost a running herald binary")]
struct Args {
    /// The `herald` binary (default: next to this one).
    #[arg(long)]
    herald: Option<PathBuf>,
    /// The PostgreSQL server's maintenance database.
    #[arg(long, env = "HERALD_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Tenant counts for the idle measurement.
    #[arg(long, value_delimiter = ',', default_value = "1,1000,10000")]
    tenants: Vec<usize>,
    /// How long each idle measurement lasts.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
    /// How long to wait after the seeding before the idle measurement: longer than a
    /// worker's pass that stops listing partitions it no longer holds anything in
    /// (`reclaim_idle / 2`, 30 s by default), which costs a few commands per partition
    /// once after a burst.
    #[arg(long, default_value_t = 40)]
    settle_seconds: u64,
    /// Messages the busy tenant sends per run.
    #[arg(long, default_value_t = 20_000)]
    busy_messages: usize,
    /// Idle tenants beside the busy one, in the second busy measurement.
    #[arg(long, default_value_t = 5_000)]
    idle_tenants: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Messages parked behind the endpoint that never answers.
    #[arg(long, default_value_t = 50_000)]
    parked_messages: usize,
    /// How long the parked measurement lasts.
    #[arg(long, default_value_t = 90)]
    parked_seconds: u64,
    /// The steady tenant's messages per second in the isolation measurement.
    #[arg(long, default_value_t = 50)]
    steady_rate: u64,
    /// How long each isolation phase lasts.
    #[arg(long, default_value_t = 20)]
    isolation_seconds: u64,
    /// The flooding tenant's backlog cap.
    #[arg(long, default_value_t = 2_000)]
    flood_cap: u64,
    /// The flooding tenant's requests per second (0: as fast as `--in-flight` allows).
    #[arg(long, default_value_t = 1_000)]
    flood_rate: u64,
    /// Fill the flooding tenant up to its cap (until the first `429`) and let the cap's
    /// reading settle before the flood phase, so the phase measures a tenant that is
    /// already over its cap, without the burst that got it there.
    #[arg(long)]
    flood_prefill: bool,
    /// The retention tenant's messages per second.
    #[arg(long, default_value_t = 200)]
    retention_rate: u64,
    /// How long the retention run lasts.
    #[arg(long, default_value_t = 30)]
    retention_minutes: u64,
    /// The retention tenant's payload retention, in seconds.
    #[arg(long, default_value_t = 120)]
    payload_retention: u64,
    /// The retention tenant's metadata retention, in seconds.
    #[arg(long, default_value_t = 300)]
    metadata_retention: u64,
    /// How often the retention run prints a line.
    #[arg(long, default_value_t = 60)]
    report_seconds: u64,
    /// Which measurements: `idle`, `busy`, `parked`, `isolation`, `retention` (not in the
    /// default set: it lasts `--retention-minutes`).
    #[arg(long, value_delimiter = ',', default_value = "idle,busy,parked,isolation")]
    only: Vec<String>,
}

const OPERATOR_TOKEN: &str = "bench-operator-token";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `redis-server` of the bench's own, without persistence.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .context("start redis-server")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, port })
    }
}

/// (commands processed, CPU seconds used) so far by the Redis server on `port`.
fn redis_counters(port: u16) -> anyhow::Result<(u64, f64)> {
    let output = Command::new("redis-cli").args(["-p", &port.to_string(), "INFO"]).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
    };
    let commands = field("total_commands_processed").context("INFO has total_commands_processed")? as u64;
    let cpu = field("used_cpu_user").unwrap_or(0.0) + field("used_cpu_sys").unwrap_or(0.0);
    Ok((commands, cpu))
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds a process has used (user + system), from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("a stat line")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// A `herald serve` process on a fresh database and its own Redis.
struct Herald {
    child: Child,
    url: String,
    metrics_url: String,
    database: String,
    admin: String,
    _redis: Redis,
    redis_port: u16,
    dir: PathBuf,
}

impl Herald {
    async fn start(binary: &PathBuf, admin: &str) -> anyhow::Result<Self> {
        let redis = Redis::start()?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("herald_scale_{}", &tag[..12]);
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        let (port, metrics_port) = (free_port()?, free_port()?);
        // A directory of its own: the embedded default keeps its key file under herald-data/.
        let dir = std::env::temp_dir().join(format!("herald-scale-{}", &tag[..12]));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(binary)
            .arg("serve")
            .current_dir(&dir)
            .env("HERALD_DATABASE_URL", format!("{base}/{database}"))
            .env("HERALD_REDIS_URL", format!("redis://127.0.0.1:{}", redis.port))
            .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HERALD_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .env("HERALD_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("HERALD_ALLOW_PRIVATE_TARGETS", "true")
            .env("HERALD_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let herald = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            database,
            admin: admin.to_owned(),
            redis_port: redis.port,
            _redis: redis,
            dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/api/v1/health", herald.url)).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("herald serve did not answer within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(herald)
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = Command::new("psql")
            .args([
                self.admin.as_str(),
                "-qAt",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
            ])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The bench's receiver: answers `200` at once and counts; under `/hang/` it never
/// answers (the request times out on Herald's side).
async fn receiver() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let app = axum::Router::new()
        .route(
            "/{*path}",
            post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    StatusCode::OK
                }
            }),
        )
        .route("/hang/{*path}", post(std::future::pending::<StatusCode>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, count))
}

async fn send(client: &reqwest::Client, url: String, key: &str, body: Value) -> anyhow::Result<Value> {
    let response = client.post(&url).bearer_auth(key).json(&body).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url} answered {status}: {body}");
    }
    Ok(body)
}

/// Creates `count` tenants, each with an application and an endpoint, and has each send
/// one message. Returns their API keys.
async fn seed_tenants(herald: &Herald, receiver: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let (base, receiver) = (herald.url.clone(), receiver.to_owned());
    let mut tasks = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    for n in 0..count {
        let (client, base, receiver, gate) = (client.clone(), base.clone(), receiver.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let tenant =
                send(&client, format!("{base}/admin/v1/tenant"), OPERATOR_TOKEN, json!({"name": format!("t{n}")}))
                    .await?;
            let key = tenant["apiKey"].as_str().context("an API key")?.to_owned();
            send(&client, format!("{base}/api/v1/app"), &key, json!({"name": "app", "uid": "app"})).await?;
            send(&client, format!("{base}/api/v1/app/app/endpoint"), &key, json!({"url": format!("{receiver}/t{n}")}))
                .await?;
            send(&client, format!("{base}/api/v1/app/app/msg"), &key, json!({"eventType": "seed", "payload": {}}))
                .await?;
            anyhow::Ok(key)
        });
    }
    let mut keys = Vec::with_capacity(count);
    while let Some(key) = tasks.join_next().await {
        keys.push(key??);
    }
    Ok(keys)
}

/// Creates a tenant named `name` with an application (uid `name`) and one endpoint at
/// `endpoint_url`. Returns its API key.
async fn one_tenant(herald: &Herald, name: &str, endpoint_url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let tenant =
        send(&client, format!("{}/admin/v1/tenant", herald.url), OPERATOR_TOKEN, json!({"name": name})).await?;
    let key = tenant["apiKey"].as_str().context("an API key")?.to_owned();
    send(&client, format!("{}/api/v1/app", herald.url), &key, json!({"name": name, "uid": name})).await?;
    send(&client, format!("{}/api/v1/app/{name}/endpoint", herald.url), &key, json!({"url": endpoint_url})).await?;
    Ok(key)
}

/// Sends `count` messages to application `app`, `in_flight` requests at a time, and
/// returns once every one was accepted.
async fn send_messages(herald: &Herald, key: &str, app: &str, count: usize, in_flight: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/app/{app}/msg", herald.url);
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let (client, url, key, gate) = (client.clone(), url.clone(), key.to_owned(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            send(&client, url, &key, json!({"eventType": "bench", "payload": {"n": n}})).await
        });
        // Keep the spawned set small: join what is done as we go.
        while tasks.len() > in_flight * 4 {
            tasks.join_next().await.context("a task")???;
        }
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

async fn wait_for(count: &AtomicUsize, target: usize, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while count.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            bail!("{} of {target} delivered after {limit:?}", count.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn idle(args: &Args, binary: &PathBuf, tenants: usize) -> anyhow::Result<()> {
    let herald = Herald::start(binary, &args.postgres).await?;
    let (receiver, count) = receiver().await?;
    let started = Instant::now();
    seed_tenants(&herald, &receiver, tenants).await?;
    wait_for(&count, tenants, Duration::from_secs(300)).await?;
    let seeded = started.elapsed();
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let pid = herald.child.id();
    let (commands_before, redis_cpu_before) = redis_counters(herald.redis_port)?;
    let cpu_before = process_cpu(pid)?;
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let (commands_after, redis_cpu_after) = redis_counters(herald.redis_port)?;
    let cpu_after = process_cpu(pid)?;
    let seconds = args.idle_seconds as f64;
    // One INFO of ours is counted in the interval.
    let commands = (commands_after - commands_before).saturating_sub(1) as f64 / seconds;
    let scrape_started = Instant::now();
    let scrape = reqwest::get(&herald.metrics_url).await?.text().await?;
    let scrape_took = scrape_started.elapsed();
    println!(
        "idle | {tenants:>6} tenants | {commands:>8.1} Redis commands/s | herald CPU {:>5.2} % | Redis CPU {:>5.2} % | \
         /metrics {:>6.1} ms ({} lines) | seeded in {:.1} s",
        (cpu_after - cpu_before) / seconds * 100.0,
        (redis_cpu_after - redis_cpu_before) / seconds * 100.0,
        scrape_took.as_secs_f64() * 1000.0,
        scrape.lines().count(),
        seeded.as_secs_f64()
    );
    Ok(())
}

async fn busy(args: &Args, binary: &PathBuf, idle_tenants: usize) -> anyhow::Result<()> {
    let herald = Herald::start(binary, &args.postgres).await?;
    let (receiver, count) = receiver().await?;
    seed_tenants(&herald, &receiver, idle_tenants).await?;
    wait_for(&count, idle_tenants, Duration::from_secs(300)).await?;
    let key = one_tenant(&herald, "busy", &format!("{receiver}/busy")).await?;
    for run in ["cold", "warm"] {
        let base = count.load(Ordering::Relaxed);
        let started = Instant::now();
        send_messages(&herald, &key, "busy", args.busy_messages, args.in_flight).await?;
        let accepted = started.elapsed();
        wait_for(&count, base + args.busy_messages, Duration::from_secs(600)).await?;
        let delivered = started.elapsed();
        println!(
            "busy | {idle_tenants:>6} idle tenants | {run} | accepted {:>7.0} msg/s | delivered {:>7.0} msg/s",
            args.busy_messages as f64 / accepted.as_secs_f64(),
            args.busy_messages as f64 / delivered.as_secs_f64()
        );
    }
    Ok(())
}

/// Deliveries parked (retries and deliveries waiting for an endpoint), summed from
/// the `herald_delayed_deliveries` gauge.
async fn parked_now(herald: &Herald) -> anyhow::Result<u64> {
    let text = reqwest::get(&herald.metrics_url).await?.text().await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("herald_delayed_deliveries{"))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

async fn parked(args: &Args, binary: &PathBuf) -> anyhow::Result<()> {
    let herald = Herald::start(binary, &args.postgres).await?;
    let (receiver, _) = receiver().await?;
    let key = one_tenant(&herald, "stuck", &format!("{receiver}/hang/stuck")).await?;
    send_messages(&herald, &key, "stuck", args.parked_messages, args.in_flight).await?;
    // Everything but what is in flight is parked.
    let target = args.parked_messages.saturating_sub(1_000) as u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while parked_now(&herald).await? < target {
        if Instant::now() > deadline {
            bail!("the backlog was not parked within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pid = herald.child.id();
    let (commands_before, redis_cpu_before) = redis_counters(herald.redis_port)?;
    let cpu_before = process_cpu(pid)?;
    tokio::time::sleep(Duration::from_secs(args.parked_seconds)).await;
    let (commands_after, redis_cpu_after) = redis_counters(herald.redis_port)?;
    let cpu_after = process_cpu(pid)?;
    let seconds = args.parked_seconds as f64;
    println!(
        "parked | {:>6} behind a hanging endpoint | {:>8.1} Redis commands/s | herald CPU {:>5.2} % | Redis CPU {:>5.2} %",
        args.parked_messages,
        (commands_after - commands_before).saturating_sub(1) as f64 / seconds,
        (cpu_after - cpu_before) / seconds * 100.0,
        (redis_cpu_after - redis_cpu_before) / seconds * 100.0,
    );
    Ok(())
}

/// Microseconds since the Unix epoch.
fn unix_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A receiver that answers `200` at once and records each message's delivery latency
/// (from its payload's `sentAt`); under `/hang/` it never answers.
async fn latency_receiver() -> anyhow::Result<(String, Arc<std::sync::Mutex<Vec<f64>>>)> {
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = latencies.clone();
    let app = axum::Router::new()
        .route(
            "/steady",
            post(move |body: axum::body::Bytes| {
                let recorded = recorded.clone();
                async move {
                    let sent =
                        serde_json::from_slice::<Value>(&body).ok().and_then(|payload| payload["sentAt"].as_i64());
                    if let Some(sent) = sent {
                        recorded.lock().unwrap().push((unix_micros() - sent) as f64 / 1000.0);
                    }
                    StatusCode::OK
                }
            }),
        )
        .route("/hang/{*path}", post(std::future::pending::<StatusCode>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, latencies))
}

/// The `q` quantile of `values` (sorted here), in the values' unit.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Sends `rate` messages a second for `seconds` as `key`; the ingest latencies (ms).
async fn steady(herald: &Herald, key: &str, rate: u64, seconds: u64) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/app/steady/msg", herald.url);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..rate * seconds {
        ticks.tick().await;
        let (client, url, key) = (client.clone(), url.clone(), key.to_owned());
        tasks.spawn(async move {
            let started = Instant::now();
            send(&client, url, &key, json!({"eventType": "steady", "payload": {"sentAt": unix_micros()}})).await?;
            anyhow::Ok(started.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut latencies = Vec::new();
    while let Some(latency) = tasks.join_next().await {
        latencies.push(latency??);
    }
    Ok(latencies)
}

async fn isolation(args: &Args, binary: &PathBuf) -> anyhow::Result<()> {
    let herald = Herald::start(binary, &args.postgres).await?;
    let (receiver, delivered) = latency_receiver().await?;
    let steady_key = one_tenant(&herald, "steady", &format!("{receiver}/steady")).await?;
    let flood_key = one_tenant(&herald, "flood", &format!("{receiver}/hang/flood")).await?;
    let client = reqwest::Client::new();
    let tenants: Value =
        client.get(format!("{}/admin/v1/tenant", herald.url)).bearer_auth(OPERATOR_TOKEN).send().await?.json().await?;
    let flood_id = tenants
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == "flood"))
        .and_then(|t| t["id"].as_str())
        .context("the flood tenant")?
        .to_owned();
    let patched = client
        .patch(format!("{}/admin/v1/tenant/{flood_id}", herald.url))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"maxBacklog": args.flood_cap}))
        .send()
        .await?;
    if !patched.status().is_success() {
        bail!("cannot cap the flood tenant: {}", patched.status());
    }
    if args.flood_prefill {
        let url = format!("{}/api/v1/app/flood/msg", herald.url);
        let mut sent = 0;
        loop {
            let body = json!({"eventType": "flood", "payload": {}});
            let status = client.post(&url).bearer_auth(&flood_key).json(&body).send().await?.status().as_u16();
            match status {
                202 => sent += 1,
                429 => break,
                other => bail!("the prefill got {other}"),
            }
        }
        println!("isolation | prefill: {sent} flood messages accepted before the first 429");
        // The 32 hanging deliveries time out (15 s) and park: wait past that, so the
        // flood phase starts from the steady state of a tenant pinned at its cap.
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    // A warm-up, so the baseline is not the first messages of a fresh process.
    steady(&herald, &steady_key, args.steady_rate, 2).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let already = if args.flood_prefill { "already " } else { "" };
    let flood = match args.flood_rate {
        0 => format!("beside a flood (unpaced) {already}over its cap"),
        rate => format!("beside a flood ({rate}/s) {already}over its cap"),
    };
    for phase in ["alone", flood.as_str()] {
        delivered.lock().unwrap().clear();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (accepted, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut flooders = tokio::task::JoinSet::new();
        if phase != "alone" {
            // Each of `in_flight` senders sends one request after another, at its share
            // of the flood rate when there is one.
            let each =
                (args.flood_rate > 0).then(|| Duration::from_secs_f64(args.in_flight as f64 / args.flood_rate as f64));
            for _ in 0..args.in_flight {
                let (client, stop, accepted, refused) =
                    (client.clone(), stop.clone(), accepted.clone(), refused.clone());
                let (url, key) = (format!("{}/api/v1/app/flood/msg", herald.url), flood_key.clone());
                flooders.spawn(async move {
                    let mut ticks = each.map(tokio::time::interval);
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(ticks) = ticks.as_mut() {
                            ticks.tick().await;
                        }
                        let body = json!({"eventType": "flood", "payload": {}});
                        match client.post(&url).bearer_auth(&key).json(&body).send().await.map(|r| r.status().as_u16())
                        {
                            Ok(202) => accepted.fetch_add(1, Ordering::Relaxed),
                            Ok(429) => refused.fetch_add(1, Ordering::Relaxed),
                            _ => 0,
                        };
                    }
                });
            }
        }
        let mut ingest = steady(&herald, &steady_key, args.steady_rate, args.isolation_seconds).await?;
        stop.store(true, Ordering::Relaxed);
        while flooders.join_next().await.is_some() {}
        let expected = (args.steady_rate * args.isolation_seconds) as usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        while delivered.lock().unwrap().len() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut delivery = delivered.lock().unwrap().clone();
        println!(
            "isolation | steady {} msg/s {phase:<40} | ingest p50 {:>6.1} ms p99 {:>6.1} ms | delivery p50 {:>6.1} ms \
             p99 {:>6.1} ms ({} of {expected}) | flood: {} accepted, {} refused 429",
            args.steady_rate,
            quantile(&mut ingest, 0.5),
            quantile(&mut ingest, 0.99),
            quantile(&mut delivery, 0.5),
            quantile(&mut delivery, 0.99),
            delivery.len(),
            accepted.load(Ordering::Relaxed),
            refused.load(Ordering::Relaxed),
        );
    }
    Ok(())
}

/// One value from `psql` against the bench's database.
fn psql_value(herald: &Herald, sql: &str) -> anyhow::Result<f64> {
    let base = herald.admin.rsplit_once('/').map_or(herald.admin.as_str(), |(base, _)| base);
    let output = Command::new("psql").args([&format!("{base}/{}", herald.database), "-qAt", "-c", sql]).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse().with_context(|| format!("{sql} answered {text:?}"))
}

/// `herald_retention_pruned_total{kind}` now: (payloads, messages).
async fn pruned_so_far(client: &reqwest::Client, herald: &Herald) -> anyhow::Result<(f64, f64)> {
    let text = client.get(&herald.metrics_url).send().await?.text().await?;
    let count = |kind: &str| {
        let prefix = format!("herald_retention_pruned_total{{kind=\"{kind}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok()).unwrap_or(0.0)
    };
    Ok((count("payload"), count("message")))
}

/// A receiver that records, for each message, the second of the run it was sent in and
/// its delivery latency (ms).
async fn timed_receiver(start_micros: i64) -> anyhow::Result<(String, Arc<std::sync::Mutex<Vec<(u64, f64)>>>)> {
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = latencies.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        post(move |body: axum::body::Bytes| {
            let recorded = recorded.clone();
            async move {
                let sent = serde_json::from_slice::<Value>(&body).ok().and_then(|payload| payload["sentAt"].as_i64());
                if let Some(sent) = sent {
                    let second = ((sent - start_micros).max(0) / 1_000_000) as u64;
                    recorded.lock().unwrap().push((second, (unix_micros() - sent) as f64 / 1000.0));
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, latencies))
}

async fn retention(args: &Args, binary: &PathBuf) -> anyhow::Result<()> {
    let herald = Herald::start(binary, &args.postgres).await?;
    let start_micros = unix_micros();
    let (receiver, delivered) = timed_receiver(start_micros).await?;
    let key = one_tenant(&herald, "steady", &format!("{receiver}/steady")).await?;
    let client = reqwest::Client::new();
    let tenants: Value =
        client.get(format!("{}/admin/v1/tenant", herald.url)).bearer_auth(OPERATOR_TOKEN).send().await?.json().await?;
    let id = tenants.as_array().and_then(|all| all.first()).and_then(|t| t["id"].as_str()).context("the tenant")?;
    let periods = json!({"payloadRetention": args.payload_retention, "metadataRetention": args.metadata_retention});
    let patched = client
        .patch(format!("{}/admin/v1/tenant/{id}", herald.url))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&periods)
        .send()
        .await?;
    if !patched.status().is_success() {
        bail!("cannot set the tenant's retention: {}", patched.status());
    }
    // The API reads the tenant through a one-second cache.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    println!(
        "retention | {} msg/s, 1 KiB payloads, payload kept {} s, messages {} s, {} min",
        args.retention_rate, args.payload_retention, args.metadata_retention, args.retention_minutes
    );

    // The sender: one request per tick, each on its own task.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let padding = "x".repeat(1024);
    let sender = {
        let (client, stop, url) = (client.clone(), stop.clone(), format!("{}/api/v1/app/steady/msg", herald.url));
        let (key, rate) = (key.clone(), args.retention_rate);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            let failed = Arc::new(AtomicUsize::new(0));
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let (client, url, key, failed) = (client.clone(), url.clone(), key.clone(), failed.clone());
                let body = json!({"eventType": "steady", "payload": {"sentAt": unix_micros(), "padding": padding}});
                tokio::spawn(async move {
                    if send(&client, url, &key, body).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            failed.load(Ordering::Relaxed)
        })
    };
    // Once a second: whether the pruner deleted anything since the last look.
    let pruning_seconds = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let watcher = {
        let (client, stop, seconds) = (client.clone(), stop.clone(), pruning_seconds.clone());
        let metrics_url = herald.metrics_url.clone();
        tokio::spawn(async move {
            let mut last = 0.0;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Ok(response) = client.get(&metrics_url).send().await else { continue };
                let text = response.text().await.unwrap_or_default();
                let prefix = "herald_retention_pruned_total{kind=\"message\"} ";
                let now: f64 =
                    text.lines().find_map(|line| line.strip_prefix(prefix)?.trim().parse().ok()).unwrap_or(0.0);
                if now > last {
                    // Deleting happened within the last second or two: mark both.
                    let second = ((unix_micros() - start_micros) / 1_000_000) as u64;
                    let mut marked = seconds.lock().unwrap();
                    marked.insert(second);
                    marked.insert(second.saturating_sub(1));
                }
                last = now;
            }
        })
    };

    let total = Duration::from_secs(args.retention_minutes * 60);
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(args.report_seconds).min(total - started.elapsed())).await;
        let mut window: Vec<f64> = delivered.lock().unwrap()[seen..].iter().map(|(_, ms)| *ms).collect();
        seen += window.len();
        let (payloads, messages) = pruned_so_far(&client, &herald).await?;
        let size = psql_value(&herald, "SELECT pg_database_size(current_database())")? / 1_048_576.0;
        let tables = psql_value(
            &herald,
            "SELECT pg_total_relation_size('messages') + pg_total_relation_size('deliveries') + \
             pg_total_relation_size('attempts')",
        )? / 1_048_576.0;
        let rows = psql_value(&herald, "SELECT count(*) FROM messages")?;
        let attempts = psql_value(&herald, "SELECT count(*) FROM attempts")?;
        println!(
            "retention | {:>5} s | database {:>7.1} MiB, messages+deliveries+attempts {:>7.1} MiB | {:>7} messages \
             {:>7} attempts | pruned {:>8} payloads {:>8} messages | delivery p50 {:>6.1} ms p99 {:>6.1} ms ({})",
            started.elapsed().as_secs(),
            size,
            tables,
            rows,
            attempts,
            payloads,
            messages,
            quantile(&mut window, 0.5),
            quantile(&mut window, 0.99),
            window.len(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let failed = sender.await?;
    watcher.await?;
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Messages sent after the first metadata period: in a second the pruner was deleting,
    // or not.
    let marked = pruning_seconds.lock().unwrap().clone();
    let settled = args.metadata_retention + 30;
    let (mut pruning, mut quiet) = (Vec::new(), Vec::new());
    for (second, ms) in delivered.lock().unwrap().iter() {
        if *second < settled {
            continue;
        }
        if marked.contains(second) {
            pruning.push(*ms)
        } else {
            quiet.push(*ms)
        }
    }
    for (name, values) in [("while the pruner deletes", &mut pruning), ("otherwise", &mut quiet)] {
        println!(
            "retention | delivery {name:<25} | p50 {:>6.1} ms p99 {:>6.1} ms p99.9 {:>6.1} ms ({} messages)",
            quantile(values, 0.5),
            quantile(values, 0.99),
            quantile(values, 0.999),
            values.len()
        );
    }
    println!("retention | {failed} requests failed");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = match &args.herald {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.parent().context("the bench's directory")?.join("herald"),
    };
    if !binary.exists() {
        bail!("{} not found: build it with `cargo build --release -p herald` or pass --herald", binary.display());
    }
    println!("herald-scale: {} (defaults, fresh database, own Redis), load from this process", binary.display());
    if args.only.iter().any(|m| m == "idle") {
        for tenants in &args.tenants {
            idle(&args, &binary, *tenants).await?;
        }
    }
    if args.only.iter().any(|m| m == "busy") {
        busy(&args, &binary, 0).await?;
        busy(&args, &binary, args.idle_tenants).await?;
    }
    if args.only.iter().any(|m| m == "parked") {
        parked(&args, &binary).await?;
    }
    if args.only.iter().any(|m| m == "isolation") {
        isolation(&args, &binary).await?;
    }
    if args.only.iter().any(|m| m == "retention") {
        retention(&args, &binary).await?;
    }
    Ok(())
}
