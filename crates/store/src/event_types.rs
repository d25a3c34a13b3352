//! Event types: the named events a tenant sends.

use chrono::{DateTime, Utc};
use herald_core::{EventTypeId, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entity::event_type;
use crate::{conflict_as, Store, StoreResult};

/// What creating an event type needs.
#[derive(Debug, Clone)]
pub struct NewEventType {
    pub id: EventTypeId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub schemas: Option<serde_json::Value>,
    pub archived: bool,
    pub deprecated: bool,
    pub feature_flag: Option<String>,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Creates an event type; a name already used in the tenant is a conflict.
    pub async fn create_event_type(&self, new: NewEventType) -> StoreResult<event_type::Model> {
        event_type::ActiveModel {
            id: Set(new.id.into_string()),
            tenant_id: Set(new.tenant_id.into_string()),
            name: Set(new.name),
            description: Set(new.description),
            schemas: Set(new.schemas),
            archived: Set(new.archived),
            deprecated: Set(new.deprecated),
            feature_flag: Set(new.feature_flag),
            created_at: Set(new.now),
            updated_at: Set(new.now),
        }
        .insert(&self.db)
        .await
        .map_err(conflict_as("an event type with this name"))
    }

    pub async fn find_event_type(&self, tenant_id: &TenantId, name: &str) -> StoreResult<Option<event_type::Model>> {
        Ok(event_type::Entity::find()
            .filter(event_type::Column::TenantId.eq(tenant_id.as_str()))
            .filter(event_type::Column::Name.eq(name))
            .one(&self.db)
            .await?)
    }
}
