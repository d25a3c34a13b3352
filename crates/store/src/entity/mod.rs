//! sea-orm entities, one per table. Only this crate sees them as tables; other
//! crates receive their `Model`s as plain data.

pub mod api_key;
pub mod application;
pub mod attempt;
pub mod audit_entry;
pub mod background_task;
pub mod delivery;
pub mod endpoint;
pub mod event_type;
pub mod idempotency_key;
pub mod maintenance_pass;
pub mod message;
pub mod message_feed;
pub mod operational_outbox;
pub mod ordering_key;
pub mod poller;
pub mod poller_consumer;
pub mod portal_token;
pub mod scoped_key;
pub mod tenant;
mod typed;

pub use typed::{Names, Stored};
