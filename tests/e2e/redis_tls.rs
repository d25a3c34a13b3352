//! Redis over TLS: `rediss://` to a `redis-server` that accepts TLS only, whose
//! certificate a private CA signed (generated here), trusted through
//! `redis_tls_ca_file`. A message is accepted and delivered as over plain TCP.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald_e2e::{eventually, TestApp, TestReceiver};
use serde_json::json;

/// A TLS-only Redis with a fresh CA and server certificate for 127.0.0.1.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("herald-redis-tls-{}", herald_e2e::services::unique_tag()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let path = |name: &str| dir.join(name).display().to_string();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--tls-cert-file", &path("server.pem"), "--tls-key-file", &path("server.key")])
            .args(["--tls-ca-cert-file", &path("ca.pem"), "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server with TLS");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server (TLS) did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_through_a_redis_that_speaks_only_tls() {
    let redis = TlsRedis::start();
    let app = TestApp::builder()
        .setting("redis_url", &format!("\"rediss://127.0.0.1:{}\"", redis.port))
        .setting("redis_tls_ca_file", &format!("{:?}", redis.dir.join("ca.pem").display().to_string()))
        .start()
        .await;
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
