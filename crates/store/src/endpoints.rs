//! Endpoints: the URLs of an application.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, EndpointId, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::changes::{changed_columns, only_columns};
use crate::entity::{endpoint, Names};
use crate::paging::{fetch_page, Listed, Page};
use crate::sealing::is_sealed;
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
    /// The ed25519 private key, `whsk_…`, for `v1a` signatures; `None` for HMAC only.
    pub signing_key: Option<String>,
    /// Delivery receipts (see `endpoint::Model::receipt_window_secs`).
    pub receipt_window_secs: Option<i32>,
    /// Automatic redrive (see `endpoint::Model::auto_redrive`).
    pub auto_redrive: bool,
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn create_endpoint(&self, new: NewEndpoint, by: &Actor) -> StoreResult<endpoint::Model> {
        let id = new.id;
        let secret = self.keyring.seal(&new.secret, &secret_context(&id, SECRET));
        let headers = self.seal_headers(&id, &new.headers);
        let signing_key = new.signing_key.map(|key| self.keyring.seal(&key, &secret_context(&id, SIGNING_KEY)));
        let txn = self.db.begin().await?;
        let inserted = endpoint::ActiveModel {
            id: Set(id.into()),
            tenant_id: Set(new.tenant_id.into()),
            app_id: Set(new.app_id.into()),
            uid: Set(new.uid),
            url: Set(new.url),
            description: Set(new.description),
            version: Set(new.version),
            disabled: Set(new.disabled),
            rate_limit: Set(new.rate_limit),
            filter_types: Set(new.filter_types.map(Names::from)),
            channels: Set(new.channels.map(Names::from)),
            metadata: Set(new.metadata),
            headers: Set(headers),
            secret: Set(secret),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            deleted_at: Set(None),
            previous_secret: Set(None),
            previous_secret_expires_at: Set(None),
            failing_since: Set(None),
            ordered: Set(new.ordered),
            signing_key: Set(signing_key),
            receipt_window_secs: Set(new.receipt_window_secs),
            auto_redrive: Set(new.auto_redrive),
            // Created disabled: an outage from the start, redriven when it is enabled.
            redrive_from: Set(new.disabled.then_some(new.now)),
        }
        .insert(&txn)
        .await
        .map_err(conflict_as("an endpoint with this uid"))?;
        let detail = serde_json::json!({ "appId": inserted.app_id });
        audit(&inserted, by, Action::EndpointCreate, detail, new.now).write(&txn).await?;
        txn.commit().await?;
        self.open_endpoint(inserted)
    }

    /// Every endpoint of an application, oldest first (disabled ones included).
    pub async fn list_application_endpoints(&self, app_id: &ApplicationId) -> StoreResult<Vec<endpoint::Model>> {
        let found = endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id.as_str()))
            .filter(endpoint::Column::DeletedAt.is_null())
            .order_by_asc(endpoint::Column::Id)
            .all(&self.db)
            .await?;
        self.open_endpoints(found)
    }

    /// An application's endpoints, one page at a time.
    pub async fn list_endpoints(&self, app_id: &ApplicationId, page: &Page) -> StoreResult<Listed<endpoint::Model>> {
        let select = endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id.as_str()))
            .filter(endpoint::Column::DeletedAt.is_null());
        let listed = fetch_page(&self.db, select, endpoint::Column::Id, page).await?;
        Ok(Listed { items: self.open_endpoints(listed.items)?, ..listed })
    }

    /// An endpoint of an application (found earlier, so already tenant-scoped) by its
    /// id or its `uid`.
    pub async fn find_endpoint(&self, app_id: &ApplicationId, id_or_uid: &str) -> StoreResult<Option<endpoint::Model>> {
        let looks_like_id = EndpointId::has_prefix(id_or_uid);
        let column = if looks_like_id { endpoint::Column::Id } else { endpoint::Column::Uid };
        let found = endpoint::Entity::find()
            .filter(endpoint::Column::AppId.eq(app_id.as_str()))
            .filter(column.eq(id_or_uid))
            .filter(endpoint::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        let found = match found {
            None if looks_like_id => {
                endpoint::Entity::find()
                    .filter(endpoint::Column::AppId.eq(app_id.as_str()))
                    .filter(endpoint::Column::Uid.eq(id_or_uid))
                    .filter(endpoint::Column::DeletedAt.is_null())
                    .one(&self.db)
                    .await?
            }
            found => found,
        };
        found.map(|model| self.open_endpoint(model)).transpose()
    }

    /// Writes the fields `after` changes relative to `before` (the endpoint as the
    /// caller found it), recording `action` (one of the `endpoint.*` changes) by `by` in
    /// the audit log. Columns the caller did not change keep what others wrote meanwhile
    /// (the worker disabling the endpoint, say). `None` when the endpoint was deleted
    /// since it was found: nothing is written.
    pub async fn update_endpoint(
        &self,
        before: &endpoint::Model,
        mut after: endpoint::Model,
        by: &Actor,
        action: Action,
    ) -> StoreResult<Option<endpoint::Model>> {
        debug_assert_eq!(action.target_kind(), "endpoint");
        // Compared in the clear: sealing the same secret twice gives different text.
        let columns = changed_columns::<endpoint::Entity>(before, &after, endpoint::Column::UpdatedAt);
        self.seal_endpoint(&mut after);
        let txn = self.db.begin().await?;
        let written = endpoint::Entity::update_many()
            .set(only_columns::<endpoint::Entity, endpoint::ActiveModel>(&after, &columns))
            .filter(endpoint::Column::Id.eq(&after.id))
            .filter(endpoint::Column::DeletedAt.is_null())
            .exec(&txn)
            .await
            .map_err(conflict_as("an endpoint with this uid"))?;
        if written.rows_affected == 0 {
            return Ok(None);
        }
        let updated = endpoint::Entity::find_by_id(&after.id).one(&txn).await?.ok_or(DbErr::RecordNotUpdated)?;
        // Header names are not secret; their values never reach the log, nor does the
        // URL (receivers put tokens in query strings).
        let detail = match action {
            Action::EndpointHeadersUpdate => {
                let names: Vec<&String> = after.headers.as_object().map(|map| map.keys().collect()).unwrap_or_default();
                serde_json::json!({ "headers": names })
            }
            _ => serde_json::json!({}),
        };
        audit(&updated, by, action, detail, updated.updated_at).write(&txn).await?;
        txn.commit().await?;
        self.open_endpoint(updated).map(Some)
    }

    /// Opens an endpoint's sealed secrets and header values, as read from the database.
    pub(crate) fn open_endpoint(&self, mut model: endpoint::Model) -> StoreResult<endpoint::Model> {
        model.secret = self.keyring.open(&model.secret, &secret_context(&model.id, SECRET))?;
        if let Some(previous) = &model.previous_secret {
            model.previous_secret = Some(self.keyring.open(previous, &secret_context(&model.id, PREVIOUS_SECRET))?);
        }
        if let Some(key) = &model.signing_key {
            model.signing_key = Some(self.keyring.open(key, &secret_context(&model.id, SIGNING_KEY))?);
        }
        if let Some(headers) = model.headers.as_object_mut() {
            for (name, value) in headers.iter_mut() {
                if let Some(text) = value.as_str() {
                    *value = serde_json::Value::String(self.keyring.open(text, &header_context(&model.id, name))?);
                }
            }
        }
        Ok(model)
    }

    pub(crate) fn open_endpoints(&self, models: Vec<endpoint::Model>) -> StoreResult<Vec<endpoint::Model>> {
        models.into_iter().map(|model| self.open_endpoint(model)).collect()
    }

    /// Seals an endpoint's secrets and header values for writing. Values already
    /// sealed are left as they are.
    pub(crate) fn seal_endpoint(&self, model: &mut endpoint::Model) {
        if !is_sealed(&model.secret) {
            model.secret = self.keyring.seal(&model.secret, &secret_context(&model.id, SECRET));
        }
        if let Some(previous) = model.previous_secret.as_mut().filter(|previous| !is_sealed(previous)) {
            *previous = self.keyring.seal(previous, &secret_context(&model.id, PREVIOUS_SECRET));
        }
        if let Some(key) = model.signing_key.as_mut().filter(|key| !is_sealed(key)) {
            *key = self.keyring.seal(key, &secret_context(&model.id, SIGNING_KEY));
        }
        model.headers = self.seal_headers(&model.id, &model.headers);
    }

    fn seal_headers(&self, endpoint_id: &EndpointId, headers: &serde_json::Value) -> serde_json::Value {
        let mut headers = headers.clone();
        if let Some(object) = headers.as_object_mut() {
            for (name, value) in object.iter_mut() {
                if let Some(text) = value.as_str().filter(|text| !is_sealed(text)) {
                    *value = serde_json::Value::String(self.keyring.seal(text, &header_context(endpoint_id, name)));
                }
            }
        }
        headers
    }

    /// Deletes an endpoint: the row stays for its attempts, the API stops showing it,
    /// its `uid` is freed, and its pending deliveries end without another attempt.
    pub async fn delete_endpoint(&self, endpoint: &endpoint::Model, now: DateTime<Utc>, by: &Actor) -> StoreResult<()> {
        let txn = self.db.begin().await?;
        endpoint::Entity::update_many()
            .col_expr(endpoint::Column::DeletedAt, Expr::value(now))
            .col_expr(endpoint::Column::Uid, Expr::value(Option::<String>::None))
            .filter(endpoint::Column::Id.eq(endpoint.id.as_str()))
            .exec(&txn)
            .await?;
        let scope = herald_core::api_key::KeyScope::Endpoint(endpoint.id.0.clone());
        crate::scoped_keys::revoke_keys_of(&txn, &scope, now).await?;
        let detail = serde_json::json!({ "appId": endpoint.app_id, "uid": endpoint.uid });
        audit(endpoint, by, Action::EndpointDelete, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The audit entry of a change to `endpoint`.
pub(crate) fn audit<'a>(
    endpoint: &'a endpoint::Model,
    actor: &'a Actor,
    action: Action,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Entry<'a> {
    Entry {
        tenant_id: endpoint.tenant_id.as_str(),
        actor,
        action,
        target_id: endpoint.id.as_str(),
        outcome: Outcome::Changed,
        detail,
        now,
    }
}

/// Whether an endpoint wants a message of `event_type` on `channels`, by Svix's rules:
/// an endpoint without a filter takes every type; an endpoint with channels takes
/// only messages that share one of them; an endpoint without channels ignores them.
pub fn endpoint_accepts(endpoint: &endpoint::Model, event_type: &str, channels: Option<&[String]>) -> bool {
    let type_ok = endpoint.filter_types.as_ref().is_none_or(|filter| filter.contains(event_type));
    let channel_ok = match endpoint.channels.as_ref() {
        None => true,
        Some(own) => channels.unwrap_or_default().iter().any(|channel| own.contains(channel)),
    };
    !endpoint.disabled && type_ok && channel_ok
}

const SECRET: &str = "secret";
const PREVIOUS_SECRET: &str = "previous_secret";
const SIGNING_KEY: &str = "signing_key";

/// Where a sealed secret lives, bound into its seal so it opens nowhere else.
fn secret_context(endpoint_id: &EndpointId, column: &str) -> String {
    format!("endpoint:{endpoint_id}:{column}")
}

/// Where a sealed header value lives. Header names are case-insensitive.
fn header_context(endpoint_id: &EndpointId, name: &str) -> String {
    format!("endpoint:{endpoint_id}:header:{}", name.to_ascii_lowercase())
}
