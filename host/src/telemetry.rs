//! Telemetry: where baton's diagnostics go, and how its work is traced.
//!
//! Every process installs one `tracing` subscriber ([`init`]): log lines on stderr,
//! filtered by `-v` or `RUST_LOG`, and, when an OTLP endpoint is configured by the
//! standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_EXPORTER=none` honoured), baton's spans exported over OTLP/HTTP by the
//! official OpenTelemetry crates. With no endpoint no exporter is built and no layer
//! is installed: the spans in the code are disabled at their call sites and cost a
//! branch.
//!
//! A trace crosses processes by W3C trace context: [`traceparent`] gives the value a
//! process baton starts gets as `TRACEPARENT` (or an MCP request as
//! `_meta.traceparent`), and [`continue_trace`] makes a span the child of the one such
//! a value names.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The variable a process gets its caller's trace context in (W3C `traceparent`).
pub const TRACEPARENT: &str = "TRACEPARENT";

/// The installed subscriber's exporter, if any: dropping it sends the spans still
/// buffered (at the end of `main`).
#[must_use = "dropping it flushes the exporter: keep it until the process ends"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("baton: warning: sending the last traces failed: {e}");
        }
    }
}

/// Installs the process's subscriber: log lines at `verbose` (0 warnings, 1 debug,
/// 2 trace; `RUST_LOG` overrides), and the OTLP exporter when one is configured.
/// A process that already has a subscriber (a test) keeps it.
pub fn init(verbose: u8) -> Telemetry {
    let (subscriber, mut telemetry) = subscriber(verbose);
    // With `log` records (from dependencies) forwarded to it too.
    if tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).is_err() {
        // Another subscriber stays: nothing reaches this exporter.
        telemetry.provider = None;
    }
    telemetry
}

/// The subscriber [`init`] installs, and its exporter; for a caller that sets it for
/// a scope (`tracing::subscriber::with_default`), such as a benchmark.
pub fn subscriber(verbose: u8) -> (impl tracing::Subscriber + Send + Sync, Telemetry) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "baton=debug,info",
        _ => "baton=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(filter);
    let provider = exporter();
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("baton"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("baton", tracing::Level::INFO),
            )
    });
    let subscriber = tracing_subscriber::registry().with(logs).with(traces);
    (subscriber, Telemetry { provider })
}

/// The OTLP trace exporter the environment configures, if any.
fn exporter() -> Option<SdkTracerProvider> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    if is("OTEL_SDK_DISABLED", "true") || is("OTEL_TRACES_EXPORTER", "none") {
        return None;
    }
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("baton: warning: traces are not exported: the OTLP exporter: {e}");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("baton");
    }
    Some(
        SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(exporter)
            .build(),
    )
}

/// Makes `span` the child of the span `traceparent` names (a W3C `traceparent`
/// value), when spans are exported; a malformed value is ignored.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.map(str::trim).filter(|v| !v.is_empty()) else {
        return;
    };
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// Makes `span` the child of the span in this process's `TRACEPARENT`, if any.
pub fn continue_from_environment(span: &Span) {
    continue_trace(span, std::env::var(TRACEPARENT).ok().as_deref());
}

/// The W3C `traceparent` of `span`, for a process or a request that continues its
/// trace. When spans are not exported, the trace this process continues (its own
/// `TRACEPARENT`), so that a chain of processes stays one trace through a baton that
/// does not export.
pub fn traceparent(span: &Span) -> Option<String> {
    let context = span.context();
    if context.span().span_context().is_valid() {
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        if let Some(value) = carrier.remove("traceparent") {
            return Some(value);
        }
    }
    std::env::var(TRACEPARENT)
        .ok()
        .filter(|v| valid_traceparent(v))
}

/// Whether `value` has the shape of a W3C `traceparent` (version 00).
fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_checked_for_its_shape() {
        assert!(valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(!valid_traceparent(bad), "{bad}");
        }
    }
}
