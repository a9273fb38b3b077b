//! The W3C trace context across processes: a server span per gRPC request, made a child of
//! the caller's `traceparent` when it sent one; a span's context written into an outgoing
//! call's metadata, or kept as text (a saga keeps its own with it, so that the steps any
//! replica drives, after any restart, join one trace). Without an exporter installed
//! (`--otlp-endpoint`) spans have no context and nothing is written.

use std::task::{Context, Poll};

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The tower layer of a server: a `grpc` span per request (not health or reflection).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerSpans;

impl<S> tower::Layer<S> for ServerSpans {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced(inner)
    }
}

/// A service whose every request runs in its own server span.
#[derive(Debug, Clone)]
pub struct Traced<S>(S);

impl<S, B> tower::Service<http::Request<B>> for Traced<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let span = match !enabled() || path.starts_with("/grpc.") {
            true => tracing::Span::none(),
            false => {
                let span = tracing::info_span!("grpc", otel.name = %path, otel.kind = "server", trace_id = tracing::field::Empty);
                let parent = opentelemetry::global::get_text_map_propagator(|p| {
                    p.extract(&Headers(request.headers()))
                });
                let _ = span.set_parent(parent);
                record_trace_id(&span);
                span
            }
        };
        self.0.call(request).instrument(span)
    }
}

/// Whether spans are exported (`--otlp-endpoint`): without, they have no context.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that spans are exported from now on (the telemetry's start does).
pub fn enable() {
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The current span's context as text (a `traceparent`; empty without an exporter).
pub fn current() -> String {
    of(&tracing::Span::current())
}

/// `span`'s context as text (a `traceparent`; empty without an exporter).
pub fn of(span: &tracing::Span) -> String {
    if !enabled() {
        return String::new();
    }
    let mut carrier = TextCarrier::default();
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier.0
}

/// Makes `span` a child of the context kept as `text` (see [`current`]), if it names
/// one, and records its trace id.
pub fn adopt(span: &tracing::Span, text: &str) {
    if text.is_empty() || !enabled() {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&TextCarrier(text.to_string()))
    });
    let _ = span.set_parent(parent);
    record_trace_id(span);
}

/// Writes `span`'s context into `metadata`, for the callee's server span to join.
pub fn inject(span: &tracing::Span, metadata: &mut MetadataMap) {
    if !enabled() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut MetadataInjector(metadata))
    });
}

/// Records the span's trace id in its `trace_id` field (for the logs), when it has one.
fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
    }
}

/// Reads a request's HTTP headers.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes into an outgoing call's metadata.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// A `traceparent` kept as text (the only field the W3C propagator writes that matters
/// for joining a trace; the state, if any, is left out).
#[derive(Default)]
struct TextCarrier(String);

impl Injector for TextCarrier {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = value;
        }
    }
}

impl Extractor for TextCarrier {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}
