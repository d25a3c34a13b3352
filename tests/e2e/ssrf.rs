//! The SSRF guard, attacked the way an endpoint owner would: Herald runs inside a
//! network namespace this test creates, with the forbidden addresses assigned to the
//! namespace's own loopback and a receiver listening on all of them, so a guard that
//! lets one through is caught by a real connection, and no packet can leave the
//! namespace. The targets are IPv6 forms that carry an IPv4 address or are special
//! purpose, as literals and through host names (`ip netns exec` mounts the
//! namespace's own `/etc/hosts`).

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald_e2e::process::herald_binary;
use herald_e2e::{eventually, services, TestReceiver};
use serde_json::{json, Value};

/// The IPv4 address the forbidden IPv6 forms below carry (private use).
const FORBIDDEN_V4: &str = "10.77.0.1";
/// A private address the test opens with `allowed_target_cidrs`: the control that
/// shows the receiver is reachable when the guard allows it.
const OPENED_V4: &str = "10.77.0.2";

/// (host name, address): every class the issue names, each reached by name and literally.
const TARGETS: [(&str, &str); 8] = [
    ("nat64-local.test", "64:ff9b:1::a4d:1"),
    ("siit.test", "::ffff:0:a4d:1"),
    ("sixtofour.test", "2002:a4d:1::1"),
    ("teredo.test", "2001:0:a4d:1::1"),
    ("discard.test", "100::1"),
    ("nat64.test", "64:ff9b::a4d:1"),
    ("mapped.test", "::ffff:10.77.0.1"),
    ("private.test", FORBIDDEN_V4),
];

/// A network namespace with its own loopback, hosts file and processes; all of it
/// removed on drop.
struct Namespace {
    name: String,
    children: Vec<Child>,
}

impl Namespace {
    fn create() -> Self {
        let name = format!("hssrf{}", &services::unique_tag()[..8]);
        run(Command::new("ip").args(["netns", "add", &name]));
        let namespace = Namespace { name, children: Vec::new() };
        namespace.run_inside(&["ip", "link", "set", "lo", "up"]);
        for address in [FORBIDDEN_V4, OPENED_V4] {
            namespace.run_inside(&["ip", "addr", "add", &format!("{address}/32"), "dev", "lo"]);
        }
        for (_, address) in TARGETS.iter().filter(|(_, address)| address.contains(':')) {
            namespace.run_inside(&["ip", "-6", "addr", "add", &format!("{address}/128"), "dev", "lo", "nodad"]);
        }
        let hosts_dir = format!("/etc/netns/{}", namespace.name);
        std::fs::create_dir_all(&hosts_dir).expect("create the namespace's /etc directory");
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (name, address) in TARGETS {
            hosts.push_str(&format!("{address} {name}\n"));
        }
        hosts.push_str(&format!("{OPENED_V4} opened.test\n"));
        std::fs::write(format!("{hosts_dir}/hosts"), hosts).expect("write the namespace's hosts file");
        namespace
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        for (key, _) in std::env::vars() {
            if key.starts_with("HERALD_") {
                command.env_remove(key);
            }
        }
        command
    }

    fn run_inside(&self, argv: &[&str]) {
        run(self.command(argv[0]).args(&argv[1..]));
    }

    fn spawn(&mut self, mut command: Command) {
        self.children.push(command.stdout(Stdio::null()).spawn().expect("start a process in the namespace"));
    }

    /// Runs `body` on a thread whose network namespace is this one, with its own
    /// tokio runtime: every socket it opens is inside.
    fn enter<T: Send>(&self, body: impl std::future::Future<Output = T> + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let handle = File::open(format!("/var/run/netns/{}", self.name)).expect("open the namespace");
                    nix::sched::setns(handle, nix::sched::CloneFlags::CLONE_NEWNET).expect("enter the namespace");
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(body)
                })
                .join()
                .expect("the namespace thread")
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(status.success(), "{command:?} failed");
}

/// The settings of the Herald inside the namespace: SQLite, the namespace's own
/// Redis, the guard on with only [`OPENED_V4`] opened, one attempt per delivery.
fn herald_env(command: &mut Command, data: &std::path::Path, redis_port: u16) {
    command
        .env("HERALD_DATABASE_URL", format!("sqlite://{}/herald.db?mode=rwc", data.display()))
        .env("HERALD_REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
        .env("HERALD_ENCRYPTION_KEYS", services::TEST_ENCRYPTION_KEYS)
        .env("HERALD_LISTEN", "127.0.0.1:8071")
        .env("HERALD_METRICS_LISTEN", "")
        .env("HERALD_ALLOW_PRIVATE_TARGETS", "false")
        .env("HERALD_ALLOWED_TARGET_CIDRS", format!("{OPENED_V4}/32"))
        .env("HERALD_RETRY_SCHEDULE", "0s")
        .env("HERALD_LOG_LEVEL", "warn");
}

#[test]
fn every_ipv4_carrying_or_special_ipv6_form_is_blocked_by_name_and_by_literal() {
    let mut namespace = Namespace::create();
    let data = std::env::temp_dir().join(format!("herald-ssrf-{}", services::unique_tag()));
    std::fs::create_dir_all(&data).expect("data directory");
    let redis_port = 6390;
    let mut redis = namespace.command("redis-server");
    redis.args(["--port", &redis_port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]);
    namespace.spawn(redis);

    let binary = herald_binary();
    let mut create = namespace.command(binary.to_str().expect("utf-8 path"));
    create.args(["tenant", "create", "ssrf"]);
    herald_env(&mut create, &data, redis_port);
    let output = create.stderr(Stdio::inherit()).output().expect("herald tenant create");
    assert!(output.status.success(), "herald tenant create failed");
    let api_key = String::from_utf8(output.stdout).unwrap().lines().last().unwrap().trim().to_owned();
    let mut serve = namespace.command(binary.to_str().expect("utf-8 path"));
    serve.arg("serve");
    herald_env(&mut serve, &data, redis_port);
    namespace.spawn(serve);

    namespace.enter(async move {
        let receiver = TestReceiver::start_on("[::]:0".parse().unwrap()).await;
        let port = receiver.address().port();
        let http = reqwest::Client::new();
        let api = |path: &str| format!("http://127.0.0.1:8071{path}");
        eventually(Duration::from_secs(60), "Herald to answer inside the namespace", || {
            let request = http.get(api("/api/v1/health")).send();
            async move { request.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await;
        let post = |path: String, body: Value| {
            let request = http.post(api(&path)).bearer_auth(&api_key).json(&body).send();
            async move {
                let response = request.await.expect("the API answers");
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, _) = post("/api/v1/app".into(), json!({"name": "ssrf", "uid": "ssrf"})).await;
        assert_eq!(status, 201);

        let mut forbidden = Vec::new();
        for (name, address) in TARGETS {
            let literal = if address.contains(':') { format!("[{address}]") } else { address.to_owned() };
            forbidden.push(format!("http://{literal}:{port}/literal"));
            forbidden.push(format!("http://{name}:{port}/by-name"));
        }
        let opened = [format!("http://{OPENED_V4}:{port}/opened"), format!("http://opened.test:{port}/opened")];
        for url in forbidden.iter().chain(&opened) {
            let (status, body) = post("/api/v1/app/ssrf/endpoint".into(), json!({"url": url})).await;
            assert_eq!(status, 201, "{url}: {body}");
        }
        let (status, msg) = post("/api/v1/app/ssrf/msg".into(), json!({"eventType": "a.b", "payload": {}})).await;
        assert_eq!(status, 202, "{msg}");
        let msg = msg["id"].as_str().unwrap().to_owned();

        let expected = forbidden.len() + opened.len();
        let attempts = eventually(Duration::from_secs(30), "an attempt per endpoint", || {
            let request = http.get(api(&format!("/api/v1/app/ssrf/attempt/msg/{msg}?limit=100"))).bearer_auth(&api_key);
            async move {
                let page: Value = request.send().await.ok()?.json().await.ok()?;
                let data = page["data"].as_array()?.clone();
                (data.len() >= expected).then_some(data)
            }
        })
        .await;
        for attempt in &attempts {
            let url = attempt["url"].as_str().unwrap();
            let outcome = attempt["outcome"].as_str().unwrap();
            if url.ends_with("/opened") {
                assert_eq!(outcome, "success", "the opened control reaches the receiver: {attempt}");
            } else {
                assert_eq!(outcome, "blocked", "{url} must be blocked: {attempt}");
            }
        }
        let hits: Vec<String> = receiver.requests().iter().map(|request| request.path.clone()).collect();
        assert_eq!(hits, vec!["/opened".to_owned(); 2], "only the opened control arrived");
    });
    let _ = std::fs::remove_dir_all(&data);
}
