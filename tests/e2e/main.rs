//! Herald's end-to-end suite: real PostgreSQL, real Redis, real HTTP receivers on
//! 127.0.0.1, and — where the operator contract is the point — the real binary.

mod api;
mod backpressure;
mod bad_input;
mod breaker;
mod crash;
mod database_outage;
mod dead_letter;
mod delivery;
mod failure_battery;
mod fuzz;
mod isolation;
mod many_tenants;
mod noisy_neighbour;
mod observability;
mod operational;
mod ordered;
mod parked_backlog;
mod pull;
mod rate_limit;
mod receipts;
mod recovery;
mod redis_cluster;
mod redis_loss;
mod redis_tls;
mod retention;
mod scheduled;
mod sdk;
mod security;
mod ssrf;
mod stale_statistics;
mod takeover;
