//! A PostgreSQL server of a test's own: a fresh cluster (`initdb`) on a free port,
//! which the test may stop and start without troubling any other test. Run as the
//! `postgres` user when the suite runs as root (PostgreSQL refuses to run as root).

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A private PostgreSQL cluster; stopped and removed when dropped.
#[derive(Debug)]
pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

/// The newest installed PostgreSQL's `bin` directory (Debian's layout).
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (scripts/test installs it)")
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb under /usr/lib/postgresql/*/bin").1
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

impl PrivatePostgres {
    /// Creates the cluster (trust authentication, no fsync: a test's data need not
    /// survive a power cut) and starts it.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        let data = std::env::temp_dir().join(format!("herald-pg-{}", crate::services::unique_tag()));
        std::fs::create_dir_all(&data).expect("data directory");
        let server = Self { bin: postgres_bin(), data, port };
        if running_as_root() {
            let status = Command::new("chown").arg("postgres:postgres").arg(&server.data).status().expect("chown");
            assert!(status.success(), "chown the data directory to postgres");
        }
        let status = server
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&server.data)
            .stdout(Stdio::null())
            .status()
            .expect("run initdb");
        assert!(status.success(), "initdb failed");
        server.resume();
        server
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// A URL naming a database on this server nobody has used (Herald creates it).
    pub fn fresh_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/herald_test_{}", self.port, crate::services::unique_tag())
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn resume(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data.display());
        let status = self
            .command("pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.data)
            .args(["-l"])
            .arg(self.data.join("server.log"))
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl start");
        assert!(status.success(), "pg_ctl start failed; see {}", self.data.join("server.log").display());
    }

    /// Stops the server fast: open connections are cut, as a crash or restart cuts them.
    pub fn stop(&self) {
        let status = self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl stop");
        assert!(status.success(), "pg_ctl stop failed");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
