//! Herald's observability: the Prometheus metrics ([`Metrics`]) and the trace context
//! that links a message's ingest to its attempts ([`trace`]).
//!
//! **What it must not know:** Redis, SQL or HTTP. It holds numbers and trace
//! contexts; the `herald` crate serves `/metrics` and installs the exporters.

mod metrics;
pub mod trace;

pub use metrics::{EndpointLabels, Metrics, Snapshot};
