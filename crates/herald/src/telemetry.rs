//! Logging: `tracing` to standard error, as text for people or JSON for pipelines.
//! Standard output stays clean for commands whose output is read by scripts.

use tracing_subscriber::EnvFilter;

use crate::Settings;

/// Installs the global subscriber. `RUST_LOG` overrides `log_level` when set.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if settings.log_format == "json" {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests starting several Heralds in one process) keeps the first.
    drop(installed);
}
