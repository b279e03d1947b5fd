//! Runtime benchmarks: compile a component, load it from the cache, and a warm stage
//! run (fresh store, instantiate, five reads of 10 KiB documents, run, return), and
//! instantiation alone.
//!
//! Run: `cargo bench -p baton --bench runtime`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton::memory::{Key, Namespace, SledStore, Store, Writer};
use baton::runtime::{ComponentCache, Grants, Invocation, LoadOutcome, Runtime};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

#[path = "../../tests/support/guest.rs"]
mod guest;

fn echo_component() -> PathBuf {
    guest::build_guests(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).join("echo.wasm")
}

fn runtime_benches(c: &mut Criterion) {
    let wasm = echo_component();
    let cache = tempfile::tempdir().unwrap();

    c.bench_function("runtime/compile (echo component)", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |fresh| {
                let runtime = Runtime::new(ComponentCache::new(fresh.path())).unwrap();
                let (_, outcome) = runtime.load(&wasm).unwrap();
                assert_eq!(outcome, LoadOutcome::Compiled);
            },
            BatchSize::PerIteration,
        )
    });

    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    runtime.load(&wasm).unwrap();
    c.bench_function("runtime/load from cache (echo component)", |b| {
        b.iter(|| {
            let (plugin, outcome) = runtime.load(&wasm).unwrap();
            assert_eq!(outcome, LoadOutcome::Cached);
            black_box(plugin)
        })
    });

    let store = SledStore::temporary().unwrap();
    let ns = Namespace::new("coding-pipeline").unwrap();
    let keys: Vec<String> = (0..5)
        .map(|i| format!("coding/architecture/input-{i}"))
        .collect();
    for key in &keys {
        // About 10 KiB of JSON each.
        let doc = json!({ "items": (0..350).map(|i| json!({"id": i, "name": format!("item-{i:04}")})).collect::<Vec<_>>() });
        assert!(doc.to_string().len() >= 10_000);
        store
            .put(&Writer::cli(), &ns, &Key::new(key.as_str()).unwrap(), doc)
            .unwrap();
    }
    let memory: Arc<dyn Store> = Arc::new(store);
    let (plugin, _) = runtime.load(&wasm).unwrap();
    let mut inv = Invocation::new("echo", "coding-pipeline");
    inv.grants = Grants::parse(&keys, "coding-pipeline");
    inv.config = json!({ "reads": keys, "discard": true });
    let out = runtime.run(&plugin, &inv, memory.clone()).unwrap();
    assert_eq!(out.reads.len(), 5);
    c.bench_function(
        "runtime/warm stage run (instantiate, 5 reads of 10 KiB decoded by the SDK, run, return)",
        |b| b.iter(|| black_box(runtime.run(&plugin, &inv, memory.clone()).unwrap())),
    );
    let mut raw = inv.clone();
    raw.config = json!({ "reads": keys, "raw": true });
    c.bench_function(
        "runtime/warm stage run (instantiate, 5 reads of 10 KiB as text, run, return)",
        |b| b.iter(|| black_box(runtime.run(&plugin, &raw, memory.clone()).unwrap())),
    );
    c.bench_function(
        "runtime/instantiate (fresh store, instantiate, drop)",
        |b| b.iter(|| runtime.instantiate(&plugin).unwrap()),
    );
    let mut bare = Invocation::new("echo", "coding-pipeline");
    bare.config = json!({});
    c.bench_function(
        "runtime/warm stage run (instantiate, no reads, run, return)",
        |b| b.iter(|| black_box(runtime.run(&plugin, &bare, memory.clone()).unwrap())),
    );
}

criterion_group!(benches, runtime_benches);
criterion_main!(benches);
