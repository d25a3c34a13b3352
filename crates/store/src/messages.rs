//! Messages, and the deliveries created with them.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, DeliveryId, DeliveryStatus, MessageId, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::entity::{delivery, message};
use crate::{Store, StoreResult};

/// What creating a message needs.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    pub event_type: String,
    pub event_id: Option<String>,
    /// Compact JSON text, sent byte for byte to every receiver.
    pub payload: String,
    pub channels: Option<Vec<String>>,
    pub now: DateTime<Utc>,
}

/// One delivery to create with a message.
#[derive(Debug, Clone)]
pub struct PlannedDelivery {
    pub id: DeliveryId,
    pub endpoint_id: String,
}

impl Store {
    /// Writes a message and its deliveries in one transaction. When this returns `Ok`,
    /// both are durable: this is what "accepted means durable" rests on.
    pub async fn create_message(
        &self,
        new: NewMessage,
        deliveries: &[PlannedDelivery],
    ) -> StoreResult<(message::Model, Vec<delivery::Model>)> {
        let txn = self.db.begin().await?;
        let message = message::ActiveModel {
            id: Set(new.id.to_string()),
            tenant_id: Set(new.tenant_id.to_string()),
            app_id: Set(new.app_id.to_string()),
            event_type: Set(new.event_type),
            event_id: Set(new.event_id),
            payload: Set(new.payload),
            channels: Set(new.channels.map(serde_json::Value::from)),
            created_at: Set(new.now),
        }
        .insert(&txn)
        .await?;
        let rows: Vec<delivery::Model> = deliveries
            .iter()
            .map(|planned| delivery::Model {
                id: planned.id.to_string(),
                tenant_id: new.tenant_id.to_string(),
                app_id: new.app_id.to_string(),
                msg_id: new.id.to_string(),
                endpoint_id: planned.endpoint_id.clone(),
                status: DeliveryStatus::Pending.as_str().to_owned(),
                attempt_count: 0,
                next_attempt_at: Some(new.now),
                created_at: new.now,
                updated_at: new.now,
            })
            .collect();
        if !rows.is_empty() {
            let active = rows.iter().cloned().map(delivery::ActiveModel::from);
            delivery::Entity::insert_many(active).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        Ok((message, rows))
    }

    /// A tenant's message in one of its applications.
    pub async fn find_message(
        &self,
        tenant_id: &TenantId,
        app_id: &str,
        msg_id: &str,
    ) -> StoreResult<Option<message::Model>> {
        Ok(message::Entity::find_by_id(msg_id)
            .filter(message::Column::TenantId.eq(tenant_id.as_str()))
            .filter(message::Column::AppId.eq(app_id))
            .one(&self.db)
            .await?)
    }
}
