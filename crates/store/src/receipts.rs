//! Delivery receipts: a consumer confirms it *processed* messages, not just that its
//! server answered `2xx`. An endpoint with a receipt window
//! (`endpoint::Model::receipt_window_secs`) marks the deliveries created for it as
//! expecting a receipt; one that succeeded longer ago than the window and has none is
//! "delivered, not confirmed". Those waiting are in a partial index
//! (`ix_deliveries_unconfirmed`), which a receipt takes them out of, so listing and
//! counting them costs what is waiting, not what was ever delivered.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use herald_core::{EndpointId, MessageId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::entity::{delivery, endpoint};
use crate::paging::{fetch_page, Listed, Page};
use crate::{Store, StoreResult};

/// Most messages one receipt may confirm.
pub const MAX_RECEIPTS_PER_CALL: usize = 1_000;

/// The predicate of `ix_deliveries_unconfirmed`, word for word: SQLite uses a partial
/// index only for a query whose `WHERE` contains it.
const WAITING_FOR_RECEIPT: &str = "receipt_expected AND processed_at IS NULL AND status = 'succeeded'";

/// What a receipt did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// Each confirmed message with when it was first confirmed (a repeated receipt
    /// keeps the first time).
    pub processed: Vec<(MessageId, DateTime<Utc>)>,
    /// The messages named that were never sent to this endpoint.
    pub unknown: Vec<MessageId>,
}

impl Store {
    /// Records that `endpoint`'s consumer processed `msg_ids` (their `webhook-id`s), at
    /// `now` unless it already said so. Whatever the delivery's state: a consumer that
    /// caught up through reconciliation confirms dead-lettered deliveries too.
    pub async fn confirm_receipts(
        &self,
        endpoint_id: &EndpointId,
        msg_ids: &[MessageId],
        now: DateTime<Utc>,
    ) -> StoreResult<Confirmed> {
        let ids: Vec<&str> = msg_ids.iter().map(MessageId::as_str).collect();
        let of_endpoint = || {
            delivery::Entity::find()
                .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
                .filter(delivery::Column::MsgId.is_in(ids.iter().copied()))
        };
        delivery::Entity::update_many()
            .col_expr(delivery::Column::ProcessedAt, Expr::value(now))
            .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
            .filter(delivery::Column::MsgId.is_in(ids.iter().copied()))
            .filter(delivery::Column::ProcessedAt.is_null())
            .exec(&self.db)
            .await?;
        let rows = of_endpoint().all(&self.db).await?;
        let mut confirmed = Confirmed::default();
        let mut seen = HashSet::new();
        for row in rows {
            if let Some(at) = row.processed_at {
                if seen.insert(row.msg_id.to_string()) {
                    confirmed.processed.push((row.msg_id.into_inner(), at));
                }
            }
        }
        let mut named = HashSet::new();
        for id in msg_ids {
            if named.insert(id.as_str()) && !seen.contains(id.as_str()) {
                confirmed.unknown.push(id.clone());
            }
        }
        Ok(confirmed)
    }

    /// `endpoint`'s deliveries that succeeded before `delivered_before` and still wait
    /// for their receipt, one page at a time (by delivery id, so oldest first).
    pub async fn list_unconfirmed(
        &self,
        endpoint_id: &EndpointId,
        delivered_before: DateTime<Utc>,
        page: &Page,
    ) -> StoreResult<Listed<delivery::Model>> {
        let select = delivery::Entity::find()
            .filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()))
            .filter(Expr::cust(WAITING_FOR_RECEIPT))
            .filter(delivery::Column::UpdatedAt.lt(delivered_before));
        fetch_page(&self.db, select, delivery::Column::Id, page).await
    }

    /// Per tenant, the deliveries that succeeded longer ago than their endpoint's
    /// receipt window without a receipt. One count per endpoint that expects receipts,
    /// each a range of the partial index.
    pub async fn unconfirmed_by_tenant(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, u64)>> {
        let expecting: Vec<(String, String, Option<i32>)> = endpoint::Entity::find()
            .select_only()
            .column(endpoint::Column::Id)
            .column(endpoint::Column::TenantId)
            .column(endpoint::Column::ReceiptWindowSecs)
            .filter(endpoint::Column::ReceiptWindowSecs.is_not_null())
            .filter(endpoint::Column::DeletedAt.is_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut by_tenant: std::collections::BTreeMap<String, u64> = Default::default();
        for (endpoint_id, tenant_id, window) in expecting {
            let cutoff = now - Duration::seconds(i64::from(window.unwrap_or_default()));
            let waiting = delivery::Entity::find()
                .filter(delivery::Column::EndpointId.eq(endpoint_id))
                .filter(Expr::cust(WAITING_FOR_RECEIPT))
                .filter(delivery::Column::UpdatedAt.lt(cutoff))
                .count(&self.db)
                .await?;
            *by_tenant.entry(tenant_id).or_default() += waiting;
        }
        Ok(by_tenant.into_iter().collect())
    }
}
