//! Polling endpoints (`poll_…`) and their consumers' positions.

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, PollerId, TenantId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, Statement, TransactionTrait,
};

use crate::audit::{Action, Actor, Entry, Outcome};
use crate::changes::{changed_columns, only_columns};
use crate::entity::{poller, poller_consumer, Names};
use crate::feed::FeedFilter;
use crate::paging::{fetch_page, Listed, Page};
use crate::{conflict_as, Store, StoreResult};

/// What creating a polling endpoint needs.
#[derive(Debug, Clone)]
pub struct NewPoller {
    pub id: PollerId,
    pub tenant_id: TenantId,
    pub app_id: ApplicationId,
    pub uid: Option<String>,
    pub description: String,
    pub filter_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub metadata: serde_json::Value,
    pub disabled: bool,
    pub now: DateTime<Utc>,
}

/// The poller's own filters, as a feed read applies them.
pub fn poller_filter(poller: &poller::Model) -> FeedFilter {
    FeedFilter {
        event_types: poller.filter_types.as_ref().map(|names| names.0.clone()),
        channels: poller.channels.as_ref().map(|names| names.0.clone()),
        ..FeedFilter::default()
    }
}

impl Store {
    pub async fn create_poller(&self, new: NewPoller, by: &Actor) -> StoreResult<poller::Model> {
        let txn = self.db.begin().await?;
        let inserted = poller::ActiveModel {
            id: Set(new.id.into()),
            tenant_id: Set(new.tenant_id.into()),
            app_id: Set(new.app_id.into()),
            uid: Set(new.uid),
            description: Set(new.description),
            filter_types: Set(new.filter_types.map(Names::from)),
            channels: Set(new.channels.map(Names::from)),
            metadata: Set(new.metadata),
            disabled: Set(new.disabled),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(conflict_as("a polling endpoint with this uid"))?;
        let detail = serde_json::json!({ "appId": inserted.app_id });
        audit(&inserted, by, Action::PollerCreate, detail, new.now).write(&txn).await?;
        txn.commit().await?;
        Ok(inserted)
    }

    /// An application's polling endpoints, one page at a time.
    pub async fn list_pollers(&self, app_id: &ApplicationId, page: &Page) -> StoreResult<Listed<poller::Model>> {
        let select = poller::Entity::find()
            .filter(poller::Column::AppId.eq(app_id.as_str()))
            .filter(poller::Column::DeletedAt.is_null());
        fetch_page(&self.db, select, poller::Column::Id, page).await
    }

    /// A polling endpoint of an application (found earlier, so tenant-scoped) by its id
    /// or its `uid`.
    pub async fn find_poller(&self, app_id: &ApplicationId, id_or_uid: &str) -> StoreResult<Option<poller::Model>> {
        let column = if PollerId::has_prefix(id_or_uid) { poller::Column::Id } else { poller::Column::Uid };
        Ok(poller::Entity::find()
            .filter(poller::Column::AppId.eq(app_id.as_str()))
            .filter(column.eq(id_or_uid))
            .filter(poller::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// Writes the fields `after` changes relative to `before`; `None` when the poller
    /// was deleted since it was found.
    pub async fn update_poller(
        &self,
        before: &poller::Model,
        after: poller::Model,
        by: &Actor,
    ) -> StoreResult<Option<poller::Model>> {
        let columns = changed_columns::<poller::Entity>(before, &after, poller::Column::UpdatedAt);
        let txn = self.db.begin().await?;
        let written = poller::Entity::update_many()
            .set(only_columns::<poller::Entity, poller::ActiveModel>(&after, &columns))
            .filter(poller::Column::Id.eq(after.id.as_str()))
            .filter(poller::Column::DeletedAt.is_null())
            .exec(&txn)
            .await
            .map_err(conflict_as("a polling endpoint with this uid"))?;
        if written.rows_affected == 0 {
            return Ok(None);
        }
        let updated = poller::Entity::find_by_id(after.id.clone()).one(&txn).await?.ok_or(DbErr::RecordNotUpdated)?;
        audit(&updated, by, Action::PollerUpdate, serde_json::json!({}), updated.updated_at).write(&txn).await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// Deletes a polling endpoint: the API stops showing it, its `uid` is freed and its
    /// consumers' positions go.
    pub async fn delete_poller(&self, poller: &poller::Model, now: DateTime<Utc>, by: &Actor) -> StoreResult<()> {
        let txn = self.db.begin().await?;
        poller::Entity::update_many()
            .col_expr(poller::Column::DeletedAt, Expr::value(now))
            .col_expr(poller::Column::Uid, Expr::value(Option::<String>::None))
            .filter(poller::Column::Id.eq(poller.id.as_str()))
            .exec(&txn)
            .await?;
        poller_consumer::Entity::delete_many()
            .filter(poller_consumer::Column::PollerId.eq(poller.id.as_str()))
            .exec(&txn)
            .await?;
        let scope = herald_core::api_key::KeyScope::Poller(poller.id.0.clone());
        crate::scoped_keys::revoke_keys_of(&txn, &scope, now).await?;
        let detail = serde_json::json!({ "appId": poller.app_id, "uid": poller.uid });
        audit(poller, by, Action::PollerDelete, detail, now).write(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Where a consumer of a poller has committed to; `None` for a consumer never seen.
    pub async fn consumer_position(&self, poller_id: &PollerId, consumer_id: &str) -> StoreResult<Option<i64>> {
        Ok(poller_consumer::Entity::find_by_id((poller_id.clone().into(), consumer_id.to_owned()))
            .one(&self.db)
            .await?
            .map(|consumer| consumer.position))
    }

    /// Moves a consumer of a poller to `position` (creating the consumer).
    pub async fn commit_consumer(
        &self,
        poller_id: &PollerId,
        consumer_id: &str,
        position: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        poller_consumer::Entity::insert(poller_consumer::ActiveModel {
            poller_id: Set(poller_id.clone().into()),
            consumer_id: Set(consumer_id.to_owned()),
            position: Set(position),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([poller_consumer::Column::PollerId, poller_consumer::Column::ConsumerId])
                .update_columns([poller_consumer::Column::Position, poller_consumer::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }
}

fn audit<'a>(
    poller: &'a poller::Model,
    actor: &'a Actor,
    action: Action,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Entry<'a> {
    Entry {
        tenant_id: poller.tenant_id.as_str(),
        actor,
        action,
        target_id: poller.id.as_str(),
        outcome: Outcome::Changed,
        detail,
        now,
    }
}

impl Store {
    /// Per tenant, the most messages any consumer of its polling endpoints is behind its
    /// application's feed (consumers of deleted pollers are gone with them).
    pub async fn consumer_lag_by_tenant(&self) -> StoreResult<Vec<(String, u64)>> {
        let statement = Statement::from_string(self.db.get_database_backend(), CONSUMER_LAG);
        let mut lags = Vec::new();
        for row in self.db.query_all(statement).await? {
            let tenant: String = row.try_get("", "tenant_id")?;
            let lag: Option<i64> = row.try_get("", "lag")?;
            lags.push((tenant, lag.unwrap_or(0).max(0) as u64));
        }
        Ok(lags)
    }
}

const CONSUMER_LAG: &str = "SELECT p.tenant_id, MAX(f.last_seq - c.position) AS lag FROM poller_consumers c \
    JOIN pollers p ON p.id = c.poller_id JOIN message_feeds f ON f.app_id = p.app_id \
    WHERE p.deleted_at IS NULL GROUP BY p.tenant_id";

/// Where a poller's iterators are sealed for: an iterator opens only on its own poller.
fn iterator_context(poller_id: &PollerId) -> String {
    format!("poller:{}:iterator", poller_id.as_str())
}

impl Store {
    /// An opaque iterator for `position` in `poller`'s feed: sealed with the store's
    /// key for that poller alone (URL-safe base64 of the sealed text), so a client can
    /// neither read nor forge one, nor use one poller's iterator on another.
    pub fn feed_iterator(&self, poller_id: &PollerId, position: i64) -> String {
        use base64::Engine;
        let sealed = self.keyring.seal(&position.to_string(), &iterator_context(poller_id));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The position an iterator of `poller` stands for; `None` for anything this
    /// poller's [`Store::feed_iterator`] did not make.
    pub fn open_feed_iterator(&self, poller_id: &PollerId, iterator: &str) -> Option<i64> {
        use base64::Engine;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(iterator).ok()?;
        let sealed = String::from_utf8(sealed).ok()?;
        // `open` passes unsealed text through (rows written before sealing); an
        // iterator is always sealed, so plain text is a forgery.
        if !crate::sealing::is_sealed(&sealed) {
            return None;
        }
        let plain = self.keyring.open(&sealed, &iterator_context(poller_id)).ok()?;
        plain.parse().ok().filter(|position: &i64| *position >= 0)
    }
}
