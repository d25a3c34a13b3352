//! The life of a delivery, as stored and as shown through the Svix-compatible API.

use std::fmt;

use crate::id::{DeliveryId, EndpointId, TenantId};

/// A delivery to hand to the queue: the one shape the store gives out and the queue
/// takes. Only a pending delivery with a due time becomes one; a pending ordered
/// delivery held behind an earlier one of its key has none, and is handed over when
/// that one finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// Whose queue partition it goes in.
    pub tenant_id: TenantId,
    pub delivery_id: DeliveryId,
    /// The endpoint's lane it waits in.
    pub endpoint_id: EndpointId,
    /// Attempts made before the next one.
    pub attempts_made: u32,
    /// When the next attempt is due (Unix ms): queued at once when it has come, parked
    /// until then when it has not.
    pub due_unix_ms: i64,
}

impl DueDelivery {
    /// Whether the delivery may be attempted at `now_unix_ms`.
    pub fn is_due(&self, now_unix_ms: i64) -> bool {
        self.due_unix_ms <= now_unix_ms
    }
}

/// Where a delivery stands. The string form is what the database stores.
///
/// `Failed` is the dead-letter state: the retry schedule is exhausted (or the
/// endpoint told us to go away with 410), and only a replay sends it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (queued now or later).
    Pending,
    /// Delivered with a 2xx response.
    Succeeded,
    /// Dead-lettered: no further automatic attempts.
    Failed,
    /// Taken out of the dead-letter queue on purpose: kept for the record, never
    /// attempted again unless someone resends it.
    Discarded,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending)
    }
}

impl crate::TextForm for DeliveryStatus {
    const KIND: &'static str = "delivery status";

    fn text(&self) -> &str {
        self.as_str()
    }

    fn from_text(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Svix's `MessageStatus` integer codes, used for attempts and deliveries in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvixMessageStatus {
    Success = 0,
    Pending = 1,
    Fail = 2,
    Sending = 3,
}

impl SvixMessageStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Svix's `MessageStatusText`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Pending => "pending",
            Self::Fail => "fail",
            Self::Sending => "sending",
        }
    }
}
