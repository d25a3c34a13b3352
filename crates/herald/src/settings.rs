//! Settings: the embedded `defaults.toml`, an optional file, then `HERALD_*`
//! environment variables. Validated once at start-up; an error names the setting.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use herald_core::retry::parse_duration;
use herald_core::{DeliveryPolicy, RetrySchedule};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// The smallest database pool: six connections are kept by the write loops on
/// PostgreSQL (see `herald_store::Session`), and the API needs some of its own.
const MIN_DATABASE_CONNECTIONS: u32 = 8;

/// The commented defaults, embedded in the binary.
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// Every setting, as read. See `defaults.toml` for what each one means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Wrapped so the password in a database URL never reaches a log line.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    #[serde(deserialize_with = "duration")]
    pub database_acquire_timeout: Duration,
    pub migrate_on_start: bool,
    pub redis_url: SecretString,
    pub redis_prefix: String,
    pub redis_tls_ca_file: String,
    #[serde(deserialize_with = "duration")]
    pub redis_command_timeout: Duration,
    pub listen: String,
    pub max_payload_bytes: usize,
    pub max_json_depth: usize,
    pub public_url: String,
    /// Wrapped so the token never reaches a log line.
    pub operator_token: SecretString,
    pub encryption_keys: SecretString,
    pub encryption_key_file: String,
    pub retry_schedule: String,
    pub retry_jitter: f64,
    #[serde(deserialize_with = "duration")]
    pub max_retry_after: Duration,
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    pub max_response_bytes: usize,
    pub allow_private_targets: bool,
    pub allowed_target_cidrs: String,
    pub https_only: bool,
    /// No longer has an effect (dead-letter replays run as background tasks at the
    /// endpoint's pace); still accepted so older configuration files load, with a warning.
    pub dead_letter_replay_rate: Option<f64>,
    #[serde(deserialize_with = "duration")]
    pub poll_max_wait: Duration,
    pub ingest_rate_limit: u32,
    pub max_backlog: u64,
    /// `None`: no cap (`"never"`, empty, or zero).
    #[serde(deserialize_with = "never_or_duration")]
    pub max_backlog_age: Option<Duration>,
    /// `None`: never (`"never"`, empty, or zero).
    #[serde(deserialize_with = "never_or_duration")]
    pub endpoint_disable_after: Option<Duration>,
    pub operational_app_uid: String,
    #[serde(deserialize_with = "duration")]
    pub operational_relay_interval: Duration,
    pub dashboard_dir: String,
    pub send_svix_headers: bool,
    pub worker_concurrency: usize,
    pub endpoint_concurrency: usize,
    pub tenant_concurrency: usize,
    pub breaker_failure_threshold: u32,
    pub breaker_failure_ratio: f64,
    pub breaker_min_attempts: u32,
    #[serde(deserialize_with = "duration")]
    pub breaker_window: Duration,
    #[serde(deserialize_with = "duration")]
    pub breaker_cool_down: Duration,
    pub recovery_start_rate: f64,
    pub recovery_full_rate: f64,
    /// `None`: no automatic redrive (`"never"`, empty, or zero).
    #[serde(deserialize_with = "never_or_duration")]
    pub auto_redrive_after: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub payload_retention: Duration,
    #[serde(deserialize_with = "duration")]
    pub metadata_retention: Duration,
    #[serde(deserialize_with = "duration")]
    pub prune_interval: Duration,
    pub read_batch: usize,
    #[serde(deserialize_with = "duration")]
    pub reclaim_idle: Duration,
    #[serde(deserialize_with = "duration")]
    pub worker_lease: Duration,
    #[serde(deserialize_with = "duration")]
    pub reconcile_interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub reconcile_grace: Duration,
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    pub log_format: String,
    pub log_level: String,
    pub metrics_listen: String,
    pub metrics_endpoint_labels: bool,
    pub metrics_endpoint_label_limit: usize,
    pub otlp_endpoint: String,
    pub trace_sample_ratio: f64,
}

impl Settings {
    /// Reads the layers: defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.exists() {
                bail!("the config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("HERALD_"));
        Self::from_figment(figment)
    }

    /// The defaults overridden by a TOML snippet, ignoring the environment (used by
    /// tests and embedders, which must not be steered by the caller's `HERALD_*`).
    pub fn with_overrides(toml: &str) -> anyhow::Result<Self> {
        Self::from_figment(Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(toml)))
    }

    fn from_figment(figment: Figment) -> anyhow::Result<Self> {
        let settings: Self = figment.extract().context("while reading settings")?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks everything that can be checked without connecting anywhere.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_address()?;
        self.delivery_policy()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("setting `log_format` must be `text` or `json`, not `{}`", self.log_format);
        }
        if self.worker_concurrency == 0 || self.read_batch == 0 {
            bail!("settings `worker_concurrency` and `read_batch` must be at least 1");
        }
        if self.database_max_connections < MIN_DATABASE_CONNECTIONS {
            bail!(
                "setting `database_max_connections` must be at least {MIN_DATABASE_CONNECTIONS} (on PostgreSQL the \
                 message writers, the attempt writer and the dispatcher keep one each), not {}",
                self.database_max_connections
            );
        }
        if self.endpoint_concurrency == 0 || self.tenant_concurrency == 0 || self.breaker_failure_threshold == 0 {
            bail!("settings `endpoint_concurrency`, `tenant_concurrency` and `breaker_failure_threshold` must be at least 1");
        }
        if !(self.breaker_failure_ratio > 0.0 && self.breaker_failure_ratio <= 1.0) {
            bail!("setting `breaker_failure_ratio` must be in (0, 1], not {}", self.breaker_failure_ratio);
        }
        if !(self.recovery_start_rate >= 0.0 && self.recovery_full_rate.is_finite() && self.recovery_full_rate > 0.0) {
            bail!("settings `recovery_start_rate` (0 or more) and `recovery_full_rate` (more than 0) must be numbers");
        }
        herald_worker::ssrf::parse_networks(&self.allowed_target_cidrs)
            .map_err(|error| anyhow::anyhow!("setting `allowed_target_cidrs`: {error}"))?;
        if !(1..=herald_api::MAX_JSON_DEPTH).contains(&self.max_json_depth) {
            bail!(
                "setting `max_json_depth` must be between 1 and {}, not {}",
                herald_api::MAX_JSON_DEPTH,
                self.max_json_depth
            );
        }
        if self.poll_max_wait.is_zero() || self.poll_max_wait > Duration::from_secs(300) {
            bail!("setting `poll_max_wait` must be between 1 ms and 300 s, not {:?}", self.poll_max_wait);
        }
        if self.payload_retention.is_zero() || self.metadata_retention.is_zero() || self.prune_interval.is_zero() {
            bail!("settings `payload_retention`, `metadata_retention` and `prune_interval` must be longer than zero");
        }
        if self.payload_retention > self.metadata_retention {
            bail!(
                "setting `payload_retention` ({:?}) is longer than `metadata_retention` ({:?}): a payload cannot \
                 outlive its message",
                self.payload_retention,
                self.metadata_retention
            );
        }
        self.metrics_address()?;
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            bail!("setting `trace_sample_ratio` must be between 0.0 and 1.0, not {}", self.trace_sample_ratio);
        }
        herald_store::DatabaseKind::of(self.database_url.expose_secret())
            .map_err(|error| anyhow::anyhow!("setting `database_url`: {error}"))?;
        herald_queue::KeyLayout::new(&self.redis_prefix)
            .map_err(|error| anyhow::anyhow!("setting `redis_prefix`: {error}"))?;
        Ok(())
    }

    /// Where users reach this Herald: `public_url`, or the listen address.
    pub fn public_url(&self) -> String {
        if self.public_url.trim().is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim().trim_end_matches('/').to_owned()
        }
    }

    /// The dashboard's built files, when `dashboard_dir` names a directory with an
    /// `index.html` (a Herald built without the dashboard serves the API alone).
    pub fn dashboard_dir(&self) -> Option<std::path::PathBuf> {
        let dir = std::path::PathBuf::from(self.dashboard_dir.trim());
        dir.join("index.html").is_file().then_some(dir)
    }

    pub fn listen_address(&self) -> anyhow::Result<SocketAddr> {
        self.listen
            .parse()
            .with_context(|| format!("setting `listen`: `{}` is not an address such as 127.0.0.1:8071", self.listen))
    }

    /// Where `/metrics` listens; `None` when `metrics_listen` is empty.
    pub fn metrics_address(&self) -> anyhow::Result<Option<SocketAddr>> {
        let text = self.metrics_listen.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).with_context(|| {
            format!("setting `metrics_listen`: `{text}` is not an address such as 127.0.0.1:9464 (or empty)")
        })
    }

    pub fn delivery_policy(&self) -> anyhow::Result<DeliveryPolicy> {
        let schedule = RetrySchedule::parse(&self.retry_schedule, self.retry_jitter)
            .map_err(|error| anyhow::anyhow!("setting `retry_schedule`/`retry_jitter`: {error}"))?;
        Ok(DeliveryPolicy { schedule, max_retry_after: self.max_retry_after })
    }

    /// How long payloads and messages are kept unless a tenant says otherwise.
    pub fn retention(&self) -> herald_core::Retention {
        herald_core::Retention { payload: self.payload_retention, metadata: self.metadata_retention }
    }

    /// The recovery ramp of an endpoint whose breaker closes after being open.
    pub fn ramp_policy(&self) -> herald_core::ramp::RampPolicy {
        herald_core::ramp::RampPolicy {
            start: self.recovery_start_rate,
            full: self.recovery_full_rate,
            step: herald_core::ramp::RampPolicy::DEFAULT.step,
        }
    }

    pub fn breaker_policy(&self) -> herald_core::breaker::BreakerPolicy {
        herald_core::breaker::BreakerPolicy {
            failure_threshold: self.breaker_failure_threshold,
            failure_ratio: self.breaker_failure_ratio,
            min_attempts: self.breaker_min_attempts,
            window: self.breaker_window,
            cool_down: self.breaker_cool_down,
        }
    }
}

/// A duration setting: a whole number and a unit (`250ms`, `30s`, `5m`, `1h`, `5d`).
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    DurationText::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// A duration setting that may be off: `"never"`, empty or zero is `None`.
fn never_or_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    match DurationText::deserialize(deserializer)? {
        DurationText::Text(text) if matches!(text.trim(), "" | "never") => Ok(None),
        DurationText::Number(0) => Ok(None),
        other => Ok(Some(other.parse().map_err(serde::de::Error::custom)?).filter(|value| !value.is_zero())),
    }
}

/// What a duration setting holds as read: text from a file, and from the environment
/// also a bare number (figment reads `HERALD_REQUEST_TIMEOUT=15` as one).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DurationText {
    Text(String),
    Number(u64),
}

impl DurationText {
    fn parse(self) -> Result<Duration, String> {
        match self {
            Self::Text(text) => parse_duration(text.trim()).map_err(|error| error.to_string()),
            Self::Number(number) => Err(format!("`{number}` has no unit: write `{number}s` (or ms, m, h, d)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = Settings::with_overrides("").unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8071");
        assert_eq!(settings.delivery_policy().unwrap().schedule.max_attempts(), 8);
        assert!(!settings.allow_private_targets);
    }

    #[test]
    fn bad_settings_name_themselves() {
        let error = Settings::with_overrides(r#"retry_schedule = "0s,5parsecs""#).unwrap_err();
        assert!(format!("{error:#}").contains("retry_schedule"), "{error:#}");
        let error = Settings::with_overrides(r#"listen = "nowhere""#).unwrap_err();
        assert!(format!("{error:#}").contains("listen"), "{error:#}");
        let error = Settings::with_overrides(r#"request_timeout = "soon""#).unwrap_err();
        assert!(format!("{error:#}").contains("request_timeout"), "{error:#}");
        let error = Settings::with_overrides("request_timeout = 15").unwrap_err();
        assert!(format!("{error:#}").contains("request_timeout") && format!("{error:#}").contains("15s"), "{error:#}");
    }

    #[test]
    fn durations_are_read_once_and_never_means_none() {
        let settings = Settings::with_overrides(r#"reclaim_idle = "250ms""#).unwrap();
        assert_eq!(settings.reclaim_idle, Duration::from_millis(250));
        assert_eq!(settings.endpoint_disable_after, Some(Duration::from_secs(5 * 86_400)));
        for never in [r#""never""#, r#""""#, r#""0s""#] {
            let settings = Settings::with_overrides(&format!("endpoint_disable_after = {never}")).unwrap();
            assert_eq!(settings.endpoint_disable_after, None, "{never}");
        }
    }
}
