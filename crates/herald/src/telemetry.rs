//! Logging and tracing.
//!
//! Logs: `tracing` to standard error, as text for people or JSON for pipelines
//! (`log_format`); standard output stays clean for commands whose output is read by
//! scripts. Traces: with `otlp_endpoint` set, spans at `info` and above are exported
//! over OTLP/HTTP (JSON) through `tracing-opentelemetry`, sampled at
//! `trace_sample_ratio` (a message's attempts follow its ingest's decision). See
//! `herald_observability::trace` for how one message's spans become one trace.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::Settings;

/// What [`init`] installed; [`Telemetry::shutdown`] sends the spans still buffered.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is buffered and stops the exporter. Call once, at exit.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The exporter's HTTP client blocks: keep it off the async threads.
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

/// Installs the global subscriber, and with `export_traces` the trace exporter when
/// `otlp_endpoint` is set (only the serving commands trace; `herald tenant create`
/// does not). `RUST_LOG` overrides `log_level` when set. A second call in one process
/// (tests starting several Heralds) keeps the first subscriber.
pub fn init(settings: &Settings, export_traces: bool) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if settings.log_format == "json" {
        logs.json().flatten_event(true).with_current_span(true).with_filter(filter).boxed()
    } else {
        logs.with_filter(filter).boxed()
    };
    let endpoint = settings.otlp_endpoint.trim().trim_end_matches('/').to_owned();
    let provider = if endpoint.is_empty() || !export_traces {
        None
    } else {
        let ratio = settings.trace_sample_ratio;
        // The blocking HTTP client must be built off the async runtime's threads.
        let built = std::thread::spawn(move || tracer_provider(&endpoint, ratio))
            .join()
            .map_err(|_| anyhow::anyhow!("building the OTLP exporter panicked"))??;
        opentelemetry::global::set_tracer_provider(built.clone());
        Some(built)
    };
    // Spans are exported whatever the log level: `log_level = "warn"` quiets the logs,
    // not the traces.
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("herald")).with_filter(LevelFilter::INFO)
    });
    let installed = tracing_subscriber::registry().with(logs).with(traces).try_init();
    drop(installed);
    Ok(Telemetry { provider })
}

fn tracer_provider(endpoint: &str, ratio: f64) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .context("while building the OTLP exporter (setting `otlp_endpoint`)")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))))
        .with_resource(Resource::builder().with_service_name("herald").build())
        .build())
}
