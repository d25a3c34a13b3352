//! `herald`: the one binary. See `herald --help`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald::{Roles, Settings};
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: Herald allocates and frees small buffers on
/// every request and attempt, and glibc's allocator was a seventh of its CPU time
/// under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Herald: self-hosted webhook delivery, compatible with the Svix API.
#[derive(Debug, Parser)]
#[command(name = "herald", version)]
struct Cli {
    /// A TOML file with settings (same keys as the built-in defaults, `herald defaults`).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and the worker in one process.
    Serve,
    /// Run only the HTTP API.
    Api,
    /// Run only the delivery worker.
    Worker,
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Tenant administration.
    Tenant {
        #[command(subcommand)]
        action: TenantCommand,
    },
    /// API keys of a tenant.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyCommand,
    },
    /// The encryption keys that seal endpoint secrets and header values at rest.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Print the built-in settings file, with every setting documented.
    Defaults,
    /// Print Herald's OpenAPI document (as committed in docs/openapi.json).
    Openapi,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant; its API key is printed alone on the last line of stdout.
    Create { name: String },
    /// List tenants: id, schema validation mode, name.
    List,
    /// Change a tenant's settings (at least one of them).
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["schema_validation", "ingest_rate_limit", "max_backlog", "max_backlog_age", "auto_redrive"])))]
    Update {
        tenant_id: String,
        /// What a payload that breaks its event type's schema gets: accept, flag or reject.
        #[arg(long)]
        schema_validation: Option<String>,
        /// Messages per second the tenant may create, per API process (0: no limit), or
        /// `default` to follow the setting `ingest_rate_limit`.
        #[arg(long)]
        ingest_rate_limit: Option<String>,
        /// Deliveries the tenant may have waiting before message creation is refused
        /// (0: no cap), or `default` to follow the setting `max_backlog`.
        #[arg(long)]
        max_backlog: Option<String>,
        /// How long the tenant's oldest ready delivery may have waited before message
        /// creation is refused (`10m`; 0: no cap), or `default` to follow the setting
        /// `max_backlog_age`.
        #[arg(long)]
        max_backlog_age: Option<String>,
        /// Whether the tenant's endpoints are redriven automatically when they come back
        /// after an outage: on, off, or `default` (on).
        #[arg(long)]
        auto_redrive: Option<String>,
        /// How long the tenant's payloads are kept (`7d`, `12h`, or seconds), or
        /// `default` to follow the setting `payload_retention`. Applies to messages
        /// accepted from now on.
        #[arg(long)]
        payload_retention: Option<String>,
        /// How long the tenant's messages, deliveries and attempts are kept (`90d`), or
        /// `default` to follow the setting `metadata_retention`. Applies to messages
        /// accepted from now on.
        #[arg(long)]
        metadata_retention: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Issue an API key; the key is printed alone on the last line of stdout.
    Create {
        tenant_id: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a tenant's keys (ids and names; keys are never stored).
    List { tenant_id: String },
    /// Revoke a key; it stops working at once.
    Revoke { tenant_id: String, key_id: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new key entry (`<id>:<base64>`) for `encryption_keys` or a key file.
    Generate,
    /// Add a fresh key to the key file (with `encryption_keys`, append one yourself
    /// first) and re-seal every stored secret with it. Safe while Herald runs: every
    /// process still opens values sealed with the older keys; restart them to seal new
    /// values with the new key.
    Rotate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Defaults => {
            print!("{}", herald::settings::DEFAULTS);
            return Ok(());
        }
        Command::Openapi => {
            print!("{}", herald_api::openapi::document_json());
            return Ok(());
        }
        Command::Keys { action: KeysCommand::Generate } => {
            println!("{}", herald_store::Keyring::generate_entry(chrono::Utc::now().timestamp()));
            return Ok(());
        }
        _ => {}
    }
    let settings = Settings::load(cli.config.as_deref())?;
    let serves = matches!(cli.command, Command::Serve | Command::Api | Command::Worker);
    let telemetry = herald::telemetry::init(&settings, serves)?;
    match cli.command {
        Command::Serve | Command::Api | Command::Worker => {
            let roles = match cli.command {
                Command::Serve => Roles::Both,
                Command::Api => Roles::ApiOnly,
                _ => Roles::WorkerOnly,
            };
            let result = run(&settings, roles).await;
            telemetry.shutdown().await;
            result
        }
        Command::Migrate => {
            herald::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Tenant { action } => tenant_command(&settings, action).await,
        Command::ApiKey { action } => api_key_command(&settings, action).await,
        Command::Keys { action: KeysCommand::Rotate } => {
            let (current, changed) = herald::keys::rotate(&settings).await?;
            println!("Re-sealed {changed} row(s) with key {current}.");
            Ok(())
        }
        Command::Defaults | Command::Openapi | Command::Keys { .. } => Ok(()),
    }
}

fn admin_error(error: herald_api::ApiError) -> anyhow::Error {
    match error {
        herald_api::ApiError::Validation(items) => {
            anyhow::anyhow!(
                "{}",
                items.iter().map(|i| format!("{}: {}", i.loc.join("."), i.msg)).collect::<Vec<_>>().join("; ")
            )
        }
        other => anyhow::anyhow!("{other}"),
    }
}

async fn tenant_command(settings: &Settings, action: TenantCommand) -> anyhow::Result<()> {
    use herald_api::service::tenants;
    let store = herald::open_store(settings).await?;
    match action {
        TenantCommand::Create { name } => {
            let (tenant, api_key) = tenants::new_tenant(&store, &name).await.map_err(admin_error)?;
            println!("Created tenant {name} ({}).", tenant.id);
            println!("Its API key is shown only now; keep it safe:");
            println!("{api_key}");
        }
        TenantCommand::List => {
            for tenant in store.list_tenants().await? {
                println!("{}\t{}\t{}", tenant.id, tenant.schema_validation, tenant.name);
            }
        }
        TenantCommand::Update {
            tenant_id,
            schema_validation,
            ingest_rate_limit,
            max_backlog,
            max_backlog_age,
            auto_redrive,
            payload_retention,
            metadata_retention,
        } => {
            let seconds = |text: &str| -> Option<u64> {
                text.parse().ok().or_else(|| humantime::parse_duration(text).ok().map(|period| period.as_secs()))
            };
            let id = herald_core::TenantId::parse(&tenant_id)?;
            let request = tenants::SettingsRequest {
                schema_validation,
                ingest_rate_limit: override_of("--ingest-rate-limit", ingest_rate_limit, |text| text.parse().ok())?,
                max_backlog: override_of("--max-backlog", max_backlog, |text| text.parse().ok())?,
                max_backlog_age: override_of("--max-backlog-age", max_backlog_age, seconds)?,
                auto_redrive: override_of("--auto-redrive", auto_redrive, |text| match text {
                    "on" => Some(true),
                    "off" => Some(false),
                    _ => None,
                })?,
                payload_retention: override_of("--payload-retention", payload_retention, seconds)?,
                metadata_retention: override_of("--metadata-retention", metadata_retention, seconds)?,
            };
            let updated = tenants::change_settings(&store, &id, request).await.map_err(admin_error)?;
            let own = |value: Option<i64>, unit: &str| match value {
                None => "the setting's".to_owned(),
                Some(0) => "none".to_owned(),
                Some(n) => format!("{n} {unit}"),
            };
            println!(
                "Tenant {} now uses schema validation `{}`; ingest rate limit: {}; backlog cap: {}; backlog age cap: {}; \
                 automatic redrive: {}; payload retention: {}; metadata retention: {}.",
                updated.id,
                updated.schema_validation,
                own(updated.ingest_rate_limit.map(i64::from), "messages per second"),
                own(updated.max_backlog, "deliveries"),
                own(updated.max_backlog_age_secs, "seconds"),
                if updated.auto_redrive == Some(false) { "off" } else { "on" },
                own(updated.payload_retention_secs, "seconds"),
                own(updated.metadata_retention_secs, "seconds"),
            );
        }
    }
    store.close().await?;
    Ok(())
}

/// A per-tenant override given on the command line: `default` goes back to the
/// setting (`Some(None)`), anything else must parse.
fn override_of<T>(
    flag: &str,
    given: Option<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<Option<Option<T>>> {
    match given.as_deref().map(str::trim) {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(text) => parse(text).map(|value| Some(Some(value))).ok_or_else(|| {
            anyhow::anyhow!("{flag} does not take `{text}` (see --help), nor anything but `default` for the setting")
        }),
    }
}

async fn api_key_command(settings: &Settings, action: ApiKeyCommand) -> anyhow::Result<()> {
    use herald_api::service::tenants;
    let store = herald::open_store(settings).await?;
    match action {
        ApiKeyCommand::Create { tenant_id, name } => {
            let id = herald_core::TenantId::parse(&tenant_id)?;
            let (record, key) = tenants::new_api_key(&store, &id, &name).await.map_err(admin_error)?;
            println!("Created API key {} for tenant {}.", record.id, record.tenant_id);
            println!("It is shown only now; keep it safe:");
            println!("{key}");
        }
        ApiKeyCommand::List { tenant_id } => {
            for key in store.list_api_keys(&herald_core::TenantId::parse(&tenant_id)?).await? {
                let state = key.revoked_at.map_or("active".to_owned(), |at| format!("revoked {at}"));
                println!("{}\t{}\t{}", key.id, state, key.name);
            }
        }
        ApiKeyCommand::Revoke { tenant_id, key_id } => {
            let id = herald_core::TenantId::parse(&tenant_id)?;
            anyhow::ensure!(
                store.revoke_api_key(&id, &key_id, chrono::Utc::now(), &herald_store::Actor::Operator).await?,
                "no key {key_id} for that tenant"
            );
            println!("Revoked {key_id}.");
        }
    }
    store.close().await?;
    Ok(())
}

async fn run(settings: &Settings, roles: Roles) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let running = herald::start(settings, roles, shutdown.clone()).await?;
    if let Some(address) = running.api_address {
        tracing::info!("Herald API listening on http://{address}");
    }
    wait_for_signal().await?;
    tracing::info!("shutting down: no new work; finishing or handing back in-flight deliveries");
    shutdown.cancel();
    running.task.await.context("while shutting down")??;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("while installing the SIGTERM handler")?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("while waiting for Ctrl-C")?,
    }
    Ok(())
}
