//! Attempts: one HTTP try of a delivery each.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, AttemptId, DeliveryId, EndpointId, MessageId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Select, Set};

use crate::entity::{attempt, Stored};
use crate::messages::MessageFilter;
use crate::paging::{fetch_page, Listed, Page};
use crate::{Store, StoreResult};

/// What recording an attempt needs.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub id: AttemptId,
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    pub msg_id: MessageId,
    pub endpoint_id: EndpointId,
    pub delivery_id: DeliveryId,
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
    /// The request headers sent, as a JSON object of name → value.
    pub request_headers: Option<String>,
    /// The response headers received, as a JSON object; `None` without a response.
    pub response_headers: Option<String>,
}

pub(crate) fn attempt_row(new: NewAttempt) -> attempt::ActiveModel {
    attempt::ActiveModel {
        id: Set(new.id.into()),
        tenant_id: Set(new.tenant_id.into()),
        app_id: Set(new.app_id.into()),
        msg_id: Set(new.msg_id.into()),
        endpoint_id: Set(new.endpoint_id.into()),
        delivery_id: Set(new.delivery_id.into()),
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
        request_headers: Set(new.request_headers),
        response_headers: Set(new.response_headers),
    }
}

/// Which attempts a listing shows. Every filter is optional; set ones all apply.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// Svix's MessageStatus code (0 success, 2 failed).
    pub status: Option<i16>,
    /// Responses in `[class, class + 100)`; `0` means no response at all.
    pub status_code_class: Option<i16>,
    pub endpoint_id: Option<String>,
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
    /// Attempts whose message has one of these event types or this channel.
    pub message: MessageFilter,
}

impl Store {
    /// How many attempts a tenant has on record (only the successful ones when
    /// `successful_only`).
    pub async fn count_tenant_attempts(&self, tenant_id: &TenantId, successful_only: bool) -> StoreResult<u64> {
        let tenant_id = tenant_id.as_str();
        let mut query = attempt::Entity::find().filter(attempt::Column::TenantId.eq(tenant_id));
        if successful_only {
            query = query.filter(attempt::Column::Status.eq(0));
        }
        Ok(query.count(&self.db).await?)
    }

    /// A message's attempts, newest first, one page at a time.
    pub async fn list_message_attempts(
        &self,
        tenant_id: &TenantId,
        msg_id: &MessageId,
        filter: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Listed<attempt::Model>> {
        let select = attempt::Entity::find().filter(attempt::Column::MsgId.eq(msg_id.as_str()));
        self.list_attempts(tenant_id, select, filter, page).await
    }

    /// An endpoint's attempts, newest first, one page at a time.
    pub async fn list_endpoint_attempts(
        &self,
        tenant_id: &TenantId,
        endpoint_id: &EndpointId,
        filter: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Listed<attempt::Model>> {
        let select = attempt::Entity::find().filter(attempt::Column::EndpointId.eq(endpoint_id.as_str()));
        self.list_attempts(tenant_id, select, filter, page).await
    }

    async fn list_attempts(
        &self,
        tenant_id: &TenantId,
        select: Select<attempt::Entity>,
        filter: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Listed<attempt::Model>> {
        let mut select = select.filter(attempt::Column::TenantId.eq(tenant_id.as_str()));
        if let Some(status) = filter.status {
            select = select.filter(attempt::Column::Status.eq(status));
        }
        if let Some(class) = filter.status_code_class {
            select = if class == 0 {
                select.filter(attempt::Column::ResponseStatusCode.eq(0))
            } else {
                select
                    .filter(attempt::Column::ResponseStatusCode.gte(class))
                    .filter(attempt::Column::ResponseStatusCode.lt(class + 100))
            };
        }
        if let Some(endpoint_id) = &filter.endpoint_id {
            select = select.filter(attempt::Column::EndpointId.eq(endpoint_id.as_str()));
        }
        if let Some(before) = filter.before {
            select = select.filter(attempt::Column::CreatedAt.lt(before));
        }
        if let Some(after) = filter.after {
            select = select.filter(attempt::Column::CreatedAt.gt(after));
        }
        if !filter.message.is_empty() {
            select = select.filter(filter.message.message_ids_in(attempt::Column::MsgId, tenant_id.as_str()));
        }
        fetch_page(&self.db, select, attempt::Column::Id, page).await
    }

    /// One attempt of a tenant's message.
    pub async fn find_attempt(
        &self,
        tenant_id: &TenantId,
        msg_id: &str,
        attempt_id: &str,
    ) -> StoreResult<Option<attempt::Model>> {
        let Ok(attempt_id) = AttemptId::parse(attempt_id) else { return Ok(None) };
        Ok(attempt::Entity::find_by_id(Stored(attempt_id))
            .filter(attempt::Column::TenantId.eq(tenant_id.as_str()))
            .filter(attempt::Column::MsgId.eq(msg_id))
            .one(&self.db)
            .await?)
    }

    /// Removes the response body recorded with an attempt.
    pub async fn expunge_attempt_content(&self, attempt_id: &str) -> StoreResult<()> {
        attempt::Entity::update_many()
            .col_expr(attempt::Column::Response, Expr::value(""))
            .filter(attempt::Column::Id.eq(attempt_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
