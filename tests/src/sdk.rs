//! The official Svix SDKs as black-box clients of Herald's `/api/v1`.
//!
//! The scripts live in `tests/sdk/`:
//! - `python/sdk_v2.py`: PyPI `svix` 2.x, in the venv `target/sdk-venv-v2`;
//! - `python/sdk_v1.py`: PyPI `svix` 1.x (`filterTypes`, `rateLimit`, `version`), in `target/sdk-venv-v1`;
//! - `js/sdk.mjs`: the npm `svix` package pinned in `js/package.json` (`npm ci` from its lock file).
//!
//! Each runs one whole flow against a running Herald through the SDK only (applications,
//! endpoints, headers, secrets, messages, attempts, resend, recover, stats, event types)
//! and prints one JSON line that [`run_python_v2`], [`run_python_v1`] and [`run_js`] return:
//! `app_id`, `endpoint_id`, `endpoint_url`, `other_endpoint_id`, `other_endpoint_url`,
//! `secret`, `rotated_secret`, `other_secret`, `custom_headers`, `msg_ids`,
//! `msg_ids_for_endpoint`, `filtered_msg_id`, `event_ids`, `resent_msg_id`, ...
//! (the docstring at the top of `tests/sdk/python/sdk_v2.py` lists them all).
//! The same scripts in `verify` mode check recorded deliveries with the SDK's own
//! verifier, `Webhook(secret).verify(body, headers)`.
//!
//! `scripts/sdk.sh` (`ensure_sdk_clients`) prepares the environments and exports
//! `HERALD_TEST_SDK_PYTHON_V2`, `HERALD_TEST_SDK_PYTHON_V1` and `HERALD_TEST_SDK_JS_DIR`;
//! when a developer runs `cargo test` directly, the first test that needs one creates it
//! (under a file lock, since tests run in parallel), as [`crate::verifier`] does.
//!
//! The `run_*` functions are `async`: the scripts call the API of a Herald (and deliver to
//! a receiver) that usually runs on the test's own runtime, so the child process is waited
//! for on a blocking thread, never on the runtime's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::receiver::RecordedRequest;
use crate::services;

/// Keep in step with `scripts/sdk.sh`.
const PYTHON_V2_REQUIREMENT: &str = "svix==2.9.1";
const PYTHON_V1_REQUIREMENT: &str = "svix==1.99.1";

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// The Python interpreter with PyPI `svix` 2.x installed.
pub fn python_v2() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| python_venv("HERALD_TEST_SDK_PYTHON_V2", "sdk-venv-v2", PYTHON_V2_REQUIREMENT)).clone()
}

/// The Python interpreter with PyPI `svix` 1.x installed.
pub fn python_v1() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| python_venv("HERALD_TEST_SDK_PYTHON_V1", "sdk-venv-v1", PYTHON_V1_REQUIREMENT)).clone()
}

/// `tests/sdk/js` with its `node_modules` installed by `npm ci`.
pub fn js_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("HERALD_TEST_SDK_JS_DIR") {
            return dir.into();
        }
        let dir = sdk_dir().join("js");
        let _lock = lock_file("sdk-js.lock");
        // The marker holds a copy of the lock file it was installed from.
        let lock_json = std::fs::read(dir.join("package-lock.json")).expect("tests/sdk/js/package-lock.json");
        let ready = dir.join("node_modules").join(".herald-ready");
        if std::fs::read(&ready).ok().as_deref() != Some(lock_json.as_slice()) {
            run(Command::new("npm")
                .args(["ci", "--silent", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .env("CI", "true")
                .stdin(Stdio::null()));
            std::fs::write(&ready, &lock_json).expect("mark node_modules ready");
        }
        dir
    })
    .clone()
}

fn python_venv(variable: &str, name: &str, requirement: &str) -> PathBuf {
    if let Some(python) = std::env::var_os(variable) {
        return python.into();
    }
    let venv = services::target_dir().join(name);
    let python = venv.join("bin").join("python");
    let _lock = lock_file(&format!("{name}.lock"));
    // The marker holds the requirement it was installed with: a new pin rebuilds the venv.
    let ready = venv.join(".herald-ready");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(requirement) {
        if venv.exists() {
            std::fs::remove_dir_all(&venv).expect("remove the stale venv");
        }
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv).stdin(Stdio::null()));
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
            .stdin(Stdio::null()));
        std::fs::write(&ready, requirement).expect("mark the venv ready");
    }
    python
}

/// An exclusive lock on `target/NAME`, held until the file is dropped.
fn lock_file(name: &str) -> std::fs::File {
    std::fs::create_dir_all(services::target_dir()).expect("target directory");
    let lock = std::fs::File::create(services::target_dir().join(name)).expect("lock file");
    lock.lock().expect("take the lock");
    lock
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed");
}

/// Which SDK script to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// PyPI `svix` 2.x: `tests/sdk/python/sdk_v2.py`.
    PythonV2,
    /// PyPI `svix` 1.x: `tests/sdk/python/sdk_v1.py`.
    PythonV1,
    /// npm `svix`: `tests/sdk/js/sdk.mjs`.
    Js,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::PythonV2 => "the Python svix 2.x script (tests/sdk/python/sdk_v2.py)",
            Sdk::PythonV1 => "the Python svix 1.x script (tests/sdk/python/sdk_v1.py)",
            Sdk::Js => "the JavaScript svix script (tests/sdk/js/sdk.mjs)",
        }
    }

    /// The command that runs the script, with `args` (none for the flow, `verify`).
    fn command(self, args: &[&str]) -> Command {
        let mut command = match self {
            Sdk::PythonV2 => {
                let mut command = Command::new(python_v2());
                command.arg(sdk_dir().join("python").join("sdk_v2.py"));
                command
            }
            Sdk::PythonV1 => {
                let mut command = Command::new(python_v1());
                command.arg(sdk_dir().join("python").join("sdk_v1.py"));
                command
            }
            Sdk::Js => {
                let dir = js_dir();
                let mut command = Command::new("node");
                command.arg(dir.join("sdk.mjs")).current_dir(dir);
                command
            }
        };
        command.args(args).env("PYTHONDONTWRITEBYTECODE", "1");
        command
    }
}

/// Runs the PyPI `svix` 2.x flow against Herald and returns the script's JSON summary.
/// Panics with the script's stderr if any step fails.
pub async fn run_python_v2(server_url: &str, token: &str, receiver_url: &str) -> Value {
    run_flow(Sdk::PythonV2, server_url, token, receiver_url).await
}

/// Runs the PyPI `svix` 1.x flow (`filterTypes`, `rateLimit`, `version`) against Herald.
pub async fn run_python_v1(server_url: &str, token: &str, receiver_url: &str) -> Value {
    run_flow(Sdk::PythonV1, server_url, token, receiver_url).await
}

/// Runs the npm `svix` flow against Herald.
pub async fn run_js(server_url: &str, token: &str, receiver_url: &str) -> Value {
    run_flow(Sdk::Js, server_url, token, receiver_url).await
}

/// Runs one SDK's flow: `server_url` is Herald's base URL (no `/api/v1`), `token` a tenant
/// API key, `receiver_url` the base URL of a receiver the script points its endpoints at
/// (it appends its own paths).
pub async fn run_flow(sdk: Sdk, server_url: &str, token: &str, receiver_url: &str) -> Value {
    let (server_url, token, receiver_url) = (server_url.to_owned(), token.to_owned(), receiver_url.to_owned());
    tokio::task::spawn_blocking(move || run_flow_blocking(sdk, &server_url, &token, &receiver_url))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn run_flow_blocking(sdk: Sdk, server_url: &str, token: &str, receiver_url: &str) -> Value {
    let mut command = sdk.command(&[]);
    command
        .env("HERALD_SDK_SERVER_URL", server_url)
        .env("HERALD_SDK_TOKEN", token)
        .env("HERALD_SDK_RECEIVER_URL", receiver_url);
    json_summary(sdk.name(), command)
}

/// Runs a script to the end and returns the last JSON line it printed; panics with its
/// output if it failed.
fn json_summary(name: &str, mut command: Command) -> Value {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name} failed ({}):\n{stderr}\nstdout:\n{stdout}", output.status);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("{name} printed no JSON line:\n{stdout}\nstderr:\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name} printed bad JSON ({e}): {line}"))
}

/// An SDK's `message.poller` reads, for [`run_poller`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollerSdk {
    /// PyPI `svix` 2.x: `tests/sdk/python/sdk_poller.py`.
    Python,
    /// npm `svix`: `tests/sdk/js/poller.mjs`.
    Js,
    /// crates.io `svix`: `tests/sdk/rust`, a program of its own (see [`rust_poller`]).
    Rust,
}

/// The Rust SDK's poller program (`tests/sdk/rust`), built on first use into
/// `target/sdk-rust`. It is a workspace of its own: the `svix` crate's TLS stack
/// (rustls with aws-lc-rs) would otherwise be unified into Herald's test build and
/// change which crypto provider Herald's own TLS connections find.
pub fn rust_poller() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = services::target_dir().join("sdk-rust");
            let _lock = lock_file("sdk-rust.lock");
            run(Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--locked", "--manifest-path"])
                .arg(sdk_dir().join("rust").join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                .stdin(Stdio::null()));
            target.join("debug").join("herald-sdk-rust-poller")
        })
        .clone()
}

/// What [`run_poller`] reads and what it expects to read.
#[derive(Debug, Clone)]
pub struct PollerRun<'a> {
    pub server_url: &'a str,
    pub token: &'a str,
    pub app_id: &'a str,
    pub poller_id: &'a str,
    /// `{"ids": [every message the poller shows, in feed order], "seek_after": RFC 3339,
    /// "after_seek": [the ids created after it]}`.
    pub expected: Value,
}

/// Reads a polling endpoint through an SDK's `message.poller` (`poll`, `consumer_poll`,
/// `consumer_seek`); the script checks what it reads against `expected` and prints
/// the ids each read returned. Panics with the script's output if a check fails.
pub async fn run_poller(sdk: PollerSdk, run: PollerRun<'_>) -> Value {
    let env = [
        ("HERALD_SDK_SERVER_URL", run.server_url.to_owned()),
        ("HERALD_SDK_TOKEN", run.token.to_owned()),
        ("HERALD_SDK_APP_ID", run.app_id.to_owned()),
        ("HERALD_SDK_POLLER_ID", run.poller_id.to_owned()),
        ("HERALD_SDK_EXPECTED", run.expected.to_string()),
    ];
    // Off the runtime: preparing an SDK (a venv, `npm ci`, a Rust build) can take a minute.
    tokio::task::spawn_blocking(move || {
        let mut command = match sdk {
            PollerSdk::Python => {
                let mut command = Command::new(python_v2());
                command.arg(sdk_dir().join("python").join("sdk_poller.py"));
                command
            }
            PollerSdk::Js => {
                let dir = js_dir();
                let mut command = Command::new("node");
                command.arg(dir.join("poller.mjs")).current_dir(dir);
                command
            }
            PollerSdk::Rust => Command::new(rust_poller()),
        };
        command.env("PYTHONDONTWRITEBYTECODE", "1").envs(env);
        json_summary(&format!("the {sdk:?} SDK's poller script"), command)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The cases the `verify` mode reads: one `{"secret", "body", "headers"}` per request.
pub fn verify_cases(secret: &str, requests: &[RecordedRequest]) -> Value {
    let cases: Vec<Value> = requests
        .iter()
        .map(|request| {
            let headers: serde_json::Map<String, Value> =
                request.headers.iter().map(|(name, value)| (name.clone(), json!(value))).collect();
            json!({"secret": secret, "body": request.body_text(), "headers": headers})
        })
        .collect();
    Value::Array(cases)
}

/// Verifies every case (`[{"secret", "body", "headers"}]`, see [`verify_cases`]) with
/// PyPI `svix` 2.x: `svix.webhooks.Webhook(secret).verify(body, headers)`.
pub fn verify_with_svix_python(cases: &Value) -> Result<(), String> {
    verify(Sdk::PythonV2, cases)
}

/// The same with PyPI `svix` 1.x.
pub fn verify_with_svix_python_v1(cases: &Value) -> Result<(), String> {
    verify(Sdk::PythonV1, cases)
}

/// The same with npm `svix`: `new Webhook(secret).verify(body, headers)`.
pub fn verify_with_svix_js(cases: &Value) -> Result<(), String> {
    verify(Sdk::Js, cases)
}

/// Runs `SCRIPT verify` with the cases on stdin; it prints `verified N`.
pub fn verify(sdk: Sdk, cases: &Value) -> Result<(), String> {
    let count = cases.as_array().map_or(0, Vec::len);
    let mut child = sdk
        .command(&["verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", sdk.name()))?;
    let input = serde_json::to_vec(cases).map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    // Write on another thread: a child that fails early stops reading, and a large input
    // would otherwise fill the pipe while we wait.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let written = writer.join().map_err(|_| "the stdin writer panicked".to_owned())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{} verify failed ({}):\n{stderr}", sdk.name(), output.status));
    }
    written.map_err(|e| format!("cannot write the cases to {}: {e}", sdk.name()))?;
    if stdout.trim() != format!("verified {count}") {
        return Err(format!("{} verify printed {stdout:?}, expected \"verified {count}\"", sdk.name()));
    }
    Ok(())
}
