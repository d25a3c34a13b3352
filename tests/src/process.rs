//! `HeraldProcess`: the compiled `herald` binary, driven like an operator drives it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::services;

/// The `herald` binary, built once per test process so it is never stale.
pub fn herald_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let status = Command::new(cargo)
                .args(["build", "--quiet", "-p", "herald", "--bin", "herald"])
                .current_dir(&workspace)
                .status()
                .expect("run cargo build for the herald binary");
            assert!(status.success(), "building the herald binary failed");
            services::target_dir().join("debug").join("herald")
        })
        .clone()
}

/// The environment of one Herald installation under test.
#[derive(Debug, Clone)]
pub struct Installation {
    pub env: Vec<(String, String)>,
    /// Where `serve` writes the process's standard error (its logs); inherited when `None`.
    pub log_file: Option<PathBuf>,
}

impl Installation {
    /// A fresh PostgreSQL database and Redis prefix, deliveries to 127.0.0.1 allowed.
    pub fn fresh() -> Self {
        let env = [
            ("HERALD_DATABASE_URL", services::fresh_postgres_url()),
            ("HERALD_REDIS_URL", services::redis_url()),
            ("HERALD_REDIS_PREFIX", services::fresh_redis_prefix()),
            ("HERALD_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("HERALD_LOG_LEVEL", "warn,redis=error".to_owned()),
            ("HERALD_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
            ("HERALD_ENCRYPTION_KEYS", services::TEST_ENCRYPTION_KEYS.to_owned()),
        ];
        Self { env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), log_file: None }
    }

    /// Sets (or replaces) one `HERALD_*` variable.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(existing, _)| existing != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(herald_binary());
        command.args(args);
        // Only this installation's settings: nothing inherited from the caller.
        for (key, _) in std::env::vars() {
            if key.starts_with("HERALD_") {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// Runs `herald tenant create <name>` and returns the API key (its last line).
    pub fn create_tenant(&self, name: &str) -> String {
        let output = self.command(&["tenant", "create", name]).stderr(Stdio::inherit()).output().expect("run herald");
        assert!(output.status.success(), "herald tenant create failed");
        let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
        stdout.lines().last().expect("a key on the last line").trim().to_owned()
    }

    /// Starts `herald serve` on a free port and waits until its API answers.
    pub async fn serve(&self) -> HeraldProcess {
        self.start("serve").await
    }

    /// Starts `herald <role>` (`serve`, `api` or `worker`). A role with the API gets a
    /// free port and is waited for until its API answers; a worker is returned at once.
    pub async fn start(&self, role: &str) -> HeraldProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let child = self
            .command(&[role])
            .env("HERALD_LISTEN", address.to_string())
            .stdout(Stdio::null())
            .stderr(match &self.log_file {
                Some(path) => Stdio::from(
                    std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open the log file"),
                ),
                None => Stdio::inherit(),
            })
            .spawn()
            .unwrap_or_else(|error| panic!("start herald {role}: {error}"));
        let process = HeraldProcess { child, address };
        if role == "worker" {
            return process;
        }
        let client = reqwest::Client::new();
        let health = format!("http://{address}/api/v1/health");
        crate::eventually(Duration::from_secs(60), &format!("herald {role} to answer /api/v1/health"), || {
            let request = client.get(&health).send();
            async move { request.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await;
        process
    }
}

/// A running `herald` process.
#[derive(Debug)]
pub struct HeraldProcess {
    child: Child,
    pub address: SocketAddr,
}

impl Drop for HeraldProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HeraldProcess {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL herald");
        self.child.wait().expect("reap herald");
    }

    /// SIGTERM, then wait (up to `limit`) for the exit status.
    pub async fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll herald") {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "herald did not exit within {limit:?} of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
