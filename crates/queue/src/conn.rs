//! How Herald reaches Redis, chosen by `redis_url` alone:
//!
//! - `redis://host:port` or `rediss://` (TLS): one server. The connection reconnects
//!   after a drop.
//! - `redis+cluster://host:port,host:port,…` or `rediss+cluster://`: a Redis Cluster,
//!   found from any of these seed nodes. Every command goes to the master of its key's
//!   slot; the client follows `MOVED` and a replica's promotion.
//! - `redis+sentinel://host:port,host:port,…/<master name>`: the master that Sentinel
//!   names. When a command fails on it (gone, or demoted to a read-only replica), the
//!   next one asks Sentinel again.
//!
//! Credentials in the address (`redis+cluster://user:password@…`) apply to every data
//! node; Sentinels themselves are asked without them.
//!
//! Every command Herald sends touches keys of one slot. A [`SlotBatch`] is a pipeline
//! whose commands may be in different slots: on one server it is one pipeline; on a
//! Cluster, one pipeline per slot, all sent at once.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};

use crate::replace::{Replaceable, Source};
use crate::{QueueError, QueueResult};

/// What `redis_url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Address {
    Single {
        url: String,
    },
    /// Seed node URLs (`redis://[auth@]host:port`, or `rediss://`).
    Cluster {
        nodes: Vec<String>,
        tls: bool,
    },
    /// Sentinel URLs, the master's name, and how to log in to the master (a URL
    /// without host: `redis://[auth@]x/<db>`).
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        login: String,
    },
}

/// Reads `redis_url`. Cluster and Sentinel addresses list `host:port` pairs separated
/// by commas (the port defaults to 6379, or 26379 for a Sentinel).
fn parse(url: &str) -> QueueResult<Address> {
    let invalid = |why: &str| QueueError::Config(format!("`redis_url` {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("must start with redis:// or rediss://"))?;
    let (base, topology) = match scheme {
        "redis" | "rediss" | "unix" | "redis+unix" => return Ok(Address::Single { url: url.to_owned() }),
        "redis+cluster" => ("redis", "cluster"),
        "rediss+cluster" => ("rediss", "cluster"),
        "redis+sentinel" => ("redis", "sentinel"),
        "rediss+sentinel" => {
            return Err(invalid(
                "`rediss+sentinel://` is not supported: use `redis+sentinel://` (Sentinel over TLS is not built)",
            ))
        }
        _ => return Err(invalid("must start with redis://, rediss://, redis+cluster://, or redis+sentinel://")),
    };
    if rest.contains(['?', '#']) {
        return Err(invalid("for a Cluster or Sentinel takes no query parameters"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (login, hosts) = match authority.rsplit_once('@') {
        Some((login, hosts)) => (format!("{login}@"), hosts),
        None => (String::new(), authority),
    };
    let default_port = if topology == "sentinel" { 26379 } else { 6379 };
    let hosts: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| {
            // `[::1]` or `host` has no port; `[::1]:7000` and `host:7000` do.
            let has_port =
                host.rsplit_once(':').is_some_and(|(before, _)| !before.ends_with('[') && !host.ends_with(']'));
            if has_port {
                host.to_owned()
            } else {
                format!("{host}:{default_port}")
            }
        })
        .collect();
    if hosts.is_empty() {
        return Err(invalid("lists no host:port"));
    }
    if topology == "cluster" {
        if !path.is_empty() {
            return Err(invalid("for a Cluster takes no path (a Cluster has only database 0)"));
        }
        let nodes = hosts.iter().map(|host| format!("{base}://{login}{host}")).collect();
        return Ok(Address::Cluster { nodes, tls: base == "rediss" });
    }
    let (master, db) = path.split_once('/').unwrap_or((path, "0"));
    if master.is_empty() {
        return Err(invalid("for Sentinel must end with /<master name>"));
    }
    if db.parse::<u32>().is_err() {
        return Err(invalid("for Sentinel may end with /<master name>/<database number> only"));
    }
    Ok(Address::Sentinel {
        sentinels: hosts.iter().map(|host| format!("redis://{host}")).collect(),
        master: master.to_owned(),
        login: format!("redis://{login}sentinel-master/{db}"),
    })
}

/// Opens connections to the Redis that `redis_url` names.
#[derive(Clone)]
pub(crate) struct Connector {
    target: Target,
}

#[derive(Clone)]
enum Target {
    Single(redis::Client),
    Cluster(Box<ClusterSeeds>),
    Sentinel { sentinels: Vec<String>, master: String, login: redis::RedisConnectionInfo },
}

impl Connector {
    /// `tls_ca` is the PEM of a private CA that signed the servers' certificates (for
    /// `rediss://` and `rediss+cluster://`).
    pub(crate) fn new(url: &str, tls_ca: Option<&[u8]>) -> QueueResult<Self> {
        let certificates = |ca: &[u8]| redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) };
        let not_tls = || QueueError::Config("`redis_tls_ca_file` is set but `redis_url` does not use TLS".into());
        let target = match parse(url)? {
            Address::Single { url } => match tls_ca {
                Some(ca) if url.starts_with("rediss://") => {
                    Target::Single(redis::Client::build_with_tls(url, certificates(ca))?)
                }
                Some(_) => return Err(not_tls()),
                None => Target::Single(redis::Client::open(url)?),
            },
            Address::Cluster { nodes, tls } => {
                let seeds = ClusterSeeds {
                    nodes,
                    tls_ca: match tls_ca {
                        Some(ca) if tls => Some(ca.to_vec()),
                        Some(_) => return Err(not_tls()),
                        None => None,
                    },
                };
                // Checks the addresses now, not at the first connection.
                seeds.client(CONNECT_TIMEOUT)?;
                Target::Cluster(Box::new(seeds))
            }
            Address::Sentinel { sentinels, master, login } => {
                if tls_ca.is_some() {
                    return Err(not_tls());
                }
                let login = login.into_connection_info()?.redis_settings().clone();
                for sentinel in &sentinels {
                    sentinel.as_str().into_connection_info()?;
                }
                Target::Sentinel { sentinels, master, login }
            }
        };
        Ok(Self { target })
    }

    /// A new connection whose commands fail after `response_timeout`.
    pub(crate) async fn connect(&self, response_timeout: Duration) -> QueueResult<RedisConnection> {
        Ok(match &self.target {
            Target::Single(client) => RedisConnection::Single(manager(client, response_timeout).await?),
            Target::Cluster(seeds) => {
                let start = ClusterStart { seeds: seeds.as_ref().clone(), response_timeout };
                RedisConnection::Cluster(Replaceable::open(start).await?)
            }
            Target::Sentinel { sentinels, master, login } => {
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(login.clone());
                let sentinel =
                    SentinelClient::build(sentinels.clone(), master, Some(node), SentinelServerType::Master)?;
                RedisConnection::Sentinel(Replaceable::open(SentinelMaster { sentinel, response_timeout }).await?)
            }
        })
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a Cluster connection starts from: the seed nodes and, for TLS, a private CA.
#[derive(Clone)]
struct ClusterSeeds {
    nodes: Vec<String>,
    tls_ca: Option<Vec<u8>>,
}

impl ClusterSeeds {
    /// A client whose every request, retries and redirections included, ends within
    /// twice `response_timeout`. The client's defaults wait without bound: 16 retries
    /// up to 655 s apart, and reconnection to a node gone for good never stops while
    /// the slot map names it. A task blocked there would hold its work through a
    /// failover; failing fast lets the caller's own loop try again on the new master.
    fn client(&self, response_timeout: Duration) -> redis::RedisResult<ClusterClient> {
        let mut builder = ClusterClient::builder(self.nodes.clone())
            .connection_timeout(CONNECT_TIMEOUT.min(response_timeout))
            .response_timeout(response_timeout)
            .overall_response_timeout(Some(response_timeout * 2))
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(50)
            .max_retry_wait(1_000)
            .max_connection_attempts(CLUSTER_RECONNECT_ATTEMPTS);
        if let Some(ca) = &self.tls_ca {
            builder = builder.certs(redis::TlsCertificates { client_tls: None, root_cert: Some(ca.clone()) });
        }
        builder.build()
    }
}

/// Retries of one Cluster request (redirections, a reconnection, a slot-map refresh).
const CLUSTER_RETRIES: u32 = 8;

/// Attempts to reconnect to a Cluster node before it is dropped until the next
/// slot-map refresh names it again (about 50 s of backoff).
const CLUSTER_RECONNECT_ATTEMPTS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(10) {
    Some(attempts) => attempts,
    None => unreachable!(),
};

async fn manager(client: &redis::Client, response_timeout: Duration) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client.clone(), config).await
}

/// A connection to one server, a Cluster or Sentinel's master. Cheap to clone; clones
/// share the underlying connections.
#[derive(Clone)]
pub(crate) enum RedisConnection {
    Single(ConnectionManager),
    Cluster(Replaceable<ClusterStart>),
    Sentinel(Replaceable<SentinelMaster>),
}

impl RedisConnection {
    /// Whether commands in different slots must go in separate pipelines.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Sentinel(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Sentinel(conn) => conn.get_db(),
        }
    }
}

/// Sentinel's master, asked for again when a command fails in a way that says the
/// master may have moved: the connection is gone, or the server has become a replica
/// (`READONLY`). A `READONLY` command did not run, so it is sent once more to the new
/// master; any other failure is returned (the caller's retry finds the new master).
pub(crate) struct SentinelMaster {
    sentinel: SentinelClient,
    response_timeout: Duration,
}

impl Source for SentinelMaster {
    type Connection = ConnectionManager;
    const INTERVAL: Duration = Duration::from_millis(250);
    const REPLACED: &'static str = "connected to the master Sentinel names";
    const NOT_REPLACED: &'static str = "cannot reach the master through Sentinel";

    async fn open(&mut self) -> redis::RedisResult<ConnectionManager> {
        let master = self.sentinel.async_get_client().await?;
        manager(&master, self.response_timeout).await
    }

    fn must_replace(error: &redis::RedisError) -> bool {
        error.code() == Some("READONLY") || gone(error)
    }

    fn must_replace_for_reply(code: &str) -> bool {
        code == "READONLY"
    }

    fn send_again(error: &redis::RedisError) -> bool {
        error.code() == Some("READONLY")
    }
}

/// A Redis Cluster connection that starts over from the seed nodes when it stops
/// answering. The client's own connection follows `MOVED` and a replica's promotion,
/// but after a master was killed it was seen to stay wedged: every request timing out
/// for over a minute although the cluster had failed over in 3 s (a failover test
/// under load, about one run in three). A request that times out, loses its
/// connection, or is answered `MOVED` makes a new connection, which learns the slot
/// map afresh; the failed request is returned to its caller, whose loop tries again.
pub(crate) struct ClusterStart {
    seeds: ClusterSeeds,
    response_timeout: Duration,
}

impl Source for ClusterStart {
    type Connection = ClusterConnection;
    const INTERVAL: Duration = Duration::from_secs(2);
    const REPLACED: &'static str = "opened a new Redis Cluster connection after failed requests";
    const NOT_REPLACED: &'static str = "cannot open a new Redis Cluster connection";

    async fn open(&mut self) -> redis::RedisResult<ClusterConnection> {
        self.seeds.client(self.response_timeout)?.get_async_connection().await
    }

    fn must_replace(error: &redis::RedisError) -> bool {
        gone(error) || error.redirect_node().is_some()
    }

    fn must_replace_for_reply(code: &str) -> bool {
        code == "MOVED"
    }

    fn send_again(_: &redis::RedisError) -> bool {
        false
    }
}

/// The connection is gone or does not answer.
fn gone(error: &redis::RedisError) -> bool {
    error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped() || error.is_timeout()
}

/// Whether Redis answered `code` (`NOSCRIPT`, `NOGROUP`, …) to a command, or to any
/// command of a pipeline (whose error carries each failed command's answer, and whose
/// own `code()` is none).
pub(crate) fn answered(error: &redis::RedisError, code: &str) -> bool {
    error.clone().into_server_errors().is_some_and(|errors| errors.iter().any(|(_, error)| error.code() == code))
}

/// Commands that may be in different Cluster slots, answered in the order added.
/// On one server (or Sentinel's master) they go as one pipeline; on a Cluster as one
/// pipeline per slot, all at once, so commands of different slots may run in any order
/// relative to each other (those of one slot keep theirs).
#[derive(Default)]
pub(crate) struct SlotBatch {
    commands: Vec<(Slot, Cmd)>,
    /// Whether a command's error comes back in its place (`Value::ServerError`)
    /// instead of failing the whole batch.
    each_answers_alone: bool,
}

impl SlotBatch {
    /// Adds a command whose keys are in the slot of `key`.
    pub(crate) fn add(&mut self, key: &str, cmd: Cmd) -> &mut Self {
        self.commands.push((Slot::for_key(key), cmd));
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Makes each command's error its own reply (`Value::ServerError`) rather than the
    /// batch's: the other commands' replies are not lost with it (a read that one
    /// partition refuses still returns what the others handed over).
    pub(crate) fn each_answers_alone(mut self) -> Self {
        self.each_answers_alone = true;
        self
    }

    fn pipeline(&self) -> Pipeline {
        let mut pipe = redis::pipe();
        if self.each_answers_alone {
            pipe.ignore_errors();
        }
        pipe
    }

    /// Sends every command; the replies come in the order the commands were added.
    pub(crate) async fn query(self, conn: &RedisConnection) -> redis::RedisResult<Vec<Value>> {
        if self.commands.is_empty() {
            return Ok(Vec::new());
        }
        if !conn.is_cluster() {
            let mut pipe = self.pipeline();
            for (_, cmd) in self.commands {
                pipe.add_command(cmd);
            }
            return pipe.query_async(&mut conn.clone()).await;
        }
        let mut by_slot: Vec<(Slot, Pipeline, Vec<usize>)> = Vec::new();
        let empty = self.pipeline();
        for (position, (slot, cmd)) in self.commands.into_iter().enumerate() {
            match by_slot.iter_mut().find(|(existing, _, _)| *existing == slot) {
                Some((_, pipe, positions)) => {
                    pipe.add_command(cmd);
                    positions.push(position);
                }
                None => {
                    let mut pipe = empty.clone();
                    pipe.add_command(cmd);
                    by_slot.push((slot, pipe, vec![position]));
                }
            }
        }
        let total = by_slot.iter().map(|(_, _, positions)| positions.len()).sum();
        let replies = futures::future::try_join_all(by_slot.iter().map(|(_, pipe, _)| {
            let mut conn = conn.clone();
            async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
        }))
        .await?;
        let mut ordered = vec![Value::Nil; total];
        for ((_, _, positions), values) in by_slot.into_iter().zip(replies) {
            for (position, value) in positions.into_iter().zip(values) {
                ordered[position] = value;
            }
        }
        Ok(ordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_addresses_pass_through() {
        for url in ["redis://127.0.0.1:6379", "rediss://h:1/2", "unix:///tmp/redis.sock"] {
            assert_eq!(parse(url).unwrap(), Address::Single { url: url.to_owned() });
        }
    }

    #[test]
    fn cluster_addresses_list_seed_nodes_with_their_credentials() {
        assert_eq!(
            parse("redis+cluster://127.0.0.1:7000, 127.0.0.1:7001,[::1]:7002,node").unwrap(),
            Address::Cluster {
                nodes: vec![
                    "redis://127.0.0.1:7000".into(),
                    "redis://127.0.0.1:7001".into(),
                    "redis://[::1]:7002".into(),
                    "redis://node:6379".into()
                ],
                tls: false
            }
        );
        assert_eq!(
            parse("rediss+cluster://:s%40cret@h1:1,h2:2").unwrap(),
            Address::Cluster {
                nodes: vec!["rediss://:s%40cret@h1:1".into(), "rediss://:s%40cret@h2:2".into()],
                tls: true
            }
        );
        assert!(parse("redis+cluster://h1:1/3").is_err(), "a Cluster has no database 3");
        assert!(parse("redis+cluster://").is_err());
        assert!(parse("redis+cluster://h:1?protocol=resp3").is_err());
    }

    #[test]
    fn sentinel_addresses_name_the_master() {
        assert_eq!(
            parse("redis+sentinel://user:pw@s1,s2:5000/herald/2").unwrap(),
            Address::Sentinel {
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:5000".into()],
                master: "herald".into(),
                login: "redis://user:pw@sentinel-master/2".into(),
            }
        );
        assert!(parse("redis+sentinel://s1:1").is_err(), "no master name");
        assert!(parse("redis+sentinel://s1:1/herald/x").is_err());
        assert!(parse("rediss+sentinel://s1:1/herald").unwrap_err().to_string().contains("not supported"));
        assert!(parse("http://h:1").is_err());
    }

    #[test]
    fn a_ca_without_tls_is_a_mistake() {
        assert!(Connector::new("redis://127.0.0.1:6379", Some(b"ca")).is_err());
        assert!(Connector::new("redis+cluster://127.0.0.1:7000", Some(b"ca")).is_err());
        assert!(Connector::new("redis+sentinel://127.0.0.1:26379/m", Some(b"ca")).is_err());
        assert!(Connector::new("redis+sentinel://127.0.0.1:26379/m", None).is_ok());
        assert!(Connector::new("redis+cluster://127.0.0.1:7000", None).is_ok());
        assert!(Connector::new("rediss://127.0.0.1:6379", None).is_ok());
    }
}
