//! Endpoints: the URLs of an application.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, EndpointId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::endpoint;
use crate::paging::{fetch_page, Listed, Page};
use crate::{conflict_as, Store, StoreResult};

/// What creating an endpoint needs.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: EndpointId,
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    pub rate_limit: Option<i32>,
    pub filter_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub metadata: serde_json::Value,
    pub headers: serde_json::Value,
    /// The serialised signing secret, `whsec_…`.
    pub secret: String,
    /// Ordered mode (see `endpoint::Model::ordered`).
    pub ordered: bool,
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn create_endpoint(&self, new: NewEndpoint) -> StoreResult<endpoint::Model> {
        endpoint::ActiveModel {
            id: Set(new.id.into_string()),
            tenant_id: Set(new.tenant_id.into_string()),
            app_id: Set(new.app_id.into_string()),
            uid: Set(new.uid),
            url: Set(new.url),
            description: Set(new.description),
            version: Set(new.version),
            disabled: Set(new.disabled),
            rate_limit: Set(new.rate_limit),
            filter_types: Set(new.filter_types.map(serde_json::Value::from)),
            channels: Set(new.channels.map(serde_json::Value::from)),
            metadata: Set(new.metadata),
            headers: Set(new.headers),
            secret: Set(new.secret),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            deleted_at: Set(None),
            previous_secret: Set(None),
            previous_secret_expires_at: Set(None),
            failing_since: Set(None),
            ordered: Set(new.ordered),
        }
        .insert(&self.db)
        .await
        .map_err(conflict_as("an endpoint with this uid"))
    }

    /// Every endpoint of an application, oldest first (disabled ones included).
    pub async fn list_application_endpoints(&self, app_id: &str) -> StoreResult<Vec<endpoint::Model>> {
        Ok(endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id))
            .filter(endpoint::Column::DeletedAt.is_null())
            .order_by_asc(endpoint::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// An application's endpoints, one page at a time.
    pub async fn list_endpoints(&self, app_id: &str, page: &Page) -> StoreResult<Listed<endpoint::Model>> {
        let select = endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id))
            .filter(endpoint::Column::DeletedAt.is_null());
        fetch_page(&self.db, select, endpoint::Column::Id, page).await
    }

    /// An endpoint of an application (found earlier, so already tenant-scoped) by its
    /// id or its `uid`.
    pub async fn find_endpoint(&self, app_id: &str, id_or_uid: &str) -> StoreResult<Option<endpoint::Model>> {
        let looks_like_id = EndpointId::has_prefix(id_or_uid);
        let column = if looks_like_id { endpoint::Column::Id } else { endpoint::Column::Uid };
        let found = endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id))
            .filter(column.eq(id_or_uid))
            .filter(endpoint::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        if found.is_some() || !looks_like_id {
            return Ok(found);
        }
        Ok(endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id))
            .filter(endpoint::Column::Uid.eq(id_or_uid))
            .filter(endpoint::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// Writes every field of an endpoint found earlier.
    pub async fn update_endpoint(&self, endpoint: endpoint::Model) -> StoreResult<endpoint::Model> {
        endpoint::ActiveModel::from(endpoint)
            .reset_all()
            .update(&self.db)
            .await
            .map_err(conflict_as("an endpoint with this uid"))
    }

    /// Deletes an endpoint: the row stays for its attempts, the API stops showing it,
    /// its `uid` is freed, and its pending deliveries end without another attempt.
    pub async fn delete_endpoint(&self, endpoint_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        endpoint::Entity::update_many()
            .col_expr(endpoint::Column::DeletedAt, Expr::value(now))
            .col_expr(endpoint::Column::Uid, Expr::value(Option::<String>::None))
            .filter(endpoint::Column::Id.eq(endpoint_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// Whether an endpoint wants a message of `event_type` on `channels`, by Svix's rules:
/// an endpoint without a filter takes every type; an endpoint with channels takes
/// only messages that share one of them; an endpoint without channels ignores them.
pub fn endpoint_accepts(endpoint: &endpoint::Model, event_type: &str, channels: Option<&[String]>) -> bool {
    let listed =
        |list: &serde_json::Value, wanted: &str| list.as_array().is_some_and(|items| items.iter().any(|i| i == wanted));
    let type_ok = endpoint.filter_types.as_ref().is_none_or(|filter| listed(filter, event_type));
    let channel_ok = match endpoint.channels.as_ref() {
        None => true,
        Some(own) => channels.unwrap_or_default().iter().any(|channel| listed(own, channel)),
    };
    !endpoint.disabled && type_ok && channel_ok
}
