//! Gate components (the WIT `gate` world) through the real binary: they see the
//! document and the stage's inputs, block `baton memory store`, `baton gate check` and
//! `baton run` with findings that point into the document, and a gate component that
//! loops or panics fails its gate instead of letting the document through.

use serde_json::json;

use crate::harness::{Project, component};

/// An external stage `counted` reading `coding/in`, with four component gates, and an
/// `echo` stage `listed` whose output is gated by `max-items`.
fn project(items: &[u32]) -> Project {
    let gate = component("test_gate");
    let echo = component("echo");
    let (gate, echo) = (gate.display(), echo.display());
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "gated"
namespace = "coding-pipeline"

[[input]]
key = "coding/in"
file = "in.json"

[[stage]]
name = "counted"
external = true
reads = ["coding/in"]
writes = "coding/count"
limits = {{ timeout = "300ms" }}

[[stage.gate]]
name = "max-items"
rule = "At most two items are listed"
component = "{gate}"
config = {{ pointer = "/list", max = 2 }}

[[stage.gate]]
name = "inputs-agree"
rule = "The count matches the input"
component = "{gate}"
config = {{ key = "coding/in" }}

[[stage]]
name = "listed"
component = "{echo}"
reads = ["coding/in"]
writes = "coding/listed"
config = {{ reads = ["coding/in"] }}

[[stage.gate]]
name = "max-items"
rule = "At most two input items"
component = "{gate}"
config = {{ pointer = "/inputs/coding~1in/items", max = 2 }}
"#
    ));
    p.write_input(items);
    p
}

trait Input {
    fn write_input(&self, items: &[u32]);
}

impl Input for Project {
    fn write_input(&self, items: &[u32]) {
        std::fs::write(
            self.root().join("in.json"),
            json!({ "items": items }).to_string(),
        )
        .unwrap();
    }
}

#[test]
fn a_gate_component_cross_checks_a_stored_document_against_the_inputs() {
    let p = project(&[1, 2, 3]);
    // Seeds `coding/in`; `listed` fails its gate (three items), `counted` awaits.
    let run = p.run(&["run"]);
    assert_eq!(run.code(), 7, "{}", run.stderr());
    assert!(
        run.stdout().contains("failed gates: max-items"),
        "{}",
        run.stdout()
    );
    p.run(&[
        "memory",
        "store",
        "coding/count",
        r#"{"count":3,"list":[1]}"#,
    ])
    .ok();
    let err = p
        .run(&[
            "memory",
            "store",
            "coding/count",
            r#"{"count":2,"list":[1,2,3]}"#,
        ])
        .fails(
            7,
            &[
                "coding/count",
                "counted",
                "max-items",
                "inputs-agree",
                "/count",
                "/list",
            ],
        );
    assert!(err.contains("3 items, over the limit of 2"), "{err}");
    // The refused write left the accepted revision in place.
    let entry = p
        .run(&["memory", "retrieve", "-k", "coding/count", "--json"])
        .json();
    assert_eq!(entry["revision"], 1);
    assert_eq!(entry["value"]["count"], 3);
}

#[test]
fn gate_check_reports_component_findings_with_pointers() {
    let p = project(&[1, 2, 3]);
    assert_eq!(p.run(&["run"]).code(), 7);
    std::fs::write(p.root().join("doc.json"), r#"{"count":5,"list":[]}"#).unwrap();
    let out = p.run(&["gate", "check", "--stage", "counted", "doc.json", "--json"]);
    assert_eq!(out.code(), 7, "{}", out.stderr());
    let report = out.json();
    assert_eq!(report["passed"], false);
    let gates = report["gates"].as_array().unwrap();
    assert_eq!(gates[0]["name"], "max-items");
    assert_eq!(gates[0]["passed"], true);
    assert_eq!(gates[1]["name"], "inputs-agree");
    assert_eq!(gates[1]["findings"][0]["pointer"], "/count");
    assert_eq!(gates[1]["findings"][0]["expected"], "3");
}

#[test]
fn a_run_gates_stage_output_with_a_component_and_quarantines_a_failure() {
    let p = project(&[1, 2, 3]);
    let summary = p.run(&["run", "--json"]).json();
    let listed = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "listed")
        .unwrap()
        .clone();
    assert_eq!(listed["outcome"]["status"], "gate-failed", "{summary}");
    p.run(&["memory", "retrieve", "-k", "coding/listed"])
        .fails(3, &["coding/listed"]);
    let quarantined = p
        .run(&[
            "memory",
            "retrieve",
            "-n",
            "baton.quarantine",
            "-k",
            "listed",
        ])
        .json();
    assert_eq!(
        quarantined["gate_report"]["gates"][0]["findings"][0]["pointer"],
        "/inputs/coding~1in/items"
    );
    // Fix the input: the stage re-runs and its output passes.
    p.write_input(&[1]);
    p.run(&["run"]).ok();
    let out = p.run(&["memory", "retrieve", "-k", "coding/listed"]).json();
    assert_eq!(out["inputs"]["coding/in"]["items"], json!([1]));
}

#[test]
fn a_hostile_gate_component_fails_its_gate_and_never_passes_the_document() {
    let p = project(&[1]);
    let gate = component("test_gate");
    let manifest = std::fs::read_to_string(p.root().join("pipeline.toml")).unwrap();
    let manifest = manifest.replace(
        r#"name = "inputs-agree""#,
        &format!(
            "name = \"loop\"\nrule = \"never answers\"\ncomponent = \"{}\"\n\n[[stage.gate]]\nname = \"panic\"\nrule = \"panics\"\ncomponent = \"{}\"\n\n[[stage.gate]]\nname = \"inputs-agree\"",
            gate.display(),
            gate.display()
        ),
    );
    std::fs::write(p.root().join("pipeline.toml"), manifest).unwrap();
    p.run(&["run"]).ok();
    let out = p.run(&[
        "memory",
        "store",
        "coding/count",
        r#"{"count":1,"list":[]}"#,
    ]);
    // The gate runs under its stage's 300 ms limit, and its failure names gate and stage.
    let err = out.fails(
        7,
        &[
            "gate `loop` of stage `counted` timed out after 300ms",
            "gate `panic` of stage `counted` panicked",
            "timed-out",
            "panicked",
        ],
    );
    assert!(err.contains("the test gate panics on purpose"), "{err}");
    p.run(&["memory", "retrieve", "-k", "coding/count"])
        .fails(3, &[]);
}

#[test]
fn a_slow_build_says_what_it_builds_and_a_quick_one_stays_silent() {
    let gate = component("test_gate");
    let manifest = |build: &str| {
        format!(
            "[pipeline]\nname = \"b\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"s\"\nexternal = true\nwrites = \"k\"\n\n[[stage.gate]]\nname = \"max-items\"\nrule = \"At most two items\"\ncomponent = \"{}\"\nbuild = \"{build}\"\nconfig = {{ pointer = \"/list\", max = 2 }}\n",
            gate.display()
        )
    };
    let quick = Project::with_manifest(&manifest("true"));
    let out = quick.run(&["memory", "store", "k", r#"{"list":[1]}"#]);
    out.ok();
    assert!(!out.stderr().contains("building"), "{}", out.stderr());
    let slow = Project::with_manifest(&manifest("sleep 1.5"));
    let out = slow.run(&["memory", "store", "k", r#"{"list":[1]}"#]);
    out.ok();
    assert!(
        out.stderr()
            .contains("baton: building gate `max-items` of stage `s`: sleep 1.5"),
        "{}",
        out.stderr()
    );
}
