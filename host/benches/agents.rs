//! Agents run by baton: baton's own cost per agent launch (spawn, brief, capture,
//! gate, commit) with an agent that answers at once (`cat` of its document), and a
//! generated 50-agent pipeline whose agents each take 50 ms, at `-j 8`, against its
//! critical path.
//!
//! Run: `cargo bench -p baton --bench agents`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::executor::{self, RunOptions};
use baton::memory::{SledStore, Store, StoreOptions};
use baton::pipeline::Pipeline;
use baton::runtime::{ComponentCache, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};

const DOC: &str = r#"{"summary": "ok"}"#;

/// A manifest of `n` agent stages in `layers` layers, each reading every stage of the
/// layer before; each agent runs `command`.
fn manifest(dir: &Path, n: usize, layers: usize, command: &str) -> String {
    std::fs::write(dir.join("doc.json"), DOC).unwrap();
    std::fs::write(
        dir.join("doc.schema.json"),
        r#"{"type": "object", "required": ["summary"]}"#,
    )
    .unwrap();
    let mut m = format!(
        "[pipeline]\nname = \"agents\"\nnamespace = \"n\"\n\n[runner]\ncommand = {command}\ntimeout = \"1m\"\n\n"
    );
    let per = n.div_ceil(layers);
    for i in 0..n {
        let layer = i / per;
        let reads: Vec<String> = (0..n)
            .filter(|j| j / per + 1 == layer)
            .map(|j| format!("\"k/{j}\""))
            .collect();
        let _ = write!(
            m,
            "[[stage]]\nname = \"a{i}\"\nexternal = true\nreads = [{}]\nwrites = \"k/{i}\"\n\n[[stage.gate]]\nname = \"shape\"\nrule = \"has a summary\"\nschema = \"doc.schema.json\"\n\n",
            reads.join(", ")
        );
    }
    m
}

fn setup(
    n: usize,
    layers: usize,
    command: &str,
) -> (tempfile::TempDir, Pipeline, Runtime, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, manifest(dir.path(), n, layers, command)).unwrap();
    let pipeline = Pipeline::load(&path).unwrap_or_else(|p| panic!("{p}"));
    let runtime = Runtime::new(ComponentCache::new(dir.path().join("cache"))).unwrap();
    let memory: Arc<dyn Store> =
        Arc::new(SledStore::open(dir.path().join("store"), StoreOptions::default()).unwrap());
    (dir, pipeline, runtime, memory)
}

fn agent_benches(c: &mut Criterion) {
    // One agent that answers at once: what is left is baton's own cost.
    let (_dir, pipeline, runtime, memory) = setup(1, 1, r#"["cat", "doc.json"]"#);
    let options = RunOptions {
        force: true,
        parallelism: 1,
        ..Default::default()
    };
    let mut group = c.benchmark_group("agents");
    group.sample_size(50);
    group.bench_function(
        "one agent launch: spawn, brief, capture, gate, commit",
        |b| {
            b.iter(|| {
                let s = executor::run(&pipeline, &runtime, memory.clone(), &options, &|_, _| {})
                    .unwrap();
                assert!(s.passed, "{:?}", s.stages);
            })
        },
    );
    group.finish();

    // 50 agents of 50 ms each in 5 layers of 10, at -j 8: the critical path is 5
    // agents long (250 ms); each layer of 10 takes two rounds of 8 slots, so the
    // schedule's floor is 10 x 50 ms = 500 ms.
    let (_dir, pipeline, runtime, memory) =
        setup(50, 5, r#"["sh", "-c", "sleep 0.05; cat doc.json"]"#);
    let options = RunOptions {
        force: true,
        parallelism: 8,
        ..Default::default()
    };
    let mut group = c.benchmark_group("agents");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("50 agents of 50 ms in 5 layers, -j 8", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let at = Instant::now();
                let s = executor::run(&pipeline, &runtime, memory.clone(), &options, &|_, _| {})
                    .unwrap();
                total += at.elapsed();
                assert!(s.passed && s.stages.len() == 50);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, agent_benches);
criterion_main!(benches);
