//! The store against both of its databases: every test runs on a fresh PostgreSQL
//! database and on a fresh SQLite file, over real connections.

use chrono::{Duration, Utc};
use herald_core::{
    ApiKeyId, ApplicationId, AttemptId, DeliveryId, DeliveryStatus, EndpointHealth, EndpointId, MessageId, TenantId,
};
use herald_store::{
    Action, Actor, AttemptFilter, AttemptRecord, AuditFilter, Cursor, DeliveryTransition, NewApplication, NewAttempt,
    NewEndpoint, NewMessage, Page, PlannedDelivery, Store, StoreError,
};

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

fn postgres_url() -> String {
    let admin = std::env::var("HERALD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = admin.rsplit_once('/').map_or(admin.clone(), |(base, _)| base.to_owned());
    format!("{base}/herald_store_test_{}", tag())
}

/// 32 bytes of `B`, base64: the key these tests seal with.
const TEST_KEYS: &str = "test:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("herald-store-test-{}", tag()));
    format!("sqlite://{}/herald.db?mode=rwc", dir.display())
}

/// A migrated store on the database `url` names.
async fn migrated_store(url: &str) -> Store {
    herald_store::ensure_database_exists(url).await.unwrap_or_else(|e| panic!("create {url}: {e}"));
    let store = Store::connect(
        url,
        herald_store::PoolOptions::with_max_connections(4),
        herald_store::Keyring::parse(TEST_KEYS).unwrap(),
    )
    .await
    .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    store.migrate().await.expect("migrations apply");
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
    store
}

/// A migrated store on each backend.
async fn stores() -> Vec<Store> {
    let mut stores = Vec::new();
    for url in [postgres_url(), sqlite_url()] {
        stores.push(migrated_store(&url).await);
    }
    stores
}

fn id<T>(generate: impl FnOnce(u64, [u8; 10]) -> T) -> T {
    generate(Utc::now().timestamp_millis() as u64, rand::random())
}

async fn tenant(store: &Store, key: &str) -> TenantId {
    let tenant = id(TenantId::generate);
    store.create_tenant(&tenant, "t", &id(ApiKeyId::generate), key, Utc::now(), &Actor::Operator).await.unwrap();
    tenant
}

async fn application(store: &Store, tenant: &TenantId, uid: Option<&str>) -> Result<ApplicationId, StoreError> {
    let new = NewApplication {
        id: id(ApplicationId::generate),
        tenant_id: tenant.clone(),
        uid: uid.map(str::to_owned),
        name: "App".into(),
        rate_limit: None,
        metadata: serde_json::json!({"tier": "gold"}),
        now: Utc::now(),
    };
    store.create_application(new).await.map(|app| app.id.into_inner())
}

async fn endpoint(store: &Store, tenant: &TenantId, app_id: &ApplicationId, filter: Option<Vec<String>>) -> EndpointId {
    let new = NewEndpoint {
        id: id(EndpointId::generate),
        tenant_id: tenant.clone(),
        app_id: app_id.clone(),
        uid: None,
        url: "https://example.com/hook".into(),
        description: String::new(),
        version: 1,
        disabled: false,
        rate_limit: None,
        filter_types: filter,
        channels: None,
        metadata: serde_json::json!({}),
        headers: serde_json::json!({}),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        ordered: false,
        signing_key: None,
        receipt_window_secs: None,
        auto_redrive: true,
        now: Utc::now(),
    };
    store.create_endpoint(new, &Actor::ApiKey("key_test".into())).await.unwrap().id.into_inner()
}

#[tokio::test]
async fn api_keys_are_stored_hashed_and_authenticate_their_tenant() {
    for store in stores().await {
        let key = format!("sk_{}", tag());
        let tenant = tenant(&store, &key).await;
        let (found, key_id) = store.authenticate_api_key(&key).await.unwrap().expect("the key authenticates");
        assert_eq!(found.id, tenant);
        assert!(key_id.starts_with("key_"), "{key_id}");
        assert_eq!(*found.schema_validation, herald_core::SchemaMode::Accept);
        assert_eq!(store.authenticate_api_key("sk_unknown").await.unwrap(), None);
        assert_eq!(store.authenticate_api_key(&format!("{key}x")).await.unwrap(), None);
        assert!(store.find_tenant(&tenant).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn audit_entries_commit_with_their_change_and_never_without_it() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app = application(&store, &tenant, None).await.unwrap();
        let portal = Actor::PortalToken("ptk_someone".into());
        let endpoint_id = endpoint(&store, &tenant, &app, None).await;
        let before = store.find_endpoint(&app, endpoint_id.as_str()).await.unwrap().unwrap();
        let mut existing = before.clone();
        existing.uid = Some("taken".into());
        store.update_endpoint(&before, existing, &portal, Action::EndpointUpdate).await.unwrap().expect("not deleted");

        // A second endpoint that takes the same uid fails, and so leaves no entry.
        let other_id = endpoint(&store, &tenant, &app, None).await;
        let other_before = store.find_endpoint(&app, other_id.as_str()).await.unwrap().unwrap();
        let mut other = other_before.clone();
        other.uid = Some("taken".into());
        let refused = store.update_endpoint(&other_before, other, &portal, Action::EndpointSecretRotate).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");

        let filter = AuditFilter { tenant_id: Some(tenant.to_string()), action: None };
        let entries = store.list_audit(&filter, &Page::first(50)).await.unwrap().items;
        let seen: Vec<(&str, &str, &str)> =
            entries.iter().map(|e| (e.action.as_str(), e.actor_kind.as_str(), e.target_id.as_str())).collect();
        assert_eq!(
            seen,
            vec![
                ("tenant.create", "operator", tenant.as_str()),
                ("endpoint.create", "api_key", endpoint_id.as_str()),
                ("endpoint.update", "portal_token", endpoint_id.as_str()),
                ("endpoint.create", "api_key", other_id.as_str()),
            ]
        );
        assert_eq!(entries[2].actor_id, "ptk_someone");
        let only_updates = AuditFilter { tenant_id: Some(tenant.to_string()), action: Some(Action::EndpointUpdate) };
        assert_eq!(store.list_audit(&only_updates, &Page::first(50)).await.unwrap().items.len(), 1);
    }
}

/// Two writers load the same endpoint; the one that writes last changes only what it
/// changed, so it neither re-enables what the first disabled nor undoes a delete.
#[tokio::test]
async fn a_stale_writer_keeps_what_another_wrote_and_cannot_revive_a_deleted_endpoint() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app = application(&store, &tenant, None).await.unwrap();
        let by = Actor::Operator;
        let endpoint_id = endpoint(&store, &tenant, &app, None).await;
        let seen_by_worker = store.find_endpoint(&app, endpoint_id.as_str()).await.unwrap().unwrap();
        let seen_by_patch = seen_by_worker.clone();

        let mut disabled = seen_by_worker.clone();
        disabled.disabled = true;
        disabled.failing_since = Some(Utc::now());
        store.update_endpoint(&seen_by_worker, disabled, &by, Action::EndpointUpdate).await.unwrap().unwrap();

        let mut described = seen_by_patch.clone();
        described.description = "renamed while the worker disabled it".into();
        described.updated_at = Utc::now();
        let written =
            store.update_endpoint(&seen_by_patch, described, &by, Action::EndpointUpdate).await.unwrap().unwrap();
        assert!(written.disabled, "the stale writer re-enabled the endpoint");
        assert!(written.failing_since.is_some(), "the stale writer reset the failure streak");
        assert_eq!(written.description, "renamed while the worker disabled it");
        let stored = store.find_endpoint(&app, endpoint_id.as_str()).await.unwrap().unwrap();
        assert!(stored.disabled && stored.description == written.description);

        // Deleted between the load and the write: nothing is written, it stays deleted.
        store.delete_endpoint(&stored, Utc::now(), &by).await.unwrap();
        let mut late = stored.clone();
        late.description = "too late".into();
        let revived = store.update_endpoint(&stored, late, &by, Action::EndpointUpdate).await.unwrap();
        assert!(revived.is_none(), "an update of a deleted endpoint wrote {revived:?}");
        assert!(store.find_endpoint(&app, endpoint_id.as_str()).await.unwrap().is_none(), "the endpoint came back");

        // The same for applications: a stale rename cannot bring one back either.
        let app_before = store.find_application(&tenant, app.as_str()).await.unwrap().unwrap();
        store.delete_application(&app_before.id, Utc::now()).await.unwrap();
        let mut renamed = app_before.clone();
        renamed.name = "too late".into();
        assert!(store.update_application(&app_before, renamed).await.unwrap().is_none());
        assert!(store.find_application(&tenant, app.as_str()).await.unwrap().is_none(), "the application came back");
    }
}

#[tokio::test]
async fn applications_are_found_by_id_or_uid_only_within_their_tenant() {
    for store in stores().await {
        let mine = tenant(&store, &format!("sk_{}", tag())).await;
        let theirs = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &mine, Some("acme")).await.unwrap();
        assert!(matches!(application(&store, &mine, Some("acme")).await, Err(StoreError::Conflict(_))));
        application(&store, &theirs, Some("acme")).await.expect("uids are per tenant");

        let by_id = store.find_application(&mine, app_id.as_str()).await.unwrap().unwrap();
        assert_eq!(by_id.metadata["tier"], "gold");
        assert_eq!(store.find_application(&mine, "acme").await.unwrap().unwrap().id, app_id);
        assert!(
            store.find_application(&theirs, app_id.as_str()).await.unwrap().is_none(),
            "another tenant's app is invisible"
        );
        assert_ne!(store.find_application(&theirs, "acme").await.unwrap().unwrap().id, app_id);
    }
}

#[tokio::test]
async fn a_message_and_its_deliveries_commit_together_and_attempts_move_them_once() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let first = endpoint(&store, &tenant, &app_id, None).await;
        let second = endpoint(&store, &tenant, &app_id, Some(vec!["a.b".into()])).await;
        assert_eq!(store.list_application_endpoints(&app_id).await.unwrap().len(), 2);

        let msg_id = id(MessageId::generate);
        let planned: Vec<PlannedDelivery> = [&first, &second]
            .iter()
            .map(|ep| PlannedDelivery {
                id: id(DeliveryId::generate),
                endpoint_id: (*ep).clone(),
                ordered: false,
                receipt_expected: false,
            })
            .collect();
        let now = Utc::now();
        let new = NewMessage {
            id: msg_id.clone(),
            tenant_id: tenant.clone(),
            app_id: app_id.clone(),
            event_type: "a.b".into(),
            event_id: None,
            payload: r#"{"b": 1, "a": 2}"#.into(),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            deliver_at: None,
            expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
            now,
        };
        let (message, deliveries) = store.create_message(new, &planned).await.unwrap();
        assert_eq!(message.payload, r#"{"b": 1, "a": 2}"#, "the payload is kept byte for byte");
        assert_eq!(deliveries.len(), 2);
        assert!(store.find_message(&tenant, &app_id, msg_id.as_str()).await.unwrap().is_some());

        // Overdue pending deliveries are what the reconciler pages through.
        let later = now + Duration::seconds(1);
        let overdue = store.overdue_deliveries(later, None, 10).await.unwrap();
        assert_eq!(overdue.len(), 2);
        let after_first = store.overdue_deliveries(later, Some(overdue[0].id.as_str()), 10).await.unwrap();
        assert_eq!(after_first.len(), 1);
        assert!(store.overdue_deliveries(now - Duration::seconds(1), None, 10).await.unwrap().is_empty());

        // The first attempt moves the delivery; a racing duplicate with the same count does not.
        let delivery = &deliveries[0];
        let retry_at = now + Duration::seconds(30);
        let attempt = |number: i32| NewAttempt {
            id: id(AttemptId::generate),
            tenant_id: delivery.tenant_id.0.clone(),
            app_id: delivery.app_id.0.clone(),
            msg_id: delivery.msg_id.0.clone(),
            endpoint_id: delivery.endpoint_id.0.clone(),
            delivery_id: delivery.id.0.clone(),
            attempt_number: number,
            url: "https://example.com/hook".into(),
            status: 2,
            outcome_class: "http_status".into(),
            response_status_code: 500,
            response: "boom".into(),
            response_duration_ms: 12,
            trigger_type: 0,
            next_attempt_at: Some(retry_at),
            created_at: Utc::now(),
            request_headers: Some(r#"{"webhook-id":"msg_1"}"#.into()),
            response_headers: None,
        };
        let record = |attempt: NewAttempt, transition, expected_attempt_count, disable_endpoint| {
            let health = health_of(&attempt);
            let record = AttemptRecord {
                attempt,
                transition,
                expected_attempt_count,
                disable_endpoint,
                health,
                ordering_key: None,
            };
            let store = store.clone();
            async move { store.record_attempts(vec![record], None).await.unwrap() }
        };
        let state = || async {
            let stored = store.message_deliveries(&msg_id).await.unwrap();
            let moved = stored.into_iter().find(|d| d.id == delivery.id).unwrap();
            (moved.status, moved.attempt_count, moved.next_attempt_at)
        };
        record(attempt(1), DeliveryTransition::Retry { at: retry_at }, 0, false).await;
        let after_first = state().await;
        assert_eq!((after_first.0.as_str(), after_first.1), ("pending", 1));
        record(attempt(1), DeliveryTransition::Retry { at: retry_at }, 0, false).await;
        assert_eq!(state().await, after_first, "the racing duplicate moved nothing");
        let recorded = record(attempt(2), DeliveryTransition::DeadLettered, 1, true).await;
        assert_eq!(recorded.disabled.len(), 1, "the 410 disabled the endpoint");
        assert_eq!(state().await, (DeliveryStatus::Failed.into(), 2, None));
        let endpoints = store.list_application_endpoints(&app_id).await.unwrap();
        assert!(
            endpoints.iter().find(|e| e.id == delivery.endpoint_id).unwrap().disabled,
            "disabled with the dead-letter"
        );

        // Three attempt rows (the racing one is recorded too), paged newest first.
        let page = Page::first(2).descending();
        let all = AttemptFilter::default();
        let first_page = store.list_message_attempts(&tenant, &msg_id, &all, &page).await.unwrap();
        assert_eq!(first_page.items.len(), 2);
        assert!(first_page.more, "a third attempt lies beyond the first page");
        assert!(first_page.items[0].id > first_page.items[1].id, "newest first");
        let next = Page { cursor: Some(Cursor::After(first_page.items[1].id.to_string())), ..page.clone() };
        let second_page = store.list_message_attempts(&tenant, &msg_id, &all, &next).await.unwrap();
        assert_eq!(second_page.items.len(), 1);
        assert!(!second_page.more);
        let back = Page { cursor: Some(Cursor::Before(second_page.items[0].id.to_string())), ..page.clone() };
        let previous = store.list_message_attempts(&tenant, &msg_id, &all, &back).await.unwrap();
        assert_eq!(
            previous.items.iter().map(|a| &a.id).collect::<Vec<_>>(),
            first_page.items.iter().map(|a| &a.id).collect::<Vec<_>>(),
            "reading backwards returns the previous page in listing order"
        );
        let other = id(TenantId::generate);
        assert!(store.list_message_attempts(&other, &msg_id, &all, &page).await.unwrap().items.is_empty());
    }
}

#[tokio::test]
async fn a_failed_message_write_leaves_nothing_behind() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let msg_id = id(MessageId::generate);
        // A delivery to an endpoint that does not exist violates a foreign key on
        // PostgreSQL; on both backends a duplicate delivery id violates the primary key.
        let duplicate = id(DeliveryId::generate);
        let ep = endpoint(&store, &tenant, &app_id, None).await;
        let planned = [
            PlannedDelivery { id: duplicate.clone(), endpoint_id: ep.clone(), ordered: false, receipt_expected: false },
            PlannedDelivery { id: duplicate, endpoint_id: ep, ordered: false, receipt_expected: false },
        ];
        let new = NewMessage {
            id: msg_id.clone(),
            tenant_id: tenant.clone(),
            app_id: app_id.clone(),
            event_type: "a.b".into(),
            event_id: None,
            payload: "{}".into(),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            deliver_at: None,
            expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
            now: Utc::now(),
        };
        assert!(store.create_message(new, &planned).await.is_err());
        assert!(
            store.find_message(&tenant, &app_id, msg_id.as_str()).await.unwrap().is_none(),
            "the message rolled back"
        );
        assert!(store.message_deliveries(&msg_id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_message_writer_commits_concurrent_messages_and_a_bad_one_fails_alone() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let ep = endpoint(&store, &tenant, &app_id, None).await;
        let writer = herald_store::MessageWriter::start(store.clone());
        let message = |planned: Vec<PlannedDelivery>| {
            let new = NewMessage {
                id: id(MessageId::generate),
                tenant_id: tenant.clone(),
                app_id: app_id.clone(),
                event_type: "a.b".into(),
                event_id: None,
                payload: "{}".into(),
                channels: None,
                tags: None,
                schema_violations: None,
                ordering_key: None,
                trace_context: None,
                deliver_at: None,
                expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
                now: Utc::now(),
            };
            (new, planned)
        };
        let mut writes = tokio::task::JoinSet::new();
        let mut ids = Vec::new();
        for n in 0..60 {
            // Message 30 plans the same delivery id twice: it cannot commit.
            let delivery = id(DeliveryId::generate);
            let planned = if n == 30 {
                vec![
                    PlannedDelivery {
                        id: delivery.clone(),
                        endpoint_id: ep.clone(),
                        ordered: false,
                        receipt_expected: false,
                    },
                    PlannedDelivery { id: delivery, endpoint_id: ep.clone(), ordered: false, receipt_expected: false },
                ]
            } else {
                vec![PlannedDelivery { id: delivery, endpoint_id: ep.clone(), ordered: false, receipt_expected: false }]
            };
            let (new, planned) = message(planned);
            ids.push((n, new.id.clone()));
            let writer = writer.clone();
            writes.spawn(async move { (n, writer.create(new, planned).await) });
        }
        let mut results = std::collections::BTreeMap::new();
        while let Some(done) = writes.join_next().await {
            let (n, result) = done.unwrap();
            results.insert(n, result);
        }
        for (n, msg_id) in ids {
            let stored = store.find_message(&tenant, &app_id, msg_id.as_str()).await.unwrap();
            let deliveries = store.message_deliveries(&msg_id).await.unwrap();
            if n == 30 {
                assert!(results[&n].is_err());
                assert!(stored.is_none() && deliveries.is_empty(), "the bad message left nothing behind");
            } else {
                let (message, rows) = results[&n].as_ref().expect("every other message commits");
                assert_eq!(stored.as_ref(), Some(message), "the answer is what was stored");
                assert_eq!(rows.len(), 1);
                assert_eq!(deliveries.len(), 1);
            }
        }
    }
}

#[tokio::test]
async fn a_batch_load_reads_each_message_once_for_its_fan_out() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let endpoints =
            [endpoint(&store, &tenant, &app_id, None).await, endpoint(&store, &tenant, &app_id, None).await];
        let planned: Vec<PlannedDelivery> = endpoints
            .iter()
            .map(|ep| PlannedDelivery {
                id: id(DeliveryId::generate),
                endpoint_id: ep.clone(),
                ordered: false,
                receipt_expected: false,
            })
            .collect();
        let new = NewMessage {
            id: id(MessageId::generate),
            tenant_id: tenant.clone(),
            app_id: app_id.clone(),
            event_type: "a.b".into(),
            event_id: None,
            payload: "{}".into(),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            deliver_at: None,
            expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
            now: Utc::now(),
        };
        store.create_message(new, &planned).await.unwrap();
        let mut ids: Vec<String> = planned.iter().map(|p| p.id.to_string()).collect();
        ids.push(id(DeliveryId::generate).to_string());
        let loaded = store.load_dispatch_batch(&ids).await.unwrap();
        assert_eq!(loaded.len(), 2, "the unknown delivery is absent");
        let (first, second) = (&loaded[&ids[0]], &loaded[&ids[1]]);
        assert!(std::sync::Arc::ptr_eq(&first.message, &second.message), "one message for its fan-out");
        assert_eq!(first.endpoint.as_ref().unwrap().id, endpoints[0]);
        assert_eq!(second.endpoint.as_ref().unwrap().id, endpoints[1]);
    }
}

#[tokio::test]
async fn ordered_deliveries_are_numbered_held_and_released_one_at_a_time() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let ep = endpoint(&store, &tenant, &app_id, None).await;
        let message = |key: Option<&str>| {
            let planned = vec![PlannedDelivery {
                id: id(DeliveryId::generate),
                endpoint_id: ep.clone(),
                ordered: true,
                receipt_expected: false,
            }];
            let new = NewMessage {
                id: id(MessageId::generate),
                tenant_id: tenant.clone(),
                app_id: app_id.clone(),
                event_type: "a.b".into(),
                event_id: None,
                payload: "{}".into(),
                channels: None,
                tags: None,
                schema_violations: None,
                ordering_key: key.map(str::to_owned),
                trace_context: None,
                deliver_at: None,
                expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
                now: Utc::now(),
            };
            (new, planned)
        };
        // One alone, then three in one group commit: numbered across the batch, in order.
        let (new, planned) = message(Some("k"));
        let (_, first) = store.create_message(new, &planned).await.unwrap();
        let batch = store.create_messages(vec![message(Some("k")), message(None), message(Some("k"))]).await.unwrap();
        let head = &first[0];
        assert_eq!((head.ordering_key.as_deref(), head.sequence), (Some("k"), Some(1)));
        assert!(head.next_attempt_at.is_some(), "the key's first delivery goes out");
        let (second, loose, third) = (&batch[0].1[0], &batch[1].1[0], &batch[2].1[0]);
        assert_eq!((second.sequence, third.sequence), (Some(2), Some(3)));
        assert!(second.next_attempt_at.is_none() && third.next_attempt_at.is_none(), "both held behind the head");
        assert_eq!((loose.ordering_key.as_deref(), loose.sequence), (None, None));
        assert!(loose.next_attempt_at.is_some(), "a message without a key is not ordered");
        let due = store.overdue_deliveries(Utc::now(), None, 100).await.unwrap();
        assert!(!due.iter().any(|d| d.id == second.id || d.id == third.id), "held deliveries are never overdue");

        let finish = |delivery: &herald_store::entity::delivery::Model, transition| {
            let attempt = NewAttempt {
                id: id(AttemptId::generate),
                tenant_id: delivery.tenant_id.0.clone(),
                app_id: delivery.app_id.0.clone(),
                msg_id: delivery.msg_id.0.clone(),
                endpoint_id: delivery.endpoint_id.0.clone(),
                delivery_id: delivery.id.0.clone(),
                attempt_number: delivery.attempt_count + 1,
                url: "https://example.com/hook".into(),
                status: 0,
                outcome_class: "success".into(),
                response_status_code: 200,
                response: String::new(),
                response_duration_ms: 1,
                trigger_type: 0,
                next_attempt_at: None,
                created_at: Utc::now(),
                request_headers: None,
                response_headers: None,
            };
            let record = AttemptRecord {
                health: health_of(&attempt),
                attempt,
                transition,
                expected_attempt_count: delivery.attempt_count,
                disable_endpoint: false,
                ordering_key: delivery.ordering_key.clone(),
            };
            let store = store.clone();
            async move { store.record_attempts(vec![record], None).await.unwrap().released }
        };
        // A retry keeps the head; the rest stay held.
        let retry = DeliveryTransition::Retry { at: Utc::now() };
        assert!(finish(head, retry).await.is_empty());
        let head = store.load_delivery(&head.id).await.unwrap().unwrap().0;
        // Dead-lettered or succeeded, the head's end releases exactly the next one.
        let released = finish(&head, DeliveryTransition::DeadLettered).await;
        assert_eq!(released.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [second.id.as_str()]);
        assert!(released[0].next_attempt_at.is_some());
        // A replay of the dead head while #2 is on its way does not release #3 early.
        let head_message = store.load_delivery(&head.id).await.unwrap().unwrap().1;
        let endpoint = store.find_dispatch_endpoint(&ep).await.unwrap().unwrap();
        let replayed = store.resend(&head_message, &endpoint, &id(DeliveryId::generate), Utc::now()).await.unwrap();
        assert!(finish(&replayed, DeliveryTransition::Succeeded).await.is_empty(), "#2 is still on its way");
        let released = finish(&released[0], DeliveryTransition::Succeeded).await;
        assert_eq!(released.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [third.id.as_str()]);
        // A resend of a held delivery does not send it out of turn: it stays held.
        let (new, planned) = message(Some("k"));
        let (fourth_message, fourth) = store.create_message(new, &planned).await.unwrap();
        assert!(fourth[0].next_attempt_at.is_none() && fourth[0].sequence == Some(4));
        let resent = store.resend(&fourth_message, &endpoint, &id(DeliveryId::generate), Utc::now()).await.unwrap();
        assert!(resent.next_attempt_at.is_none(), "still held");
        assert_eq!(finish(&released[0], DeliveryTransition::Succeeded).await[0].id, fourth[0].id);
    }
}

/// Every column survives the round trip through the batch writes (on PostgreSQL they
/// are hand-written statements over arrays, see `crates/store/src/bulk.rs`), and a
/// batch of successes moves its deliveries, ends its endpoint's failure streak and,
/// raced by a duplicate, moves each delivery once.
#[tokio::test]
async fn batch_writes_keep_every_column_and_successes_move_their_deliveries_once() {
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let ep = endpoint(&store, &tenant, &app_id, None).await;
        let now = Utc::now();
        let batch: Vec<(NewMessage, Vec<PlannedDelivery>)> = (0..3)
            .map(|n| {
                let new = NewMessage {
                    id: id(MessageId::generate),
                    tenant_id: tenant.clone(),
                    app_id: app_id.clone(),
                    event_type: format!("order.{n}"),
                    event_id: None,
                    payload: format!(r#"{{"n": {n}, "text": "é ✓"}}"#),
                    channels: (n > 0).then(|| vec!["eu".to_owned(), "beta".to_owned()]),
                    tags: (n > 1).then(|| vec!["vip".to_owned()]),
                    schema_violations: (n == 2).then(|| vec!["/n: must be a string".to_owned()]),
                    ordering_key: None,
                    trace_context: (n == 1).then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
                    deliver_at: None,
                    expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
                    now,
                };
                let planned = vec![PlannedDelivery {
                    id: id(DeliveryId::generate),
                    endpoint_id: ep.clone(),
                    ordered: false,
                    receipt_expected: false,
                }];
                (new, planned)
            })
            .collect();
        let created = store.create_messages(batch).await.unwrap();
        for (message, deliveries) in &created {
            let stored = store.find_message(&tenant, &app_id, message.id.as_str()).await.unwrap();
            assert_eq!(stored.as_ref(), Some(message), "the answer is what was stored");
            assert_eq!(&store.message_deliveries(&message.id).await.unwrap(), deliveries);
        }
        let ids: Vec<String> = created.iter().map(|(_, deliveries)| deliveries[0].id.to_string()).collect();
        let loaded = store.load_dispatch_batch(&ids).await.unwrap();
        for (message, deliveries) in &created {
            let context = &loaded[deliveries[0].id.as_str()];
            assert_eq!((&context.delivery, context.message.as_ref()), (&deliveries[0], message));
            assert_eq!(context.endpoint.as_ref().unwrap().id, ep);
        }

        let attempt = |delivery: &herald_store::entity::delivery::Model, status: i16, outcome: &str| NewAttempt {
            id: id(AttemptId::generate),
            tenant_id: delivery.tenant_id.0.clone(),
            app_id: delivery.app_id.0.clone(),
            msg_id: delivery.msg_id.0.clone(),
            endpoint_id: delivery.endpoint_id.0.clone(),
            delivery_id: delivery.id.0.clone(),
            attempt_number: 1,
            url: "https://example.com/hook".into(),
            status,
            outcome_class: outcome.into(),
            response_status_code: if status == 0 { 204 } else { 500 },
            response: "fine".into(),
            response_duration_ms: 7,
            trigger_type: 0,
            next_attempt_at: None,
            created_at: Utc::now(),
            request_headers: Some(r#"{"webhook-id":"msg_1"}"#.into()),
            response_headers: (status == 0).then(|| r#"{"server":"test"}"#.into()),
        };
        let record = |attempt: NewAttempt, transition| AttemptRecord {
            health: health_of(&attempt),
            attempt,
            transition,
            expected_attempt_count: 0,
            disable_endpoint: false,
            ordering_key: None,
        };
        // A failure starts the endpoint's failure streak; the successes below end it.
        let failing = &created[0].1[0];
        let retry_at = now + Duration::seconds(60);
        store
            .record_attempts(
                vec![record(attempt(failing, 2, "http_status"), DeliveryTransition::Retry { at: retry_at })],
                None,
            )
            .await
            .unwrap();
        let failing_since = || async {
            let endpoints = store.list_application_endpoints(&app_id).await.unwrap();
            endpoints.into_iter().find(|e| e.id == ep).unwrap().failing_since
        };
        assert!(failing_since().await.is_some());

        let (second, third) = (&created[1].1[0], &created[2].1[0]);
        let blocked_retry_at = now + Duration::seconds(90);
        let successes = vec![
            record(attempt(second, 0, "success"), DeliveryTransition::Succeeded),
            record(attempt(second, 0, "success"), DeliveryTransition::Succeeded),
            record(attempt(third, 0, "success"), DeliveryTransition::Succeeded),
            // Blocked by the SSRF guard: a retry, but not the endpoint failing.
            AttemptRecord {
                attempt: NewAttempt {
                    attempt_number: 2,
                    next_attempt_at: Some(blocked_retry_at),
                    ..attempt(failing, 2, "blocked")
                },
                transition: DeliveryTransition::Retry { at: blocked_retry_at },
                expected_attempt_count: 1,
                disable_endpoint: false,
                health: EndpointHealth::Untried,
                ordering_key: None,
            },
        ];
        let expected: Vec<NewAttempt> = successes.iter().map(|r| r.attempt.clone()).collect();
        let recorded = store.record_attempts(successes, None).await.unwrap();
        assert!(recorded.disabled.is_empty() && recorded.released.is_empty());
        assert_eq!(failing_since().await, None, "a success ends the failure streak");
        for delivery in [second, third] {
            let moved = store.message_deliveries(&delivery.msg_id).await.unwrap().remove(0);
            assert_eq!((moved.status.as_str(), moved.attempt_count, moved.next_attempt_at), ("succeeded", 1, None));
        }
        let moved = store.message_deliveries(&failing.msg_id).await.unwrap().remove(0);
        assert_eq!((moved.status.as_str(), moved.attempt_count), ("pending", 2));
        assert_eq!(moved.next_attempt_at.map(|at| at.timestamp_micros()), Some(blocked_retry_at.timestamp_micros()));

        let all = AttemptFilter::default();
        let mut stored =
            store.list_message_attempts(&tenant, &second.msg_id, &all, &Page::first(10)).await.unwrap().items;
        for other in [third, failing] {
            stored.extend(
                store.list_message_attempts(&tenant, &other.msg_id, &all, &Page::first(10)).await.unwrap().items,
            );
        }
        assert_eq!(stored.len(), 5, "the racing duplicate is recorded too");
        for new in &expected {
            let row = stored.iter().find(|a| a.id == new.id).expect("every attempt is recorded");
            assert_eq!(
                (&row.tenant_id.0, &row.app_id.0, &row.msg_id.0, &row.endpoint_id.0, &row.delivery_id.0, &row.url),
                (&new.tenant_id, &new.app_id, &new.msg_id, &new.endpoint_id, &new.delivery_id, &new.url)
            );
            assert_eq!(
                (row.attempt_number, row.status, &row.outcome_class, row.response_status_code, &row.response),
                (new.attempt_number, new.status, &new.outcome_class, new.response_status_code, &new.response)
            );
            assert_eq!(
                (
                    row.response_duration_ms,
                    row.trigger_type,
                    row.next_attempt_at.map(|at| at.timestamp_micros()),
                    row.created_at.timestamp_micros(),
                    &row.request_headers,
                    &row.response_headers,
                ),
                (
                    new.response_duration_ms,
                    new.trigger_type,
                    new.next_attempt_at.map(|at| at.timestamp_micros()),
                    new.created_at.timestamp_micros(),
                    &new.request_headers,
                    &new.response_headers,
                )
            );
        }
    }
}

#[tokio::test]
async fn autovacuum_off_reports_the_servers_setting() {
    use sea_orm::ConnectionTrait as _;
    let [postgres, sqlite] = <[Store; 2]>::try_from(stores().await).expect("two stores");
    assert!(!sqlite.autovacuum_off().await.unwrap(), "SQLite has no autovacuum to be off");
    let admin = std::env::var("HERALD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let direct = sea_orm::Database::connect(admin).await.unwrap();
    let row = direct
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT setting FROM pg_settings WHERE name = 'autovacuum'",
        ))
        .await
        .unwrap()
        .expect("pg_settings has autovacuum");
    let setting: String = row.try_get_by_index(0).unwrap();
    assert_eq!(postgres.autovacuum_off().await.unwrap(), setting == "off", "server says autovacuum = {setting}");
}

/// What the worker would say about an attempt's endpoint (`EndpointHealth::of` its
/// outcome), from the stored form these tests build attempts in.
fn health_of(attempt: &NewAttempt) -> EndpointHealth {
    match (attempt.status, attempt.outcome_class.as_str()) {
        (0, _) => EndpointHealth::Healthy,
        (_, "blocked") => EndpointHealth::Untried,
        _ => EndpointHealth::Failing,
    }
}

/// Guarantee 7's foundation: the feed numbers an application's messages 1..n in the
/// order they commit, with no gap a failed write leaves, and a reader that pages
/// through it while writers race sees every committed message exactly once.
#[tokio::test]
async fn a_reader_racing_the_writers_sees_every_message_of_the_feed_once() {
    use herald_core::PollerId;
    use herald_store::FeedFilter;
    for store in stores().await {
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let read_app = application(&store, &tenant, None).await.unwrap();
        let other_app = application(&store, &tenant, None).await.unwrap();
        let message = |app_id: &ApplicationId, n: usize| NewMessage {
            id: id(MessageId::generate),
            tenant_id: tenant.clone(),
            app_id: app_id.clone(),
            event_type: if n.is_multiple_of(3) { "order.paid".into() } else { "order.created".into() },
            // Messages with an eventId take the single-message path; 4 and 8 share
            // one, so the second to arrive fails and must leave no number behind.
            event_id: match n {
                4 | 8 => Some("evt-shared".into()),
                n if n % 10 == 0 => Some(format!("evt-{n}")),
                _ => None,
            },
            payload: format!("{{\"n\":{n}}}"),
            channels: None,
            tags: None,
            schema_violations: None,
            ordering_key: None,
            trace_context: None,
            deliver_at: None,
            expiry: herald_core::Retention::default().expiry(chrono::Utc::now(), None),
            now: Utc::now(),
        };
        // Both applications' messages, interleaved; those without an eventId go in
        // batches of five spanning both applications (group commit's path).
        let all: Vec<NewMessage> =
            (0..240).map(|n| message(if n % 2 == 0 { &read_app } else { &other_app }, n / 2)).collect();
        let (single, batched): (Vec<NewMessage>, Vec<NewMessage>) =
            all.into_iter().partition(|new| new.event_id.is_some());
        let mut writes = tokio::task::JoinSet::new();
        for (k, new) in single.into_iter().enumerate() {
            let store = store.clone();
            writes.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis((k * 7 % 40) as u64)).await;
                store.create_message(new, &[]).await.map(|(message, _)| vec![message.id.to_string()]).ok()
            });
        }
        for (k, batch) in batched.chunks(5).enumerate() {
            let store = store.clone();
            let batch: Vec<_> = batch.iter().map(|new| (new.clone(), Vec::new())).collect();
            writes.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis((k % 40) as u64)).await;
                let created = store.create_messages(batch).await.expect("a batch without eventIds commits");
                Some(created.into_iter().map(|(message, _)| message.id.to_string()).collect())
            });
        }
        let mut seen = Vec::new();
        let mut position = 0;
        let reader = async {
            loop {
                let page = store.read_feed(&read_app, position, &FeedFilter::default(), 7).await.unwrap();
                seen.extend(page.messages.iter().map(|message| message.id.to_string()));
                position = page.position;
                if page.done() {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                if page.done() && position >= 119 {
                    break;
                }
            }
        };
        let mut committed = std::collections::BTreeSet::new();
        let collect = async {
            while let Some(done) = writes.join_next().await {
                committed.extend(done.unwrap().into_iter().flatten());
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), async { tokio::join!(reader, collect) })
            .await
            .expect("the reader catches up");
        // One read after the last commit: nothing is left behind the reader.
        let last = store.read_feed(&read_app, position, &FeedFilter::default(), 250).await.unwrap();
        seen.extend(last.messages.iter().map(|message| message.id.to_string()));
        assert!(last.done());
        let mut of_read_app = std::collections::BTreeSet::new();
        for msg_id in &committed {
            if store.find_message(&tenant, &read_app, msg_id).await.unwrap().is_some() {
                of_read_app.insert(msg_id.clone());
            }
        }
        assert_eq!(of_read_app.len(), 119, "120 written to the read application, one refused");
        let unique: std::collections::BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "no message is read twice");
        assert_eq!(unique, of_read_app, "every committed message is read");
        assert_eq!(store.feed_head(&read_app).await.unwrap(), 119, "the refused message left no gap");

        // Filters apply within the window; positions still move past what they skip.
        let filter = FeedFilter { event_type: Some("order.paid".into()), ..FeedFilter::default() };
        let paid = store.read_feed(&read_app, 0, &filter, 250).await.unwrap();
        assert_eq!(paid.messages.len(), 40, "every third of 0..120 is paid");
        assert!(paid.messages.iter().all(|message| message.event_type == "order.paid"));
        assert!(paid.done());

        // A seek to the future lands at the head; to the past, at the start.
        let future = store.feed_position_at(&read_app, Utc::now() + Duration::hours(1)).await.unwrap();
        assert_eq!(future, 119);
        let past = store.feed_position_at(&read_app, Utc::now() - Duration::hours(1)).await.unwrap();
        assert_eq!(past, 0);

        // A consumer's lag: how far its committed position is behind the feed's head.
        let poller = id(PollerId::generate);
        let new = herald_store::NewPoller {
            id: poller.clone(),
            tenant_id: tenant.clone(),
            app_id: read_app.clone(),
            uid: None,
            description: String::new(),
            filter_types: None,
            channels: None,
            metadata: serde_json::json!({}),
            disabled: false,
            now: Utc::now(),
        };
        store.create_poller(new, &Actor::Operator).await.unwrap();
        store.commit_consumer(&poller, "slow", 100, Utc::now()).await.unwrap();
        store.commit_consumer(&poller, "fast", 119, Utc::now()).await.unwrap();
        let lags = store.consumer_lag_by_tenant().await.unwrap();
        let ours: Vec<u64> = lags.iter().filter(|(t, _)| t == tenant.as_str()).map(|(_, lag)| *lag).collect();
        assert_eq!(ours, vec![19], "the slowest consumer is 19 messages behind");
        assert_eq!(store.consumer_position(&poller, "slow").await.unwrap(), Some(100));

        // Iterators open only on the poller they were made for, and cannot be forged.
        let other = id(PollerId::generate);
        let iterator = store.feed_iterator(&poller, 42);
        assert_eq!(store.open_feed_iterator(&poller, &iterator), Some(42));
        assert_eq!(store.open_feed_iterator(&other, &iterator), None, "another poller's iterator");
        use base64::Engine;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("42");
        assert_eq!(store.open_feed_iterator(&poller, &forged), None, "plain text is not an iterator");
        let mut tampered = iterator.clone().into_bytes();
        let last = tampered.len() - 5;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(store.open_feed_iterator(&poller, &String::from_utf8(tampered).unwrap()), None);
    }
}

/// A message of `app_id` whose payload and self expire as `expiry` says.
fn expiring(
    tenant: &TenantId,
    app_id: &ApplicationId,
    payload: &str,
    expiry: herald_core::Expiry,
    now: chrono::DateTime<Utc>,
) -> NewMessage {
    NewMessage {
        id: id(MessageId::generate),
        tenant_id: tenant.clone(),
        app_id: app_id.clone(),
        event_type: "a.b".into(),
        event_id: None,
        payload: payload.into(),
        channels: None,
        tags: None,
        schema_violations: None,
        ordering_key: None,
        trace_context: None,
        deliver_at: None,
        expiry,
        now,
    }
}

/// Runs `sql` on the store's database through a connection of its own.
async fn run_sql(url: &str, sql: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await.unwrap();
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await.unwrap();
}

#[tokio::test]
async fn retention_expunges_payloads_then_deletes_messages_with_their_deliveries_and_attempts() {
    for url in [postgres_url(), sqlite_url()] {
        let store = migrated_store(&url).await;
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let endpoint_id = endpoint(&store, &tenant, &app_id, None).await;
        let now = Utc::now();
        let past = now - Duration::seconds(5);
        let future = now + Duration::hours(1);
        // (payload expires, message expires): both gone, payload gone, nothing gone yet.
        let mut ids = Vec::new();
        let mut deliveries = Vec::new();
        for (payload_at, metadata_at) in [(past, past), (past, future), (future, future)] {
            let new =
                expiring(&tenant, &app_id, r#"{"secret":1}"#, herald_core::Expiry { payload_at, metadata_at }, now);
            let planned = PlannedDelivery {
                id: id(DeliveryId::generate),
                endpoint_id: endpoint_id.clone(),
                ordered: false,
                receipt_expected: false,
            };
            let (message, rows) = store.create_message(new, &[planned]).await.unwrap();
            ids.push(message.id.0.clone());
            deliveries.push(rows[0].clone());
        }
        // An attempt for each, so deleting a message must take its attempts along.
        for delivery in &deliveries {
            let attempt = NewAttempt {
                id: id(AttemptId::generate),
                tenant_id: tenant.clone(),
                app_id: app_id.clone(),
                msg_id: delivery.msg_id.0.clone(),
                endpoint_id: endpoint_id.clone(),
                delivery_id: delivery.id.0.clone(),
                attempt_number: 1,
                url: "https://example.com/hook".into(),
                status: 0,
                outcome_class: "success".into(),
                response_status_code: 200,
                response: "ok".into(),
                response_duration_ms: 3,
                trigger_type: 0,
                next_attempt_at: None,
                created_at: now,
                request_headers: None,
                response_headers: None,
            };
            let health = health_of(&attempt);
            let record = AttemptRecord {
                attempt,
                transition: DeliveryTransition::Succeeded,
                expected_attempt_count: 0,
                disable_endpoint: false,
                health,
                ordering_key: None,
            };
            store.record_attempts(vec![record], None).await.unwrap();
        }
        let message = |n: usize| {
            let (store, tenant, app_id, id) = (store.clone(), tenant.clone(), app_id.clone(), ids[n].clone());
            async move { store.find_message(&tenant, &app_id, id.as_str()).await.unwrap() }
        };
        let attempts = |n: usize| {
            let (store, tenant, id) = (store.clone(), tenant.clone(), ids[n].clone());
            async move {
                store
                    .list_message_attempts(&tenant, &id, &AttemptFilter::default(), &Page::first(10))
                    .await
                    .unwrap()
                    .items
            }
        };

        // Payloads: in batches, only the expired ones, and each once.
        assert_eq!(store.expunge_expired_payloads(Utc::now(), 1).await.unwrap(), 1, "{url}: one per batch of one");
        assert_eq!(store.expunge_expired_payloads(Utc::now(), 10).await.unwrap(), 1, "{url}");
        assert_eq!(store.expunge_expired_payloads(Utc::now(), 10).await.unwrap(), 0, "{url}: nothing twice");
        for n in [0, 1] {
            let expunged = message(n).await.unwrap();
            assert!(expunged.payload_expunged && expunged.payload == "{}", "{url}: message {n} expunged");
        }
        assert_eq!(message(2).await.unwrap().payload, r#"{"secret":1}"#, "{url}: the unexpired payload stays");

        // Messages: the expired one goes with its delivery and attempt once they have
        // settled (its attempt was recorded just now); the others stay whole.
        let later = Utc::now() + Duration::minutes(1);
        let much_later = later + Duration::minutes(1);
        assert_eq!(store.delete_expired_messages(Utc::now(), 10).await.unwrap(), (0, 0), "{url}: not settled yet");
        assert!(message(0).await.is_some(), "{url}: not deleted");
        assert_eq!(store.delete_expired_messages(later, 10).await.unwrap(), (1, 1), "{url}");
        assert!(message(0).await.is_none(), "{url}: the expired message is gone");
        assert!(store.message_deliveries(&ids[0]).await.unwrap().is_empty(), "{url}: its deliveries too");
        assert!(attempts(0).await.is_empty(), "{url}: and its attempts");
        for n in [1, 2] {
            assert!(message(n).await.is_some(), "{url}: message {n} stays");
            assert_eq!(store.message_deliveries(&ids[n]).await.unwrap().len(), 1, "{url}");
            assert_eq!(attempts(n).await.len(), 1, "{url}");
        }
        assert_eq!(store.delete_expired_messages(much_later, 10).await.unwrap(), (0, 0), "{url}");

        // A message whose delivery is still pending is not deleted, however expired: the
        // delivery ends first (its payload is gone, so its next attempt ends it).
        let pending =
            expiring(&tenant, &app_id, "{}", herald_core::Expiry { payload_at: past, metadata_at: past }, now);
        let planned = PlannedDelivery {
            id: id(DeliveryId::generate),
            endpoint_id: endpoint_id.clone(),
            ordered: false,
            receipt_expected: false,
        };
        let (waiting, _) = store.create_message(pending, &[planned]).await.unwrap();
        store.expunge_expired_payloads(much_later, 10).await.unwrap();
        let far = much_later + Duration::minutes(1);
        assert_eq!(store.delete_expired_messages(far, 10).await.unwrap(), (1, 0), "{url}: a pending delivery holds it");
        let held = store.find_message(&tenant, &app_id, waiting.id.as_str()).await.unwrap().unwrap();
        assert_eq!(store.message_deliveries(&waiting.id.0).await.unwrap().len(), 1, "{url}: the delivery stays");
        assert!(held.expires_at.unwrap() > far, "{url}: looked at again later");

        // A message from before retention existed gets its tenant's periods from when it
        // was accepted: this tenant keeps messages for one second.
        store
            .change_tenant_settings(
                &tenant,
                herald_store::TenantSettingsChange { metadata_retention_secs: Some(Some(1)), ..Default::default() },
                &Actor::Operator,
            )
            .await
            .unwrap();
        run_sql(
            &url,
            &format!("UPDATE messages SET expires_at = NULL, payload_expires_at = NULL WHERE id = '{}'", ids[2]),
        )
        .await;
        assert_eq!(store.stamp_unexpiring(herald_core::Retention::default(), 10).await.unwrap(), 1, "{url}");
        assert_eq!(store.stamp_unexpiring(herald_core::Retention::default(), 10).await.unwrap(), 0, "{url}");
        let stamped = message(2).await.unwrap();
        let accepted = stamped.created_at;
        assert_eq!(stamped.expires_at, Some(accepted + Duration::seconds(1)), "{url}: the tenant's one second");
        assert_eq!(stamped.payload_expires_at, stamped.expires_at, "{url}: a payload never outlives its message");
        assert_eq!(store.expunge_expired_payloads(much_later, 10).await.unwrap(), 1, "{url}");
        assert_eq!(store.delete_expired_messages(much_later, 10).await.unwrap(), (1, 1), "{url}");
        assert!(message(2).await.is_none(), "{url}");
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn pruners_racing_on_postgres_share_the_expired_messages_without_waiting_or_repeating() {
    let url = postgres_url();
    let store = migrated_store(&url).await;
    let tenant = tenant(&store, &format!("sk_{}", tag())).await;
    let app_id = application(&store, &tenant, None).await.unwrap();
    let endpoint_id = endpoint(&store, &tenant, &app_id, None).await;
    let past = Utc::now() - Duration::seconds(5);
    for _ in 0..60 {
        let new =
            expiring(&tenant, &app_id, "{}", herald_core::Expiry { payload_at: past, metadata_at: past }, Utc::now());
        let planned = PlannedDelivery {
            id: id(DeliveryId::generate),
            endpoint_id: endpoint_id.clone(),
            ordered: false,
            receipt_expected: false,
        };
        store.create_message(new, &[planned]).await.unwrap();
    }
    // Delivered, as far as the pruner can tell (this database is the test's own).
    run_sql(&url, "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL").await;
    let later = Utc::now() + Duration::minutes(1);
    assert_eq!(store.expunge_expired_payloads(later, 100).await.unwrap(), 60);
    let drain = || {
        let store = store.clone();
        async move {
            let mut total = 0;
            loop {
                let (looked_at, deleted) = store.delete_expired_messages(later, 7).await.unwrap();
                if looked_at == 0 {
                    return total;
                }
                total += deleted;
            }
        }
    };
    let (a, b, c) = tokio::join!(drain(), drain(), drain());
    assert_eq!(a + b + c, 60, "each message deleted by exactly one pruner ({a} + {b} + {c})");
}

#[tokio::test]
async fn a_purge_task_expunges_what_was_accepted_before_it_in_batches_each_once() {
    for url in [postgres_url(), sqlite_url()] {
        let store = migrated_store(&url).await;
        let tenant = tenant(&store, &format!("sk_{}", tag())).await;
        let app_id = application(&store, &tenant, None).await.unwrap();
        let other_app = application(&store, &tenant, None).await.unwrap();
        let kept = herald_core::Expiry {
            payload_at: Utc::now() + Duration::days(1),
            metadata_at: Utc::now() + Duration::days(2),
        };
        let mut ids = Vec::new();
        for _ in 0..25 {
            let new = expiring(&tenant, &app_id, r#"{"secret":1}"#, kept, Utc::now() - Duration::seconds(1));
            ids.push(store.create_message(new, &[]).await.unwrap().0.id.0);
        }
        let elsewhere = store
            .create_message(expiring(&tenant, &other_app, r#"{"theirs":1}"#, kept, Utc::now()), &[])
            .await
            .unwrap()
            .0
            .id
            .0;
        // One already expunged by hand: selected by neither the total nor `done`.
        store.expunge_message_content(&ids[3]).await.unwrap();

        let task_id = id(herald_core::BackgroundTaskId::generate);
        let by = Actor::ApiKey("key_test".into());
        let task = store.start_purge_content(&task_id, &tenant, &app_id, Utc::now(), &by).await.unwrap();
        assert_eq!(
            (task.task.as_str(), task.status.as_str(), task.total),
            ("application.purge_content", "running", 24)
        );
        assert_eq!(task.endpoint_id, None);
        // Accepted after the task started: not its business, until it is asked again.
        let later_at = Utc::now() + Duration::seconds(1);
        let later = store
            .create_message(expiring(&tenant, &app_id, r#"{"later":1}"#, kept, later_at), &[])
            .await
            .unwrap()
            .0
            .id
            .0;

        // Ten a batch, and a stale copy of the task cannot take a batch twice.
        let first = store.advance_purge(&task, 10, Utc::now()).await.unwrap().expect("the first batch");
        assert_eq!((first.status.as_str(), first.done), ("running", 9), "one of the ten was already expunged");
        assert!(store.advance_purge(&task, 10, Utc::now()).await.unwrap().is_none(), "a stale task copy");
        // Asked again while it runs: the same task, stretched to the later message.
        let again = store
            .start_purge_content(
                &id(herald_core::BackgroundTaskId::generate),
                &tenant,
                &app_id,
                later_at + Duration::seconds(1),
                &by,
            )
            .await
            .unwrap();
        assert_eq!((again.id.clone(), again.total), (task.id.clone(), 25), "one task, one more payload");
        // `first` predates the stretch; the batch reads the window under its claim.
        let second = store.advance_purge(&first, 10, Utc::now()).await.unwrap().unwrap();
        let third = store.advance_purge(&second, 10, Utc::now()).await.unwrap().unwrap();
        assert_eq!((third.status.as_str(), third.done), ("finished", 25));
        assert!(store.advance_purge(&third, 10, Utc::now()).await.unwrap().is_none(), "a finished task");

        for msg_id in &ids {
            let message = store.find_message(&tenant, &app_id, msg_id.as_str()).await.unwrap().unwrap();
            assert!(message.payload_expunged, "{msg_id}");
        }
        let later = store.find_message(&tenant, &app_id, later.as_str()).await.unwrap().unwrap();
        assert!(later.payload_expunged, "the stretched task reached the later message");
        let elsewhere = store.find_message(&tenant, &other_app, elsewhere.as_str()).await.unwrap().unwrap();
        assert!(!elsewhere.payload_expunged, "another application's message keeps its payload");
        let purges = AuditFilter { tenant_id: Some(tenant.to_string()), action: Some(Action::ApplicationPurgeContent) };
        let audit = store.list_audit(&purges, &Page::first(50)).await.unwrap();
        assert_eq!(audit.items.len(), 2, "the purge and its stretch, each audited");
    }
}
