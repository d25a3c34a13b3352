//! The independent verifier: PyPI's `standardwebhooks` (the reference Python
//! implementation), run in a virtual environment under `target/test-venv`.
//!
//! `scripts/test` prepares the environment and exports `HERALD_TEST_PYTHON`; when a
//! developer runs `cargo test` directly, the first test that needs it creates it
//! (under a file lock, since tests run in parallel).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::json;

use crate::receiver::RecordedRequest;
use crate::services;

const VERIFY_SCRIPT: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
for case in cases:
    Webhook(case["secret"]).verify(case["body"], case["headers"])
print("verified", len(cases))
"#;

/// The Python interpreter that has `standardwebhooks` installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(python) = std::env::var_os("HERALD_TEST_PYTHON") {
                return python.into();
            }
            let venv = services::target_dir().join("test-venv");
            let python = venv.join("bin").join("python");
            std::fs::create_dir_all(services::target_dir()).expect("target directory");
            let lock = std::fs::File::create(services::target_dir().join("test-venv.lock")).expect("venv lock file");
            lock.lock().expect("lock the venv");
            let ready = venv.join(".herald-ready");
            if !ready.exists() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "standardwebhooks"]));
                std::fs::write(&ready, b"ok").expect("mark the venv ready");
            }
            python
        })
        .clone()
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed");
}

/// Verifies every request with `standardwebhooks.Webhook(secret).verify(body, headers)`.
pub fn verify_with_standardwebhooks(secret: &str, requests: &[RecordedRequest]) -> Result<(), String> {
    let cases: Vec<_> = requests
        .iter()
        .map(|request| {
            let headers: serde_json::Map<String, serde_json::Value> =
                request.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            json!({"secret": secret, "body": request.body_text(), "headers": headers})
        })
        .collect();
    let mut child = Command::new(python())
        .args(["-c", VERIFY_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start python: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&cases).expect("json").as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
