//! The queue against a real Redis, each test under its own key prefix.

use std::time::Duration;

use herald_queue::keys::CONSUMER_GROUP;
use herald_queue::{Partition, Queue, QueueConfig, QueuedDelivery, Settlement, SharedBreaker, Wake};

/// Releases 3 waiting deliveries per endpoint at each wake, every 60 s.
const WAKE: Wake = Wake { batch: 3, interval: Duration::from_secs(60) };

fn redis_url() -> String {
    std::env::var("HERALD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A plain connection, for setting up what the queue API cannot (old formats, lost keys).
async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn queue() -> Queue {
    let config = QueueConfig {
        redis_url: redis_url(),
        prefix: format!("herald-queue-test-{}", uuid::Uuid::new_v4().simple()),
        command_timeout: Duration::from_secs(5),
        tls_ca: None,
    };
    Queue::connect(&config).await.expect("connect to Redis")
}

/// Each delivery goes to its own endpoint, so the tests see the endpoint id survive
/// every move (retry, promote, release, reclaim).
fn queued(id: &str, attempts_made: u32) -> QueuedDelivery {
    QueuedDelivery { delivery_id: id.to_owned(), attempts_made, endpoint_id: format!("ep_for_{id}") }
}

#[tokio::test]
async fn enqueued_deliveries_are_read_once_and_forgotten_when_acknowledged() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_a");
    queue.enqueue(&partition, &[queued("dlv_1", 0), queued("dlv_2", 0)]).await.unwrap();
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&partition));
    queue.ensure_group(&partition).await.unwrap();
    queue.ensure_group(&partition).await.expect("creating the group twice is fine");

    let mut reader = queue.reader("consumer-1").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(
        received.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(),
        [queued("dlv_1", 0), queued("dlv_2", 0)]
    );
    assert!(reader.read(std::slice::from_ref(&partition), 10).await.unwrap().is_empty());

    let ids = vec!["dlv_1".to_owned(), "dlv_2".to_owned(), "dlv_3".to_owned()];
    assert_eq!(queue.untracked(&partition, &ids).await.unwrap(), ["dlv_3"]);
    queue.ack(&received[0]).await.unwrap();
    assert_eq!(queue.untracked(&partition, &ids).await.unwrap(), ["dlv_1", "dlv_3"]);
    assert_eq!(queue.stream_length(&partition).await.unwrap(), 1, "acknowledged entries are deleted");
}

#[tokio::test]
async fn retries_wait_in_the_delayed_set_until_due() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_b");
    queue.enqueue(&partition, &[queued("dlv_1", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("consumer-1").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();

    queue.retry_later(&received[0], 1, 10_000).await.unwrap();
    assert_eq!(
        queue.untracked(&partition, &["dlv_1".to_owned()]).await.unwrap(),
        Vec::<String>::new(),
        "still tracked while delayed"
    );
    assert_eq!(queue.promote_due(&partition, 9_999, 100).await.unwrap(), 0, "not due yet");
    assert!(reader.read(std::slice::from_ref(&partition), 10).await.unwrap().is_empty());
    assert_eq!(queue.promote_due(&partition, 10_000, 100).await.unwrap(), 1);
    assert_eq!(queue.promote_due(&partition, 10_000, 100).await.unwrap(), 0, "promoted exactly once");
    let again = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_1", 1)]);
}

#[tokio::test]
async fn a_dead_workers_entries_are_handed_back_in_full_once_its_lease_lapses() {
    let queue = queue().await;
    let (a, b) = (Partition::for_tenant("tnt_c1"), Partition::for_tenant("tnt_c2"));
    let many: Vec<QueuedDelivery> = (0..1_200).map(|n| queued(&format!("dlv_{n}"), 0)).collect();
    queue.enqueue(&a, &many).await.unwrap();
    queue.enqueue(&b, &[queued("dlv_b", 0)]).await.unwrap();
    for partition in [&a, &b] {
        queue.ensure_group(partition).await.unwrap();
    }
    queue.renew_lease("dead", Duration::from_millis(300)).await.unwrap();
    queue.renew_lease("survivor", Duration::from_secs(60)).await.unwrap();
    queue.note_held("dead", &[a.clone(), b.clone()]).await.unwrap();
    let mut dead = queue.reader("dead").await.unwrap();
    assert_eq!(dead.read(&[a.clone(), b.clone()], 2_000).await.unwrap().len(), 1_201);
    drop(dead);

    assert!(queue.lapsed_workers().await.unwrap().is_empty(), "the lease still runs");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(queue.lapsed_workers().await.unwrap(), ["dead"]);
    let handed_back = queue.take_over("dead", "survivor").await.unwrap().expect("nobody else is at it");
    let mut counts: Vec<(String, usize)> = handed_back.into_iter().map(|(p, n)| (p.name().to_owned(), n)).collect();
    counts.sort();
    assert_eq!(counts, [("tnt_c1".to_owned(), 1_200), ("tnt_c2".to_owned(), 1)], "all of it, in one pass");
    assert!(queue.lapsed_workers().await.unwrap().is_empty(), "the dead worker is forgotten");

    let mut survivor = queue.reader("survivor").await.unwrap();
    let again = survivor.read(&[a.clone(), b.clone()], 2_000).await.unwrap();
    assert_eq!(again.len(), 1_201, "every entry is readable again, by anyone");
    assert!(!queue.holds_pending(&a, "dead").await.unwrap());
    assert!(queue.holds_pending(&a, "survivor").await.unwrap());
}

#[tokio::test]
async fn a_live_worker_hands_back_only_what_it_left_unacknowledged_too_long() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_own");
    queue.enqueue(&partition, &[queued("dlv_1", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("me").await.unwrap();
    assert_eq!(reader.read(std::slice::from_ref(&partition), 10).await.unwrap().len(), 1);
    assert_eq!(queue.requeue_pending(&partition, "me", Duration::from_secs(60)).await.unwrap(), 0, "not idle long");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue.requeue_pending(&partition, "me", Duration::from_millis(200)).await.unwrap(), 1);
    assert!(!queue.holds_pending(&partition, "me").await.unwrap());
    let again = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_1", 0)]);
}

#[tokio::test]
async fn a_drained_partition_leaves_the_ready_set_and_an_append_brings_it_back() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_ready");
    queue.enqueue(&partition, &[queued("dlv_1", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("me").await.unwrap();
    let round = reader.read_round(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(round.received.len(), 1);
    assert!(round.empty.is_empty());
    let round = reader.read_round(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(round.empty, std::slice::from_ref(&partition));
    assert!(reader.retire(&round.empty, 10).await.unwrap().is_empty());
    assert!(queue.ready_partitions().await.unwrap().is_empty(), "an idle partition is not listed");

    // An idle reader wakes as soon as work is announced.
    let waiting = tokio::spawn(async move {
        let started = std::time::Instant::now();
        reader.wait_for_work(Duration::from_secs(5)).await.unwrap();
        started.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    queue.enqueue(&partition, &[queued("dlv_2", 0)]).await.unwrap();
    assert!(waiting.await.unwrap() < Duration::from_secs(2), "woken by the announcement, not the timeout");
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&partition));
}

#[tokio::test]
async fn an_entry_appended_while_a_partition_is_retired_is_not_stranded() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_race");
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("me").await.unwrap();
    // The reader saw the partition empty; an append lands before it retires it.
    let round = reader.read_round(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(round.empty.len(), 1);
    queue.enqueue(&partition, &[queued("dlv_late", 0)]).await.unwrap();
    let late = reader.retire(&round.empty, 10).await.unwrap();
    assert_eq!(late.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_late", 0)]);
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&partition), "still ready");
}

#[tokio::test]
async fn the_promoter_visits_only_partitions_whose_retries_are_due() {
    let queue = queue().await;
    let now = chrono::Utc::now().timestamp_millis();
    let (soon, later) = (Partition::for_tenant("tnt_soon"), Partition::for_tenant("tnt_later"));
    queue.schedule(&soon, &[(queued("dlv_s1", 1), now - 10), (queued("dlv_s2", 1), now + 60_000)]).await.unwrap();
    queue.schedule(&later, &[(queued("dlv_l", 1), now + 120_000)]).await.unwrap();
    let mut conn = raw_connection().await;
    let due: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(queue.keys().due())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(due, [("tnt_soon".to_owned(), now - 10), ("tnt_later".to_owned(), now + 120_000)]);

    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 1);
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&soon));
    let due: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(queue.keys().due())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        due,
        [("tnt_soon".to_owned(), now + 60_000), ("tnt_later".to_owned(), now + 120_000)],
        "each partition is next visited when its earliest retry is due"
    );
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 0, "nothing else is due");
}

#[tokio::test]
async fn released_entries_go_back_to_the_stream_for_anyone() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_d");
    queue.enqueue(&partition, &[queued("dlv_1", 2)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut leaving = queue.reader("leaving").await.unwrap();
    let received = leaving.read(std::slice::from_ref(&partition), 10).await.unwrap();
    queue.release(&received[0]).await.unwrap();

    let mut other = queue.reader("other").await.unwrap();
    let again = other.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_1", 2)]);
}

#[tokio::test]
async fn a_lease_has_one_holder_at_a_time() {
    let queue = queue().await;
    assert!(queue.try_lease("job", "a", Duration::from_secs(5)).await.unwrap());
    assert!(queue.try_lease("job", "a", Duration::from_secs(5)).await.unwrap(), "the holder renews");
    assert!(!queue.try_lease("job", "b", Duration::from_secs(5)).await.unwrap());
}

#[tokio::test]
async fn what_is_not_a_herald_delivery_is_dropped_without_costing_the_rest() {
    // Something else wrote to Herald's keys: a delayed member and a stream entry that
    // are not `<delivery>:<n>:<endpoint>` and `d`, `n`, `e`.
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_e");
    queue.enqueue(&partition, &[queued("dlv_0", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut conn = raw_connection().await;
    let stream = queue.keys().stream(&partition);
    let _: String =
        redis::cmd("XADD").arg(&stream).arg("*").arg("d").arg("dlv_x").query_async(&mut conn).await.unwrap();
    let delayed = queue.keys().delayed(&partition);
    let _: () = redis::cmd("ZADD").arg(&delayed).arg(5).arg("dlv_old:3").query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("ZADD").arg(&delayed).arg(5).arg("dlv_1:2:ep_1").query_async(&mut conn).await.unwrap();

    assert_eq!(queue.promote_due(&partition, 10, 100).await.unwrap(), 2, "both left the delayed set");
    let mut reader = queue.reader("consumer").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    let good = QueuedDelivery { delivery_id: "dlv_1".into(), attempts_made: 2, endpoint_id: "ep_1".into() };
    assert_eq!(received.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_0", 0), good]);
    // The stray entry was acknowledged and deleted: only the two deliveries remain.
    assert_eq!(queue.stream_length(&partition).await.unwrap(), 2);
    let pending: redis::streams::StreamPendingReply =
        redis::cmd("XPENDING").arg(&stream).arg(CONSUMER_GROUP).query_async(&mut conn).await.unwrap();
    assert_eq!(pending.count(), 2);
}

#[tokio::test]
async fn settling_a_batch_acknowledges_and_parks_in_one_go() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_f");
    queue.enqueue(&partition, &[queued("dlv_1", 0), queued("dlv_2", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("consumer").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    // Scripts unknown to Redis (as after a restart) are loaded on the way.
    let mut conn = raw_connection().await;
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
    let settlements = [
        (received[0].clone(), Settlement::Ack),
        (received[1].clone(), Settlement::RetryLater { attempts_made: 1, due_unix_ms: 5_000 }),
    ];
    queue.settle(&settlements).await.unwrap();
    let ids = vec!["dlv_1".to_owned(), "dlv_2".to_owned()];
    assert_eq!(queue.untracked(&partition, &ids).await.unwrap(), ["dlv_1"], "acknowledged is forgotten");
    assert_eq!(queue.stream_length(&partition).await.unwrap(), 0);
    assert_eq!(queue.promote_due(&partition, 5_000, 10).await.unwrap(), 1, "parked until due");
    let again = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(), [queued("dlv_2", 1)]);
}

/// Deletes every key under the queue's prefix, as `FLUSHALL` would.
async fn lose_every_key(queue: &Queue) {
    let mut conn = raw_connection().await;
    let pattern = format!("{}*", queue.keys().ready().trim_end_matches("ready"));
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_delivery_parked_after_redis_lost_its_keys_is_still_promoted() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_lost");
    queue.enqueue(&partition, &[queued("dlv_1", 0), queued("dlv_2", 0)]).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("consumer-1").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 10).await.unwrap();
    assert_eq!(received.len(), 2);
    // Redis forgets everything while the attempts are in flight; then they are parked.
    lose_every_key(&queue).await;
    queue.settle(&[(received[0].clone(), Settlement::RetryLater { attempts_made: 1, due_unix_ms: 0 })]).await.unwrap();
    queue.retry_later(&received[1], 1, 0).await.unwrap();
    // The partition is due again, so a promoter finds both parked deliveries.
    assert_eq!(queue.promote_due_partitions(10, WAKE).await.unwrap(), 2);
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&partition));
}

#[tokio::test]
async fn the_enqueuer_queues_what_it_was_handed_in_order_per_partition() {
    let queue = queue().await;
    let enqueuer = herald_queue::Enqueuer::start(queue.clone());
    let (a, b) = (Partition::for_tenant("tnt_enq_a"), Partition::for_tenant("tnt_enq_b"));
    for n in 0..50 {
        enqueuer.submit(a.clone(), vec![queued(&format!("dlv_a{n}"), 0)]);
        enqueuer.submit(b.clone(), vec![queued(&format!("dlv_b{n}"), 0), queued(&format!("dlv_b{n}x"), 1)]);
    }
    enqueuer.submit(a.clone(), Vec::new());
    enqueuer.flush().await;

    assert_eq!(queue.ready_partitions().await.unwrap(), [a.clone(), b.clone()]);
    assert_eq!(queue.stream_length(&a).await.unwrap(), 50);
    assert_eq!(queue.stream_length(&b).await.unwrap(), 100);

    queue.ensure_group(&a).await.unwrap();
    let mut reader = queue.reader("consumer-1").await.unwrap();
    let received = reader.read(std::slice::from_ref(&a), 100).await.unwrap();
    let expected: Vec<QueuedDelivery> = (0..50).map(|n| queued(&format!("dlv_a{n}"), 0)).collect();
    assert_eq!(received.into_iter().map(|r| r.delivery).collect::<Vec<_>>(), expected, "in the order handed over");
    let ids: Vec<String> = (0..50).map(|n| format!("dlv_b{n}x")).collect();
    assert!(queue.untracked(&b, &ids).await.unwrap().is_empty(), "every delivery is tracked");
}

#[tokio::test]
async fn open_breakers_are_counted_from_their_index_until_closed_or_expired() {
    let queue = queue().await;
    let now = unix_now_ms();
    let open = SharedBreaker { open_until_ms: now + 60_000, consecutive_failures: 5 };
    let half_open = SharedBreaker { open_until_ms: now - 1_000, consecutive_failures: 9 };
    queue.open_breaker("ep_open", open, Duration::from_secs(120)).await.unwrap();
    queue.open_breaker("ep_half_open", half_open, Duration::from_secs(120)).await.unwrap();
    queue.open_breaker("ep_expiring", open, Duration::from_millis(50)).await.unwrap();
    queue.open_breaker("ep_closed", open, Duration::from_secs(120)).await.unwrap();
    queue.close_breaker("ep_closed").await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(queue.breaker_counts(unix_now_ms()).await.unwrap(), (1, 1));
    assert_eq!(queue.breaker("ep_open").await.unwrap(), Some(open));
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn deliveries_waiting_for_an_endpoint_come_back_only_when_released_or_woken() {
    let queue = queue().await;
    let partition = Partition::for_tenant("tnt_w");
    let for_endpoint = |n: u32| QueuedDelivery {
        delivery_id: format!("dlv_{n}"),
        attempts_made: 2,
        endpoint_id: "ep_busy".to_owned(),
    };
    queue.enqueue(&partition, &(0..10).map(for_endpoint).collect::<Vec<_>>()).await.unwrap();
    queue.ensure_group(&partition).await.unwrap();
    let mut reader = queue.reader("consumer").await.unwrap();
    let received = reader.read(std::slice::from_ref(&partition), 100).await.unwrap();
    assert_eq!(received.len(), 10);
    assert!(received.iter().all(|r| !r.waited));
    let wake = unix_now_ms() + 3_600_000;
    for delivery in &received {
        queue.wait_for_endpoint(delivery, wake).await.unwrap();
    }
    assert_eq!(queue.stream_length(&partition).await.unwrap(), 0, "moved out of the stream");
    assert_eq!(queue.partition_stats(&partition).await.unwrap().delayed, 10, "counted as parked");
    let ids: Vec<String> = (0..10).map(|n| format!("dlv_{n}")).collect();
    assert!(queue.untracked(&partition, &ids).await.unwrap().is_empty(), "still tracked");
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 0, "nothing is due before the wake");

    // A lane with room brings back the oldest, marked as having waited.
    assert_eq!(queue.release_waiting(&partition, "ep_busy", 4).await.unwrap(), 4);
    assert_eq!(queue.ready_partitions().await.unwrap(), std::slice::from_ref(&partition));
    let back = reader.read(std::slice::from_ref(&partition), 100).await.unwrap();
    assert_eq!(
        back.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>(),
        (0..4).map(for_endpoint).collect::<Vec<_>>()
    );
    assert!(back.iter().all(|r| r.waited));

    // Parked again with a wake that has passed: the promoter releases one batch and
    // sets the next wake a minute on, so the rest stay put.
    for delivery in &back {
        queue.wait_for_endpoint(delivery, unix_now_ms() - 1).await.unwrap();
    }
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 3, "one batch per wake");
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 0, "the next wake is a minute on");
    assert_eq!(reader.read(std::slice::from_ref(&partition), 100).await.unwrap().len(), 3);
    assert_eq!(queue.partition_stats(&partition).await.unwrap().delayed, 7);

    // Draining the set forgets the endpoint's wake.
    assert_eq!(queue.release_waiting(&partition, "ep_busy", 100).await.unwrap(), 7);
    assert_eq!(queue.release_waiting(&partition, "ep_busy", 100).await.unwrap(), 0);
    let mut conn = raw_connection().await;
    let wakes: u64 = redis::cmd("ZCARD").arg(queue.keys().wakes(&partition)).query_async(&mut conn).await.unwrap();
    assert_eq!(wakes, 0);
}

/// One partition of a read round lost its consumer group (a failover promoted a
/// replica that never had it): the others' entries, which Redis handed to this reader
/// in the same round, still come back, and the lost group is made again for the next
/// round.
#[tokio::test]
async fn a_partition_without_its_group_does_not_cost_the_others_their_entries() {
    let queue = queue().await;
    let (kept, lost) = (Partition::for_tenant("tnt_kept"), Partition::for_tenant("tnt_lost"));
    for partition in [&kept, &lost] {
        queue.enqueue(partition, &[queued(&format!("dlv_{}", partition.name()), 0)]).await.unwrap();
        queue.ensure_group(partition).await.unwrap();
    }
    let stream = queue.keys().stream(&lost);
    let _: () = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(&stream)
        .arg("herald-workers")
        .query_async(&mut raw_connection().await)
        .await
        .unwrap();

    let mut reader = queue.reader("consumer-1").await.unwrap();
    let round = reader.read_round(&[kept.clone(), lost.clone()], 10).await.expect("the round succeeds");
    let read: Vec<&str> = round.received.iter().map(|r| r.delivery.delivery_id.as_str()).collect();
    assert_eq!(read, ["dlv_tnt_kept"]);
    assert!(!round.empty.contains(&lost), "a partition whose group was lost is not empty, only unread");
    let again = reader.read(std::slice::from_ref(&lost), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.delivery.delivery_id.as_str()).collect::<Vec<_>>(), ["dlv_tnt_lost"]);
}

/// The indexes lost their entries while the partitions' keys kept the work; listing
/// the partitions again finds it.
#[tokio::test]
async fn reindexed_partitions_are_read_and_promoted_again() {
    let queue = queue().await;
    let (unread, parked) = (Partition::for_tenant("tnt_unread"), Partition::for_tenant("tnt_parked"));
    queue.enqueue(&unread, &[queued("dlv_unread", 0)]).await.unwrap();
    queue.schedule(&parked, &[(queued("dlv_parked", 1), 0)]).await.unwrap();
    let mut raw = raw_connection().await;
    let indexes = [queue.keys().ready(), queue.keys().due()];
    let _: () = redis::cmd("DEL").arg(&indexes).query_async(&mut raw).await.unwrap();
    assert!(queue.ready_partitions().await.unwrap().is_empty());
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 0, "nothing listed, nothing found");

    queue.reindex(&[unread.clone(), parked.clone()]).await.unwrap();
    assert_eq!(queue.promote_due_partitions(100, WAKE).await.unwrap(), 1, "the parked retry is promoted");
    let mut ready = vec![unread.clone(), parked.clone()];
    ready.sort();
    assert_eq!(queue.ready_partitions().await.unwrap(), ready);
    // A partition with nothing parked leaves the due index on the promoter's look.
    let due: Vec<String> = redis::cmd("ZRANGE").arg(&indexes[1]).arg(0).arg(-1).query_async(&mut raw).await.unwrap();
    assert!(due.is_empty(), "{due:?}");
}
