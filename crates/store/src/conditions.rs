//! Conditions written into the SQL text rather than bound as parameters.
//!
//! The partial indexes (migration `m20261202_000006_partial_indexes`) hold only the
//! rows matching their `WHERE`. PostgreSQL uses one only when it can prove the query
//! matches that `WHERE`, and a generic plan for `status = $1` proves nothing; so the
//! queries they serve spell the state out. The values are Herald's own constants,
//! never input.

use herald_core::delivery::SvixMessageStatus;
use herald_core::DeliveryStatus;
use sea_orm::sea_query::{Expr, SimpleExpr};

use crate::entity::{attempt, delivery};

/// `deliveries.status = '<status>'`, the state inlined.
pub(crate) fn delivery_status_is(status: DeliveryStatus) -> SimpleExpr {
    Expr::col((delivery::Entity, delivery::Column::Status)).eq(Expr::cust(format!("'{}'", status.as_str())))
}

/// `attempts.status = 2`: the attempt failed (Svix's status code, inlined).
pub(crate) fn attempt_failed() -> SimpleExpr {
    Expr::col((attempt::Entity, attempt::Column::Status)).eq(Expr::cust(SvixMessageStatus::Fail.code().to_string()))
}
