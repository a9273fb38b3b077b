//! Logs to stderr (stdout is kept for the `listening on` lines), as text for people or
//! as JSON lines for machines (`--log-format json`, each line with the fields of its
//! spans: `saga_id`, `step`, `trace_id`, …), and traces exported over OTLP/gRPC when a
//! collector is named (`--otlp-endpoint`). Without one, no OpenTelemetry layer is
//! installed and spans cost what `tracing` costs.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How long a stopping process waits for its last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object a line: the event's fields, its innermost span's as `span`, and
    /// every open span's, outermost first, as `spans`.
    Json,
}

/// The flags every service takes for its logs and traces.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct TelemetryArgs {
    /// Logs as text, or as JSON lines with the spans' fields (saga_id, step, trace_id).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// An OTLP collector's gRPC endpoint, e.g. http://127.0.0.1:4317: traces are exported
    /// there (absent: none).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// The exporter of this process's traces; [`Telemetry::flush`] sends its last spans.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// The collector's endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to {endpoint}")]
pub struct TelemetryError {
    endpoint: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

/// Installs the global subscriber for `service` as `args` say; `RUST_LOG` overrides the
/// default `info` level. Must run inside the Tokio runtime (the exporter's gRPC client
/// lives there). Calling it twice (as in-process tests may) keeps the first subscriber.
pub fn init(args: &TelemetryArgs, service: &'static str) -> Result<Telemetry, TelemetryError> {
    let provider = match &args.otlp_endpoint {
        Some(endpoint) => Some(provider(endpoint, service)?),
        None => None,
    };
    let traces = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        crate::trace_context::enable();
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_filter(our_spans())
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(traces)
        .with(logs.with_filter(filter))
        .try_init();
    Ok(Telemetry { provider })
}

/// Logs as text, no traces: for tools and in-process tests.
pub fn init_text() {
    let _ = init(&TelemetryArgs::default(), "saga");
}

/// The spans traces carry: this workspace's, at `info` and above. The libraries below
/// (hyper, h2, tonic, sqlx) open spans of their own at finer levels by the dozen per call;
/// exporting them would cost more than the calls.
fn our_spans() -> tracing_subscriber::filter::Targets {
    const OURS: [&str; 5] = [
        "orchestrator",
        "orders_svc",
        "invoices_svc",
        "inventory_svc",
        "service_kit",
    ];
    OURS.iter().fold(
        tracing_subscriber::filter::Targets::new(),
        |targets, crate_name| targets.with_target(*crate_name, tracing::Level::INFO),
    )
}

fn provider(endpoint: &str, service: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError {
            endpoint: endpoint.to_string(),
            source,
        })?;
    let resource = Resource::builder().with_service_name(service).build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

impl Telemetry {
    /// Sends the spans not exported yet, within a bound; call it before the process ends.
    pub async fn flush(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT));
        if let Ok(Err(error)) = flushed.await {
            eprintln!("cannot flush the last traces: {error}");
        }
    }
}

/// `error` and its causes, for a log line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
