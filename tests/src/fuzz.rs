//! schemathesis (PyPI) fuzzing Herald's API from `docs/openapi.json`, bounded in time.
//!
//! `scripts/test` prepares `target/fuzz-venv` and exports `HERALD_TEST_SCHEMATHESIS`; when
//! a developer runs `cargo test` directly, the first caller creates it under a file lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::services;

/// Keep in step with `scripts/fuzz.sh`. hypothesis is pinned too: schemathesis takes
/// whatever release is newest, and the run must not change under the suite's feet.
const PIN: &str = "schemathesis==4.32.5 hypothesis==6.170.27";
/// A run that takes longer than this has hung: it is killed and the test fails.
const WALL_CLOCK_LIMIT: Duration = Duration::from_secs(300);

/// The `schemathesis` executable.
pub fn schemathesis() -> PathBuf {
    static EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();
    EXECUTABLE
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("HERALD_TEST_SCHEMATHESIS") {
                return path.into();
            }
            let venv = services::target_dir().join("fuzz-venv");
            std::fs::create_dir_all(services::target_dir()).expect("target directory");
            let lock = std::fs::File::create(services::target_dir().join("fuzz-venv.lock")).expect("venv lock file");
            lock.lock().expect("lock the venv");
            let ready = venv.join(".herald-ready");
            if std::fs::read_to_string(&ready).ok().as_deref() != Some(PIN) {
                let _ = std::fs::remove_dir_all(&venv);
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                run(Command::new(venv.join("bin/python"))
                    .args(["-m", "pip", "install", "--quiet"])
                    .args(PIN.split(' ')));
                std::fs::write(&ready, PIN).expect("mark the venv ready");
            }
            venv.join("bin/schemathesis")
        })
        .clone()
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed");
}

/// One schemathesis run: `not_a_server_error` on every operation the filters leave,
/// a fixed seed, no example database, at most `max_examples` per operation. `config`
/// is a `schemathesis.toml` (e.g. fixing path parameters to objects that exist).
/// Returns the output, or `Err(output)` when a check failed or the run hung.
pub fn run_schemathesis(
    spec: &Path,
    base_url: &str,
    api_key: &str,
    config: Option<&Path>,
    extra_args: &[&str],
    max_examples: u32,
) -> Result<String, String> {
    let mut command = Command::new(schemathesis());
    if let Some(config) = config {
        command.arg("--config-file").arg(config);
    }
    command
        .arg("run")
        .arg(spec)
        .args(["--url", base_url, "-H", &format!("Authorization: Bearer {api_key}")])
        .args(["--checks", "not_a_server_error", "--seed", "1", "--generation-database", "none"])
        .args(["--max-examples", &max_examples.to_string(), "--phases", "examples,coverage,fuzzing"])
        // One worker: with two threads, hypothesis 6.170's lambda descriptions parse
        // source with `ast` concurrently, and CPython 3.11 fails that now and then
        // ("AST constructor recursion depth mismatch"), reported as a test error.
        .args(["--request-timeout", "10", "--no-color", "--workers", "1"])
        .args(extra_args)
        .stdin(Stdio::null());
    // Output goes to a file: a pipe nobody reads while we wait could fill and stall the run.
    let log = services::target_dir().join(format!("schemathesis-{}-{}.log", std::process::id(), rand_suffix()));
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    command.stdout(file.try_clone().map_err(|e| e.to_string())?).stderr(file);
    let mut child = command.spawn().map_err(|e| format!("cannot start schemathesis: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if started.elapsed() > WALL_CLOCK_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        Some(status) if status.success() => Ok(text),
        Some(_) => Err(text),
        None => Err(format!("schemathesis ran longer than {WALL_CLOCK_LIMIT:?}; killed.\n{text}")),
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
