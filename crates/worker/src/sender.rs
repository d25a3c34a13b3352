//! The HTTP sender: one POST per attempt, through the SSRF guard, with timeouts, no
//! redirects, and a capped read of the response body.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_core::AttemptOutcome;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::redirect::Policy;

use crate::ssrf::{BlockedAddress, DnsFailure, GuardedResolver, TargetPolicy};

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The whole attempt, from connecting to reading the (capped) body.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Response bodies are stored up to this many bytes.
    pub max_response_bytes: usize,
    /// Which addresses attempts may connect to (the SSRF guard).
    pub targets: TargetPolicy,
}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct SentAttempt {
    pub outcome: AttemptOutcome,
    /// The response body (truncated, lossy UTF-8) or a description of the failure.
    pub response: String,
    /// The response headers as a JSON object (name → value); `None` when no response came.
    pub response_headers: Option<String>,
    pub duration: Duration,
}

/// Most response headers kept in an attempt record; a receiver cannot make the record huge.
const MAX_RECORDED_HEADERS: usize = 64;

/// Headers as a JSON object of name → value (repeated names joined with `, `), at most
/// `limit` names, values as lossy UTF-8. Values of sensitive headers other than
/// Herald's own (an endpoint's `Authorization`, a receiver's `Set-Cookie`) are masked:
/// attempt records are shown to portal users and kept for months.
pub fn headers_json(headers: &HeaderMap, limit: usize) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in headers {
        let text = if herald_core::headers::is_masked_in_records(name.as_str()) {
            herald_core::headers::MASKED_VALUE.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        let full = object.len() >= limit;
        match object.get_mut(name.as_str()) {
            Some(serde_json::Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ if full => continue,
            _ => {
                object.insert(name.as_str().to_owned(), serde_json::Value::String(text));
            }
        }
    }
    serde_json::Value::Object(object).to_string()
}

/// A pooled HTTP client shared by every attempt of a worker.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    config: SenderConfig,
}

impl HttpSender {
    pub fn new(config: SenderConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .dns_resolver(Arc::new(GuardedResolver { policy: Arc::new(config.targets.clone()) }))
            .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, config })
    }

    /// POSTs `body` to `url` and classifies what happened. Never fails: every failure
    /// is an outcome to record.
    pub async fn send(&self, url: &str, headers: HeaderMap, body: String) -> SentAttempt {
        let started = Instant::now();
        if let Some(refusal) = self.refuse_literal_address(url) {
            return SentAttempt {
                outcome: AttemptOutcome::Blocked,
                response: refusal,
                response_headers: None,
                duration: started.elapsed(),
            };
        }
        let (outcome, response, response_headers) = match self.client.post(url).headers(headers).body(body).send().await
        {
            Ok(response) => {
                let response_headers = headers_json(response.headers(), MAX_RECORDED_HEADERS);
                let (outcome, body) = self.read_response(response).await;
                (outcome, body, Some(response_headers))
            }
            Err(error) => (classify(&error), describe(&error), None),
        };
        SentAttempt { outcome, response, response_headers, duration: started.elapsed() }
    }

    /// `https_only`, and IP-literal hosts, which never reach the resolver, are checked here.
    fn refuse_literal_address(&self, url: &str) -> Option<String> {
        if let Some(refusal) = self.config.targets.refuses_url(url) {
            return Some(refusal.to_owned());
        }
        let parsed = reqwest::Url::parse(url).ok()?;
        let ip = match parsed.host()? {
            url::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
            url::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
            url::Host::Domain(_) => return None,
        };
        (!self.config.targets.permits(ip)).then(|| match crate::ssrf::classify(ip) {
            crate::ssrf::AddressClass::Special(reason) => {
                format!("{ip} is an address Herald does not deliver to: {reason}")
            }
            crate::ssrf::AddressClass::Global => format!("{ip} is an address Herald does not deliver to"),
        })
    }

    async fn read_response(&self, mut response: reqwest::Response) -> (AttemptOutcome, String) {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let cap = self.config.max_response_bytes;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= cap {
                        // Enough to show the user; the rest is not worth the wait.
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) if error.is_timeout() => {
                    return (
                        AttemptOutcome::Timeout,
                        format!("timed out reading the response body after status {status}"),
                    )
                }
                Err(error) => return (AttemptOutcome::InvalidResponse, describe(&error)),
            }
        }
        (AttemptOutcome::from_status(status, retry_after), String::from_utf8_lossy(&body).into_owned())
    }
}

/// Maps a transport error to its outcome class by looking through its causes.
fn classify(error: &reqwest::Error) -> AttemptOutcome {
    if error.is_timeout() {
        return AttemptOutcome::Timeout;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<BlockedAddress>() {
            return AttemptOutcome::Blocked;
        }
        if cause.is::<DnsFailure>() {
            return AttemptOutcome::Dns;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return AttemptOutcome::Timeout;
            }
        }
        let text = cause.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return AttemptOutcome::Tls;
        }
        if text.contains("invalid http")
            || text.contains("parse")
            || text.contains("invalid status")
            || text.contains("header")
        {
            return AttemptOutcome::InvalidResponse;
        }
        source = cause.source();
    }
    AttemptOutcome::Connect
}

/// The error and all its causes on one line, for the attempt record.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
