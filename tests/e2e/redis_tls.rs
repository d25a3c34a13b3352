//! Redis over TLS, with certificates a private CA signed (generated here), trusted
//! through `redis_tls_ca_file`:
//!
//! - `rediss://` to a `redis-server` that accepts TLS only;
//! - `rediss+cluster://` to a Redis Cluster (3 masters + 3 replicas) whose nodes accept
//!   TLS only and talk to each other over TLS. The client reaches every node it learns
//!   of from `CLUSTER SLOTS` over TLS too.
//!
//! Messages are accepted and delivered as over plain TCP.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald_e2e::redis_topology::{RedisCluster, TlsFiles};
use herald_e2e::{eventually, TestApp, TestReceiver};
use serde_json::{json, Value};

/// A TLS-only Redis with a fresh CA and server certificate for 127.0.0.1.
struct TlsRedis {
    child: Child,
    port: u16,
    tls: TlsFiles,
}

impl TlsRedis {
    fn start() -> Self {
        let tls = TlsFiles::generate();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--tls-cert-file")
            .arg(tls.cert())
            .arg("--tls-key-file")
            .arg(tls.key())
            .arg("--tls-ca-cert-file")
            .arg(tls.ca())
            .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server with TLS");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server (TLS) did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, tls }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Herald on `redis_url`, trusting the CA of `tls`.
async fn herald_on(redis_url: &str, tls: &TlsFiles) -> TestApp {
    TestApp::builder()
        .configure(|s| {
            s.redis_url = redis_url.to_string().into();
            s.redis_tls_ca_file = tls.ca().display().to_string();
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_through_a_redis_that_speaks_only_tls() {
    let redis = TlsRedis::start();
    let app = herald_on(&format!("rediss://127.0.0.1:{}", redis.port), &redis.tls).await;
    let receiver = TestReceiver::start().await;
    app.create_application("acme").await;
    app.create_endpoint("acme", &receiver.url("/"), json!({})).await;
    let mut sent = Vec::new();
    for n in 0..20 {
        sent.push(app.send_message("acme", "order.created", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(30), "every message delivered through the TLS Redis", || async {
        let delivered = receiver.unique_webhook_ids();
        sent.iter().all(|id| delivered.contains(id)).then_some(())
    })
    .await;
    app.stop().await;
}

/// Four tenants, one application each: each tenant's partition is in a slot of its
/// own, so the messages go to more than one master (most likely), all over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_through_a_redis_cluster_that_speaks_only_tls() {
    let tls = TlsFiles::generate();
    let cluster = RedisCluster::start_tls(&tls);
    let app = herald_on(&cluster.url(), &tls).await;
    let receiver = TestReceiver::start().await;
    let mut applications = Vec::new();
    for tenant in 0..4 {
        let key = if tenant == 0 { app.api_key.clone() } else { app.create_other_tenant().await };
        let uid = format!("tenant-{tenant}");
        post_as(&app, &key, "/api/v1/app", json!({"name": uid, "uid": uid}), 201).await;
        let endpoint = json!({"url": receiver.url(&format!("/{uid}"))});
        post_as(&app, &key, &format!("/api/v1/app/{uid}/endpoint"), endpoint, 201).await;
        applications.push((key, uid));
    }
    let mut sent = Vec::new();
    for n in 0..20 {
        let (key, uid) = &applications[n % applications.len()];
        let message = json!({"eventType": "order.created", "payload": {"n": n}});
        let accepted = post_as(&app, key, &format!("/api/v1/app/{uid}/msg"), message, 202).await;
        sent.push(accepted["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(30), "every message delivered through the TLS Cluster", || async {
        let delivered = receiver.unique_webhook_ids();
        sent.iter().all(|id| delivered.contains(id)).then_some(())
    })
    .await;
    app.stop().await;
}

/// POSTs `body` to `path` as the tenant whose API key is `key`, checks the status,
/// and returns the answer's JSON.
async fn post_as(app: &TestApp, key: &str, path: &str, body: Value, status: u16) -> Value {
    let (got, answer) = app.request(reqwest::Method::POST, path, Some(key), Some(&body.to_string())).await;
    assert_eq!(got, status, "POST {path}: {answer}");
    answer
}
