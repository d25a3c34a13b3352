//! Real Redis topologies for failover tests, started from Debian's `redis-server`:
//! [`RedisCluster`] (three masters, three replicas) and [`RedisSentinel`] (a master, a
//! replica and three sentinels). Each lives in a temporary directory of its own, on free
//! 127.0.0.1 ports, with every process's output in a log file there (a failed wait
//! panics with the logs' tails). Dropping one kills every process and removes the
//! directory.
//!
//! The Cluster can also speak TLS only ([`RedisCluster::start_tls`]), with certificates
//! from [`TlsFiles`]: a private CA and a certificate it signed for 127.0.0.1.
//!
//! Both are tuned so that a killed master is replaced in about two and a half seconds:
//! failure is detected after one second, and replicas sync at once
//! (`repl-diskless-sync-delay 0`; the default waits five seconds for more replicas).
//! The code is synchronous and blocks for at most a few seconds at a time.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long starting a topology may take before the harness gives up.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How long one process may take to answer after it is spawned.
const SPAWN_LIMIT: Duration = Duration::from_secs(10);

/// The longest one `redis-cli` call may take: a stuck node must not hang the test.
const CLI_LIMIT: Duration = Duration::from_secs(5);

/// How often the wait loops look again.
const POLL: Duration = Duration::from_millis(50);

/// Every slot in a cluster.
const SLOTS: &str = "16384";

/// The name the sentinels monitor the master under.
const SENTINEL_MASTER: &str = "herald";

/// One `redis-server` (or sentinel) process and the port it listens on.
struct Process {
    port: u16,
    child: Child,
    log: PathBuf,
    alive: bool,
}

impl Process {
    /// SIGKILL, as a crash would; waits so that the port is closed on return.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.alive = false;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.alive {
            self.kill();
        }
    }
}

/// Free 127.0.0.1 ports. With `bus`, each is below 55535 and its cluster bus port
/// (port + 10000) is free too. Every listener is held until all are picked, so no two
/// picks collide (not even one's port with another's bus port); they are closed on
/// return, just before the caller starts the servers.
fn free_ports(count: usize, bus: bool) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..1000 {
        if ports.len() == count {
            break;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
        let port = listener.local_addr().expect("the bound port").port();
        if bus {
            if port >= 55535 {
                held.push(listener);
                continue;
            }
            match TcpListener::bind(("127.0.0.1", port + 10000)) {
                Ok(bus_listener) => held.push(bus_listener),
                Err(_) => {
                    held.push(listener);
                    continue;
                }
            }
        }
        held.push(listener);
        ports.push(port);
    }
    assert_eq!(ports.len(), count, "could not find {count} free ports on 127.0.0.1");
    ports
}

/// Runs `command` with its output captured, killing it after `limit`.
fn run(command: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().ok()?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// How the harness's `redis-cli` reaches a node: over plain TCP, or over TLS trusting
/// the CA in `ca`.
struct Cli {
    ca: Option<PathBuf>,
}

/// `redis-cli` over plain TCP.
const PLAIN: Cli = Cli { ca: None };

impl Cli {
    /// `redis-cli`, with `--tls --cacert <ca>` for a TLS node.
    fn command(&self) -> Command {
        let mut command = Command::new("redis-cli");
        if let Some(ca) = &self.ca {
            command.arg("--tls").arg("--cacert").arg(ca);
        }
        command
    }

    /// `redis-cli -p <port> <args>`: the reply's text (errors such as `CLUSTERDOWN`
    /// included), trimmed; empty when nothing answers on the port.
    fn query(&self, port: u16, args: &[&str]) -> String {
        let mut command = self.command();
        command.args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args);
        let output = run(&mut command, CLI_LIMIT);
        output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned()).unwrap_or_default()
    }

    /// The first line of `ROLE`: `master`, `slave` or `sentinel` (empty when down).
    fn role(&self, port: u16) -> String {
        self.query(port, &["role"]).lines().next().unwrap_or_default().to_owned()
    }
}

/// The value of `key` in `key:value` lines (`INFO`, `CLUSTER INFO`).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| line.trim().strip_prefix(key)?.strip_prefix(':'))
}

/// Polls `check` every 50 ms until it returns `Some`; `None` after `limit`.
fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// A fresh directory for one topology's files.
fn fresh_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-{kind}-{}", crate::services::unique_tag()));
    std::fs::create_dir_all(&dir).expect("create the topology's directory");
    dir
}

/// `redis-server` on `port` with the settings every node shares: loopback only, no
/// persistence, and an immediate sync for a new replica. With `tls`, `port` is a TLS
/// port and the only one (`--port 0`); clients need not show a certificate, and a
/// replica syncs from its master over TLS.
fn redis_server(dir: &Path, port: u16, tls: Option<&TlsFiles>) -> Command {
    let mut command = Command::new("redis-server");
    match tls {
        None => command.args(["--port", &port.to_string()]),
        Some(tls) => command
            .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-replication", "yes"])
            .args(["--tls-auth-clients", "no", "--tls-cert-file"])
            .arg(tls.cert())
            .arg("--tls-key-file")
            .arg(tls.key())
            .arg("--tls-ca-cert-file")
            .arg(tls.ca()),
    };
    command
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync-delay", "0", "--dir"])
        .arg(dir);
    command
}

/// Spawns the process `command` builds for a free port and waits until it answers `cli`
/// as itself (`INFO server` names its pid: another process may have taken the port
/// between the pick and the bind). A process that exits at once (port taken) is
/// retried on another port. Output goes to `<dir>/<name>-<port>.log`.
fn spawn(dir: &Path, name: &str, bus: bool, cli: &Cli, command: impl Fn(u16) -> Command) -> Process {
    for _ in 0..5 {
        let port = free_ports(1, bus)[0];
        let log = dir.join(format!("{name}-{port}.log"));
        let out = File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone the log file handle");
        let mut child = command(port)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start redis-server (Debian's redis-server package)");
        let pid = format!("process_id:{}", child.id());
        let answered = poll(SPAWN_LIMIT, || {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return Some(false);
            }
            cli.query(port, &["info", "server"]).lines().any(|line| line.trim() == pid).then_some(true)
        });
        match answered {
            Some(true) => return Process { port, child, log, alive: true },
            Some(false) => continue,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} on port {port} did not answer within {SPAWN_LIMIT:?}:\n{}", tail(&log));
            }
        }
    }
    panic!("{name} would not start on a free port; see the logs in {}", dir.display())
}

/// The last lines of a log file.
fn tail(log: &Path) -> String {
    let text = std::fs::read(log).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The tails of every process's log, for a panic message.
fn tails(processes: &[&Process]) -> String {
    processes.iter().map(|process| format!("--- {}\n{}\n", process.log.display(), tail(&process.log))).collect()
}

fn kill_all(processes: &mut [Process], dir: &Path) {
    for process in processes.iter_mut() {
        process.kill();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A private CA and a certificate it signed for 127.0.0.1, as PEM files in a temporary
/// directory of their own: `ca.pem`, `server.pem` and `server.key`. The certificate
/// serves a node both as a server and as a client (of another node's cluster bus, or
/// of its master). Dropping this removes the directory.
///
/// The CA and the certificate have different subject names: OpenSSL (`redis-server`,
/// `redis-cli`) takes a certificate whose issuer is named like its subject for a
/// self-signed one, and rejects it.
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl TlsFiles {
    /// A fresh CA, key and certificate.
    pub fn generate() -> Self {
        let files = Self { dir: fresh_dir("tls") };
        let ca_key = rcgen::KeyPair::generate().expect("generate the CA's key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("the CA's parameters");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Herald test CA");
        let ca = ca_params.self_signed(&ca_key).expect("sign the CA's certificate");
        let server_key = rcgen::KeyPair::generate().expect("generate the server's key");
        let mut server_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("the server's parameters");
        server_params.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
        let server = server_params.signed_by(&server_key, &ca, &ca_key).expect("sign the server's certificate");
        std::fs::write(files.ca(), ca.pem()).expect("write ca.pem");
        std::fs::write(files.cert(), server.pem()).expect("write server.pem");
        std::fs::write(files.key(), server_key.serialize_pem()).expect("write server.key");
        files
    }

    /// The CA's certificate, which clients trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The certificate for 127.0.0.1.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The certificate's private key.
    pub fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of six `redis-server` processes: three masters, each with one
/// replica, all slots assigned. `cluster-node-timeout` is 1000 ms (500 ms saves only
/// about 0.6 s and risks a false failover on a loaded machine), and
/// `cluster-replica-validity-factor` is 0 so that a replica always takes over,
/// however long it has been out of touch.
///
/// After [`kill_a_master`](Self::kill_a_master), measured on this machine (six runs):
/// commands for the dead master's slots are refused at once (connection refused); at
/// about 1.3-1.8 s the survivors mark it failed and report `cluster_state:fail`, so every
/// command on every node answers `CLUSTERDOWN The cluster is down` (the default
/// `cluster-require-full-coverage yes`); at about 2.2-2.7 s its replica is promoted,
/// the state is `ok` again, and `MOVED` and `CLUSTER SLOTS` name the new master (with no
/// replica: the dead node is listed nowhere in `CLUSTER SLOTS`, and in `CLUSTER NODES`
/// as `master,fail` without slots). Killing a second master fails over the same way; a
/// third leaves no majority of masters, so nothing takes over.
///
/// A TLS cluster ([`start_tls`](Self::start_tls)) is the same, but each node listens on
/// a TLS port only (its cluster bus is on that port + 10000), and the nodes gossip and
/// replicate over TLS (`tls-cluster`, `tls-replication`). `CLUSTER SLOTS`, `CLUSTER
/// NODES` and `MOVED` name the TLS ports.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Vec<Process>,
    /// How the harness reaches the nodes: over TLS for a TLS cluster.
    cli: Cli,
}

impl RedisCluster {
    /// Starts the six nodes, forms the cluster with `redis-cli --cluster create`, and
    /// waits (up to 30 s) until every node reports the cluster `ok` with all slots
    /// served and every replica has finished its initial sync. Takes about 2 s.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// Like [`start`](Self::start), but every node speaks TLS only, with the certificate
    /// in `tls`. Keep `tls` until the cluster is dropped: the harness's `redis-cli`
    /// trusts its CA on every call.
    pub fn start_tls(tls: &TlsFiles) -> Self {
        Self::launch(Some(tls))
    }

    fn launch(tls: Option<&TlsFiles>) -> Self {
        let dir = fresh_dir("cluster");
        let cli = Cli { ca: tls.map(TlsFiles::ca) };
        let mut nodes = Vec::new();
        for _ in 0..6 {
            nodes.push(spawn(&dir, "node", true, &cli, |port| {
                let mut command = redis_server(&dir, port, tls);
                command
                    .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                    .arg(dir.join(format!("nodes-{port}.conf")))
                    .args(["--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0"]);
                if tls.is_some() {
                    command.args(["--tls-cluster", "yes"]);
                }
                command
            }));
        }
        let cluster = Self { dir, nodes, cli };

        // `--cluster-yes` answers the "Can I set the above configuration?" prompt.
        let addresses: Vec<String> = cluster.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        let output = run(
            cluster.cli.command().args(["--cluster", "create"]).args(&addresses).args([
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ]),
            START_LIMIT,
        );
        let formed = output.as_ref().is_some_and(|output| output.status.success());
        if !formed {
            let text = output.map(|output| {
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
            });
            panic!(
                "redis-cli --cluster create failed:\n{}\n{}",
                text.as_deref().unwrap_or("(no output: it timed out)"),
                cluster.logs()
            );
        }

        let ready = poll(START_LIMIT, || {
            let mut masters = 0;
            for node in &cluster.nodes {
                let info = cluster.cli.query(node.port, &["cluster", "info"]);
                if field(&info, "cluster_state") != Some("ok")
                    || field(&info, "cluster_slots_ok") != Some(SLOTS)
                    || field(&info, "cluster_known_nodes") != Some("6")
                {
                    return None;
                }
                let replication = cluster.cli.query(node.port, &["info", "replication"]);
                match field(&replication, "role") {
                    Some("slave") if field(&replication, "master_link_status") == Some("up") => {}
                    Some("master") if has_online_replica(&replication) => masters += 1,
                    _ => return None,
                }
            }
            (masters == 3).then_some(())
        });
        if ready.is_none() {
            panic!("the cluster was not ready within {START_LIMIT:?}:\n{}", cluster.logs());
        }
        cluster
    }

    /// `redis+cluster://` (`rediss+cluster://` for a TLS cluster) naming all six nodes
    /// (a killed one included: clients must skip a seed node that does not answer).
    pub fn url(&self) -> String {
        let scheme = if self.cli.ca.is_some() { "rediss+cluster" } else { "redis+cluster" };
        let nodes: Vec<String> = self.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        format!("{scheme}://{}", nodes.join(","))
    }

    /// Every node's port, in the order [`url`](Self::url) lists them.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// The live nodes that are masters now.
    pub fn masters(&self) -> Vec<u16> {
        self.live().filter(|&port| self.cli.role(port) == "master").collect()
    }

    /// `redis-cli -p <port> <args>` against one node (no redirects followed; over TLS
    /// for a TLS cluster): the reply's text, trimmed; empty when the node does not answer.
    pub fn query(&self, port: u16, args: &[&str]) -> String {
        self.cli.query(port, args)
    }

    /// Kills (SIGKILL) a master that has a replica in sync, and returns its port.
    /// Panics when no master has one left.
    pub fn kill_a_master(&mut self) -> u16 {
        let victim = self
            .live()
            .find(|&port| {
                let replication = self.cli.query(port, &["info", "replication"]);
                field(&replication, "role") == Some("master") && has_online_replica(&replication)
            })
            .unwrap_or_else(|| panic!("no live master with a replica in sync is left to kill"));
        let node = self.nodes.iter_mut().find(|node| node.port == victim).expect("the victim is a node");
        node.kill();
        victim
    }

    /// Waits until every live node reports the cluster `ok` with all 16384 slots
    /// served and no killed node owning any slot (its replica promoted). Panics after
    /// `limit`; about 2.2-2.7 s after the kill is usual.
    pub fn wait_for_failover(&self, limit: Duration) {
        let dead: Vec<u16> = self.nodes.iter().filter(|node| !node.alive).map(|node| node.port).collect();
        let recovered = poll(limit, || {
            self.live()
                .all(|port| {
                    let info = self.cli.query(port, &["cluster", "info"]);
                    field(&info, "cluster_state") == Some("ok")
                        && field(&info, "cluster_slots_ok") == Some(SLOTS)
                        && self.cli.query(port, &["cluster", "nodes"]).lines().all(|line| {
                            let fields: Vec<&str> = line.split_whitespace().collect();
                            // id address flags master ping pong epoch link [slots...]
                            let owns_slots = fields.len() > 8;
                            let owner = fields.get(1).and_then(|address| node_port(address));
                            !(owns_slots && owner.is_some_and(|owner| dead.contains(&owner)))
                        })
                })
                .then_some(())
        });
        if recovered.is_none() {
            let view = self.live().next().map(|port| self.cli.query(port, &["cluster", "nodes"])).unwrap_or_default();
            panic!(
                "the cluster did not fail over within {limit:?} after killing {dead:?}\nCLUSTER NODES:\n{view}\n{}",
                self.logs()
            );
        }
    }

    fn live(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes.iter().filter(|node| node.alive).map(|node| node.port)
    }

    fn logs(&self) -> String {
        tails(&self.nodes.iter().collect::<Vec<_>>())
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        kill_all(&mut self.nodes, &self.dir);
    }
}

/// Whether `INFO replication` of a master lists a replica whose sync is done.
fn has_online_replica(replication: &str) -> bool {
    replication.lines().any(|line| line.starts_with("slave") && line.contains("state=online"))
}

/// The port of a `CLUSTER NODES` address (`127.0.0.1:7000@17000`).
fn node_port(address: &str) -> Option<u16> {
    let address = address.split('@').next()?;
    address.rsplit_once(':')?.1.parse().ok()
}

/// A master, its replica, and three sentinels (quorum 2) monitoring it as `herald`,
/// with `down-after-milliseconds 1000`, `failover-timeout 5000` and `parallel-syncs 1`.
/// Each sentinel's config file is in the directory: sentinels rewrite it as they learn
/// the topology.
///
/// After [`kill_master`](Self::kill_master), measured on this machine (five runs), the
/// sentinels name the replica as master, and it answers `ROLE` as master, about
/// 2.1-2.4 s after the kill. Until then the old address refuses connections and the
/// replica answers writes with `READONLY`. The dead master is not a replica, so a second
/// kill leaves nothing to fail over to.
pub struct RedisSentinel {
    dir: PathBuf,
    servers: Vec<Process>,
    sentinels: Vec<Process>,
}

impl RedisSentinel {
    /// Starts the master and the replica, waits for the replica's sync, then starts the
    /// sentinels and waits (up to 30 s) until each knows the master, the replica (in sync)
    /// and the two other sentinels. Takes about 2.5 s: sentinels find each other through
    /// hello messages sent every 2 s.
    pub fn start() -> Self {
        let dir = fresh_dir("sentinel");
        let master = spawn(&dir, "redis", false, &PLAIN, |port| redis_server(&dir, port, None));
        let master_port = master.port.to_string();
        let replica = spawn(&dir, "redis", false, &PLAIN, |port| {
            let mut command = redis_server(&dir, port, None);
            command.args(["--replicaof", "127.0.0.1", &master_port]);
            command
        });
        let replica_port = replica.port;
        let replica_port_text = replica_port.to_string();
        let mut topology = Self { dir, servers: vec![master, replica], sentinels: Vec::new() };

        // Started after the sync, so the sentinels' first INFO of the master lists the
        // replica (otherwise they learn of it only at the next refresh, 10 s later).
        let synced = poll(START_LIMIT, || {
            (field(&PLAIN.query(replica_port, &["info", "replication"]), "master_link_status") == Some("up"))
                .then_some(())
        });
        if synced.is_none() {
            panic!("the replica did not sync within {START_LIMIT:?}:\n{}", topology.logs());
        }

        for _ in 0..3 {
            let dir = topology.dir.clone();
            let sentinel = spawn(&dir, "sentinel", false, &PLAIN, |port| {
                let config = dir.join(format!("sentinel-{port}.conf"));
                let text = format!(
                    "port {port}\nbind 127.0.0.1\ndir \"{dir}\"\n\
                     sentinel monitor {name} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 5000\n\
                     sentinel parallel-syncs {name} 1\n",
                    dir = dir.display(),
                    name = SENTINEL_MASTER,
                );
                std::fs::write(&config, text).expect("write a sentinel config file");
                let mut command = Command::new("redis-server");
                command.arg(&config).arg("--sentinel");
                command
            });
            topology.sentinels.push(sentinel);
        }

        let ready = poll(START_LIMIT, || {
            topology
                .sentinels
                .iter()
                .all(|sentinel| {
                    let knows_master = sentinel_master(sentinel.port).as_deref() == Some(master_port.as_str());
                    let knows_sentinels = PLAIN
                        .query(sentinel.port, &["sentinel", "ckquorum", SENTINEL_MASTER])
                        .starts_with("OK 3 usable");
                    let replicas = records(&PLAIN.query(sentinel.port, &["sentinel", "replicas", SENTINEL_MASTER]));
                    let knows_replica = replicas.iter().any(|record| {
                        value(record, "port") == Some(replica_port_text.as_str())
                            && value(record, "flags") == Some("slave")
                            && value(record, "master-link-status") == Some("ok")
                    });
                    knows_master && knows_sentinels && knows_replica
                })
                .then_some(())
        });
        if ready.is_none() {
            panic!("the sentinels were not ready within {START_LIMIT:?}:\n{}", topology.logs());
        }
        topology
    }

    /// `redis+sentinel://` naming the three sentinels, and the master's name.
    pub fn url(&self) -> String {
        let sentinels: Vec<String> =
            self.sentinels.iter().map(|sentinel| format!("127.0.0.1:{}", sentinel.port)).collect();
        format!("redis+sentinel://{}/{SENTINEL_MASTER}", sentinels.join(","))
    }

    /// The master's port, as the first sentinel that answers names it
    /// (`SENTINEL get-master-addr-by-name herald`).
    pub fn master_port(&self) -> u16 {
        self.sentinels
            .iter()
            .filter(|sentinel| sentinel.alive)
            .find_map(|sentinel| sentinel_master(sentinel.port)?.parse().ok())
            .unwrap_or_else(|| panic!("no sentinel names a master:\n{}", self.logs()))
    }

    /// The ports of the master and the replica (in start order) and of the sentinels.
    pub fn ports(&self) -> (Vec<u16>, Vec<u16>) {
        (
            self.servers.iter().map(|server| server.port).collect(),
            self.sentinels.iter().map(|sentinel| sentinel.port).collect(),
        )
    }

    /// `redis-cli -p <port> <args>` against a server or a sentinel: the reply's text,
    /// trimmed; empty when nothing answers.
    pub fn query(&self, port: u16, args: &[&str]) -> String {
        PLAIN.query(port, args)
    }

    /// Kills (SIGKILL) the current master and returns its port.
    pub fn kill_master(&mut self) -> u16 {
        let port = self.master_port();
        let server = self
            .servers
            .iter_mut()
            .find(|server| server.port == port && server.alive)
            .unwrap_or_else(|| panic!("the sentinels name {port} as master, which is not a live server here"));
        server.kill();
        port
    }

    /// Waits until every sentinel names a master other than `old_master` and that node
    /// answers `ROLE` as master; returns its port. Panics after `limit`; about 2.1-2.4 s
    /// after the kill is usual.
    pub fn wait_for_failover(&self, old_master: u16, limit: Duration) -> u16 {
        let old = old_master.to_string();
        let promoted = poll(limit, || {
            let named: Vec<Option<String>> =
                self.sentinels.iter().map(|sentinel| sentinel_master(sentinel.port)).collect();
            let first = named.first()?.clone()?;
            let agreed = first != old && named.iter().all(|port| port.as_deref() == Some(first.as_str()));
            let port: u16 = first.parse().ok()?;
            (agreed && PLAIN.role(port) == "master").then_some(port)
        });
        promoted.unwrap_or_else(|| {
            let views: Vec<String> = self
                .sentinels
                .iter()
                .map(|sentinel| format!("{}: {:?}", sentinel.port, sentinel_master(sentinel.port)))
                .collect();
            panic!(
                "the sentinels did not fail over from {old_master} within {limit:?} (masters named: {})\n{}",
                views.join(", "),
                self.logs()
            )
        })
    }

    fn logs(&self) -> String {
        tails(&self.servers.iter().chain(&self.sentinels).collect::<Vec<_>>())
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for sentinel in &mut self.sentinels {
            sentinel.kill();
        }
        kill_all(&mut self.servers, &self.dir);
    }
}

/// The master's port as one sentinel names it (the second line of
/// `SENTINEL get-master-addr-by-name`).
fn sentinel_master(sentinel: u16) -> Option<String> {
    let reply = PLAIN.query(sentinel, &["sentinel", "get-master-addr-by-name", SENTINEL_MASTER]);
    let mut lines = reply.lines();
    let _ip = lines.next()?;
    Some(lines.next()?.trim().to_owned()).filter(|port| !port.is_empty())
}

/// The records of a `SENTINEL replicas`/`sentinels` reply, which `redis-cli` prints as
/// one line per name and value; each record begins with `name`.
fn records(reply: &str) -> Vec<Vec<(String, String)>> {
    let lines: Vec<&str> = reply.lines().map(str::trim).collect();
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    for pair in lines.chunks(2) {
        let [key, val] = pair else { break };
        if *key == "name" || records.is_empty() {
            records.push(Vec::new());
        }
        if let Some(record) = records.last_mut() {
            record.push(((*key).to_owned(), (*val).to_owned()));
        }
    }
    records
}

/// One value of a record from [`records`].
fn value<'a>(record: &'a [(String, String)], key: &str) -> Option<&'a str> {
    record.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// One plain `redis-server` of a test's own, on a free port: stopping it, or counting
/// the commands it served, troubles no other test.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port();
        let mut redis = Self { port, child: None };
        redis.resume();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again (empty) after [`RedisServer::stop`].
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + SPAWN_LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many commands the server has processed since it started
    /// (`total_commands_processed`).
    pub fn commands_processed(&self) -> u64 {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "INFO", "stats"])
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.trim().strip_prefix("total_commands_processed:"))
            .and_then(|count| count.parse().ok())
            .expect("INFO stats reports total_commands_processed")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
