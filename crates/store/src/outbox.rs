//! The operational outbox: what a tenant's operational endpoints are to be told.
//!
//! [`Store::record_attempts`] writes a notice in the same transaction as the attempt
//! that causes it (a delivery exhausted its retries, an endpoint was disabled), so a
//! crash after that commit cannot lose the notice. The worker's relay reads the outbox,
//! turns each notice into a message to the tenant's operational application, and then
//! removes it. Sending is idempotent: the message carries the notice's id as its
//! `eventId`, so two relays, or one that crashed before removing, send it once.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};

use crate::entity::operational_outbox;
use crate::{DisableReason, Store, StoreResult};
use herald_core::TenantId;

/// One notice, in the words of Svix's operational webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationalNotice {
    /// `endpoint.disabled`.
    EndpointDisabled {
        app_id: String,
        endpoint_id: String,
        endpoint_uid: Option<String>,
        /// `gone` (a 410) or `failing` (failing for too long).
        reason: String,
        failing_since: Option<DateTime<Utc>>,
    },
    /// `message.attempt.exhausted`: the delivery's last attempt failed and it was dead-lettered.
    AttemptExhausted {
        app_id: String,
        msg_id: String,
        endpoint_id: String,
        attempt_id: String,
        response_status_code: i16,
        at: DateTime<Utc>,
    },
}

impl OperationalNotice {
    /// The application the notice is about.
    pub fn app_id(&self) -> &str {
        match self {
            Self::EndpointDisabled { app_id, .. } | Self::AttemptExhausted { app_id, .. } => app_id,
        }
    }

    /// Svix's event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::EndpointDisabled { .. } => "endpoint.disabled",
            Self::AttemptExhausted { .. } => "message.attempt.exhausted",
        }
    }

    pub(crate) fn disabled(endpoint: &crate::entity::endpoint::Model, reason: DisableReason) -> Self {
        Self::EndpointDisabled {
            app_id: endpoint.app_id.to_string(),
            endpoint_id: endpoint.id.to_string(),
            endpoint_uid: endpoint.uid.clone(),
            reason: match reason {
                DisableReason::Gone => "gone",
                DisableReason::FailingTooLong => "failing",
            }
            .to_owned(),
            failing_since: endpoint.failing_since,
        }
    }
}

/// A notice waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Also the `eventId` of the message that carries it.
    pub id: String,
    pub tenant_id: TenantId,
    pub notice: OperationalNotice,
}

/// Writes notices inside the caller's transaction.
pub(crate) async fn write_notices(
    db: &impl ConnectionTrait,
    notices: Vec<(TenantId, OperationalNotice)>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let millis = now.timestamp_millis().max(0) as u64;
    let rows = notices.into_iter().map(|(tenant_id, notice)| operational_outbox::ActiveModel {
        id: Set(format!("opn_{millis:013}{}", hex_random())),
        tenant_id: Set(tenant_id.into()),
        notice: Set(serde_json::to_value(&notice).expect("a notice is plain data")),
        created_at: Set(now),
    });
    operational_outbox::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

fn hex_random() -> String {
    rand::random::<[u8; 8]>().iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Store {
    /// The oldest notices in the outbox, at most `limit`. A row that no longer parses
    /// (written by a newer version) is skipped and stays.
    pub async fn outbox_batch(&self, limit: u64) -> StoreResult<Vec<OutboxEntry>> {
        let rows = operational_outbox::Entity::find()
            .order_by_asc(operational_outbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let notice = serde_json::from_value(row.notice).ok()?;
                Some(OutboxEntry { id: row.id, tenant_id: row.tenant_id.into_inner(), notice })
            })
            .collect())
    }

    /// Removes sent notices.
    pub async fn remove_from_outbox(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        operational_outbox::Entity::delete_many()
            .filter(operational_outbox::Column::Id.is_in(ids.iter().map(String::as_str)))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
