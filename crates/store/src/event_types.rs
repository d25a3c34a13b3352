//! Event types: the named events a tenant sends.

use chrono::{DateTime, Utc};
use herald_core::{EventTypeId, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use crate::changes::{changed_columns, only_columns};
use crate::entity::event_type;
use crate::paging::{fetch_page, Listed, Page};
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
    pub feature_flags: Option<Vec<String>>,
    pub group_name: Option<String>,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Creates an event type; a name already used in the tenant is a conflict.
    pub async fn create_event_type(&self, new: NewEventType) -> StoreResult<event_type::Model> {
        event_type::ActiveModel {
            id: Set(new.id.into()),
            tenant_id: Set(new.tenant_id.into()),
            name: Set(new.name),
            description: Set(new.description),
            schemas: Set(new.schemas),
            archived: Set(new.archived),
            deprecated: Set(new.deprecated),
            feature_flag: Set(new.feature_flag),
            feature_flags: Set(new.feature_flags.map(crate::entity::Names::from)),
            group_name: Set(new.group_name),
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

    /// A tenant's event types by name, one page at a time; archived ones only when asked.
    pub async fn list_event_types(
        &self,
        tenant_id: &TenantId,
        include_archived: bool,
        page: &Page,
    ) -> StoreResult<Listed<event_type::Model>> {
        let mut select = event_type::Entity::find().filter(event_type::Column::TenantId.eq(tenant_id.as_str()));
        if !include_archived {
            select = select.filter(event_type::Column::Archived.eq(false));
        }
        fetch_page(&self.db, select, event_type::Column::Name, page).await
    }

    /// Writes the fields `after` changes relative to `before` (the event type as the
    /// caller found it). `None` when the event type was removed since it was read (a
    /// concurrent expunge).
    pub async fn update_event_type(
        &self,
        before: &event_type::Model,
        after: event_type::Model,
    ) -> StoreResult<Option<event_type::Model>> {
        let columns = changed_columns::<event_type::Entity>(before, &after, event_type::Column::UpdatedAt);
        let written = event_type::Entity::update_many()
            .set(only_columns::<event_type::Entity, event_type::ActiveModel>(&after, &columns))
            .filter(event_type::Column::Id.eq(&after.id))
            .exec(&self.db)
            .await?;
        if written.rows_affected == 0 {
            return Ok(None);
        }
        Ok(event_type::Entity::find_by_id(&after.id).one(&self.db).await?)
    }

    /// Removes an event type for good (`expunge`); messages keep their type name.
    pub async fn expunge_event_type(&self, event_type: event_type::Model) -> StoreResult<()> {
        event_type.delete(&self.db).await?;
        Ok(())
    }
}

/// An event type as an imported OpenAPI document defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedType {
    pub name: String,
    pub description: String,
    pub deprecated: bool,
    /// Schemas by version (`{"1": …}`), or none.
    pub schemas: Option<serde_json::Value>,
    pub group_name: Option<String>,
    pub feature_flags: Option<Vec<String>>,
}

/// What an import changed (or, dry, would change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOutcome {
    /// The document's event types that were created or differed from what was stored.
    pub changed: Vec<String>,
    /// Event types the document does not define, archived (`replace_all`).
    pub archived: Vec<String>,
}

impl Store {
    /// Creates or updates each of `types` (an archived one comes back), and with
    /// `replace_all` archives the tenant's event types the document does not define, in
    /// one transaction; `dry_run` rolls it back, so nothing changes and the outcome says
    /// what would have. An event type's single `featureFlag` (the older field) is left
    /// as it was.
    pub async fn import_event_types(
        &self,
        tenant_id: &TenantId,
        types: &[ImportedType],
        replace_all: bool,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<ImportOutcome> {
        let txn = self.db.begin().await?;
        let mut outcome = ImportOutcome::default();
        for imported in types {
            let found = event_type::Entity::find()
                .filter(event_type::Column::TenantId.eq(tenant_id.as_str()))
                .filter(event_type::Column::Name.eq(imported.name.as_str()))
                .one(&txn)
                .await?;
            let flags = imported.feature_flags.clone().map(crate::entity::Names::from);
            match found {
                None => {
                    let id = EventTypeId::generate(now.timestamp_millis().max(0) as u64, rand::random());
                    event_type::ActiveModel {
                        id: Set(id.into()),
                        tenant_id: Set(tenant_id.clone().into()),
                        name: Set(imported.name.clone()),
                        description: Set(imported.description.clone()),
                        schemas: Set(imported.schemas.clone()),
                        archived: Set(false),
                        deprecated: Set(imported.deprecated),
                        feature_flag: Set(None),
                        feature_flags: Set(flags),
                        group_name: Set(imported.group_name.clone()),
                        created_at: Set(now),
                        updated_at: Set(now),
                    }
                    .insert(&txn)
                    .await
                    .map_err(conflict_as("an event type with this name"))?;
                }
                Some(existing) => {
                    let same = existing.description == imported.description
                        && existing.schemas == imported.schemas
                        && !existing.archived
                        && existing.deprecated == imported.deprecated
                        && existing.feature_flags == flags
                        && existing.group_name == imported.group_name;
                    if same {
                        continue;
                    }
                    let mut active: event_type::ActiveModel = existing.into();
                    active.description = Set(imported.description.clone());
                    active.schemas = Set(imported.schemas.clone());
                    active.archived = Set(false);
                    active.deprecated = Set(imported.deprecated);
                    active.feature_flags = Set(flags);
                    active.group_name = Set(imported.group_name.clone());
                    active.updated_at = Set(now);
                    active.update(&txn).await?;
                }
            }
            outcome.changed.push(imported.name.clone());
        }
        if replace_all {
            let defined: Vec<&str> = types.iter().map(|imported| imported.name.as_str()).collect();
            let mut others = event_type::Entity::find()
                .filter(event_type::Column::TenantId.eq(tenant_id.as_str()))
                .filter(event_type::Column::Archived.eq(false));
            if !defined.is_empty() {
                others = others.filter(event_type::Column::Name.is_not_in(defined));
            }
            let others = others.order_by_asc(event_type::Column::Name).all(&txn).await?;
            for other in others {
                outcome.archived.push(other.name.clone());
                let mut active: event_type::ActiveModel = other.into();
                active.archived = Set(true);
                active.updated_at = Set(now);
                active.update(&txn).await?;
            }
        }
        if dry_run {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
        }
        Ok(outcome)
    }
}
