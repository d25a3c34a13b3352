//! `TestApp`: Herald started in-process on `127.0.0.1:0`, with a fresh database, a
//! unique Redis key prefix and its own tenant, so tests run in parallel unaware of
//! each other.

use std::net::SocketAddr;

use herald::{Roles, Settings};
use herald_store::Store;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::services;

/// Builds a [`TestApp`] with settings beyond the test defaults.
#[derive(Debug)]
pub struct TestAppBuilder {
    settings: Settings,
}

impl Default for TestAppBuilder {
    /// The defaults, on a fresh PostgreSQL database and Redis prefix, listening on
    /// ports of its own, allowed to deliver to 127.0.0.1.
    fn default() -> Self {
        let mut settings = Settings::with_overrides("").expect("the defaults are valid");
        settings.database_url = services::fresh_postgres_url().into();
        settings.redis_url = services::redis_url().into();
        settings.redis_prefix = services::fresh_redis_prefix();
        settings.listen = "127.0.0.1:0".to_owned();
        settings.metrics_listen = "127.0.0.1:0".to_owned();
        settings.allow_private_targets = true;
        settings.database_max_connections = 8;
        settings.log_level = "warn,redis=error".to_owned();
        settings.encryption_keys = services::TEST_ENCRYPTION_KEYS.into();
        Self { settings }
    }
}

impl TestAppBuilder {
    /// Run on SQLite instead of PostgreSQL.
    pub fn sqlite(self) -> Self {
        self.database(services::fresh_sqlite_url())
    }

    /// Run on another Herald's database (a second process of one installation).
    pub fn sharing_database_with(self, other: &TestApp) -> Self {
        self.database(other.database_url())
    }

    /// Run on this database (one an earlier Herald left behind, say).
    pub fn database(mut self, url: String) -> Self {
        self.settings.database_url = url.into();
        self
    }

    /// Changes settings, typed as Herald reads them:
    /// `.configure(|s| s.reclaim_idle = Duration::from_secs(5))`. Changes apply in
    /// order over the test defaults; `start` validates the result as Herald would.
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    pub async fn start(self) -> TestApp {
        let settings = self.settings;
        settings.validate().expect("test settings are valid");
        herald::telemetry::init(&settings, false).expect("logging starts");
        let tenant = herald::create_tenant(&settings, "test tenant").await.expect("create the test tenant");
        let shutdown = CancellationToken::new();
        let running = herald::start(&settings, Roles::Both, shutdown.clone()).await.expect("start Herald");
        TestApp {
            address: running.api_address.expect("the API is running"),
            metrics_address: running.metrics_address.expect("metrics are served"),
            api_key: tenant.api_key,
            tenant_id: tenant.id.to_string(),
            store: running.store,
            settings,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(running.task),
        }
    }
}

/// A running in-process Herald and a client for its API.
#[derive(Debug)]
pub struct TestApp {
    pub address: SocketAddr,
    /// Where `GET /metrics` answers.
    pub metrics_address: SocketAddr,
    pub api_key: String,
    pub tenant_id: String,
    pub store: Store,
    pub settings: Settings,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A response's status and JSON body (`Value::Null` when the body is empty or not JSON).
pub type Answer = (u16, Value);

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// A Herald with the test defaults on PostgreSQL.
    pub async fn spawn() -> Self {
        Self::builder().start().await
    }

    pub fn database_url(&self) -> String {
        use secrecy::ExposeSecret;
        self.settings.database_url.expose_secret().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a request with `key` as the bearer token (none when `None`) and a raw body.
    pub async fn request(&self, method: reqwest::Method, path: &str, key: Option<&str>, body: Option<&str>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POSTs JSON with this app's tenant key.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.request(reqwest::Method::POST, path, Some(&self.api_key), Some(&body.to_string())).await
    }

    /// GETs with this app's tenant key.
    pub async fn get(&self, path: &str) -> Answer {
        self.request(reqwest::Method::GET, path, Some(&self.api_key), None).await
    }

    /// Creates an application and returns its JSON.
    pub async fn create_application(&self, uid: &str) -> Value {
        let (status, body) = self.post("/api/v1/app", &json!({"name": format!("App {uid}"), "uid": uid})).await;
        assert_eq!(status, 201, "create application: {body}");
        body
    }

    /// Creates an endpoint (extra fields merged into the body) and returns its JSON.
    pub async fn create_endpoint(&self, app: &str, url: &str, extra: Value) -> Value {
        let mut body = json!({"url": url});
        if let (Some(target), Value::Object(more)) = (body.as_object_mut(), extra) {
            target.extend(more);
        }
        let (status, answer) = self.post(&format!("/api/v1/app/{app}/endpoint"), &body).await;
        assert_eq!(status, 201, "create endpoint: {answer}");
        answer
    }

    /// Sends a message and returns its JSON.
    pub async fn send_message(&self, app: &str, event_type: &str, payload: Value) -> Value {
        let (status, body) =
            self.post(&format!("/api/v1/app/{app}/msg"), &json!({"eventType": event_type, "payload": payload})).await;
        assert_eq!(status, 202, "send message: {body}");
        body
    }

    /// A message's attempts, as the API lists them (newest first).
    pub async fn attempts(&self, app: &str, msg_id: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/app/{app}/attempt/msg/{msg_id}")).await;
        assert_eq!(status, 200, "list attempts: {body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Creates a second tenant in the same installation and returns its API key.
    pub async fn create_other_tenant(&self) -> String {
        herald::create_tenant(&self.settings, "other tenant").await.expect("create another tenant").api_key
    }

    /// Stops Herald gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("Herald task").expect("Herald stops cleanly");
        }
    }
}
