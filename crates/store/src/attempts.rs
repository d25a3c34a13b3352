//! Attempts: one HTTP try of a delivery each.

use chrono::{DateTime, Utc};
use herald_core::{AttemptId, TenantId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::entity::attempt;
use crate::{Page, Store, StoreResult};

/// What recording an attempt needs.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub id: AttemptId,
    pub tenant_id: String,
    pub app_id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub delivery_id: String,
    pub attempt_number: i32,
    pub url: String,
    /// Svix's MessageStatus code (0 success, 2 failed).
    pub status: i16,
    pub outcome_class: String,
    pub response_status_code: i16,
    pub response: String,
    pub response_duration_ms: i64,
    /// Svix's MessageAttemptTriggerType (0 scheduled, 1 manual).
    pub trigger_type: i16,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn attempt_row(new: NewAttempt) -> attempt::ActiveModel {
    attempt::ActiveModel {
        id: Set(new.id.into_string()),
        tenant_id: Set(new.tenant_id),
        app_id: Set(new.app_id),
        msg_id: Set(new.msg_id),
        endpoint_id: Set(new.endpoint_id),
        delivery_id: Set(new.delivery_id),
        attempt_number: Set(new.attempt_number),
        url: Set(new.url),
        status: Set(new.status),
        outcome_class: Set(new.outcome_class),
        response_status_code: Set(new.response_status_code),
        response: Set(new.response),
        response_duration_ms: Set(new.response_duration_ms),
        trigger_type: Set(new.trigger_type),
        next_attempt_at: Set(new.next_attempt_at),
        created_at: Set(new.created_at),
    }
}

impl Store {
    /// A message's attempts, newest first, one page at a time. Returns up to
    /// `page.limit + 1` rows so the caller can tell whether another page exists.
    pub async fn list_message_attempts(
        &self,
        tenant_id: &TenantId,
        app_id: &str,
        msg_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<attempt::Model>> {
        let mut query = attempt::Entity::find()
            .filter(attempt::Column::TenantId.eq(tenant_id.as_str()))
            .filter(attempt::Column::AppId.eq(app_id))
            .filter(attempt::Column::MsgId.eq(msg_id));
        if let Some(iterator) = &page.iterator {
            query = query.filter(attempt::Column::Id.lt(iterator.as_str()));
        }
        Ok(query.order_by_desc(attempt::Column::Id).limit(page.limit + 1).all(&self.db).await?)
    }
}
