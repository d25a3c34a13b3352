//! Applications: one end customer of a tenant each.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, TenantId};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::changes::{changed_columns, only_columns};
use crate::entity::{application, endpoint};
use crate::paging::{fetch_page, Listed, Page};
use crate::{conflict_as, Store, StoreResult};

/// What creating an application needs.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: ApplicationId,
    pub tenant_id: TenantId,
    pub uid: Option<String>,
    pub name: String,
    pub rate_limit: Option<i32>,
    pub metadata: serde_json::Value,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Creates an application; a `uid` already used in the tenant is a conflict.
    pub async fn create_application(&self, new: NewApplication) -> StoreResult<application::Model> {
        application::ActiveModel {
            id: Set(new.id.into()),
            tenant_id: Set(new.tenant_id.into()),
            uid: Set(new.uid),
            name: Set(new.name),
            rate_limit: Set(new.rate_limit),
            metadata: Set(new.metadata),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            deleted_at: Set(None),
        }
        .insert(&self.db)
        .await
        .map_err(conflict_as("an application with this uid"))
    }

    /// Finds a tenant's application by its id or by its producer-chosen `uid`, as
    /// Svix accepts either wherever an `app_id` goes.
    pub async fn find_application(
        &self,
        tenant_id: &TenantId,
        id_or_uid: &str,
    ) -> StoreResult<Option<application::Model>> {
        let looks_like_id = ApplicationId::has_prefix(id_or_uid);
        let column = if looks_like_id { application::Column::Id } else { application::Column::Uid };
        let by_key = application::Entity::find()
            .filter(application::Column::TenantId.eq(tenant_id.as_str()))
            .filter(column.eq(id_or_uid))
            .filter(application::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        if by_key.is_some() || !looks_like_id {
            return Ok(by_key);
        }
        // A uid may itself look like an id.
        Ok(application::Entity::find()
            .filter(application::Column::TenantId.eq(tenant_id.as_str()))
            .filter(application::Column::Uid.eq(id_or_uid))
            .filter(application::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// A tenant's applications with these ids, deleted ones included (they still
    /// label old deliveries). Ids of other tenants are ignored.
    pub async fn applications_by_id(
        &self,
        tenant_id: &TenantId,
        ids: Vec<String>,
    ) -> StoreResult<Vec<application::Model>> {
        let tenant_id = tenant_id.as_str();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(application::Entity::find()
            .filter(application::Column::TenantId.eq(tenant_id))
            .filter(application::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// A tenant's applications, one page at a time; with `search`, only those whose
    /// name or uid contains it (ignoring case) or whose id it is.
    pub async fn list_applications(
        &self,
        tenant_id: &TenantId,
        search: Option<&str>,
        page: &Page,
    ) -> StoreResult<Listed<application::Model>> {
        let mut select = application::Entity::find()
            .filter(application::Column::TenantId.eq(tenant_id.as_str()))
            .filter(application::Column::DeletedAt.is_null());
        if let Some(text) = search {
            let lower = text.to_lowercase();
            // LIKE's wildcards are escaped with `!` (see `messages::json_list_contains`).
            let escaped = lower.replace('!', "!!").replace('%', "!%").replace('_', "!_");
            let pattern = LikeExpr::new(format!("%{escaped}%")).escape('!');
            let lowered = |column: application::Column| Expr::expr(Func::lower(Expr::col(column)));
            select = select.filter(
                Condition::any()
                    .add(lowered(application::Column::Name).like(pattern.clone()))
                    .add(lowered(application::Column::Uid).like(pattern))
                    .add(application::Column::Id.eq(text)),
            );
        }
        fetch_page(&self.db, select, application::Column::Id, page).await
    }

    /// Writes the fields `after` changes relative to `before` (the application as the
    /// caller found it); a `uid` taken by another application of the tenant is a
    /// conflict. `None` when the application was deleted since it was found.
    pub async fn update_application(
        &self,
        before: &application::Model,
        after: application::Model,
    ) -> StoreResult<Option<application::Model>> {
        let columns = changed_columns::<application::Entity>(before, &after, application::Column::UpdatedAt);
        let written = application::Entity::update_many()
            .set(only_columns::<application::Entity, application::ActiveModel>(&after, &columns))
            .filter(application::Column::Id.eq(&after.id))
            .filter(application::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(conflict_as("an application with this uid"))?;
        if written.rows_affected == 0 {
            return Ok(None);
        }
        Ok(application::Entity::find_by_id(&after.id).one(&self.db).await?)
    }

    /// Deletes an application and its endpoints. Rows are kept (messages and attempts
    /// refer to them) but disappear from the API, and the `uid` is freed for reuse.
    /// Pending deliveries to its endpoints end dead-lettered without another attempt.
    pub async fn delete_application(&self, app_id: &ApplicationId, now: DateTime<Utc>) -> StoreResult<()> {
        let txn = self.db.begin().await?;
        application::Entity::update_many()
            .col_expr(application::Column::DeletedAt, Expr::value(now))
            .col_expr(application::Column::Uid, Expr::value(Option::<String>::None))
            .filter(application::Column::Id.eq(app_id.as_str()))
            .exec(&txn)
            .await?;
        endpoint::Entity::update_many()
            .col_expr(endpoint::Column::DeletedAt, Expr::value(now))
            .col_expr(endpoint::Column::Uid, Expr::value(Option::<String>::None))
            .filter(endpoint::Column::AppId.eq(app_id.as_str()))
            .filter(endpoint::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
