//! Prometheus metrics.
//!
//! One [`Metrics`] per running Herald (not a process global: tests run several in one
//! process), shared by the API, which counts what it accepts and refuses, and the
//! worker, which counts attempts and how deliveries end. The gauges (queue depth,
//! oldest entry, delayed set, dead letters, breakers) are read from Redis and the
//! database when `/metrics` is scraped, by the `herald` crate, and set here.
//!
//! Labels are bounded: `tenant` (one per tenant), `outcome`, `status`, `code`,
//! `state`. Never a message id or a URL. Per-endpoint counts exist only when asked
//! for, and only for the first `limit` endpoints seen; the rest count as `other`.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Attempt durations, in seconds: from a fast local receiver to the longest timeout.
const DURATION_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0];

/// Per-endpoint labels, when turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLabels {
    /// At most this many endpoints get their own label.
    pub limit: usize,
}

/// What one scrape read from Redis and the database, per tenant where it applies.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// (tenant, entries in its stream, age in seconds of the oldest one, entries in its delayed set)
    pub partitions: Vec<(String, u64, f64, u64)>,
    /// (tenant, dead letters)
    pub dead_letters: Vec<(String, u64)>,
    /// (tenant, the most messages any of its polling-endpoint consumers is behind)
    pub consumer_lag: Vec<(String, u64)>,
    /// (tenant, deliveries that succeeded longer ago than their endpoint's receipt
    /// window and have no receipt)
    pub unconfirmed: Vec<(String, u64)>,
    pub breakers_open: u64,
    pub breakers_half_open: u64,
}

/// Every metric Herald exposes, in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    messages_accepted: IntCounterVec,
    ingest_rejected: IntCounterVec,
    ingest_throttled: IntCounterVec,
    attempts: IntCounterVec,
    attempt_duration: HistogramVec,
    deliveries_finished: IntCounterVec,
    reclaimed: IntCounterVec,
    reconciled: IntCounterVec,
    pruned: IntCounterVec,
    polls: IntCounterVec,
    poll_waits: IntCounterVec,
    consumer_lag: IntGaugeVec,
    unconfirmed: IntGaugeVec,
    endpoint_attempts: Option<(IntCounterVec, EndpointLabels, Mutex<HashSet<String>>)>,
    queue_depth: IntGaugeVec,
    queue_oldest_age: GaugeVec,
    delayed: IntGaugeVec,
    dead_letters: IntGaugeVec,
    breakers: IntGaugeVec,
    worker_up: IntGauge,
    scrape_duration: Gauge,
    build_info: IntGaugeVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

impl Metrics {
    /// A fresh registry; `endpoint_labels` turns on `herald_endpoint_attempts_total`.
    pub fn new(version: &str, endpoint_labels: Option<EndpointLabels>) -> Self {
        let registry = Registry::new();
        let r = &registry;
        let build_info = gauge(r, "herald_build_info", "Always 1; the version is a label.", &["version"]);
        build_info.with_label_values(&[version]).set(1);
        let attempt_duration = HistogramVec::new(
            HistogramOpts::new("herald_attempt_duration_seconds", "How long delivery attempts took.")
                .buckets(DURATION_BUCKETS.to_vec()),
            &["tenant"],
        )
        .expect("a valid metric");
        registry.register(Box::new(attempt_duration.clone())).expect("registered once");
        let queue_oldest_age = GaugeVec::new(
            Opts::new("herald_queue_oldest_age_seconds", "Age of the oldest entry in the tenant's stream."),
            &["tenant"],
        )
        .expect("a valid metric");
        registry.register(Box::new(queue_oldest_age.clone())).expect("registered once");
        let worker_up =
            IntGauge::new("herald_worker_up", "1 when this process runs a delivery worker.").expect("a valid metric");
        registry.register(Box::new(worker_up.clone())).expect("registered once");
        let scrape_duration =
            Gauge::new("herald_scrape_duration_seconds", "How long reading the gauges for this scrape took.")
                .expect("a valid metric");
        registry.register(Box::new(scrape_duration.clone())).expect("registered once");
        let endpoint_attempts = endpoint_labels.map(|labels| {
            let metric = counter(
                r,
                "herald_endpoint_attempts_total",
                "Delivery attempts per endpoint (the first endpoints seen; the rest as `other`).",
                &["tenant", "endpoint", "outcome"],
            );
            (metric, labels, Mutex::new(HashSet::new()))
        });
        Self {
            messages_accepted: counter(r, "herald_messages_accepted_total", "Messages accepted.", &["tenant"]),
            ingest_rejected: counter(
                r,
                "herald_ingest_rejected_total",
                "Message-create requests refused with a 4xx, by error code.",
                &["code"],
            ),
            pruned: counter(
                r,
                "herald_retention_pruned_total",
                "What the retention pruner removed: `payload` (payloads expunged) or `message` (messages deleted with their deliveries and attempts).",
                &["kind"],
            ),
            ingest_throttled: counter(
                r,
                "herald_ingest_throttled_total",
                "Message-create requests refused with 429: the tenant was over its ingest rate limit (reason rate_limit) or a backlog cap (reason backlog).",
                &["tenant", "reason"],
            ),
            attempts: counter(
                r,
                "herald_attempts_total",
                "Delivery attempts by outcome class.",
                &["tenant", "outcome"],
            ),
            deliveries_finished: counter(
                r,
                "herald_deliveries_finished_total",
                "Deliveries that reached a final state: succeeded or dead_lettered.",
                &["tenant", "status"],
            ),
            reclaimed: counter(
                r,
                "herald_reclaimed_deliveries_total",
                "Deliveries taken over from a worker that stopped answering.",
                &["tenant"],
            ),
            reconciled: counter(
                r,
                "herald_reconciled_deliveries_total",
                "Deliveries queued again because Redis had lost them.",
                &["tenant"],
            ),
            polls: counter(
                r,
                "herald_polls_total",
                "Reads of polling endpoints, by kind: poll, consumer, stream (a stream counts once).",
                &["tenant", "kind"],
            ),
            poll_waits: counter(
                r,
                "herald_poll_waits_total",
                "Long-poll waits, by how they ended: woken (the feed moved) or timed_out.",
                &["tenant", "outcome"],
            ),
            consumer_lag: gauge(
                r,
                "herald_poller_consumer_lag_messages",
                "The most messages any polling-endpoint consumer of the tenant is behind its application's feed.",
                &["tenant"],
            ),
            unconfirmed: gauge(
                r,
                "herald_unconfirmed_deliveries",
                "Deliveries that succeeded longer ago than their endpoint's receipt window without a receipt.",
                &["tenant"],
            ),
            queue_depth: gauge(
                r,
                "herald_queue_depth",
                "Entries in the tenant's stream (queued or in flight).",
                &["tenant"],
            ),
            delayed: gauge(
                r,
                "herald_delayed_deliveries",
                "Deliveries parked in the tenant's delayed set.",
                &["tenant"],
            ),
            dead_letters: gauge(r, "herald_dead_letters", "Dead-lettered deliveries, per tenant.", &["tenant"]),
            breakers: gauge(r, "herald_breakers", "Endpoints whose circuit breaker is open or half-open.", &["state"]),
            attempt_duration,
            queue_oldest_age,
            worker_up,
            scrape_duration,
            build_info,
            endpoint_attempts,
            registry,
        }
    }

    pub fn message_accepted(&self, tenant: &str) {
        self.messages_accepted.with_label_values(&[tenant]).inc();
    }

    pub fn ingest_rejected(&self, code: &str) {
        self.ingest_rejected.with_label_values(&[code]).inc();
    }

    /// A message-create request refused for the tenant's ingest rate limit
    /// (`rate_limit`) or backlog caps (`backlog`).
    pub fn ingest_throttled(&self, tenant: &str, reason: &str) {
        self.ingest_throttled.with_label_values(&[tenant, reason]).inc();
    }

    /// One attempt to an endpoint, with its outcome class and duration.
    pub fn attempt(&self, tenant: &str, endpoint: &str, outcome: &str, seconds: f64) {
        self.attempts.with_label_values(&[tenant, outcome]).inc();
        self.attempt_duration.with_label_values(&[tenant]).observe(seconds);
        if let Some((metric, labels, seen)) = &self.endpoint_attempts {
            let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let labelled = seen.contains(endpoint) || {
                let room = seen.len() < labels.limit;
                if room {
                    seen.insert(endpoint.to_owned());
                }
                room
            };
            let endpoint = if labelled { endpoint } else { "other" };
            metric.with_label_values(&[tenant, endpoint, outcome]).inc();
        }
    }

    /// A read of a polling endpoint (`poll`, `consumer`, or a `stream` opened).
    pub fn poll(&self, tenant: &str, kind: &str) {
        self.polls.with_label_values(&[tenant, kind]).inc();
    }

    /// A long-poll wait ended: the feed moved (`woken`) or the wait ran out.
    pub fn poll_wait(&self, tenant: &str, woken: bool) {
        let outcome = if woken { "woken" } else { "timed_out" };
        self.poll_waits.with_label_values(&[tenant, outcome]).inc();
    }

    /// A delivery reached a final state; `succeeded` or else dead-lettered.
    pub fn delivery_finished(&self, tenant: &str, succeeded: bool) {
        let status = if succeeded { "succeeded" } else { "dead_lettered" };
        self.deliveries_finished.with_label_values(&[tenant, status]).inc();
    }

    /// One pass of the retention pruner: payloads expunged, messages deleted.
    pub fn pruned(&self, payloads: u64, messages: u64) {
        self.pruned.with_label_values(&["payload"]).inc_by(payloads);
        self.pruned.with_label_values(&["message"]).inc_by(messages);
    }

    pub fn reclaimed(&self, tenant: &str, count: u64) {
        self.reclaimed.with_label_values(&[tenant]).inc_by(count);
    }

    pub fn reconciled(&self, tenant: &str, count: u64) {
        self.reconciled.with_label_values(&[tenant]).inc_by(count);
    }

    pub fn set_worker_up(&self, up: bool) {
        self.worker_up.set(i64::from(up));
    }

    /// Replaces every gauge with what a scrape read (tenants gone since drop out).
    pub fn set_snapshot(&self, snapshot: &Snapshot, took_seconds: f64) {
        self.queue_depth.reset();
        self.queue_oldest_age.reset();
        self.delayed.reset();
        for (tenant, depth, oldest, delayed) in &snapshot.partitions {
            self.queue_depth.with_label_values(&[tenant]).set(*depth as i64);
            self.queue_oldest_age.with_label_values(&[tenant]).set(*oldest);
            self.delayed.with_label_values(&[tenant]).set(*delayed as i64);
        }
        self.dead_letters.reset();
        for (tenant, count) in &snapshot.dead_letters {
            self.dead_letters.with_label_values(&[tenant]).set(*count as i64);
        }
        self.consumer_lag.reset();
        for (tenant, lag) in &snapshot.consumer_lag {
            self.consumer_lag.with_label_values(&[tenant]).set(*lag as i64);
        }
        self.unconfirmed.reset();
        for (tenant, count) in &snapshot.unconfirmed {
            self.unconfirmed.with_label_values(&[tenant]).set(*count as i64);
        }
        self.breakers.with_label_values(&["open"]).set(snapshot.breakers_open as i64);
        self.breakers.with_label_values(&["half_open"]).set(snapshot.breakers_half_open as i64);
        self.scrape_duration.set(took_seconds);
    }

    /// The name of every metric this registry can expose. A labelled metric shows in
    /// [`Metrics::render`] only once it has a sample; this lists it either way.
    pub fn names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        let mut collectors: Vec<&dyn Collector> = vec![
            &self.messages_accepted,
            &self.ingest_rejected,
            &self.ingest_throttled,
            &self.attempts,
            &self.attempt_duration,
            &self.deliveries_finished,
            &self.reclaimed,
            &self.reconciled,
            &self.pruned,
            &self.queue_depth,
            &self.queue_oldest_age,
            &self.delayed,
            &self.dead_letters,
            &self.polls,
            &self.poll_waits,
            &self.consumer_lag,
            &self.unconfirmed,
            &self.breakers,
            &self.worker_up,
            &self.scrape_duration,
            &self.build_info,
        ];
        if let Some((metric, _, _)) = &self.endpoint_attempts {
            collectors.push(metric);
        }
        collectors.iter().flat_map(|c| c.desc()).map(|desc| desc.fq_name.clone()).collect()
    }

    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer).expect("text encoding never fails");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels() {
        let metrics = Metrics::new("1.2.3", None);
        metrics.message_accepted("ten_a");
        metrics.message_accepted("ten_a");
        metrics.attempt("ten_a", "ep_1", "timeout", 0.3);
        let text = metrics.render();
        assert!(text.contains(r#"herald_messages_accepted_total{tenant="ten_a"} 2"#), "{text}");
        assert!(text.contains(r#"herald_attempts_total{outcome="timeout",tenant="ten_a"} 1"#), "{text}");
        assert!(text.contains(r#"herald_build_info{version="1.2.3"} 1"#), "{text}");
        assert!(!text.contains("herald_endpoint_attempts_total"), "per-endpoint labels are off by default");
    }

    #[test]
    fn endpoint_labels_stop_at_their_limit() {
        let metrics = Metrics::new("0", Some(EndpointLabels { limit: 2 }));
        for endpoint in ["ep_1", "ep_2", "ep_3", "ep_1", "ep_4"] {
            metrics.attempt("t", endpoint, "success", 0.01);
        }
        let text = metrics.render();
        assert!(text.contains(r#"endpoint="ep_1",outcome="success",tenant="t"} 2"#), "{text}");
        assert!(text.contains(r#"endpoint="ep_2""#), "{text}");
        assert!(text.contains(r#"endpoint="other",outcome="success",tenant="t"} 2"#), "{text}");
        assert!(!text.contains("ep_3") && !text.contains("ep_4"), "{text}");
    }

    #[test]
    fn a_snapshot_replaces_the_gauges() {
        let metrics = Metrics::new("0", None);
        let first = Snapshot { partitions: vec![("gone".into(), 5, 1.5, 2)], ..Snapshot::default() };
        metrics.set_snapshot(&first, 0.001);
        assert!(metrics.render().contains(r#"herald_queue_depth{tenant="gone"} 5"#));
        let second = Snapshot {
            partitions: vec![("here".into(), 1, 0.0, 0)],
            dead_letters: vec![("here".into(), 3)],
            breakers_open: 1,
            ..Snapshot::default()
        };
        metrics.set_snapshot(&second, 0.001);
        let text = metrics.render();
        assert!(!text.contains("gone"), "a tenant without a partition drops out: {text}");
        assert!(text.contains(r#"herald_dead_letters{tenant="here"} 3"#), "{text}");
        assert!(text.contains(r#"herald_breakers{state="open"} 1"#), "{text}");
    }
}
