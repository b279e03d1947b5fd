//! Quality gates: `baton gate check`, and gates that block `baton memory store` and
//! `import` for a gated key unless an override is given and recorded.

use serde_json::json;

use crate::harness::Project;

pub(crate) const KEY: &str = "coding/architecture/performance";

/// A project whose external `performance-architect` stage has a blocking schema gate
/// on `/slos` and a warning gate on `/caching`.
pub(crate) fn gated_project() -> Project {
    let p = Project::with_manifest(
        r#"[pipeline]
name = "gated"
namespace = "coding-pipeline"

[[stage]]
name = "performance-architect"
external = true
writes = "coding/architecture/performance"

[[stage.gate]]
name = "measurable-slos"
rule = "Performance requirements must have measurable SLOs"
schema = "slos.schema.json"
pointer = "/slos"

[[stage.gate]]
name = "caching-has-invalidation"
rule = "Caching strategy must include invalidation policies"
severity = "warning"
schema = "caching.schema.json"
pointer = "/caching"
"#,
    );
    let slos = json!({
        "type": "array", "minItems": 1,
        "items": {"type": "object", "required": ["target", "unit"],
                  "properties": {"target": {"type": "number"}, "unit": {"type": "string"}}}
    });
    let caching =
        json!({"type": "array", "items": {"type": "object", "required": ["invalidation"]}});
    std::fs::write(p.root().join("slos.schema.json"), slos.to_string()).unwrap();
    std::fs::write(p.root().join("caching.schema.json"), caching.to_string()).unwrap();
    p
}

/// Appends `toml` (stages, gates) to the project's `pipeline.toml`.
fn add_to_manifest(p: &Project, toml: &str) {
    let manifest = p.root().join("pipeline.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(toml);
    std::fs::write(&manifest, text).unwrap();
}

pub(crate) fn good() -> String {
    json!({"slos": [{"target": 200, "unit": "ms"}], "caching": [{"invalidation": "event"}]})
        .to_string()
}

pub(crate) fn bad() -> String {
    json!({"slos": [{"target": "fast", "unit": "ms"}], "caching": [{"ttl": 60}]}).to_string()
}

#[test]
fn gate_check_reports_every_gate_without_storing() {
    let p = gated_project();
    std::fs::write(p.root().join("good.json"), good()).unwrap();
    std::fs::write(p.root().join("bad.json"), bad()).unwrap();
    let report = p
        .run(&[
            "gate",
            "check",
            "--stage",
            "performance-architect",
            "good.json",
            "--json",
        ])
        .json();
    assert_eq!(report["passed"], true);
    assert_eq!(report["gates_passed"], 2);
    let out = p.run(&[
        "gate",
        "check",
        "--stage",
        "performance-architect",
        "bad.json",
        "--json",
    ]);
    assert_eq!(out.code(), 7);
    let report = out.json();
    assert_eq!(report["passed"], false);
    assert_eq!(report["errors"], 1);
    let finding = &report["gates"][0]["findings"][0];
    assert_eq!(finding["pointer"], "/slos/0/target");
    assert_eq!(finding["actual"], "\"fast\"");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("is not of type \"number\""),
        "{finding}"
    );
    let text = p.run(&[
        "gate",
        "check",
        "--stage",
        "performance-architect",
        "bad.json",
    ]);
    assert_eq!(text.code(), 7);
    assert!(
        text.stdout().contains(
            "FAIL  measurable-slos  (Performance requirements must have measurable SLOs)"
        ),
        "{}",
        text.stdout()
    );
    assert!(
        text.stdout().contains("at /slos/0/target"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stderr()
            .contains("fails the gates of stage `performance-architect`: measurable-slos"),
        "{}",
        text.stderr()
    );
    // A document with nothing at the gate's pointer fails with that finding.
    std::fs::write(p.root().join("empty.json"), "{}").unwrap();
    let report = p
        .run(&[
            "gate",
            "check",
            "--stage",
            "performance-architect",
            "empty.json",
            "--json",
        ])
        .json();
    assert_eq!(
        report["gates"][0]["findings"][0]["message"],
        "the document has nothing at \"/slos\""
    );
    assert!(p.keys().is_empty(), "nothing stored");
    p.run(&["gate", "check", "--stage", "nope", "good.json"])
        .fails(
            2,
            &[
                "no stage `nope`",
                "hint: its stages are: performance-architect",
            ],
        );
    p.run(&[
        "gate",
        "check",
        "--stage",
        "performance-architect",
        "missing.json",
    ])
    .fails(2, &["cannot read \"missing.json\""]);
}

#[test]
fn an_external_document_is_refused_by_its_gate_and_the_old_revision_stays() {
    let p = gated_project();
    p.run(&["memory", "store", KEY, &good()]).ok();
    let err = p.run(&["memory", "store", KEY, &bad()]).fails(
        7,
        &[
            "fails the gates of stage `performance-architect`: measurable-slos",
            "at /slos/0/target",
            "hint:",
        ],
    );
    assert!(
        err.contains("warn  caching-has-invalidation"),
        "the warning is reported too: {err}"
    );
    let entry = p.run(&["memory", "retrieve", KEY, "--json"]).json();
    assert_eq!(
        entry["revision"], 1,
        "the old revision is still the live one"
    );
    assert_eq!(entry["provenance"]["gate_report"]["passed"], true);
    assert_eq!(entry["value"]["slos"][0]["target"], 200);
    // Keys no stage writes are not gated.
    p.run(&["memory", "store", "coding/notes", &bad()]).ok();
}

#[test]
fn an_override_stores_and_is_recorded() {
    let p = gated_project();
    let stored = p.run(&[
        "memory",
        "store",
        KEY,
        &bad(),
        "--override-gates",
        "hotfix approved by on-call",
        "--agent",
        "performanceArchitect-1",
    ]);
    // Said once, in the command's words, not again as a log line (issue 30).
    assert_eq!(
        stored
            .stderr()
            .matches("storing despite failed gates")
            .count(),
        1,
        "{}",
        stored.stderr()
    );
    assert!(!stored.stderr().contains("WARN"), "{}", stored.stderr());
    stored.ok();
    let entry = p.run(&["memory", "retrieve", KEY, "--json"]).json();
    assert_eq!(
        entry["provenance"]["gate_override"]["reason"],
        "hotfix approved by on-call"
    );
    assert_eq!(
        entry["provenance"]["gate_override"]["by"],
        "agent:performanceArchitect-1"
    );
    assert_eq!(entry["provenance"]["gate_report"]["passed"], false);
}

#[test]
fn a_warning_gate_reports_but_does_not_block() {
    let p = gated_project();
    let doc = json!({"slos": [{"target": 1, "unit": "s"}], "caching": [{"ttl": 5}]}).to_string();
    let out = p.run(&["memory", "store", KEY, &doc]);
    out.ok();
    assert!(
        out.stderr().contains("warn  caching-has-invalidation"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr()
            .contains("passed: 1 passed, 0 failed, 1 warning"),
        "{}",
        out.stderr()
    );
}

#[test]
fn import_is_gated_too_and_all_or_nothing() {
    let source = Project::new();
    source.run(&["memory", "store", KEY, &bad()]).ok();
    source.run(&["memory", "store", "other", "1"]).ok();
    let dump = source.run(&["memory", "export"]).ok();
    let p = gated_project();
    p.run_with_stdin(&["memory", "import"], dump.clone()).fails(
        7,
        &[
            "standard input line 1: revision 1 of key `coding/architecture/performance`",
            "measurable-slos",
        ],
    );
    assert!(p.keys().is_empty(), "nothing imported");
    p.run_with_stdin(
        &["memory", "import", "--override-gates", "restoring a backup"],
        dump,
    )
    .ok();
    assert_eq!(
        p.run(&["memory", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_gate_component_that_is_not_a_gate_refuses_the_write() {
    let p = Project::with_manifest(
        "[pipeline]\nname = \"g\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"s\"\nexternal = true\nwrites = \"k\"\n\n[[stage.gate]]\nname = \"budgets\"\nrule = \"Critical paths must have latency budgets\"\ncomponent = \"gate.wasm\"\n",
    );
    std::fs::write(p.root().join("gate.wasm"), b"\0asm").unwrap();
    p.run(&["memory", "store", "k", "{}"])
        .fails(2, &["gate `budgets` of stage `s`", "gate.wasm"]);
    p.run(&["memory", "retrieve", "k"]).fails(3, &["not found"]);
}

#[test]
fn every_command_line_change_leaves_an_audit_event() {
    let p = gated_project();
    p.run(&["memory", "store", KEY, &good(), "--agent", "agent-7"])
        .ok();
    p.run(&["memory", "store", KEY, &bad(), "--agent", "agent-7"])
        .fails(7, &["measurable-slos"]);
    p.run(&["memory", "store", "notes", "plain text"]).ok();
    p.run(&["memory", "delete", "notes"]).ok();
    let export = p.run(&["memory", "export", "-n", "coding-pipeline"]).ok();
    p.run_with_stdin(&["memory", "import", "-"], export).ok();
    let events = p.run(&["events", "--workflow", "cli", "--json"]).json();
    let events = events.as_array().unwrap();
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["attributes"]["outcome"].as_str().unwrap().to_owned(),
                e["agent_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("memory.store", "success", "agent:agent-7"),
        ("memory.store", "refused", "agent:agent-7"),
        ("memory.store", "success", "cli"),
        ("memory.delete", "success", "cli"),
        ("memory.import", "success", "import"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(summary, expected, "{events:?}");
    let first = &events[0]["attributes"];
    assert_eq!(first["namespace"], "coding-pipeline");
    assert_eq!(first["key"], KEY);
    assert_eq!(first["gates_passed"], true);
    assert!(first["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    assert!(
        events[1]["attributes"]["error"]
            .as_str()
            .unwrap()
            .contains("measurable-slos")
    );
    // By key too; and baton's own namespaces stay out of the users' statistics.
    let by_key = p.run(&["events", "--key", KEY, "--json"]).json();
    assert_eq!(by_key.as_array().unwrap().len(), 2);
    let stats = p.run(&["memory", "stats", "--json"]).json();
    assert_eq!(stats["stats"]["keys"], 1, "{stats}");
    assert_eq!(stats["stats"]["reserved"]["keys"], 5, "{stats}");
    // Export leaves baton's own namespaces out unless asked for all.
    let users = p.run(&["memory", "export"]).ok();
    assert!(!users.contains("baton.events"), "{users}");
    assert_eq!(users.lines().count(), 3, "{users}"); // KEY, notes and its tombstone
    let all = p.run(&["memory", "export", "--all"]).ok();
    assert_eq!(
        all.lines()
            .filter(|l| l.contains("\"baton.events\""))
            .count(),
        5
    );
    // A refused compare-and-swap is recorded too.
    p.run(&["memory", "delete", KEY, "--if-revision", "99"])
        .fails(4, &[KEY]);
    let events = p.run(&["events", "--key", KEY, "--json"]).json();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["name"], "memory.delete");
    assert_eq!(last["attributes"]["outcome"], "refused");
    assert!(
        last["attributes"]["error"]
            .as_str()
            .unwrap()
            .contains("revision"),
        "{last}"
    );
}

#[test]
fn a_read_nothing_produces_stops_a_run_but_not_a_store_and_the_gates_still_hold() {
    let p = gated_project();
    // The project gains a stage reading a key that no stage writes and no input seeds:
    // the kind of manifest an import leaves while a team's other agents are not in it.
    add_to_manifest(
        &p,
        r#"
[[stage]]
name = "reviewer"
external = true
reads = ["inputs/spec", "coding/architecture/performance"]
writes = "coding/review"
"#,
    );
    let unresolved = "reads `inputs/spec` in namespace `coding-pipeline`, which no stage writes";
    p.run(&["check"]).fails(2, &[unresolved]);
    // A run runs the rest and blocks the stage, naming what to store (issue 26; issue
    // 30 refused the whole run).
    let run = p.run(&["run"]);
    assert_eq!(run.code(), 6, "{}", run.stderr());
    for said in ["1 stage(s) cannot run", "hint: store each"] {
        assert!(run.stderr().contains(said), "{}", run.stderr());
    }
    let summary = p.run(&["run", "--json"]);
    let reviewer = summary.json()["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "reviewer")
        .cloned()
        .unwrap();
    assert_eq!(reviewer["outcome"]["status"], "blocked", "{reviewer}");
    assert!(
        reviewer["outcome"]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot run: it reads `coding-pipeline:inputs/spec`"),
        "{reviewer}"
    );

    // Storing the very document the pipeline lacks works, and prints no log line
    // (issue 30: a timestamped WARN on every write was noise; `check` lists them).
    let stored = p.run(&[
        "memory",
        "store",
        "inputs/spec",
        r#"{"goal": "p99 under 200 ms"}"#,
    ]);
    stored.ok();
    assert!(!stored.stderr().contains("WARN"), "{}", stored.stderr());
    // The memory now holds it: `status` counts the read as satisfied.
    let status = p.run(&["status", "--json"]).json();
    let reviewer = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "reviewer")
        .unwrap();
    assert!(reviewer.get("missing").is_none(), "{reviewer}");
    // The gates of the stages that are there still hold.
    p.run(&["memory", "store", KEY, &bad()]).fails(
        7,
        &["fails the gates of stage `performance-architect`: measurable-slos"],
    );
    p.run(&["memory", "store", KEY, &good()]).ok();
    let report = p
        .run_with_stdin(
            &[
                "gate",
                "check",
                "--stage",
                "performance-architect",
                "-",
                "--json",
            ],
            bad(),
        )
        .json();
    assert_eq!(report["passed"], false, "{report}");
    let inputs = p.run(&["agent", "inputs", "reviewer"]).json();
    assert_eq!(inputs["inputs/spec"]["goal"], "p99 under 200 ms");
    assert_eq!(inputs[KEY]["slos"][0]["target"], 200);

    // Any other problem still stops a store: which stage's gates apply is no longer known.
    add_to_manifest(
        &p,
        r#"
[[stage]]
name = "second-architect"
external = true
writes = "coding/architecture/performance"
"#,
    );
    p.run(&["memory", "store", "inputs/spec", "{}"]).fails(
        2,
        &[
            "does not check",
            "stages `performance-architect` and `second-architect` both write",
        ],
    );
    let spec = p
        .run(&["memory", "retrieve", "inputs/spec", "--json"])
        .json();
    assert_eq!(spec["revision"], 1, "the refused store wrote nothing");
}

#[test]
fn a_schema_that_does_not_compile_refuses_only_the_writes_it_gates_and_inputs_are_not_read() {
    let p = gated_project();
    add_to_manifest(
        &p,
        r#"
[[stage]]
name = "broken"
external = true
writes = "coding/broken"

[[stage.gate]]
name = "typed"
rule = "A type that is not one"
schema = "broken.schema.json"

[[input]]
key = "inputs/brief"
file = "brief.json"
"#,
    );
    std::fs::write(p.root().join("broken.schema.json"), r#"{"type": 12}"#).unwrap();
    // Checking and running read every file and compile every schema, and report each
    // problem at its line.
    p.run(&["check"]).fails(
        2,
        &[
            "schema \"broken.schema.json\" of gate `typed` is not a valid JSON Schema",
            "input file \"brief.json\": No such file",
        ],
    );
    // A write reads and compiles only the schemas of the stage whose key it writes,
    // and no input document.
    p.run(&["memory", "store", KEY, &good()]).ok();
    p.run(&["memory", "store", KEY, &bad()])
        .fails(7, &["fails the gates of stage `performance-architect`"]);
    p.run(&["memory", "store", "coding/broken", "{}"]).fails(
        2,
        &["gate `typed` of stage `broken` is not a valid JSON Schema"],
    );
    p.run(&["memory", "get", "coding/broken"])
        .fails(3, &["coding/broken"]);
}
