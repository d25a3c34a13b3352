//! Writing only what a change changed.
//!
//! A route loads a row, changes some fields and hands both versions to the store.
//! Writing every column back would undo what another writer did in between: the worker
//! disabling an endpoint on a `410` (or resetting its failure streak), a delete. So
//! only the columns whose values differ between the two versions are written, and
//! only while the row is not deleted.

use sea_orm::{ActiveModelTrait, EntityTrait, Iterable, ModelTrait};

/// The columns whose values differ between `before` and `after`; when none do, `touched`
/// alone (written with the value it has, so the write still finds out whether the row
/// is there, and an `UPDATE` always sets something).
pub(crate) fn changed_columns<E: EntityTrait>(
    before: &E::Model,
    after: &E::Model,
    touched: E::Column,
) -> Vec<E::Column> {
    let changed: Vec<E::Column> =
        E::Column::iter().filter(|column| before.get(*column) != after.get(*column)).collect();
    if changed.is_empty() {
        vec![touched]
    } else {
        changed
    }
}

/// An active model with only `columns` set, to their values in `model`.
pub(crate) fn only_columns<E, A>(model: &E::Model, columns: &[E::Column]) -> A
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E>,
{
    let mut active = A::default();
    for column in columns {
        active.set(*column, model.get(*column));
    }
    active
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::application;
    use sea_orm::IdenStatic;

    fn app() -> application::Model {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        application::Model {
            id: herald_core::ApplicationId::generate(1, [1; 10]).into(),
            tenant_id: herald_core::TenantId::generate(1, [2; 10]).into(),
            uid: Some("one".into()),
            name: "One".into(),
            rate_limit: None,
            metadata: serde_json::json!({}),
            created_at: at,
            updated_at: at,
            deleted_at: None,
        }
    }

    fn names(columns: &[application::Column]) -> Vec<String> {
        columns.iter().map(|column| column.as_str().to_owned()).collect()
    }

    #[test]
    fn only_the_columns_a_change_touched_are_written() {
        let before = app();
        let mut after = before.clone();
        after.name = "Renamed".into();
        after.updated_at = before.updated_at + chrono::Duration::seconds(1);
        let columns = changed_columns::<application::Entity>(&before, &after, application::Column::UpdatedAt);
        assert_eq!(names(&columns), ["name", "updated_at"]);
        let active: application::ActiveModel = only_columns::<application::Entity, _>(&after, &columns);
        assert!(active.name.is_set() && active.updated_at.is_set());
        assert!(!active.uid.is_set() && !active.deleted_at.is_set() && !active.id.is_set());
        let unchanged = changed_columns::<application::Entity>(&before, &before, application::Column::UpdatedAt);
        assert_eq!(names(&unchanged), ["updated_at"]);
    }
}
