//! The independent verifiers: PyPI's `standardwebhooks` (the reference Python
//! implementation) for `v1` HMAC signatures and PyNaCl (libsodium) for `v1a` ed25519
//! signatures, run in a virtual environment under `target/test-venv`.
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

const VERIFY_ED25519_SCRIPT: &str = r#"
import base64, json, sys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
cases = json.load(sys.stdin)
for case in cases:
    key = VerifyKey(base64.b64decode(case["public_key"].removeprefix("whpk_")))
    headers = {name.lower(): value for name, value in case["headers"].items()}
    content = (headers["webhook-id"] + "." + headers["webhook-timestamp"] + ".").encode() + case["body"].encode()
    entries = [entry[4:] for entry in headers["webhook-signature"].split(" ") if entry.startswith("v1a,")]
    def verifies(signature):
        try:
            key.verify(content, base64.b64decode(signature))
            return True
        except BadSignatureError:
            return False
    if not any(verifies(entry) for entry in entries):
        raise SystemExit("no v1a signature verifies for " + headers["webhook-id"])
print("verified", len(cases))
"#;

/// What the test venv holds; a venv made for less is made again.
const VENV_PACKAGES: [&str; 2] = ["standardwebhooks", "pynacl"];

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
            let ready = venv.join(format!(".herald-ready-{}", VENV_PACKAGES.join("-")));
            if !ready.exists() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                run(Command::new(&python).args(["-m", "pip", "install", "--quiet"]).args(VENV_PACKAGES));
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
        .map(|request| json!({"secret": secret, "body": request.body_text(), "headers": headers_of(request)}))
        .collect();
    run_script(VERIFY_SCRIPT, &cases)
}

/// Verifies every request's `v1a` entry against the public key (`whpk_…`) with PyNaCl.
pub fn verify_ed25519_with_pynacl(public_key: &str, requests: &[RecordedRequest]) -> Result<(), String> {
    let cases: Vec<_> = requests
        .iter()
        .map(|request| json!({"public_key": public_key, "body": request.body_text(), "headers": headers_of(request)}))
        .collect();
    run_script(VERIFY_ED25519_SCRIPT, &cases)
}

fn headers_of(request: &RecordedRequest) -> serde_json::Map<String, serde_json::Value> {
    request.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}

fn run_script(script: &str, cases: &[serde_json::Value]) -> Result<(), String> {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start python: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(cases).expect("json").as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
