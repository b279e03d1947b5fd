//! Pipeline benchmarks: a synthetic 48-stage pipeline shaped like the coding pipeline
//! (7 phases, each stage reading 3 to 7 earlier keys), end to end with durable
//! commits, and under `baton`'s tracing subscriber with no exporter and exporting;
//! and gate checking of a 1 MiB document.
//!
//! Run: `cargo bench -p baton --bench pipeline`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;

use baton::executor::{self, RunOptions};
use baton::gates::StageGates;
use baton::memory::{SledStore, Store, StoreOptions};
use baton::pipeline::Pipeline;
use baton::runtime::{ComponentCache, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

#[path = "../../tests/support/guest.rs"]
mod guest;
#[path = "../../tests/support/synthetic.rs"]
mod synthetic;
use synthetic::synthetic_manifest;

fn echo_component(root: &Path) -> std::path::PathBuf {
    guest::build_guests(root).join("echo.wasm")
}

fn pipeline_benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let echo = echo_component(root);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pipeline.toml");
    std::fs::write(&manifest, synthetic_manifest(dir.path(), &echo)).unwrap();
    let pipeline = Pipeline::load(&manifest).unwrap_or_else(|p| panic!("{p}"));
    let runtime = Runtime::new(ComponentCache::new(dir.path().join("cache"))).unwrap();
    let memory: Arc<dyn Store> =
        Arc::new(SledStore::open(dir.path().join("store"), StoreOptions::default()).unwrap());
    let options = RunOptions {
        force: true,
        parallelism: 2,
        ..Default::default()
    };
    let first = executor::run(&pipeline, &runtime, memory.clone(), &options, &|_, _| {}).unwrap();
    assert!(first.passed && first.stages.len() == 48);
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.bench_function(
        "48-stage synthetic pipeline, every stage run, durable commits",
        |b| {
            b.iter(|| {
                let summary =
                    executor::run(&pipeline, &runtime, memory.clone(), &options, &|_, _| {})
                        .unwrap();
                assert!(summary.passed);
            })
        },
    );
    let fresh = RunOptions {
        force: false,
        parallelism: 2,
        ..Default::default()
    };
    group.bench_function("48-stage synthetic pipeline, all fresh (skipped)", |b| {
        b.iter(|| executor::run(&pipeline, &runtime, memory.clone(), &fresh, &|_, _| {}).unwrap())
    });
    group.finish();

    // The same forced run under the subscriber `baton` installs: with no OTLP endpoint
    // (what every run pays for its spans), and exporting to a local receiver that
    // answers every request with 200 (what export costs the run).
    let forced = || {
        let summary =
            executor::run(&pipeline, &runtime, memory.clone(), &options, &|_, _| {}).unwrap();
        assert!(summary.passed);
    };
    let mut group = c.benchmark_group("tracing");
    group.sample_size(10);
    // SAFETY: set before any other thread of the bench reads the environment.
    unsafe { std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT") };
    let (subscriber, telemetry) = baton::telemetry::subscriber(0);
    assert!(!telemetry.exporting());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("48-stage pipeline, every stage run, no exporter", |b| {
            b.iter(forced)
        });
    });
    let sink = sink();
    // SAFETY: as above; the exporter reads it once, when built.
    unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &sink) };
    let (subscriber, telemetry) = baton::telemetry::subscriber(0);
    assert!(telemetry.exporting());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("48-stage pipeline, every stage run, exporting", |b| {
            b.iter(forced)
        });
    });
    drop(telemetry);
    unsafe { std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT") };
    group.finish();

    // Gate checking of a 1 MiB document against a schema gate on every SLO.
    let gate_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        gate_dir.path().join("slos.schema.json"),
        json!({"type": "array", "items": {"type": "object", "required": ["id", "target", "unit", "percentile"],
            "properties": {"id": {"type": "string"}, "target": {"type": "number", "exclusiveMinimum": 0},
                           "unit": {"enum": ["ms", "s", "rps", "%"]}, "percentile": {"type": "integer"}}}})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        gate_dir.path().join("pipeline.toml"),
        "[pipeline]\nname = \"g\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"perf\"\nexternal = true\nwrites = \"k\"\n\n[[stage.gate]]\nname = \"measurable-slos\"\nrule = \"Performance requirements must have measurable SLOs\"\nschema = \"slos.schema.json\"\npointer = \"/slos\"\n",
    )
    .unwrap();
    let gated = Pipeline::load(&gate_dir.path().join("pipeline.toml")).unwrap();
    let gates = StageGates::compile(&gated.stages[0], None).unwrap();
    let slos: Vec<_> = (0..9000)
        .map(|i| json!({"id": format!("slo-{i:05}"), "target": 200 + i % 50, "unit": "ms", "percentile": 99, "measurement": "histogram of request latency at the gateway"}))
        .collect();
    let doc = json!({ "slos": slos });
    let size = doc.to_string().len();
    assert!(
        (1 << 20..2 << 20).contains(&size),
        "document is {size} bytes"
    );
    assert!(gates.check(&doc, &[]).passed);
    c.bench_function(
        "gates/check a 1 MiB document (schema gate over 9,000 SLOs)",
        |b| b.iter(|| gates.check(&doc, &[])),
    );

    default_pipeline_benches(c);
}

/// An HTTP endpoint on 127.0.0.1 that reads each request and answers 200 with an
/// empty body: an OTLP receiver that keeps nothing.
fn sink() -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// The repository's default pipeline (performance architect, load-test planner and
/// budget check, for each example system) against a fresh store; and the performance
/// architect's five gates (a schema, four gate components) on its web-shop output.
fn default_pipeline_benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    guest::build_guests(&root);
    let pipeline = Pipeline::load(&root.join("pipeline.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(dir.path().join("store"), StoreOptions::default()).unwrap());
    let runtime = Runtime::new(ComponentCache::new(dir.path().join("cache"))).unwrap();
    let options = RunOptions {
        force: true,
        parallelism: 2,
        ..Default::default()
    };
    let first = executor::run(&pipeline, &runtime, store.clone(), &options, &|_, _| {}).unwrap();
    assert!(first.passed, "{first:?}");
    // Named by what pipeline.toml holds now, so the figure says what it measured.
    let gate_count: usize = pipeline.stages.iter().map(|s| s.gates.len()).sum();
    c.bench_function(
        &format!(
            "pipeline/default pipeline, {} stages and {gate_count} gates, every stage run (--force)",
            pipeline.stages.len()
        ),
        |b| {
            b.iter(|| {
                let summary =
                    executor::run(&pipeline, &runtime, store.clone(), &options, &|_, _| {})
                        .unwrap();
                assert!(summary.passed);
            })
        },
    );

    let stage = pipeline
        .stages
        .iter()
        .find(|s| s.name == "performance-architect")
        .unwrap();
    let gates = StageGates::compile(stage, Some(&runtime)).unwrap();
    let ns = baton::memory::Namespace::new("coding-pipeline").unwrap();
    let read = |key: &str| {
        let entry = store
            .get(&ns, &baton::memory::Key::new(key).unwrap())
            .unwrap()
            .unwrap();
        String::from_utf8(entry.value).unwrap()
    };
    let inputs: Vec<baton::runtime::GateInput> = stage
        .reads
        .0
        .iter()
        .map(|g| baton::runtime::GateInput {
            namespace: g.namespace.clone(),
            key: g.key.clone(),
            value: read(&g.key),
        })
        .collect();
    let doc: serde_json::Value =
        serde_json::from_str(&read("coding/architecture/performance")).unwrap();
    assert!(gates.check(&doc, &inputs).passed);
    c.bench_function(
        "gates/performance architect's 5 gates (4 components) on its web-shop output",
        |b| b.iter(|| gates.check(&doc, &inputs)),
    );
}

criterion_group!(benches, pipeline_benches);
criterion_main!(benches);
