//! How long a message is kept: its payload for the *payload retention*, everything else
//! about it (the message, its deliveries and attempts) for the *metadata retention*.
//!
//! Both are fixed when the message is accepted, from the tenant's periods (its own
//! overrides, else the settings) and the sender's `payloadRetentionPeriod` /
//! `payloadRetentionHours`; the pruner then only compares stored instants with the clock.
//! A payload never outlives its message: a longer payload period is cut to the metadata
//! period.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A tenant's retention periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub payload: Duration,
    pub metadata: Duration,
}

/// When a message's payload is expunged and when the message is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub payload_at: DateTime<Utc>,
    pub metadata_at: DateTime<Utc>,
}

/// The longest period Herald stores (about a thousand years): beyond it the instant would
/// leave what the databases keep.
pub const LONGEST: Duration = Duration::from_secs(1000 * 365 * 24 * 3600);

impl Default for Retention {
    /// Seven days of payload and ninety of metadata (the settings' defaults).
    fn default() -> Self {
        Self { payload: Duration::from_secs(7 * 24 * 3600), metadata: Duration::from_secs(90 * 24 * 3600) }
    }
}

impl Retention {
    /// These periods, with a tenant's overrides (seconds) where it has them.
    pub fn overridden(self, payload_secs: Option<i64>, metadata_secs: Option<i64>) -> Self {
        let seconds = |secs: Option<i64>, default: Duration| {
            secs.and_then(|secs| u64::try_from(secs).ok()).map_or(default, Duration::from_secs)
        };
        Self { payload: seconds(payload_secs, self.payload), metadata: seconds(metadata_secs, self.metadata) }
    }

    /// The expiry of a message accepted at `now`, whose sender asked for its payload to be
    /// kept for `asked` (if at all). The sender's period replaces the tenant's payload
    /// period; neither outlives the metadata period.
    pub fn expiry(self, now: DateTime<Utc>, asked: Option<Duration>) -> Expiry {
        let metadata = self.metadata.min(LONGEST);
        let payload = asked.unwrap_or(self.payload).min(metadata);
        let after = |period: Duration| now + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX);
        Expiry { payload_at: after(payload), metadata_at: after(metadata) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600;

    fn at() -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_defaults_are_seven_and_ninety_days() {
        let expiry = Retention::default().expiry(at(), None);
        assert_eq!(expiry.payload_at, at() + chrono::Duration::days(7));
        assert_eq!(expiry.metadata_at, at() + chrono::Duration::days(90));
    }

    #[test]
    fn a_tenants_overrides_replace_the_settings() {
        let retention = Retention::default().overridden(Some(3600), None);
        assert_eq!(retention.payload, Duration::from_secs(3600));
        assert_eq!(retention.metadata, Duration::from_secs(90 * DAY));
        let retention = Retention::default().overridden(None, Some(DAY as i64));
        assert_eq!(retention.metadata, Duration::from_secs(DAY));
    }

    #[test]
    fn the_senders_period_replaces_the_tenants_payload_period() {
        let expiry = Retention::default().expiry(at(), Some(Duration::from_secs(30 * DAY)));
        assert_eq!(expiry.payload_at, at() + chrono::Duration::days(30));
    }

    #[test]
    fn a_payload_never_outlives_its_message() {
        let retention = Retention { payload: Duration::from_secs(10 * DAY), metadata: Duration::from_secs(DAY) };
        let expiry = retention.expiry(at(), None);
        assert_eq!(expiry.payload_at, expiry.metadata_at);
        let expiry = retention.expiry(at(), Some(Duration::from_secs(90 * DAY)));
        assert_eq!(expiry.payload_at, at() + chrono::Duration::days(1));
    }

    #[test]
    fn an_enormous_period_is_cut_to_what_a_database_keeps() {
        let retention = Retention { payload: Duration::MAX, metadata: Duration::MAX };
        let expiry = retention.expiry(at(), None);
        assert!(chrono::Datelike::year(&expiry.metadata_at) < 4000, "{}", expiry.metadata_at);
    }
}
