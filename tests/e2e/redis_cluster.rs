//! Herald on a Redis Cluster (3 masters + 3 replicas) and behind Sentinel, each
//! started here from `redis-server`, selected by `redis_url` alone.
//!
//! - 10,000 messages over 50 tenants × 4 applications reach the receiver within 10 s
//!   of the last acceptance, every partition in its own slot: through `herald serve`,
//!   and through 2 `herald api` + 3 `herald worker` processes.
//! - A master killed mid-run (a replica takes over; Sentinel promotes the replica)
//!   loses nothing: every message accepted is delivered. Writes the dead master took
//!   but never passed to its replica are what the reconciler is for; it runs every
//!   second here so the test does not wait for the default 30 s. Entries read in a
//!   reply the failover cut off are handed back after `reclaim_idle`, 5 s here.

use std::time::{Duration, Instant};

use herald_e2e::redis_topology::{RedisCluster, RedisSentinel};
use herald_e2e::{TestApp, TestReceiver};

use crate::many_tenants::MESSAGES;
use crate::many_tenants::{
    all_delivered_within_ten_seconds, fifty_tenants_with_four_applications, send_round_robin,
    through_two_api_and_three_worker_processes,
};

async fn herald_on(redis_url: &str) -> TestApp {
    TestApp::builder()
        .configure(|s| {
            s.redis_url = redis_url.to_string().into();
            s.reconcile_interval = Duration::from_secs(1);
            s.reconcile_grace = Duration::from_secs(2);
        })
        // An entry the old master handed to this worker in a reply the failover cut off
        // is pending for it without it knowing: handed back after `reclaim_idle`
        // (60 s by default, as long as this test waits).
        .configure(|s| s.reclaim_idle = Duration::from_secs(5))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_on_a_redis_cluster_are_all_delivered_within_seconds() {
    let cluster = RedisCluster::start();
    let herald = herald_on(&cluster.url()).await;
    let receiver = TestReceiver::start().await;
    let apps = fifty_tenants_with_four_applications(&herald, &receiver).await;
    let started = Instant::now();
    send_round_robin(&herald, &apps, 0..MESSAGES).await;
    let last_accepted = Instant::now();
    all_delivered_within_ten_seconds(&receiver, started, last_accepted, "a 6-node Redis Cluster").await;
    herald.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_through_five_processes_on_a_redis_cluster_are_all_delivered_within_seconds() {
    let cluster = RedisCluster::start();
    let installation = herald_e2e::Installation::fresh().set("HERALD_REDIS_URL", &cluster.url());
    through_two_api_and_three_worker_processes(installation, "2 api + 3 worker processes on a Redis Cluster").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_master_killed_mid_run_loses_nothing() {
    let mut cluster = RedisCluster::start();
    let herald = herald_on(&cluster.url()).await;
    let receiver = TestReceiver::start().await;
    let apps = fifty_tenants_with_four_applications(&herald, &receiver).await;
    send_round_robin(&herald, &apps, 0..MESSAGES / 2).await;
    // Deliveries are in flight: kill a master, and go on sending while its replica
    // takes over.
    let killed = cluster.kill_a_master();
    let failover = Instant::now();
    send_round_robin(&herald, &apps, MESSAGES / 2..MESSAGES).await;
    tokio::task::block_in_place(|| cluster.wait_for_failover(Duration::from_secs(30)));
    eprintln!("master :{killed} killed; the cluster served every slot again after {:?}", failover.elapsed());
    every_message_delivered(&herald, &receiver, Duration::from_secs(60), "after a Cluster master was killed").await;
    herald.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_mid_run_loses_nothing() {
    let mut sentinel = RedisSentinel::start();
    let herald = herald_on(&sentinel.url()).await;
    let receiver = TestReceiver::start().await;
    let apps = fifty_tenants_with_four_applications(&herald, &receiver).await;
    send_round_robin(&herald, &apps, 0..MESSAGES / 2).await;
    let killed = sentinel.kill_master();
    let failover = Instant::now();
    send_round_robin(&herald, &apps, MESSAGES / 2..MESSAGES).await;
    let promoted = tokio::task::block_in_place(|| sentinel.wait_for_failover(killed, Duration::from_secs(30)));
    eprintln!("master :{killed} killed; Sentinel promoted :{promoted} after {:?}", failover.elapsed());
    every_message_delivered(&herald, &receiver, Duration::from_secs(60), "after a Sentinel failover").await;
    herald.stop().await;
}

/// Waits until every one of the [`MESSAGES`] has arrived at least once. A failure says
/// how many deliveries the database still has overdue, and how the count grew (a
/// stall, or a slow trickle).
async fn every_message_delivered(herald: &TestApp, receiver: &TestReceiver, limit: Duration, setup: &str) {
    let started = Instant::now();
    let mut delivered = receiver.unique_webhook_ids().len();
    let mut progress = Vec::new();
    while delivered < MESSAGES && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
        delivered = receiver.unique_webhook_ids().len();
        if progress.last().is_none_or(|&(at, _)| started.elapsed().as_secs() >= at + 5) {
            progress.push((started.elapsed().as_secs(), delivered));
        }
    }
    if delivered < MESSAGES {
        let overdue = herald.store.overdue_deliveries(chrono::Utc::now(), None, 20_000).await.map(|rows| rows.len());
        panic!(
            "{setup}: {delivered} of {MESSAGES} delivered after {limit:?}; overdue in the database: {overdue:?}; \
             delivered by second: {progress:?}"
        );
    }
    eprintln!("{setup}: all {MESSAGES} delivered {:?} after the last acceptance", started.elapsed());
}

/// Every queue operation whose keys span slots (enqueue, read, settle, promote, the
/// ready and due indexes, takeover, breaker counts) works on a Cluster, where a
/// command or pipeline that crosses slots is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_queue_operation_works_across_cluster_slots() {
    use herald_queue::{Partition, Queue, QueueConfig, QueuedDelivery, Settlement, SharedBreaker, Wake};

    let cluster = RedisCluster::start();
    let config = QueueConfig {
        redis_url: cluster.url(),
        prefix: herald_e2e::services::fresh_redis_prefix(),
        command_timeout: Duration::from_secs(5),
        tls_ca: None,
    };
    let queue = Queue::connect(&config).await.expect("connect to the Cluster");
    let partitions: Vec<Partition> = (0..40).map(|n| Partition::for_tenant(&format!("tnt_{n}"))).collect();
    let queued = |partition: &Partition, n: u32| QueuedDelivery {
        delivery_id: format!("dlv_{}_{n}", partition.name()),
        attempts_made: 0,
        endpoint_id: format!("ep_{}", partition.name()),
    };
    let batches: Vec<(Partition, Vec<QueuedDelivery>)> =
        partitions.iter().map(|p| (p.clone(), (0..5).map(|n| queued(p, n)).collect())).collect();
    queue.enqueue_groups(batches.iter().map(|(p, d)| (p, d.as_slice()))).await.expect("enqueue across slots");
    let mut sorted = partitions.clone();
    sorted.sort();
    assert_eq!(queue.ready_partitions().await.unwrap(), sorted);
    for partition in &partitions {
        queue.ensure_group(partition).await.unwrap();
    }

    // A worker that reads everything, then dies holding it.
    queue.renew_lease("dead", Duration::from_millis(300)).await.unwrap();
    queue.note_held("dead", &partitions).await.unwrap();
    let mut dead = queue.reader("dead").await.unwrap();
    assert_eq!(dead.read(&partitions, 100).await.unwrap().len(), 200, "one read round over 40 partitions");
    assert_eq!(queue.active_partitions().await.unwrap().len(), 40);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let handed_back = queue.take_over("dead", "survivor").await.unwrap().expect("nobody else is at it");
    assert_eq!(handed_back.iter().map(|(_, n)| n).sum::<usize>(), 200, "every entry handed back");

    // The survivor reads them again, acknowledges half and parks the rest.
    queue.renew_lease("survivor", Duration::from_secs(60)).await.unwrap();
    let mut survivor = queue.reader("survivor").await.unwrap();
    let received = survivor.read(&partitions, 100).await.unwrap();
    assert_eq!(received.len(), 200);
    let due = chrono::Utc::now().timestamp_millis();
    let settlements: Vec<_> = received
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let settlement = if n % 2 == 0 {
                Settlement::Ack
            } else {
                Settlement::RetryLater { attempts_made: 1, due_unix_ms: due }
            };
            (r, settlement)
        })
        .collect();
    // A promoted replica (or a restarted node) has never run Herald's scripts: the
    // batch answers NOSCRIPT, and runs again with their source.
    for port in cluster.masters() {
        assert_eq!(cluster.query(port, &["SCRIPT", "FLUSH"]), "OK");
    }
    queue.settle(&settlements).await.expect("settle across slots, on nodes without the scripts");
    assert_eq!(
        queue.promote_due_partitions(1_000, Wake { batch: 10, interval: Duration::from_secs(60) }).await.unwrap(),
        100,
        "every parked delivery promoted"
    );
    let again = survivor.read(&partitions, 100).await.unwrap();
    assert_eq!(again.len(), 100);
    assert!(again.iter().all(|r| r.delivery.attempts_made == 1));
    let retired = survivor.retire(&partitions, 100).await.unwrap();
    assert!(retired.is_empty());
    assert!(queue.ready_partitions().await.unwrap().is_empty(), "drained partitions leave the ready set");

    let now = chrono::Utc::now().timestamp_millis();
    for (n, partition) in partitions.iter().enumerate().take(10) {
        let open_until_ms = if n < 6 { now + 60_000 } else { now - 1 };
        let state = SharedBreaker { open_until_ms, consecutive_failures: 3 };
        queue.open_breaker(&format!("ep_{}", partition.name()), state, Duration::from_secs(120)).await.unwrap();
    }
    assert_eq!(queue.breaker_counts(now).await.unwrap(), (6, 4), "breakers on every node are counted");
}
