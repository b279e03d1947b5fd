//! Memory benchmarks: in-process get and durable put, and `baton memory store` /
//! `retrieve` as whole commands (process start, the operation, exit): through the
//! memory server, as hooks run them, and with `--server never`, each command opening
//! the store itself.
//!
//! The same in-process get and durable put run against PostgreSQL too, on a throwaway
//! local server (`tests/support/postgres.rs`) with `fsync` turned back on, so that
//! "durable" means what it says.
//!
//! With `BATON_BENCH_BIN` naming another baton binary (the statically linked one
//! `scripts/static-baton` prints), its served `store` and `retrieve` too, in the same
//! run.
//!
//! Then a served `store` of an ungated key in this repository's project, whose stages
//! gate on JSON Schemas.
//!
//! Last, when `BATON_BENCH_CLAUDE_FLOW` names a claude-flow executable (for example
//! `node_modules/.bin/claude-flow` after `npm install claude-flow`), the same two
//! commands as claude-flow runs them, beside `/bin/true` spawned the same way, in a
//! project its `memory init` prepared. Without it they are left out, and the bench says so.
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
    let dir = project();
    let doc = document().to_string();
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_baton"));
    let run = |server: &str, args: &[&str]| baton(built, dir.path(), server, None, args);
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
    bare_process(
        &mut group,
        "/bin/true (a process that does nothing)",
        dir.path(),
    );
    served(&mut group, built, "", &doc);
    // The binary `scripts/static-baton` links, beside the one cargo built, when
    // `BATON_BENCH_BIN` names it.
    match std::env::var_os("BATON_BENCH_BIN") {
        Some(other) => served(
            &mut group,
            std::path::Path::new(&other),
            ", BATON_BENCH_BIN",
            &doc,
        ),
        None => eprintln!(
            "cli/…, BATON_BENCH_BIN: left out (set BATON_BENCH_BIN to another baton binary, such as scripts/static-baton's)"
        ),
    }
    group.finish();
    in_a_gated_project(c, &doc);
    claude_flow(c, &doc);
}

/// `/bin/true` in `dir`, spawned as the commands are: the floor a hook's command is
/// measured against.
fn bare_process(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    dir: &std::path::Path,
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            let status = Command::new("/bin/true").current_dir(dir).output().unwrap();
            assert!(status.status.success());
        })
    });
}

/// A project of three lines, as a hook's commands find it.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[pipeline]\nname = \"bench\"\nnamespace = \"coding-pipeline\"\n",
    )
    .unwrap();
    dir
}

/// `binary`'s store and retrieve through its own memory server, in a project of its
/// own (a server of another build would be replaced at every call).
fn served(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    binary: &std::path::Path,
    label: &str,
    doc: &str,
) {
    let dir = project();
    let run = |args: &[&str]| baton(binary, dir.path(), "auto", None, args);
    let store = ["memory", "store", "coding/architecture/system", doc];
    let retrieve = ["memory", "retrieve", "-k", "coding/architecture/system"];
    run(&["memory", "server", "start", "--idle", "10m"]);
    run(&store);
    group.bench_function(
        format!("baton memory store (durable, 1 KiB, memory server{label})"),
        |b| b.iter(|| run(&store)),
    );
    group.bench_function(
        format!("baton memory retrieve (1 KiB, memory server{label})"),
        |b| b.iter(|| run(&retrieve)),
    );
    run(&["memory", "server", "stop"]);
}

/// Runs `binary ARGS` in `dir` with `BATON_SERVER=server` and the store `store` (else
/// the project's), and asserts that it succeeded.
fn baton(
    binary: &std::path::Path,
    dir: &std::path::Path,
    server: &str,
    store: Option<&std::path::Path>,
    args: &[&str],
) {
    let mut command = Command::new(binary);
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
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_baton"));
    let run = |args: &[&str]| baton(built, repo, "auto", Some(&store), args);
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

/// claude-flow's `memory store` and `memory retrieve`, spawned as baton's are, when
/// `BATON_BENCH_CLAUDE_FLOW` names its executable.
fn claude_flow(c: &mut Criterion, doc: &str) {
    let Some(program) = std::env::var_os("BATON_BENCH_CLAUDE_FLOW") else {
        eprintln!(
            "cli/claude-flow: left out (set BATON_BENCH_CLAUDE_FLOW to a claude-flow executable)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&program)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        // claude-flow reports some failures on stdout with a zero exit.
        assert!(
            out.status.success() && !said.contains("[ERROR]"),
            "claude-flow {args:?}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["memory", "init"]);
    let store = [
        "memory",
        "store",
        "-k",
        "coding/architecture/system",
        "-v",
        doc,
        "--namespace",
        "coding-pipeline",
    ];
    let retrieve = [
        "memory",
        "retrieve",
        "-k",
        "coding/architecture/system",
        "--namespace",
        "coding-pipeline",
    ];
    run(&store);
    let mut group = c.benchmark_group("cli");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(30));
    bare_process(&mut group, "/bin/true (beside claude-flow)", dir.path());
    group.bench_function("claude-flow memory store (1 KiB)", |b| {
        b.iter(|| run(&store))
    });
    group.bench_function("claude-flow memory retrieve (1 KiB)", |b| {
        b.iter(|| run(&retrieve))
    });
    group.finish();
}

criterion_group!(benches, in_process, on_postgres, as_commands);
criterion_main!(benches);
