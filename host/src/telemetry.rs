//! Telemetry: where baton's diagnostics go, and how its work is traced and measured.
//!
//! Every process installs one `tracing` subscriber ([`init`]): log lines on stderr,
//! filtered by `-v` or `RUST_LOG`, and, when an OTLP endpoint is configured by the
//! standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_EXPORTER=none` honoured), baton's spans exported over OTLP/HTTP by the
//! official OpenTelemetry crates. With no endpoint no exporter is built and no layer
//! is installed: the spans in the code are disabled at their call sites and cost a
//! branch. The [`metrics`] are exported beside them the same way (their own
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_METRICS_EXPORTER=none`,
//! `OTEL_METRIC_EXPORT_INTERVAL`); with none configured no instrument is built and
//! recording one costs a branch.
//!
//! A trace crosses processes by W3C trace context: [`traceparent`] gives the value a
//! process baton starts gets as `TRACEPARENT` (or an MCP request as
//! `_meta.traceparent`), and [`continue_trace`] makes a span the child of the one such
//! a value names.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
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
    meters: Option<SdkMeterProvider>,
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
        if let Some(meters) = self.meters.take()
            && let Err(e) = meters.shutdown()
        {
            eprintln!("baton: warning: sending the last metrics failed: {e}");
        }
    }
}

/// Installs the process's subscriber: log lines at `verbose` (0 warnings, 1 debug,
/// 2 trace; `RUST_LOG` overrides), and the OTLP exporter when one is configured.
/// A process that already has a subscriber (a test) keeps it.
pub fn init(verbose: u8) -> Telemetry {
    let (subscriber, mut telemetry) = subscriber(verbose);
    telemetry.meters = meter_provider();
    if let Some(meters) = &telemetry.meters {
        opentelemetry::global::set_meter_provider(meters.clone());
        metrics::RECORDING.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // With `log` records (from dependencies) forwarded to it too.
    if tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).is_err() {
        // Another subscriber stays: nothing reaches this exporter.
        telemetry.provider = None;
    }
    let _ = INSTALLED.set((telemetry.provider.clone(), telemetry.meters.clone()));
    telemetry
}

/// The process's exporters, for [`flush`].
static INSTALLED: std::sync::OnceLock<(Option<SdkTracerProvider>, Option<SdkMeterProvider>)> =
    std::sync::OnceLock::new();

/// Sends what the exporters hold now: the spans that ended and the metrics so far.
/// For a process about to exit without unwinding (an interrupted `baton run` exits
/// from its signal handler): spans still open then are not sent, as a killed
/// process's never are.
pub fn flush() {
    let Some((provider, meters)) = INSTALLED.get() else {
        return;
    };
    if let Some(provider) = provider
        && let Err(e) = provider.force_flush()
    {
        eprintln!("baton: warning: sending the traces failed: {e}");
    }
    if let Some(meters) = meters
        && let Err(e) = meters.force_flush()
    {
        eprintln!("baton: warning: sending the metrics failed: {e}");
    }
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
    // Warnings alone, the default, need no directives parsed: a hook's command (a few
    // milliseconds in all) would spend tens of microseconds on EnvFilter's parser.
    let filter: Box<dyn tracing_subscriber::layer::Filter<_> + Send + Sync> =
        match std::env::var_os("RUST_LOG") {
            None if verbose == 0 => Box::new(tracing_subscriber::filter::LevelFilter::WARN),
            _ => Box::new(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
            ),
        };
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
    (
        subscriber,
        Telemetry {
            provider,
            meters: None,
        },
    )
}

/// The OTLP trace exporter the environment configures, if any.
fn exporter() -> Option<SdkTracerProvider> {
    if !configured("TRACES") {
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
    Some(
        SdkTracerProvider::builder()
            .with_resource(resource())
            .with_batch_exporter(exporter)
            .build(),
    )
}

/// The OTLP metric exporter the environment configures, if any.
fn meter_provider() -> Option<SdkMeterProvider> {
    if !configured("METRICS") {
        return None;
    }
    let exporter = match opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("baton: warning: metrics are not exported: the OTLP exporter: {e}");
            return None;
        }
    };
    Some(
        SdkMeterProvider::builder()
            .with_resource(resource())
            .with_periodic_exporter(exporter)
            .build(),
    )
}

/// Whether the environment asks for `signal` (`TRACES` or `METRICS`) to be exported:
/// an endpoint set, the SDK and that signal's exporter not turned off.
fn configured(signal: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    !is("OTEL_SDK_DISABLED", "true")
        && !is(&format!("OTEL_{signal}_EXPORTER"), "none")
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT")
            || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")))
}

/// The resource every signal is about: `OTEL_SERVICE_NAME` (default `baton`) and
/// `OTEL_RESOURCE_ATTRIBUTES`.
fn resource() -> opentelemetry_sdk::Resource {
    let resource = opentelemetry_sdk::Resource::builder();
    match std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty()) {
        true => resource.build(),
        false => resource.with_service_name("baton").build(),
    }
}

/// Makes `span` the child of the span `traceparent` names (a W3C `traceparent`
/// value), when spans are exported; a malformed value is ignored.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    if let Some(context) = traceparent.and_then(parse) {
        let _ = span.set_parent(context);
    }
}

/// The context a W3C `traceparent` value names, if it is well formed (the
/// propagator's own reading of it).
fn parse(traceparent: &str) -> Option<opentelemetry::Context> {
    let value = traceparent.trim();
    if value.is_empty() {
        return None;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
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

/// Whether `value` is a well-formed W3C `traceparent`.
fn valid_traceparent(value: &str) -> bool {
    parse(value).is_some()
}

/// The instruments baton records its work with (OpenTelemetry metrics, exported
/// when configured; nothing is recorded otherwise).
pub mod metrics {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram, Meter};

    struct Instruments {
        stage_duration: Histogram<f64>,
        agent_attempts: Counter<u64>,
        agent_cost: Counter<f64>,
        agent_tokens: Histogram<u64>,
        gate_refusals: Counter<u64>,
        memory_duration: Histogram<f64>,
        lease_expiries: Counter<u64>,
    }

    fn meter() -> Meter {
        opentelemetry::global::meter("baton")
    }

    /// A stage as metrics label it: as declared, one partition's run counted with its
    /// stage's (a label per partition would be a series per partition: thousands).
    fn stage_label(stage: &str) -> KeyValue {
        let (declared, _) = crate::pipeline::partitions::split_instance(stage);
        KeyValue::new("baton.stage", declared.to_owned())
    }

    /// Whether [`super::init`] installed a meter provider. Until then the global one
    /// is OpenTelemetry's no-op, and nothing is recorded: building the instruments
    /// costs a hook's command tens of microseconds for measurements that go nowhere.
    pub(super) static RECORDING: AtomicBool = AtomicBool::new(false);

    /// The instruments, when metrics are recorded.
    fn instruments() -> Option<&'static Instruments> {
        static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
        if !RECORDING.load(Ordering::Relaxed) {
            return None;
        }
        Some(INSTRUMENTS.get_or_init(|| {
            let meter = meter();
            Instruments {
                stage_duration: meter
                    .f64_histogram("baton.stage.duration")
                    .with_unit("s")
                    .with_description("How long a stage's run took, by pipeline, stage and outcome")
                    .build(),
                agent_attempts: meter
                    .u64_counter("baton.agent.attempts")
                    .with_description("Agents started, by stage (each attempt counts)")
                    .build(),
                agent_cost: meter
                    .f64_counter("baton.agent.cost")
                    .with_unit("USD")
                    .with_description("What agents cost, as their CLIs reported, by stage")
                    .build(),
                agent_tokens: meter
                    .u64_histogram("gen_ai.client.token.usage")
                    .with_unit("{token}")
                    .with_description("Tokens an agent's attempt used, by type (input, output)")
                    .build(),
                gate_refusals: meter
                    .u64_counter("baton.gate.refusals")
                    .with_description("Documents a gate refused, by stage and gate")
                    .build(),
                memory_duration: meter
                    .f64_histogram("baton.memory.operation.duration")
                    .with_unit("s")
                    .with_description("How long a memory operation took, by operation")
                    .build(),
                lease_expiries: meter
                    .u64_counter("baton.queue.lease_expiries")
                    .with_description("Stages claimed again because their worker's lease expired")
                    .build(),
            }
        }))
    }

    /// A stage's run of `pipeline` ended with `outcome` after `seconds`.
    pub fn stage_ended(pipeline: &str, stage: &str, outcome: &'static str, seconds: f64) {
        let Some(i) = instruments() else { return };
        i.stage_duration.record(
            seconds,
            &[
                KeyValue::new("baton.pipeline", pipeline.to_owned()),
                stage_label(stage),
                KeyValue::new("baton.outcome", outcome),
            ],
        );
    }

    /// An agent of `stage` was started; what it reported it used, once it ended.
    pub fn agent_attempt(
        stage: &str,
        cost_usd: Option<f64>,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    ) {
        let Some(i) = instruments() else { return };
        let stage = stage_label(stage);
        i.agent_attempts.add(1, std::slice::from_ref(&stage));
        if let Some(usd) = cost_usd {
            i.agent_cost.add(usd, std::slice::from_ref(&stage));
        }
        for (kind, tokens) in [("input", input_tokens), ("output", output_tokens)] {
            if let Some(tokens) = tokens {
                i.agent_tokens.record(
                    tokens,
                    &[
                        stage.clone(),
                        KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                        KeyValue::new("gen_ai.token.type", kind),
                    ],
                );
            }
        }
    }

    /// Gate `gate` of `stage` refused a document.
    pub fn gate_refused(stage: &str, gate: &str) {
        let Some(i) = instruments() else { return };
        i.gate_refusals.add(
            1,
            &[
                stage_label(stage),
                KeyValue::new("baton.gate", gate.to_owned()),
            ],
        );
    }

    /// A memory operation (`commit`, `get`) took `seconds`.
    pub fn memory_operation(operation: &'static str, seconds: f64) {
        let Some(i) = instruments() else { return };
        i.memory_duration.record(
            seconds,
            &[KeyValue::new("baton.memory.operation", operation)],
        );
    }

    /// A stage was claimed again: its last worker's lease expired.
    pub fn lease_expired(stage: &str) {
        let Some(i) = instruments() else { return };
        i.lease_expiries.add(1, &[stage_label(stage)]);
    }

    /// Whether metrics are exported (the environment configures an endpoint for
    /// them): what only an exporter needs can be left undone otherwise.
    pub fn exporting() -> bool {
        super::configured("METRICS")
    }

    /// Reports the queue's depth (jobs not done) as `baton.queue.depth` whenever the
    /// metrics are collected, by calling `depth` (a worker's database).
    pub fn observe_queue_depth(depth: impl Fn() -> Option<u64> + Send + Sync + 'static) {
        // Its callback stays registered with the meter provider (the handle holds
        // nothing): it reports as long as the provider lives.
        meter()
            .u64_observable_gauge("baton.queue.depth")
            .with_description("Jobs of distributed workflows not yet done")
            .with_callback(move |observer| {
                if let Some(n) = depth() {
                    observer.observe(n, &[]);
                }
            })
            .build();
    }
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
