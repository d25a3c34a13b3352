//! Messages, and the deliveries created with them.

use chrono::{DateTime, SubsecRound, Utc};
use herald_core::{ApplicationId, DeliveryId, DeliveryStatus, EndpointId, MessageId, TenantId};
use sea_orm::sea_query::{Expr, LikeExpr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, TransactionTrait};

use crate::entity::{attempt, delivery, message, Names};
use crate::ordering::sequence_deliveries;
use crate::paging::{fetch_page, Listed, Page};
use crate::{bulk, conflict_as, Session, Store, StoreResult};

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
    pub tags: Option<Vec<String>>,
    /// Where the payload broke its event type's schema (the tenant flags, not rejects).
    pub schema_violations: Option<Vec<String>>,
    /// Deliveries of this message to ordered endpoints keep this key's order.
    pub ordering_key: Option<String>,
    /// The creating request's `traceparent`, so attempts join its trace.
    pub trace_context: Option<String>,
    /// Delivered not before this (`deliverAt`); `None` or a past instant: at once.
    pub deliver_at: Option<DateTime<Utc>>,
    /// When the payload is expunged and the message deleted (`herald_core::retention`).
    pub expiry: herald_core::Expiry,
    pub now: DateTime<Utc>,
}

/// Which messages a listing shows. Every filter is optional; set ones all apply.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Messages of any of these event types.
    pub event_types: Option<Vec<String>>,
    /// Messages sent on this channel.
    pub channel: Option<String>,
    /// Messages carrying this tag.
    pub tag: Option<String>,
    /// Messages created strictly before this instant.
    pub before: Option<DateTime<Utc>>,
    /// Messages created strictly after this instant.
    pub after: Option<DateTime<Utc>>,
}

impl MessageFilter {
    /// The filter as a condition on the `messages` table.
    pub(crate) fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(types) = self.event_types.as_ref().filter(|types| !types.is_empty()) {
            condition = condition.add(message::Column::EventType.is_in(types.iter().map(String::as_str)));
        }
        if let Some(channel) = &self.channel {
            condition = condition.add(json_list_contains("messages.channels", channel));
        }
        if let Some(tag) = &self.tag {
            condition = condition.add(json_list_contains("messages.tags", tag));
        }
        if let Some(before) = self.before {
            condition = condition.add(message::Column::CreatedAt.lt(before));
        }
        if let Some(after) = self.after {
            condition = condition.add(message::Column::CreatedAt.gt(after));
        }
        condition
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.event_types.as_ref().is_none_or(Vec::is_empty)
            && self.channel.is_none()
            && self.tag.is_none()
            && self.before.is_none()
            && self.after.is_none()
    }

    /// `column IN (ids of this tenant's messages that pass the filter)`, for filtering
    /// deliveries and attempts by their message.
    pub(crate) fn message_ids_in(&self, column: impl ColumnTrait, tenant_id: &str) -> SimpleExpr {
        column.in_subquery(
            Query::select()
                .column(message::Column::Id)
                .from(message::Entity)
                .and_where(message::Column::TenantId.eq(tenant_id))
                .cond_where(self.condition())
                .to_owned(),
        )
    }
}

/// Whether a JSON array of strings (stored as text) contains `value`. Channels and
/// tags are validated to exclude quotes, so matching `"value"` is exact. LIKE's
/// wildcards are escaped with `!` (a backslash means different things to the SQL
/// builder and the two databases).
pub(crate) fn json_list_contains(column: &str, value: &str) -> SimpleExpr {
    let escaped = value.replace('!', "!!").replace('%', "!%").replace('_', "!_");
    Expr::cust(format!("CAST({column} AS TEXT)")).like(LikeExpr::new(format!("%\"{escaped}\"%")).escape('!'))
}

/// One delivery to create with a message.
#[derive(Debug, Clone)]
pub struct PlannedDelivery {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    /// The endpoint is in ordered mode: the delivery keeps the message's ordering key.
    pub ordered: bool,
    /// The endpoint expects receipts (`endpoint::Model::receipt_window_secs`).
    pub receipt_expected: bool,
}

/// Most rows in one multi-row insert (well under every database's parameter limit).
const BATCH_CHUNK: usize = 400;
fn message_row(new: &NewMessage) -> message::Model {
    // What the database keeps (microseconds), so the answer matches later reads.
    let now = new.now.trunc_subsecs(6);
    message::Model {
        id: new.id.clone().into(),
        tenant_id: new.tenant_id.clone().into(),
        app_id: new.app_id.clone().into(),
        event_type: new.event_type.clone(),
        event_id: new.event_id.clone(),
        payload: new.payload.clone(),
        channels: new.channels.clone().map(Names::from),
        created_at: now,
        tags: new.tags.clone().map(Names::from),
        schema_violations: new.schema_violations.clone().map(serde_json::Value::from),
        payload_expunged: false,
        ordering_key: new.ordering_key.clone(),
        trace_context: new.trace_context.clone(),
        // Numbered by the write ([`crate::feed`]), in the transaction that commits it.
        feed_seq: 0,
        deliver_at: new.deliver_at.map(|at| at.trunc_subsecs(6)),
        payload_expires_at: Some(new.expiry.payload_at.trunc_subsecs(6)),
        expires_at: Some(new.expiry.metadata_at.trunc_subsecs(6)),
    }
}

fn delivery_rows(new: &NewMessage, deliveries: &[PlannedDelivery]) -> Vec<delivery::Model> {
    let now = new.now.trunc_subsecs(6);
    let due = new.deliver_at.map_or(now, |at| at.trunc_subsecs(6).max(now));
    deliveries
        .iter()
        .map(|planned| delivery::Model {
            id: planned.id.clone().into(),
            tenant_id: new.tenant_id.clone().into(),
            app_id: new.app_id.clone().into(),
            msg_id: new.id.clone().into(),
            endpoint_id: planned.endpoint_id.clone().into(),
            status: DeliveryStatus::Pending.into(),
            attempt_count: 0,
            next_attempt_at: Some(due),
            cycle_start: 0,
            next_trigger: 0,
            created_at: now,
            updated_at: now,
            ordering_key: new.ordering_key.clone().filter(|_| planned.ordered),
            sequence: None,
            receipt_expected: planned.receipt_expected,
            processed_at: None,
        })
        .collect()
}

impl Store {
    /// Writes a message and its deliveries in one transaction. When this returns `Ok`,
    /// both are durable: this is what "accepted means durable" rests on.
    pub async fn create_message(
        &self,
        new: NewMessage,
        deliveries: &[PlannedDelivery],
    ) -> StoreResult<(message::Model, Vec<delivery::Model>)> {
        self.session().create_message(new, deliveries).await
    }

    /// Writes many messages without an `eventId` and their deliveries in one
    /// transaction (group commit, see [`crate::MessageWriter`]). All or nothing.
    pub async fn create_messages(
        &self,
        batch: Vec<(NewMessage, Vec<PlannedDelivery>)>,
    ) -> StoreResult<Vec<(message::Model, Vec<delivery::Model>)>> {
        self.session().create_messages(batch).await
    }

    /// A tenant's message in one of its applications, by its id or its `eventId`
    /// (Svix accepts either wherever a `msg_id` goes).
    pub async fn find_message(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        id_or_event_id: &str,
    ) -> StoreResult<Option<message::Model>> {
        let key = if MessageId::has_prefix(id_or_event_id) {
            Condition::any()
                .add(message::Column::Id.eq(id_or_event_id))
                .add(message::Column::EventId.eq(id_or_event_id))
        } else {
            Condition::all().add(message::Column::EventId.eq(id_or_event_id))
        };
        let mut found = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant_id.as_str()))
            .filter(message::Column::AppId.eq(app_id.as_str()))
            .filter(key)
            .all(&self.db)
            .await?;
        // An id match wins over an eventId that happens to look like an id.
        found.sort_by_key(|message| message.id.as_str() != id_or_event_id);
        Ok(found.into_iter().next())
    }

    /// An application's messages, newest first, one page at a time; with `status`,
    /// only those with a delivery (to any endpoint) in that state; with `failed_since`,
    /// only those with a failed attempt at or after it.
    pub async fn list_messages(
        &self,
        tenant_id: &TenantId,
        app_id: &ApplicationId,
        filter: &MessageFilter,
        status: Option<DeliveryStatus>,
        failed_since: Option<DateTime<Utc>>,
        page: &Page,
    ) -> StoreResult<Listed<message::Model>> {
        let mut select = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant_id.as_str()))
            .filter(message::Column::AppId.eq(app_id.as_str()))
            .filter(filter.condition());
        if let Some(status) = status {
            // Served by `ix_deliveries_app_status` (app, status, id).
            select = select.filter(
                message::Column::Id.in_subquery(
                    Query::select()
                        .column(delivery::Column::MsgId)
                        .from(delivery::Entity)
                        .and_where(delivery::Column::AppId.eq(app_id.as_str()))
                        .and_where(delivery::Column::Status.eq(status.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(since) = failed_since {
            // Served by the partial `ix_attempts_failed` (tenant, created_at, app, …, msg).
            select = select.filter(
                message::Column::Id.in_subquery(
                    Query::select()
                        .column(attempt::Column::MsgId)
                        .from(attempt::Entity)
                        .and_where(attempt::Column::TenantId.eq(tenant_id.as_str()))
                        .and_where(attempt::Column::CreatedAt.gte(since))
                        .and_where(crate::conditions::attempt_failed())
                        .and_where(attempt::Column::AppId.eq(app_id.as_str()))
                        .to_owned(),
                ),
            );
        }
        fetch_page(&self.db, select, message::Column::Id, page).await
    }

    /// Messages by id, in no particular order.
    pub async fn messages_by_id(&self, ids: Vec<String>) -> StoreResult<Vec<message::Model>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(message::Entity::find().filter(message::Column::Id.is_in(ids)).all(&self.db).await?)
    }

    /// Removes a message's payload for good. Deliveries still pending end without
    /// another attempt: there is nothing left to send.
    pub async fn expunge_message_content(&self, msg_id: &MessageId) -> StoreResult<()> {
        message::Entity::update_many()
            .col_expr(message::Column::Payload, Expr::value("{}"))
            .col_expr(message::Column::PayloadExpunged, Expr::value(true))
            .filter(message::Column::Id.eq(msg_id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Calls off a scheduled message's deliveries due after `after` (and never
    /// attempted): they become `discarded`, with no due time. Returns how many.
    pub async fn cancel_scheduled(&self, msg_id: &MessageId, after: DateTime<Utc>) -> StoreResult<u64> {
        let now = Utc::now();
        let canceled = delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Discarded.as_str()))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::MsgId.eq(msg_id.as_str()))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(delivery::Column::AttemptCount.eq(0))
            .filter(delivery::Column::NextAttemptAt.gt(after))
            .exec(&self.db)
            .await?;
        Ok(canceled.rows_affected)
    }
}

impl Session {
    /// [`Store::create_message`] on this session's connection.
    pub async fn create_message(
        &mut self,
        new: NewMessage,
        deliveries: &[PlannedDelivery],
    ) -> StoreResult<(message::Model, Vec<delivery::Model>)> {
        let mut message = message_row(&new);
        let mut rows = delivery_rows(&new, deliveries);
        if inserts_in_one_statement(&self.store, rows.iter()) {
            let result =
                bulk::insert_messages(self.connection().await?, &mut [&mut message], &rows.iter().collect::<Vec<_>>())
                    .await;
            self.release_on_error(&result);
            result.map_err(conflict_as("a message with this eventId"))?;
            return Ok((message, rows));
        }
        let txn = self.store.db.begin().await?;
        crate::feed::number(&txn, &mut [&mut message]).await?;
        message::Entity::insert(message::ActiveModel::from(message.clone()))
            .exec_without_returning(&txn)
            .await
            .map_err(conflict_as("a message with this eventId"))?;
        sequence_deliveries(&txn, &mut rows).await?;
        if !rows.is_empty() {
            let active = rows.iter().cloned().map(delivery::ActiveModel::from);
            delivery::Entity::insert_many(active).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        Ok((message, rows))
    }

    /// [`Store::create_messages`] on this session's connection.
    pub async fn create_messages(
        &mut self,
        batch: Vec<(NewMessage, Vec<PlannedDelivery>)>,
    ) -> StoreResult<Vec<(message::Model, Vec<delivery::Model>)>> {
        let mut created: Vec<_> =
            batch.iter().map(|(new, planned)| (message_row(new), delivery_rows(new, planned))).collect();
        let one_statement = inserts_in_one_statement(&self.store, created.iter().flat_map(|(_, rows)| rows.iter()));
        if one_statement {
            let (mut messages, rows): (Vec<&mut message::Model>, Vec<&Vec<delivery::Model>>) =
                created.iter_mut().map(|(message, rows)| (message, &*rows)).unzip();
            let rows: Vec<&delivery::Model> = rows.into_iter().flatten().collect();
            let result = bulk::insert_messages(self.connection().await?, &mut messages, &rows).await;
            self.release_on_error(&result);
            result?;
            return Ok(created);
        }
        let txn = self.store.db.begin().await?;
        crate::feed::number(&txn, &mut created.iter_mut().map(|(message, _)| message).collect::<Vec<_>>()).await?;
        for chunk in created.chunks(BATCH_CHUNK) {
            let messages = chunk.iter().map(|(message, _)| message::ActiveModel::from(message.clone()));
            message::Entity::insert_many(messages).exec_without_returning(&txn).await?;
        }
        if created.iter().any(|(message, _)| message.ordering_key.is_some()) {
            // Numbered across the whole batch, in the order the messages were accepted.
            let mut rows: Vec<delivery::Model> = created.iter_mut().flat_map(|(_, rows)| rows.drain(..)).collect();
            sequence_deliveries(&txn, &mut rows).await?;
            let mut rows = rows.into_iter();
            for ((_, message_rows), (_, planned)) in created.iter_mut().zip(&batch) {
                message_rows.extend(rows.by_ref().take(planned.len()));
            }
        }
        let deliveries: Vec<delivery::ActiveModel> =
            created.iter().flat_map(|(_, rows)| rows.iter().cloned().map(delivery::ActiveModel::from)).collect();
        let mut deliveries = deliveries.into_iter().peekable();
        while deliveries.peek().is_some() {
            let chunk: Vec<_> = deliveries.by_ref().take(BATCH_CHUNK).collect();
            delivery::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        Ok(created)
    }
}

/// Whether these deliveries and their messages go in with one statement
/// ([`bulk::insert_messages`]): on PostgreSQL, when no delivery is ordered (numbering
/// one reads and locks its key first, in a transaction).
fn inserts_in_one_statement<'a>(store: &Store, mut deliveries: impl Iterator<Item = &'a delivery::Model>) -> bool {
    store.kind == crate::DatabaseKind::Postgres && deliveries.all(|row| row.ordering_key.is_none())
}
