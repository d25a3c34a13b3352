//! Keyset paging: every listing is ordered by a unique key (an id, or an event type's
//! name) and a page starts strictly after, or ends strictly before, a key seen on
//! the previous page. Unlike offsets, this never repeats or skips a row while new
//! rows are being written, and it costs one index range scan whatever the depth.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::StoreResult;

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// Where a page starts, relative to a key of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The rows that come after this key in listing order (the next page).
    After(String),
    /// The rows that come just before this key in listing order (the previous page).
    Before(String),
}

/// A page request: at most `limit` rows from `cursor` (or from the start).
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub limit: u64,
    pub cursor: Option<Cursor>,
    pub order: Order,
}

impl Page {
    pub fn first(limit: u64) -> Self {
        Self { limit, cursor: None, order: Order::Ascending }
    }

    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }
}

/// One page of rows, in listing order.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    /// Whether more rows lie beyond this page in the direction it was read.
    pub more: bool,
    /// Whether the page was read backwards (from a [`Cursor::Before`]).
    pub backwards: bool,
}

impl<T> Listed<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listed<U> {
        Listed { items: self.items.into_iter().map(f).collect(), more: self.more, backwards: self.backwards }
    }
}

/// Reads one page of `select`, keyed by `key`.
pub(crate) async fn fetch_page<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    key: C,
    page: &Page,
) -> StoreResult<Listed<E::Model>>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let ascending = page.order == Order::Ascending;
    let (select, backwards) = match &page.cursor {
        None => (select, false),
        Some(Cursor::After(at)) if ascending => (select.filter(key.gt(at.as_str())), false),
        Some(Cursor::After(at)) => (select.filter(key.lt(at.as_str())), false),
        Some(Cursor::Before(at)) if ascending => (select.filter(key.lt(at.as_str())), true),
        Some(Cursor::Before(at)) => (select.filter(key.gt(at.as_str())), true),
    };
    // Reading backwards runs the index the other way, then restores listing order.
    let select = if ascending != backwards { select.order_by_asc(key) } else { select.order_by_desc(key) };
    let mut items = select.limit(page.limit + 1).all(db).await?;
    let more = items.len() as u64 > page.limit;
    items.truncate(page.limit as usize);
    if backwards {
        items.reverse();
    }
    Ok(Listed { items, more, backwards })
}
