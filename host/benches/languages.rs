//! Stages in Python and JavaScript beside Rust: the minimal stage of each
//! (`guest/test-stages/minimal-py` with the pinned componentize-py,
//! `guest/test-stages/minimal-js` with the pinned componentize-js, and `echo` with no
//! reads): component size and first compile (timed once each, printed: a compile
//! takes tens of seconds), then load from the compile cache, a warm run, and a whole
//! `baton stage run` process from the cache (criterion). Targets of issue 14 for
//! Python and JS: load under 20 ms, warm run under 1 ms.
//!
//! Run: `cargo bench -p baton --bench languages` (needs
//! `python3 -m pip install -r guest/python/requirements.txt` and `npm ci --prefix guest/js`).

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use baton::memory::{SledStore, Store};
use baton::runtime::{ComponentCache, Invocation, LoadOutcome, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

#[path = "../../tests/support/guest.rs"]
mod guest;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn python_component() -> PathBuf {
    let out = root().join("guest/target/python/minimal_py.wasm");
    let status = std::process::Command::new("python3")
        .arg(root().join("guest/python/build.py"))
        .args(["--world", "stage", "--app", "minimal", "--wit"])
        .arg(root().join("wit"))
        .arg("--out")
        .arg(&out)
        .arg("--path")
        .arg(root().join("guest/test-stages/minimal-py"))
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "building the Python stage failed (is componentize-py installed?)"
    );
    out
}

fn js_component() -> PathBuf {
    let out = root().join("guest/target/js/minimal_js.wasm");
    let status = std::process::Command::new("node")
        .arg(root().join("guest/js/build.mjs"))
        .args(["--world", "stage", "--entry"])
        .arg(root().join("guest/test-stages/minimal-js/minimal.js"))
        .arg("--wit")
        .arg(root().join("wit/baton.wit"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("node runs");
    assert!(
        status.success(),
        "building the JavaScript stage failed (npm ci --prefix guest/js?)"
    );
    out
}

fn bench(c: &mut Criterion) {
    let components = [
        ("rust", guest::build_guests(root()).join("echo.wasm")),
        ("python", python_component()),
        ("js", js_component()),
    ];
    let memory: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    // What every load below includes: the engine, its instance pool and the linker.
    let empty = tempfile::tempdir().unwrap();
    c.bench_function("runtime/new (engine, pool, linker)", |b| {
        b.iter(|| black_box(Runtime::new(ComponentCache::new(empty.path())).unwrap()))
    });
    for (lang, wasm) in &components {
        let size = std::fs::metadata(wasm).unwrap().len();
        let cache = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
        let started = Instant::now();
        let (_, outcome) = runtime.load(wasm).unwrap();
        assert_eq!(outcome, LoadOutcome::Compiled);
        println!(
            "{lang}: component {:.1} MiB, first compile {:.2} s",
            size as f64 / (1 << 20) as f64,
            started.elapsed().as_secs_f64()
        );
        // A fresh runtime on the same cache: what a new `baton` process does.
        let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
        c.bench_function(&format!("{lang}/load from cache (fresh runtime)"), |b| {
            b.iter(|| {
                let fresh = Runtime::new(ComponentCache::new(cache.path())).unwrap();
                let (plugin, outcome) = fresh.load(wasm).unwrap();
                assert_eq!(outcome, LoadOutcome::Cached);
                black_box(plugin)
            })
        });
        let (plugin, _) = runtime.load(wasm).unwrap();
        let mut inv = Invocation::new("minimal", "coding-pipeline");
        inv.config = json!({});
        runtime.run(&plugin, &inv, memory.clone()).unwrap();
        c.bench_function(&format!("{lang}/instantiate only"), |b| {
            b.iter(|| runtime.instantiate(&plugin).unwrap())
        });
        c.bench_function(
            &format!("{lang}/warm run (instantiate, run, return)"),
            |b| b.iter(|| black_box(runtime.run(&plugin, &inv, memory.clone()).unwrap())),
        );
        stage_run_process(c, lang, wasm);
    }
}

/// `baton stage run COMPONENT` as an author runs it: a new process, the component
/// already in the compile cache. Everything a run from the command line pays:
/// process start, the store, the runtime, the load from the cache, the run, printing
/// the output. Twice: each process opening the store (a folder) itself, and through
/// the memory server the first run started (the default).
fn stage_run_process(c: &mut Criterion, lang: &str, wasm: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let baton = |server: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .current_dir(dir.path())
            .args(["--server", server, "--store", "store"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "baton {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let run = ["stage", "run", wasm.to_str().unwrap()];
    baton("never", &run); // compiles into the cache beside the store
    c.bench_function(
        &format!("{lang}/baton stage run (process, from the cache, opening the store)"),
        |b| b.iter(|| black_box(baton("never", &run))),
    );
    baton("auto", &run); // starts the memory server
    c.bench_function(
        &format!("{lang}/baton stage run (process, from the cache, memory server)"),
        |b| b.iter(|| black_box(baton("auto", &run))),
    );
    baton("never", &["memory", "server", "stop"]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
