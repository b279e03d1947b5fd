//! The service layer's fixes and additions, through the real binary and a real store:
//! a run's commit is compare-and-swap against the key's revision at the stage's start
//! (a document stored meanwhile is kept, and the run says so); an import's
//! `--override-gates` reason is recorded; `memory rollback` writes an old revision
//! again through the key's gates, with an audit event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baton::executor::{Outcome, RunOptions};
use baton::memory::{
    Entry, EntryMeta, ImportReport, Key, Namespace, Op, Result, SledStore, Stats, Store, Writer,
};
use baton::pipeline::Pipeline;
use baton::runtime::{ComponentCache, Runtime};
use serde_json::json;

use crate::harness::{Project, repo_root};

/// A store that, the first time a stage reads `coding/a` once it exists, has an agent store a
/// document at `coding/b`: the key stage `second` writes, while `second` runs.
struct Interloper {
    inner: SledStore,
    fired: AtomicBool,
}

impl Store for Interloper {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        let got = self.inner.get(namespace, key);
        // Only `second` reads `coding/a` once `first` has written it.
        let stage_read = key.as_str() == "coding/a" && matches!(got, Ok(Some(_)));
        if stage_read && !self.fired.swap(true, Ordering::SeqCst) {
            let b = Key::new("coding/b")?;
            self.inner.put(
                &Writer::agent("interloper"),
                namespace,
                &b,
                json!({"by": "agent"}),
            )?;
        }
        got
    }
    fn get_revision(&self, n: &Namespace, k: &Key, r: u64) -> Result<Option<Entry>> {
        self.inner.get_revision(n, k, r)
    }
    fn history(&self, n: &Namespace, k: &Key) -> Result<Vec<EntryMeta>> {
        self.inner.history(n, k)
    }
    fn list(&self, n: Option<&Namespace>, p: &str) -> Result<Vec<EntryMeta>> {
        self.inner.list(n, p)
    }
    fn commit(&self, w: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        self.inner.commit(w, ops)
    }
    fn export(&self, n: Option<&Namespace>, v: &mut dyn FnMut(Entry) -> bool) -> Result<()> {
        self.inner.export(n, v)
    }
    fn import(&self, e: Vec<Entry>) -> Result<ImportReport> {
        self.inner.import(e)
    }
    fn search(&self, q: &baton::memory::SearchQuery) -> Result<Vec<baton::memory::Hit>> {
        self.inner.search(q)
    }
    fn purge_expired(&self) -> Result<u64> {
        self.inner.purge_expired()
    }
    fn stats(&self) -> Result<Stats> {
        self.inner.stats()
    }
}

#[test]
fn a_document_stored_during_a_run_is_not_overwritten_and_the_run_says_so() {
    let p = crate::pipeline_run::project();
    let pipeline = Pipeline::load(&p.root().join("pipeline.toml")).unwrap();
    let runtime = Runtime::new(ComponentCache::new(p.root().join("cache"))).unwrap();
    let store = Arc::new(Interloper {
        inner: SledStore::open(p.store(), Default::default()).unwrap(),
        fired: AtomicBool::new(false),
    });
    let options = RunOptions {
        force: false,
        parallelism: 1,
        ..Default::default()
    };
    let summary =
        baton::executor::run(&pipeline, &runtime, store.clone(), &options, &|_, _| {}).unwrap();
    assert!(store.fired.load(Ordering::SeqCst), "the interloper wrote");
    let second = summary.stages.iter().find(|s| s.stage == "second").unwrap();
    let Outcome::Failed(why) = &second.outcome else {
        panic!("second must fail on the conflict: {:?}", second.outcome)
    };
    assert!(
        why.contains("coding/b") && why.contains("written during the run"),
        "{why}"
    );
    let ns = Namespace::new("coding-pipeline").unwrap();
    let b = store
        .get(&ns, &Key::new("coding/b").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        b.json(),
        json!({"by": "agent"}),
        "the agent's document is kept"
    );
    assert_eq!(b.meta.writer, Writer::agent("interloper"));
    let q = store
        .get(
            &Namespace::new("baton.quarantine").unwrap(),
            &Key::new("second").unwrap(),
        )
        .unwrap()
        .expect("the run's output is kept in quarantine");
    assert!(
        q.json()["reason"]
            .as_str()
            .unwrap()
            .contains("written during the run")
    );
    let third = summary.stages.iter().find(|s| s.stage == "third").unwrap();
    assert!(
        matches!(third.outcome, Outcome::Blocked(_)),
        "{:?}",
        third.outcome
    );
}

/// A project whose key `gated/doc` must be an object with a number `n`.
fn gated_project() -> Project {
    let p = Project::with_manifest(
        r#"[pipeline]
name = "gated"
namespace = "coding-pipeline"

[[stage]]
name = "writer"
external = true
writes = "gated/doc"

[[stage.gate]]
name = "has-n"
rule = "The document must carry a number n"
schema = "n.schema.json"
"#,
    );
    std::fs::write(
        p.root().join("n.schema.json"),
        r#"{"type":"object","required":["n"],"properties":{"n":{"type":"number"}}}"#,
    )
    .unwrap();
    p
}

#[test]
fn an_import_records_the_override_reason_with_the_revision_and_in_its_audit_event() {
    let p = gated_project();
    let export = r#"{"namespace":"coding-pipeline","key":"gated/doc","revision":1,"written_at":"2026-01-01T00:00:00.000Z","writer":"cli","size":13,"sha256":"5c0f4fb1a8bdb1a2cb9f3d1a0a5e8cfe4ae4b3d1d6c8b5ff7ce1f0b3d3c5a9a1","value":{"wrong":true}}"#;
    let sha = baton::memory::sha256_hex(br#"{"wrong":true}"#);
    let export = export.replace(
        "5c0f4fb1a8bdb1a2cb9f3d1a0a5e8cfe4ae4b3d1d6c8b5ff7ce1f0b3d3c5a9a1",
        &sha,
    );
    std::fs::write(p.root().join("in.jsonl"), format!("{export}\n")).unwrap();
    p.run(&["memory", "import", "in.jsonl"])
        .fails(7, &["has-n"]);
    p.run(&[
        "memory",
        "import",
        "in.jsonl",
        "--override-gates",
        "legacy data, fixed in PROJ-7",
    ])
    .ok();
    let entry = p.run(&["memory", "retrieve", "gated/doc", "--json"]).json();
    assert_eq!(
        entry["provenance"]["gate_override"]["reason"], "legacy data, fixed in PROJ-7",
        "{entry}"
    );
    assert_eq!(entry["provenance"]["gate_report"]["passed"], false);
    let events = p.run(&["events", "--workflow", "cli", "--json"]).json();
    let import = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "memory.import" && e["attributes"]["outcome"] == "success")
        .expect("the import's audit event");
    let overridden = &import["attributes"]["gates_overridden"][0];
    assert_eq!(overridden["reason"], "legacy data, fixed in PROJ-7");
    assert_eq!(overridden["key"], "gated/doc");
    assert_eq!(overridden["failed_gates"], json!(["has-n"]));
}

#[test]
fn rollback_writes_an_old_revision_again_through_the_gates_with_an_audit_event() {
    let p = gated_project();
    p.run(&["memory", "store", "gated/doc", r#"{"n": 1}"#]).ok();
    p.run(&["memory", "store", "gated/doc", r#"{"n": 2}"#]).ok();
    p.run(&[
        "memory",
        "store",
        "gated/doc",
        r#"{"bad": 3}"#,
        "--override-gates",
        "testing",
    ])
    .ok();
    // Revision 3 fails its gate: rolling back to it is refused like any write.
    p.run(&["memory", "rollback", "gated/doc", "--to", "3"])
        .fails(7, &["has-n", "fails the gates of stage `writer`"]);
    let meta = p
        .run(&["memory", "rollback", "gated/doc", "--to", "1", "--json"])
        .json();
    assert_eq!(meta["revision"], 4);
    assert_eq!(meta["provenance"]["rolled_back_from"], 1);
    assert_eq!(
        p.run(&["memory", "retrieve", "gated/doc"]).ok().trim(),
        r#"{"n":1}"#
    );
    p.run(&["memory", "rollback", "gated/doc", "--to", "9"])
        .fails(3, &["no such revision", "9 was never written"]);
    p.run(&[
        "memory",
        "rollback",
        "gated/doc",
        "--to",
        "2",
        "--if-revision",
        "3",
    ])
    .fails(4, &["at revision 4, not 3"]);
    let events = p.run(&["events", "--workflow", "cli", "--json"]).json();
    let rollbacks: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "memory.rollback")
        .map(|e| {
            (
                e["attributes"]["outcome"].clone(),
                e["attributes"]["to_revision"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rollbacks,
        vec![
            (json!("refused"), json!(3)),
            (json!("success"), json!(1)),
            (json!("refused"), json!(2)),
        ]
    );
}

#[test]
fn a_custom_stage_renders_its_own_output_and_a_hostile_renderer_is_stopped() {
    let render = crate::harness::component("test_render");
    let manifest = crate::pipeline_run::manifest("ok", "x")
        .replace(
            "writes = \"coding/b\"\n",
            "writes = \"coding/b\"\nlimits = { timeout = \"300ms\" }\n",
        )
        .replace(
            "[[stage]]\nname = \"third\"",
            &format!(
                "[stage.render]\ncomponent = \"{}\"\n\n[[stage]]\nname = \"third\"",
                render.display()
            ),
        );
    let p = crate::pipeline_run::project();
    std::fs::write(p.root().join("pipeline.toml"), manifest).unwrap();
    p.run(&["run"]).ok();
    let md = p
        .run(&["memory", "retrieve", "coding/b", "--format", "markdown"])
        .ok();
    assert!(md.starts_with("# Fields\n"), "{md}");
    assert!(md.contains("- **"), "{md}");
    // A stage with no renderer: the document as a heading and a JSON block, the
    // way `agent inputs --format markdown` shows it (issue 30).
    let plain = p
        .run(&["memory", "retrieve", "coding/c", "--format", "markdown"])
        .ok();
    assert!(plain.starts_with("## `coding/c` (namespace `"), "{plain}");
    assert!(plain.contains("```json\n"), "{plain}");
    p.run(&["memory", "store", "coding/b", r#"{"loop": true}"#])
        .ok();
    p.run(&["memory", "retrieve", "coding/b", "--format", "markdown"])
        .fails(6, &["the renderer of stage `second` failed", "timed out"]);
    p.run(&["memory", "store", "coding/b", "[1, 2]"]).ok();
    p.run(&["memory", "retrieve", "coding/b", "--format", "markdown"])
        .fails(2, &["cannot render key `coding/b`", "not an object"]);
}

#[test]
fn baton_s_own_namespaces_are_written_by_baton_alone_and_events_are_append_only() {
    let p = crate::pipeline_run::project();
    p.run(&["run"]).ok();
    let before = p.run(&["events", "--json"]).json();
    let first = before[0]["event_id"].as_str().unwrap().to_owned();
    p.run(&["memory", "store", "-n", "baton.events", &first, "{}"])
        .fails(2, &["namespace `baton.events` belongs to baton"]);
    p.run(&["memory", "delete", "-n", "baton.events", &first])
        .fails(2, &["belongs to baton"]);
    p.run(&["memory", "store", "-n", "baton.quarantine", "first", "{}"])
        .fails(2, &["namespace `baton.quarantine` belongs to baton"]);
    p.run(&[
        "memory",
        "rollback",
        "-n",
        "baton.events",
        &first,
        "--to",
        "1",
    ])
    .fails(2, &["belongs to baton"]);
    let record = format!(
        r#"{{"namespace":"baton.events","key":"{first}","revision":2,"written_at":"2026-01-01T00:00:00.000Z","writer":"cli","size":2,"sha256":"{}","value":{{}}}}"#,
        baton::memory::sha256_hex(b"{}")
    );
    p.run_with_stdin(&["memory", "import"], format!("{record}\n"))
        .fails(2, &["standard input line 1", "belongs to baton"]);
    // Reading stays allowed, and the log is as it was.
    p.run(&["memory", "retrieve", "-n", "baton.events", &first, "--json"])
        .ok();
    assert_eq!(p.run(&["events", "--json"]).json(), before);
}

#[test]
fn the_store_itself_refuses_to_overwrite_or_delete_an_event() {
    let store = SledStore::temporary().unwrap();
    let ns = Namespace::new("baton.events").unwrap();
    let key = Key::new("w/a/0000").unwrap();
    let writer = Writer("stage:s".into());
    store
        .commit(
            &writer,
            vec![Op::put(&ns, &key, json!({"n": 1})).if_revision(0)],
        )
        .unwrap();
    let overwrite = store
        .commit(&writer, vec![Op::put(&ns, &key, json!({"n": 2}))])
        .unwrap_err()
        .to_string();
    assert!(
        overwrite.contains("append-only") && overwrite.contains("overwriting"),
        "{overwrite}"
    );
    let delete = store
        .commit(&writer, vec![Op::delete(&ns, &key)])
        .unwrap_err()
        .to_string();
    assert!(delete.contains("deleting"), "{delete}");
    // A second add of the same key is a conflict, not an overwrite.
    assert!(matches!(
        store.commit(
            &writer,
            vec![Op::put(&ns, &key, json!({"n": 3})).if_revision(0)]
        ),
        Err(baton::memory::MemoryError::Conflict { .. })
    ));
    assert_eq!(
        store.get(&ns, &key).unwrap().unwrap().json(),
        json!({"n": 1})
    );
}

/// The layering's plain checks, on the source itself: front ends (`cli/`, `mcp/`,
/// `ui/`) hold no store, queue or runtime handle and build no reply by hand with
/// `json!`; every document enters the memory through the one admission, which both a
/// run and an outside write call.
#[test]
fn front_ends_go_through_the_service_and_documents_through_one_admission() {
    let src = repo_root().join("host/src");
    let mut offences = Vec::new();
    for front in ["cli", "mcp", "ui"] {
        let mut stack = vec![src.join(front)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    for banned in [
                        ".store()",
                        ".queue()",
                        ".runtime()",
                        "json!",
                        "memory::Store",
                        "runtime::Runtime",
                        "JobQueue",
                        "executor::",
                    ] {
                        if line.contains(banned) && !line.trim_start().starts_with("//") {
                            offences.push(format!("{}:{}: {banned}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "front ends reach below the service:\n{}",
        offences.join("\n")
    );
    let calls = |file: &str| {
        std::fs::read_to_string(src.join(file))
            .unwrap()
            .contains("admission::admit(")
    };
    assert!(calls("executor/mod.rs"), "a run's output is admitted");
    assert!(
        calls("service/gatekeeper.rs"),
        "an outside write is admitted"
    );
    for file in [
        "service/memory.rs",
        "service/handoff.rs",
        "service/transfer.rs",
    ] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        assert!(
            !text.contains(".commit(&writer, vec![op"),
            "{file} commits a document itself"
        );
    }
}
