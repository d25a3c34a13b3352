//! `herald`: the one binary. See `herald --help`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald::{Roles, Settings};
use tokio_util::sync::CancellationToken;

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
    /// Print the built-in settings file, with every setting documented.
    Defaults,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant; its API key is printed alone on the last line of stdout.
    Create { name: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Defaults) {
        print!("{}", herald::settings::DEFAULTS);
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    herald::telemetry::init(&settings);
    match cli.command {
        Command::Serve => run(&settings, Roles::Both).await,
        Command::Api => run(&settings, Roles::ApiOnly).await,
        Command::Worker => run(&settings, Roles::WorkerOnly).await,
        Command::Migrate => {
            herald::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Tenant { action: TenantCommand::Create { name } } => {
            let created = herald::create_tenant(&settings, &name).await?;
            println!("Created tenant {name} ({}).", created.id);
            println!("Its API key is shown only now; keep it safe:");
            println!("{}", created.api_key);
            Ok(())
        }
        Command::Defaults => Ok(()),
    }
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
