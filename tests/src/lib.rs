//! Herald's test harness, shared by the end-to-end suite in `tests/e2e/`.
//!
//! - [`services`]: finds the real PostgreSQL and Redis the suite runs against, and
//!   hands out a fresh database and a unique Redis key prefix per test.
//! - [`TestReceiver`]: a real HTTP server on `127.0.0.1:0` that records every request
//!   and answers as it is told (status, delay, hang, reset, garbage).
//! - [`TestApp`]: Herald started in-process (API and worker) with its own database,
//!   prefix and tenant, plus a client for its API.
//! - [`HeraldProcess`]: the compiled `herald` binary, driven like an operator would
//!   (start, `kill -9`, SIGTERM, restart).
//! - [`verifier`]: the independent Standard Webhooks verifier (PyPI `standardwebhooks`).

pub mod app;
pub mod fuzz;
pub mod postgres;
pub mod process;
pub mod receiver;
pub mod redis_topology;
pub mod sdk;
pub mod services;
pub mod verifier;

pub use app::{TestApp, TestAppBuilder};
pub use postgres::PrivatePostgres;
pub use process::{HeraldProcess, Installation};
pub use receiver::{RecordedRequest, Reply, TestReceiver};

use std::time::Duration;

/// Polls `check` every 50 ms until it returns `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
