//! Memory benchmarks: in-process get and durable put, and `baton memory store` /
//! `retrieve` as whole commands (process start, the operation, exit): through the
//! memory server, as hooks run them, and with `--server never`, each command opening
//! the store itself.
//!
//! The same in-process get and durable put run against PostgreSQL too, on a throwaway
//! local server (`tests/support/postgres.rs`) with `fsync` turned back on, so that
//! "durable" means what it says.
//!
//! Last, a served `store` of an ungated key in this repository's project, whose stages
//! gate on JSON Schemas.
//!
//! Run: `cargo bench -p baton --bench memory`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Command;

use baton::memory::{Key, Namespace, PostgresStore, SledStore, Store, StoreOptions, Writer};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn document() -> serde_json::Value {
    // About 1 KiB, shaped like an architecture output.
    json!({
        "components": (0..8).map(|i| json!({
            "id": format!("service-{i}"), "kind": "service", "stateless": true,
            "baseline_latency_ms": 12.5, "capacity_rps": 800
        })).collect::<Vec<_>>()
    })
}

fn in_process(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("store"), StoreOptions::default()).unwrap();
    get_and_put(c, &store, "");
}

/// A 1 KiB document's get and durable put on `store`, named with `backend`.
fn get_and_put(c: &mut Criterion, store: &dyn Store, backend: &str) {
    let ns = Namespace::new("coding-pipeline").unwrap();
    let key = Key::new("coding/architecture/system").unwrap();
    let doc = document();
    store.put(&Writer::cli(), &ns, &key, doc.clone()).unwrap();
    c.bench_function(&format!("memory/get (1 KiB, in process{backend})"), |b| {
        b.iter(|| black_box(store.get(&ns, &key).unwrap()))
    });
    c.bench_function(
        &format!("memory/put durable (1 KiB, in process{backend})"),
        |b| {
            b.iter(|| {
                store
                    .put(&Writer::cli(), &ns, &key, black_box(doc.clone()))
                    .unwrap()
            })
        },
    );
}

#[path = "../../tests/support/postgres.rs"]
mod postgres;

fn on_postgres(c: &mut Criterion) {
    let Some(server) = postgres::server() else {
        return;
    };
    let url = server.new_database();
    // The test server runs with fsync off; a durable put must wait for the disk.
    server.fsync_on();
    let store = PostgresStore::open(&url, StoreOptions::default()).unwrap();
    get_and_put(c, &store, ", PostgreSQL");
}

fn as_commands(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[pipeline]\nname = \"bench\"\nnamespace = \"coding-pipeline\"\n",
    )
    .unwrap();
    let doc = document().to_string();
    let run = |server: &str, args: &[&str]| baton(dir.path(), server, None, args);
    let store = ["memory", "store", "coding/architecture/system", &doc];
    let retrieve = ["memory", "retrieve", "-k", "coding/architecture/system"];
    run("never", &store);
    let mut group = c.benchmark_group("cli");
    group.sample_size(50);
    group.bench_function(
        "baton memory store (durable, 1 KiB, opening the store)",
        |b| b.iter(|| run("never", &store)),
    );
    group.bench_function("baton memory retrieve (1 KiB, opening the store)", |b| {
        b.iter(|| run("never", &retrieve))
    });
    run("never", &["memory", "server", "start", "--idle", "10m"]);
    // The floor a hook's command is measured against, spawned the same way.
    group.bench_function("/bin/true (a process that does nothing)", |b| {
        b.iter(|| {
            let status = Command::new("/bin/true")
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(status.status.success());
        })
    });
    group.bench_function("baton memory store (durable, 1 KiB, memory server)", |b| {
        b.iter(|| run("auto", &store))
    });
    group.bench_function("baton memory retrieve (1 KiB, memory server)", |b| {
        b.iter(|| run("auto", &retrieve))
    });
    run("never", &["memory", "server", "stop"]);
    group.finish();
    in_a_gated_project(c, &doc);
}

/// Runs `baton ARGS` in `dir` with `BATON_SERVER=server` and the store `store` (else
/// the project's), and asserts that it succeeded.
fn baton(dir: &std::path::Path, server: &str, store: Option<&std::path::Path>, args: &[&str]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command.current_dir(dir).env("BATON_SERVER", server);
    match store {
        Some(store) => command.env("BATON_STORE", store),
        None => command.env_remove("BATON_STORE"),
    };
    let out = command.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `baton memory store` of a key no stage writes, through the memory server, in this
/// repository's project: every store loads its `pipeline.toml`, whose stages gate on
/// JSON Schemas (the performance schema is large); only the stage whose key a store
/// writes needs its schemas compiled.
fn in_a_gated_project(c: &mut Criterion, doc: &str) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let store = tempfile::tempdir().unwrap();
    let store = store.path().join("store");
    let run = |args: &[&str]| baton(repo, "auto", Some(&store), args);
    run(&["memory", "server", "start", "--idle", "10m"]);
    let mut group = c.benchmark_group("cli");
    group.sample_size(50);
    group.bench_function(
        "baton memory store (ungated key, project with gate schemas, memory server)",
        |b| b.iter(|| run(&["memory", "store", "notes/x", doc])),
    );
    group.finish();
    run(&["memory", "server", "stop"]);
}

criterion_group!(benches, in_process, on_postgres, as_commands);
criterion_main!(benches);
