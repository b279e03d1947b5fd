//! Stage components under the host: a well-behaved stage, hostile ones contained each
//! with its own error, the compile cache, and `baton stage run` from the command line.

use std::sync::Arc;
use std::time::Duration;

use baton::memory::{Key, Namespace, SledStore, Store, Writer};
use baton::runtime::{ComponentCache, FailureKind, Grants, Invocation, LoadOutcome, Runtime};
use serde_json::json;

use crate::harness::{Project, component};

const NS: &str = "coding-pipeline";
const SYSTEM: &str = "coding/architecture/system";

fn seeded_memory() -> Arc<SledStore> {
    let store = SledStore::temporary().unwrap();
    let ns = Namespace::new(NS).unwrap();
    store
        .put(
            &Writer::cli(),
            &ns,
            &Key::new(SYSTEM).unwrap(),
            json!({"components": [{"id": "api"}]}),
        )
        .unwrap();
    let other = Namespace::new("other-namespace").unwrap();
    store
        .put(
            &Writer::cli(),
            &other,
            &Key::new(SYSTEM).unwrap(),
            json!({"secret": true}),
        )
        .unwrap();
    store
        .put(
            &Writer::cli(),
            &ns,
            &Key::new("secrets/api-token").unwrap(),
            json!("hunter2"),
        )
        .unwrap();
    Arc::new(store)
}

fn snapshot(store: &SledStore) -> Vec<(String, String, u64, Vec<u8>)> {
    let mut all = Vec::new();
    store
        .export(None, &mut |e| {
            all.push((e.meta.namespace, e.meta.key, e.meta.revision, e.value));
            true
        })
        .unwrap();
    all
}

fn hostile(mode: &str) -> Invocation {
    let mut inv = Invocation::new("hostile", NS);
    inv.config = json!({ "mode": mode });
    inv.grants = Grants::parse(&[SYSTEM], NS);
    inv.limits.timeout = Duration::from_secs(5);
    inv.limits.memory_bytes = 64 << 20;
    inv
}

#[test]
fn a_well_behaved_stage_reads_its_inputs_and_reports_events_and_provenance() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (plugin, _) = runtime.load(&component("echo")).unwrap();
    let memory = seeded_memory();
    let mut inv = Invocation::new("echo-stage", NS);
    inv.grants = Grants::parse(&[SYSTEM], NS);
    inv.config = json!({ "reads": [SYSTEM], "tag": "t1" });
    let out = runtime.run(&plugin, &inv, memory.clone()).unwrap();
    assert_eq!(
        out.output["inputs"][SYSTEM],
        json!({"components": [{"id": "api"}]})
    );
    assert_eq!(out.output["agent_id"], json!(inv.agent_id));
    assert!(
        inv.agent_id.starts_with("echoStage-") && inv.agent_id.len() == "echoStage-".len() + 32,
        "{}",
        inv.agent_id
    );
    assert!(
        inv.workflow_id.starts_with("workflow-") && inv.workflow_id.len() == "workflow-".len() + 32
    );
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].name, "agent.echoStage.inputRead");
    assert_eq!(out.events[0].attributes, json!({"key": SYSTEM}));
    assert_eq!(out.reads.len(), 1);
    assert_eq!(
        (out.reads[0].key.as_str(), out.reads[0].revision),
        (SYSTEM, Some(1))
    );
    // A declared input that is absent is an input error naming the key.
    inv.grants = Grants::parse(&[SYSTEM, "coding/missing"], NS);
    inv.config = json!({ "reads": ["coding/missing"] });
    let failure = runtime.run(&plugin, &inv, memory).unwrap_err();
    assert!(
        matches!(&failure.kind, FailureKind::InvalidInput { key, .. } if key == "coding/missing"),
        "{failure}"
    );
}

#[test]
fn every_run_starts_from_a_fresh_memory() {
    crate::harness::assert_runs_start_fresh(&component("hostile"));
}

#[test]
fn hostile_stages_are_contained_each_with_its_own_error() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (plugin, _) = runtime.load(&component("hostile")).unwrap();
    let (echo, _) = runtime.load(&component("echo")).unwrap();
    let memory = seeded_memory();
    let before = snapshot(&memory);
    type Expect = Box<dyn Fn(&FailureKind) -> bool>;
    let cases: Vec<(&str, Expect)> = vec![
        ("loop", Box::new(|k| matches!(k, FailureKind::TimedOut(_)))),
        (
            "memory-bomb",
            Box::new(|k| matches!(k, FailureKind::OutOfMemory(n) if *n == 64 << 20)),
        ),
        (
            "trap",
            Box::new(|k| {
                matches!(k, FailureKind::Trapped(m)
                    if m.contains("unreachable") && m.contains("wasm backtrace") && m.contains("trap_deep_inside"))
            }),
        ),
        (
            "panic",
            Box::new(
                |k| matches!(k, FailureKind::Panicked(m) if m.contains("hostile stage panicked on purpose")),
            ),
        ),
        (
            "undeclared-read",
            Box::new(
                |k| matches!(k, FailureKind::CapabilityDenied(m) if m.contains("`secrets/api-token`") && m.contains("coding-pipeline:coding/architecture/system")),
            ),
        ),
        (
            "other-namespace",
            Box::new(
                |k| matches!(k, FailureKind::CapabilityDenied(m) if m.contains("namespace `other-namespace`")),
            ),
        ),
        (
            "open-file",
            Box::new(
                |k| matches!(k, FailureKind::StageError(m) if m.contains("cannot open /etc/passwd")),
            ),
        ),
        (
            "env",
            Box::new(
                |k| matches!(k, FailureKind::StageError(m) if m.contains("environment is empty")),
            ),
        ),
        (
            "not-json",
            Box::new(|k| matches!(k, FailureKind::OutputNotJson(_))),
        ),
    ];
    for (mode, expected) in &cases {
        let started = std::time::Instant::now();
        let failure = runtime
            .run(&plugin, &hostile(mode), memory.clone())
            .unwrap_err();
        assert!(
            expected(&failure.kind),
            "mode {mode}: unexpected {failure:?}"
        );
        assert_eq!(failure.stage, "hostile");
        assert!(
            failure.to_string().starts_with("stage `hostile` "),
            "{failure}"
        );
        if *mode == "loop" {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the deadline stopped the loop"
            );
        }
        // The host keeps working after each one.
        let mut ok = Invocation::new("echo", NS);
        ok.grants = Grants::parse(&[SYSTEM], NS);
        ok.config = json!({ "reads": [SYSTEM] });
        runtime
            .run(&echo, &ok, memory.clone())
            .unwrap_or_else(|e| panic!("after {mode}: {e}"));
    }
    // A 100 MiB output, with memory enough to build it: refused for its size.
    let mut huge = hostile("huge-output");
    huge.limits.memory_bytes = 512 << 20;
    let failure = runtime.run(&plugin, &huge, memory.clone()).unwrap_err();
    assert!(
        matches!(failure.kind, FailureKind::OutputTooLarge { size, limit } if size > 100 << 20 && limit == 16 << 20),
        "{failure:?}"
    );
    assert_eq!(snapshot(&memory), before, "the memory is unchanged");
}

#[test]
fn the_sandbox_has_frozen_clocks_so_runs_are_deterministic() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (plugin, _) = runtime.load(&component("hostile")).unwrap();
    let out = runtime
        .run(&plugin, &hostile("clock"), seeded_memory())
        .unwrap();
    assert_eq!(out.output, json!({"wall_clock_secs": 0}));
}

#[test]
fn the_compile_cache_skips_compilation_and_rebuilds_bad_entries() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = component("echo");
    let first = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    assert_eq!(first.load(&wasm).unwrap().1, LoadOutcome::Compiled);
    drop(first);
    // A new runtime (as a new process would have) loads it from the cache.
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    assert_eq!(runtime.load(&wasm).unwrap().1, LoadOutcome::Cached);
    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact");
    // Corrupt: the checksum no longer matches, so the entry is rebuilt.
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    assert_eq!(runtime.load(&wasm).unwrap().1, LoadOutcome::Compiled);
    assert_eq!(runtime.load(&wasm).unwrap().1, LoadOutcome::Cached);
    // Truncated: shorter than its checksum says, refused before it is mapped.
    let whole = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &whole[..whole.len() / 3]).unwrap();
    assert_eq!(runtime.load(&wasm).unwrap().1, LoadOutcome::Compiled);
    assert_eq!(std::fs::read(&artifact).unwrap(), whole, "rebuilt whole");
    // Foreign: garbage with a matching checksum still fails to deserialise, and is rebuilt.
    std::fs::write(&artifact, b"not a wasmtime artifact").unwrap();
    std::fs::write(
        artifact.with_extension("crc32"),
        ComponentCache::checksum(b"not a wasmtime artifact"),
    )
    .unwrap();
    let (plugin, outcome) = runtime.load(&wasm).unwrap();
    assert_eq!(outcome, LoadOutcome::Compiled);
    let mut inv = Invocation::new("echo", NS);
    inv.config = json!({});
    assert!(
        runtime.run(&plugin, &inv, seeded_memory()).is_ok(),
        "the rebuilt component runs"
    );
}

#[test]
fn a_file_that_is_not_a_stage_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(dir.path().join("cache"))).unwrap();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm garbage").unwrap();
    let err = format!("{:#}", runtime.load(&bogus).err().expect("refused"));
    assert!(err.contains("bogus.wasm"), "{err}");
    let err = format!(
        "{:#}",
        runtime
            .load(&dir.path().join("absent.wasm"))
            .err()
            .expect("refused")
    );
    assert!(
        err.contains("failed to read wasm component") && err.contains("absent.wasm"),
        "{err}"
    );
}

#[test]
fn stage_run_names_the_namespace_that_holds_a_key_it_found_missing() {
    // Issue 30: the scaffold's `stage run … --store DIR` advice failed with "no value
    // is stored" in the default namespace, with no word of where the key was.
    let p = Project::new();
    p.run(&["memory", "store", "-n", "elsewhere", SYSTEM, "{}"])
        .ok();
    let echo = component("echo");
    let config = format!(r#"{{"reads":["{SYSTEM}"]}}"#);
    p.run(&[
        "stage",
        "run",
        echo.to_str().unwrap(),
        "--reads",
        SYSTEM,
        "--config",
        &config,
    ])
    .fails(
        6,
        &[&format!(
            "hint: key `{SYSTEM}` is not in namespace `coding-pipeline` but exists in `elsewhere`: pass `--namespace elsewhere`"
        )],
    );
}

#[test]
fn stage_run_from_the_command_line() {
    let p = Project::new();
    p.run(&[
        "memory",
        "store",
        SYSTEM,
        r#"{"components":[{"id":"api"}]}"#,
    ])
    .ok();
    let echo = component("echo");
    let echo = echo.to_str().unwrap();
    let config = format!(r#"{{"reads":["{SYSTEM}"]}}"#);
    let out = p
        .run(&[
            "stage", "run", echo, "--reads", SYSTEM, "--config", &config, "--json",
        ])
        .json();
    assert_eq!(
        out["output"]["inputs"][SYSTEM]["components"][0]["id"],
        "api"
    );
    assert_eq!(out["events"][0]["name"], "agent.echo.inputRead");
    assert_eq!(out["reads"][0]["revision"], 1);
    // Without the grant, the read is refused and the command says so.
    p.run(&["stage", "run", echo, "--config", &config]).fails(
        6,
        &[
            "stage `echo` was refused a capability",
            "may not read key `coding/architecture/system`",
        ],
    );
    let hostile = component("hostile");
    let hostile = hostile.to_str().unwrap();
    p.run(&[
        "stage",
        "run",
        hostile,
        "--timeout",
        "200ms",
        "--config",
        r#"{"mode":"loop"}"#,
    ])
    .fails(6, &["stage `hostile` timed out after 200ms", "`timed-out`"]);
    p.run(&[
        "stage",
        "run",
        hostile,
        "--memory",
        "32MiB",
        "--config",
        r#"{"mode":"memory-bomb"}"#,
    ])
    .fails(6, &["ran out of memory (limit 32 MiB)"]);
    p.run(&["stage", "run", hostile, "--config", r#"{"mode":"panic"}"#])
        .fails(6, &["panicked", "on purpose"]);
    p.run(&["stage", "run", hostile, "--config", "{oops"])
        .fails(2, &["`--config` is not JSON"]);
    p.run(&["stage", "run", "/no/such.wasm"])
        .fails(2, &["failed to read wasm component \"/no/such.wasm\""]);
    // Nothing was stored by any of it.
    assert_eq!(
        p.run(&["memory", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn without_room_for_the_instance_pool_stages_run_on_demand() {
    // The pool reserves hundreds of GiB of address space; under a 16 GB limit it
    // cannot, and the runtime must fall back rather than fail.
    let p = Project::new();
    let echo = component("echo");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 16000000 && exec '{}' stage run '{}' --config '{{\"tag\":\"small\"}}'",
            crate::harness::baton_bin().display(),
            echo.display()
        ))
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("allocating on demand"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["tag"], "small");
}

#[test]
fn a_component_is_read_again_only_when_its_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wasm = dir.path().join("stage.wasm");
    std::fs::copy(component("echo"), &wasm).unwrap();
    let echo = Runtime::new(ComponentCache::new(&cache)).unwrap();
    // A file changed less than a second ago is never recorded.
    assert_eq!(echo.load(&wasm).unwrap().1, LoadOutcome::Compiled);
    assert!(
        !cache.join("files").exists(),
        "a fresh file is not recorded"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let (first, outcome) = echo.load(&wasm).unwrap();
    assert_eq!(outcome, LoadOutcome::Cached);
    assert_eq!(
        first.sha256,
        baton::memory::sha256_hex(&std::fs::read(&wasm).unwrap())
    );
    let records: Vec<_> = std::fs::read_dir(cache.join("files")).unwrap().collect();
    assert_eq!(records.len(), 1, "the file's identity is recorded");
    let (again, outcome) = echo.load(&wasm).unwrap();
    assert_eq!(
        (again.sha256.as_str(), outcome),
        (first.sha256.as_str(), LoadOutcome::Cached)
    );
    // Replaced in place by another component, even with the old modification time
    // put back: its change time moved, so it is read and hashed again, and compiled.
    let modified = std::fs::metadata(&wasm).unwrap().modified().unwrap();
    std::fs::write(&wasm, std::fs::read(component("hostile")).unwrap()).unwrap();
    let file = std::fs::File::options().append(true).open(&wasm).unwrap();
    file.set_modified(modified).unwrap();
    let (hostile, outcome) = echo.load(&wasm).unwrap();
    assert_eq!(outcome, LoadOutcome::Compiled);
    assert_eq!(
        hostile.sha256,
        baton::memory::sha256_hex(&std::fs::read(&wasm).unwrap())
    );
    assert_ne!(hostile.sha256, first.sha256);
    let mut inv = Invocation::new("hostile", NS);
    inv.config = json!({"mode": "ok"});
    assert!(
        echo.run(&hostile, &inv, seeded_memory()).is_ok(),
        "the new component runs"
    );
}
