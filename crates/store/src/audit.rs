//! The audit log: every management action, who took it, what it was done to and how
//! it ended. Each entry is written in the transaction of the change it records, so a
//! change never lands without its entry and an entry never outlives a change that
//! rolled back.
//!
//! No secret value is ever written here: details name what changed (header names, a
//! schema validation mode, counts), never a secret, token, key or header value.

use chrono::{DateTime, Utc};
use herald_core::{AuditId, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::entity::{audit_entry, Stored};
use crate::paging::fetch_page;
use crate::{Listed, Page, Store, StoreResult};

/// Who took a management action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A tenant API key, by its id (`key_…`).
    ApiKey(String),
    /// A portal token, by its id (`ptk_…`).
    PortalToken(String),
    /// A scoped key, by its id (`skey_…`): it reads one polling endpoint (and moves its
    /// consumers) or one webhook endpoint's messages (and confirms them), so it never
    /// appears on a management change.
    ScopedKey(String),
    /// The operator: the admin API's operator token or the `herald` command line.
    Operator,
    /// Herald itself, e.g. the task runner starting an automatic redrive.
    Herald,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey(_) => "api_key",
            Actor::PortalToken(_) => "portal_token",
            Actor::ScopedKey(_) => "scoped_key",
            Actor::Operator => "operator",
            Actor::Herald => "herald",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Actor::ApiKey(id) | Actor::PortalToken(id) | Actor::ScopedKey(id) => id,
            Actor::Operator => "operator",
            Actor::Herald => "herald",
        }
    }
}

/// A management action the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    TenantCreate,
    TenantSettingsUpdate,
    ApiKeyCreate,
    ApiKeyRevoke,
    EndpointCreate,
    EndpointUpdate,
    EndpointHeadersUpdate,
    EndpointDelete,
    EndpointSecretRotate,
    EndpointSigningKeyCreate,
    EndpointSigningKeyDelete,
    EndpointRecover,
    EndpointReplayMissing,
    EndpointBulkReplay,
    PortalTokenIssue,
    PortalTokenLogout,
    PortalTokenExpireAll,
    DeadLetterReplay,
    DeadLetterDiscard,
    ApplicationPurgeContent,
    PollerCreate,
    PollerUpdate,
    PollerDelete,
    PollerKeyCreate,
    PollerKeyRevoke,
    EndpointKeyCreate,
    EndpointKeyRevoke,
}

impl Action {
    pub const ALL: [Action; 27] = [
        Action::TenantCreate,
        Action::TenantSettingsUpdate,
        Action::ApiKeyCreate,
        Action::ApiKeyRevoke,
        Action::EndpointCreate,
        Action::EndpointUpdate,
        Action::EndpointHeadersUpdate,
        Action::EndpointDelete,
        Action::EndpointSecretRotate,
        Action::EndpointSigningKeyCreate,
        Action::EndpointSigningKeyDelete,
        Action::EndpointRecover,
        Action::EndpointReplayMissing,
        Action::EndpointBulkReplay,
        Action::PortalTokenIssue,
        Action::PortalTokenLogout,
        Action::PortalTokenExpireAll,
        Action::DeadLetterReplay,
        Action::DeadLetterDiscard,
        Action::ApplicationPurgeContent,
        Action::PollerCreate,
        Action::PollerUpdate,
        Action::PollerDelete,
        Action::PollerKeyCreate,
        Action::PollerKeyRevoke,
        Action::EndpointKeyCreate,
        Action::EndpointKeyRevoke,
    ];

    /// The action's name in the log, e.g. `endpoint.secret.rotate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TenantCreate => "tenant.create",
            Action::TenantSettingsUpdate => "tenant.settings.update",
            Action::ApiKeyCreate => "api_key.create",
            Action::ApiKeyRevoke => "api_key.revoke",
            Action::EndpointCreate => "endpoint.create",
            Action::EndpointUpdate => "endpoint.update",
            Action::EndpointHeadersUpdate => "endpoint.headers.update",
            Action::EndpointDelete => "endpoint.delete",
            Action::EndpointSecretRotate => "endpoint.secret.rotate",
            Action::EndpointSigningKeyCreate => "endpoint.signing_key.create",
            Action::EndpointSigningKeyDelete => "endpoint.signing_key.delete",
            Action::EndpointRecover => "endpoint.recover",
            Action::EndpointReplayMissing => "endpoint.replay_missing",
            Action::EndpointBulkReplay => "endpoint.bulk_replay",
            Action::PortalTokenIssue => "portal_token.issue",
            Action::PortalTokenLogout => "portal_token.logout",
            Action::PortalTokenExpireAll => "portal_token.expire_all",
            Action::DeadLetterReplay => "dead_letter.replay",
            Action::DeadLetterDiscard => "dead_letter.discard",
            Action::ApplicationPurgeContent => "application.purge_content",
            Action::PollerCreate => "poller.create",
            Action::PollerUpdate => "poller.update",
            Action::PollerDelete => "poller.delete",
            Action::PollerKeyCreate => "poller.key.create",
            Action::PollerKeyRevoke => "poller.key.revoke",
            Action::EndpointKeyCreate => "endpoint.key.create",
            Action::EndpointKeyRevoke => "endpoint.key.revoke",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.as_str() == name)
    }

    /// What kind of object the action is done to.
    pub fn target_kind(self) -> &'static str {
        match self {
            Action::TenantCreate | Action::TenantSettingsUpdate => "tenant",
            Action::ApiKeyCreate | Action::ApiKeyRevoke => "api_key",
            Action::PortalTokenIssue | Action::PortalTokenLogout => "portal_token",
            Action::DeadLetterReplay
            | Action::DeadLetterDiscard
            | Action::PortalTokenExpireAll
            | Action::ApplicationPurgeContent => "application",
            Action::PollerCreate
            | Action::PollerUpdate
            | Action::PollerDelete
            | Action::PollerKeyCreate
            | Action::PollerKeyRevoke => "poller",
            Action::EndpointCreate
            | Action::EndpointUpdate
            | Action::EndpointHeadersUpdate
            | Action::EndpointDelete
            | Action::EndpointSecretRotate
            | Action::EndpointSigningKeyCreate
            | Action::EndpointSigningKeyDelete
            | Action::EndpointRecover
            | Action::EndpointReplayMissing
            | Action::EndpointBulkReplay
            | Action::EndpointKeyCreate
            | Action::EndpointKeyRevoke => "endpoint",
        }
    }
}

/// How an action ended. Only actions that reached the store are recorded, so this
/// tells a change from a request that found nothing to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Changed,
    /// The request was valid and authorized but changed nothing (revoking a key that
    /// was already revoked).
    Unchanged,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "success",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One entry to write, inside the change's transaction.
pub(crate) struct Entry<'a> {
    pub tenant_id: &'a str,
    pub actor: &'a Actor,
    pub action: Action,
    pub target_id: &'a str,
    pub outcome: Outcome,
    pub detail: Value,
    pub now: DateTime<Utc>,
}

impl Entry<'_> {
    pub(crate) async fn write(self, conn: &impl ConnectionTrait) -> StoreResult<()> {
        audit_entry::ActiveModel {
            id: Set(next_id(self.now).into()),
            tenant_id: Set(TenantId::parse(self.tenant_id).ok().map(Stored)),
            actor_kind: Set(self.actor.kind().to_owned()),
            actor_id: Set(self.actor.id().to_owned()),
            action: Set(self.action.as_str().to_owned()),
            target_kind: Set(self.action.target_kind().to_owned()),
            target_id: Set(self.target_id.to_owned()),
            outcome: Set(self.outcome.as_str().to_owned()),
            detail: Set(self.detail),
            created_at: Set(self.now),
        }
        .insert(conn)
        .await?;
        Ok(())
    }
}

/// A fresh entry id. Ids are time-sortable, and within one process also in the order
/// they were drawn: entries of one millisecond would otherwise list in random order
/// (between processes they still may, which the millisecond makes rare).
fn next_id(now: DateTime<Utc>) -> AuditId {
    static LAST: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((0, 0));
    let millis = now.timestamp_millis().max(0) as u64;
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Never behind the last id, even if the clock steps back.
    *last = if millis > last.0 { (millis, 0) } else { (last.0, last.1 + 1) };
    let mut random: [u8; 10] = rand::random();
    random[..8].copy_from_slice(&last.1.to_be_bytes());
    AuditId::generate(last.0, random)
}

/// Which entries a listing returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// One tenant's entries; `None` for every tenant (the operator's view).
    pub tenant_id: Option<String>,
    pub action: Option<Action>,
}

impl Store {
    /// One page of audit entries, keyed by id (time order).
    pub async fn list_audit(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Listed<audit_entry::Model>> {
        let mut select = audit_entry::Entity::find();
        if let Some(tenant_id) = &filter.tenant_id {
            select = select.filter(audit_entry::Column::TenantId.eq(tenant_id.as_str()));
        }
        if let Some(action) = filter.action {
            select = select.filter(audit_entry::Column::Action.eq(action.as_str()));
        }
        fetch_page(&self.db, select, audit_entry::Column::Id, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_drawn_in_one_millisecond_sort_in_the_order_drawn() {
        let now = Utc::now();
        let ids: Vec<AuditId> = (0..100).map(|_| next_id(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let earlier = next_id(now - chrono::Duration::seconds(5));
        assert!(earlier > ids[99], "a clock step back does not go behind: {earlier}");
    }

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|action| action.as_str()).collect();
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::parse("endpoint.explode"), None);
    }
}
