//! Typed columns. An id or a state column holds a value's text
//! ([`herald_core::TextForm`]); its field is a [`Stored`] of the core type, so a row
//! read back carries a `TenantId` or a `DeliveryStatus`, never a string to re-wrap,
//! and text that is not one fails the read instead of travelling on. Lists of names
//! (event types, channels, tags) are JSON arrays read as [`Names`].
//!
//! `Stored` implements sea-orm's value traits once for every such type; the core
//! types cannot implement them themselves, since core knows nothing of sea-orm.

use std::fmt;
use std::ops::Deref;

use herald_core::TextForm;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, StringLen, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, FromJsonQueryResult, QueryResult, TryFromU64, TryGetError, TryGetable, Value};
use serde::{Deserialize, Serialize};

/// A column holding `T`'s text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stored<T>(pub T);

impl<T> Stored<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Stored<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Stored<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Stored<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Stored<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> PartialEq<T> for Stored<T>
where
    T: PartialEq,
{
    fn eq(&self, other: &T) -> bool {
        self.0 == *other
    }
}

impl<T: TextForm> PartialEq<str> for Stored<T> {
    fn eq(&self, other: &str) -> bool {
        self.0.text() == other
    }
}

impl<T: TextForm> Serialize for Stored<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.text())
    }
}

impl<T: TextForm> AsRef<str> for Stored<T> {
    fn as_ref(&self) -> &str {
        self.0.text()
    }
}

impl<T: TextForm> From<Stored<T>> for Value {
    fn from(value: Stored<T>) -> Value {
        Value::from(&value)
    }
}

impl<T: TextForm> From<&Stored<T>> for Value {
    fn from(value: &Stored<T>) -> Value {
        Value::String(Some(Box::new(value.0.text().to_owned())))
    }
}

impl<T: Clone> From<&Stored<T>> for Stored<T> {
    fn from(value: &Stored<T>) -> Self {
        value.clone()
    }
}

impl<T: TextForm> TryGetable for Stored<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, index)?;
        T::from_text(&text)
            .map(Stored)
            .ok_or_else(|| TryGetError::DbErr(DbErr::Type(format!("`{text}` is not a {}", T::KIND))))
    }
}

impl<T: TextForm> ValueType for Stored<T> {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        match value {
            Value::String(Some(text)) => T::from_text(&text).map(Stored).ok_or(ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        T::KIND.to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::String(StringLen::None)
    }
}

impl<T: TextForm> Nullable for Stored<T> {
    fn null() -> Value {
        Value::String(None)
    }
}

/// Ids are never numbers; sea-orm asks only of auto-increment keys, which these are not.
impl<T: TextForm> TryFromU64 for Stored<T> {
    fn try_from_u64(_: u64) -> Result<Self, DbErr> {
        Err(DbErr::ConvertFromU64(T::KIND))
    }
}

/// A JSON array of names: an endpoint's event types or channels, a message's
/// channels or tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct Names(pub Vec<String>);

impl Names {
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|own| own == name)
    }
}

impl From<Vec<String>> for Names {
    fn from(names: Vec<String>) -> Self {
        Self(names)
    }
}
