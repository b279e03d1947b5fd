//! Workers: the synthetic 48-stage pipeline (`tests/support/synthetic.rs`) run by 1, 2
//! and 4 `baton worker` processes (one slot each) on a local PostgreSQL with `fsync`
//! on, every stage run (`force`), from enqueueing to the last outcome; beside it, the
//! same pipeline run by one `baton run` process on the same database.
//!
//! Run: `cargo bench -p baton --bench workers`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;

use baton::executor::{self, RunOptions};
use baton::memory::{JobQueue, PostgresStore, Store, StoreOptions};
use baton::pipeline::Pipeline;
use baton::runtime::{ComponentCache, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../../tests/support/bench_workers.rs"]
mod bench_workers;
#[path = "../../tests/support/guest.rs"]
mod guest;
#[path = "../../tests/support/postgres.rs"]
mod postgres;
#[path = "../../tests/support/synthetic.rs"]
mod synthetic;
use bench_workers::Workers;

fn distributed(pipeline: &Pipeline, queue: &JobQueue) {
    let submitted = executor::submit(pipeline, queue, true).unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    let summary = executor::wait(
        queue,
        &submitted.workflow_id,
        0,
        &|_, _| {},
        None,
        &|_| panic!("no worker claimed a stage"),
        &never,
    )
    .unwrap();
    assert!(summary.passed && summary.stages.len() == 48, "{summary:?}");
}

fn workers(c: &mut Criterion) {
    let Some(server) = postgres::server() else {
        return;
    };
    server.fsync_on();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let echo = guest::build_guests(root).join("echo.wasm");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pipeline.toml");
    std::fs::write(&manifest, synthetic::synthetic_manifest(dir.path(), &echo)).unwrap();
    let pipeline = Pipeline::load(&manifest).unwrap_or_else(|p| panic!("{p}"));
    let mut group = c.benchmark_group("workers");
    group.sample_size(10);

    let url = server.new_database();
    let runtime = Runtime::new(ComponentCache::new(dir.path().join("cache"))).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(PostgresStore::open(&url, StoreOptions::default()).unwrap());
    let local = RunOptions {
        force: true,
        parallelism: 2,
        ..Default::default()
    };
    let run_local = || {
        let summary =
            executor::run(&pipeline, &runtime, store.clone(), &local, &|_, _| {}).unwrap();
        assert!(summary.passed);
    };
    run_local();
    group.bench_function(
        "48-stage synthetic pipeline, one `baton run` (2 threads), PostgreSQL",
        |b| b.iter(run_local),
    );

    for n in [1, 2, 4] {
        let url = server.new_database();
        let queue = JobQueue::open(&url, StoreOptions::default()).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let _workers = Workers::start(n, &url, cache.path());
        // The first run fetches and compiles the component in every worker.
        distributed(&pipeline, &queue);
        group.bench_function(
            format!("48-stage synthetic pipeline, {n} worker process(es), PostgreSQL"),
            |b| b.iter(|| distributed(&pipeline, &queue)),
        );
    }
    group.finish();
}

criterion_group!(benches, workers);
criterion_main!(benches);
