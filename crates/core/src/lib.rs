//! Herald's pure domain.
//!
//! This crate owns the ideas every other crate shares: prefixed, time-sortable ids
//! ([`id`]), Standard Webhooks signing ([`signing`]), API-key hashing ([`api_key`]),
//! the retry schedule ([`retry`]) and the one place where an attempt's outcome becomes
//! a decision ([`decide`]), the circuit breaker's state machine ([`breaker`]), what an attempt says about
//! its endpoint ([`health`]), and
//! which custom headers an endpoint may set and which values are masked ([`headers`]), and
//! the one text form of ids and states the store keeps ([`text`]).
//!
//! **What it must not know:** tokio, sea-orm, redis, reqwest, the clock or a random
//! number generator. Everything time- or chance-dependent takes `now` and a random
//! draw as arguments, so every rule here is a table test away from being checked.

pub mod api_key;
pub mod breaker;
pub mod decide;
pub mod delivery;
pub mod headers;
pub mod health;
pub mod id;
pub mod ramp;
pub mod retention;
pub mod retry;
pub mod schema_mode;
pub mod signing;
pub mod text;

pub use decide::{decide, AttemptOutcome, Decision, DeliveryPolicy};
pub use delivery::{DeliveryStatus, DueDelivery};
pub use health::EndpointHealth;
pub use id::{
    ApiKeyId, ApplicationId, AttemptId, AuditId, BackgroundTaskId, DeliveryId, EndpointId, EventTypeId, MessageId,
    PollerId, ScopedKeyId, TenantId,
};
pub use retention::{Expiry, Retention};
pub use retry::{RetrySchedule, RetryScheduleError};
pub use schema_mode::SchemaMode;
pub use signing::{EndpointSecret, EndpointSigningKey, SecretError};
pub use text::TextForm;
