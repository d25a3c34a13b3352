//! Each application's feed: its messages in the order they were committed, numbered
//! 1, 2, 3, … (`messages.feed_seq`). Pull readers (polling endpoints and their
//! consumers) page through it by number.
//!
//! Why a number of its own: ids sort by the time a message was created, but
//! transactions commit in another order. A reader that had read up to id X would
//! never see a message with a smaller id that committed a moment later. A message
//! write takes its numbers from `message_feeds` with an upsert that holds the
//! application's row until the write commits, so the next write to that application
//! numbers after it: every number up to an application's `last_seq` is committed
//! when `last_seq` is read, and nothing below it can still appear.
//!
//! A read is bounded whatever the history: it reads the feed's last number first, then
//! at most [`SCAN_WINDOW`] numbers after the reader's position through
//! `ux_messages_feed` (app, feed_seq), and filters those. A sparse filter may return
//! fewer messages than asked for, with a position further on and `done: false`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_core::{ApplicationId, MessageId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::entity::{message, message_feed};
use crate::messages::json_list_contains;
use crate::{Store, StoreResult};

/// The most feed numbers one read looks at.
pub const SCAN_WINDOW: i64 = 1_000;

/// Gives each message the next number of its application's feed, inside the
/// transaction `txn` that writes them (the sea-orm path; PostgreSQL's one-statement
/// write does the same in SQL, `crate::bulk`). Applications are numbered in id order,
/// so two transactions never wait for each other in a circle.
pub(crate) async fn number(txn: &impl ConnectionTrait, messages: &mut [&mut message::Model]) -> StoreResult<()> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for message in messages.iter() {
        *counts.entry(message.app_id.to_string()).or_default() += 1;
    }
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for (app_id, count) in counts {
        message_feed::Entity::insert(message_feed::ActiveModel { app_id: Set(app_id.clone()), last_seq: Set(count) })
            .on_conflict(
                OnConflict::column(message_feed::Column::AppId)
                    .value(message_feed::Column::LastSeq, Expr::cust("message_feeds.last_seq + excluded.last_seq"))
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        let last = message_feed::Entity::find_by_id(app_id.clone()).one(txn).await?.map_or(count, |feed| feed.last_seq);
        next.insert(app_id, last - count + 1);
    }
    for message in messages.iter_mut() {
        let slot = next.get_mut(message.app_id.as_str()).expect("every application was counted");
        message.feed_seq = *slot;
        *slot += 1;
    }
    Ok(())
}

/// What a feed read returns besides every message: the filters of the poller and of
/// the request, all of which apply.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    /// Messages of any of these event types (a poller's filter).
    pub event_types: Option<Vec<String>>,
    /// Messages sharing one of these channels (a poller's channels).
    pub channels: Option<Vec<String>>,
    /// Messages of this event type (the request's `event_type`).
    pub event_type: Option<String>,
    /// Messages on this channel (the request's `channel`).
    pub channel: Option<String>,
}

impl FeedFilter {
    pub(crate) fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(types) = &self.event_types {
            condition = condition.add(message::Column::EventType.is_in(types.iter().map(String::as_str)));
        }
        if let Some(channels) = &self.channels {
            let any = channels
                .iter()
                .fold(Condition::any(), |any, channel| any.add(json_list_contains("messages.channels", channel)));
            condition = condition.add(any);
        }
        if let Some(event_type) = &self.event_type {
            condition = condition.add(message::Column::EventType.eq(event_type.as_str()));
        }
        if let Some(channel) = &self.channel {
            condition = condition.add(json_list_contains("messages.channels", channel));
        }
        condition
    }
}

/// One read of a feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// The messages after the reader's position that pass the filter, in feed order.
    pub messages: Vec<message::Model>,
    /// Where the next read starts: the last message returned, or as far as this read
    /// looked.
    pub position: i64,
    /// The feed's last number when the read began.
    pub head: i64,
}

impl FeedPage {
    /// Whether the reader has caught up with the feed as it was when read.
    pub fn done(&self) -> bool {
        self.position >= self.head
    }
}

impl Store {
    /// The number of an application's last committed message (0: none yet).
    pub async fn feed_head(&self, app_id: &ApplicationId) -> StoreResult<i64> {
        Ok(message_feed::Entity::find_by_id(app_id.to_string()).one(&self.db).await?.map_or(0, |feed| feed.last_seq))
    }

    /// The last numbers of several applications' feeds (applications without a message
    /// yet are left out): what a long-poll watcher reads every tick.
    pub async fn feed_heads(&self, app_ids: &[String]) -> StoreResult<Vec<(String, i64)>> {
        if app_ids.is_empty() {
            return Ok(Vec::new());
        }
        let feeds = message_feed::Entity::find()
            .filter(message_feed::Column::AppId.is_in(app_ids.iter().map(String::as_str)))
            .all(&self.db)
            .await?;
        Ok(feeds.into_iter().map(|feed| (feed.app_id, feed.last_seq)).collect())
    }

    /// Up to `limit` messages of an application's feed after `position` that pass
    /// `filter` (see the module's notes on what bounds a read).
    pub async fn read_feed(
        &self,
        app_id: &ApplicationId,
        position: i64,
        filter: &FeedFilter,
        limit: u64,
    ) -> StoreResult<FeedPage> {
        // The head first: every number up to it is committed, so nothing the scan
        // passes over can appear later.
        let head = self.feed_head(app_id).await?;
        let position = position.clamp(0, head);
        let upper = head.min(position.saturating_add(SCAN_WINDOW));
        if upper <= position {
            return Ok(FeedPage { messages: Vec::new(), position, head });
        }
        let messages = message::Entity::find()
            .filter(message::Column::AppId.eq(app_id.as_str()))
            .filter(message::Column::FeedSeq.gt(position))
            .filter(message::Column::FeedSeq.lte(upper))
            .filter(filter.condition())
            .order_by_asc(message::Column::FeedSeq)
            .limit(limit)
            .all(&self.db)
            .await?;
        let full = messages.len() as u64 >= limit;
        let position = match messages.last() {
            Some(last) if full => last.feed_seq,
            _ => upper,
        };
        Ok(FeedPage { messages, position, head })
    }

    /// The position from which a read returns the messages created at or after `at`:
    /// found through the messages' time-sortable ids, then moved back over the few
    /// created after `at` that committed before earlier ones (a read is at least once,
    /// so starting a little early is the safe side).
    pub async fn feed_position_at(&self, app_id: &ApplicationId, at: DateTime<Utc>) -> StoreResult<i64> {
        let bound = MessageId::generate(at.timestamp_millis().max(0) as u64, [0; 10]);
        let numbers: Vec<i64> = message::Entity::find()
            .select_only()
            .column(message::Column::FeedSeq)
            .filter(message::Column::AppId.eq(app_id.as_str()))
            .filter(message::Column::Id.gte(bound.as_str()))
            .order_by_asc(message::Column::Id)
            .limit(SEEK_SAMPLE)
            .into_tuple()
            .all(&self.db)
            .await?;
        match numbers.into_iter().min() {
            Some(first) => Ok(first - 1),
            None => self.feed_head(app_id).await,
        }
    }
}

/// How many messages after a seek's time are looked at for the earliest number: a
/// seek lands exactly unless more than this many messages were created while one of
/// them waited to commit.
const SEEK_SAMPLE: u64 = 1_000;
