//! `baton run` on real components and a real store: a three-stage pipeline passes, a
//! gate failure blocks what comes after and leaves the old revision in place, a second
//! run skips fresh stages and re-runs exactly the stale ones.

use serde_json::json;

use crate::harness::{Project, component};

/// Three `echo` stages: `first` reads the seeded system, `second` reads `first`,
/// `third` reads both. `first` is gated on its `tag` being `"ok"`.
pub(crate) fn manifest(first_tag: &str, third_tag: &str) -> String {
    let echo = component("echo");
    let echo = echo.display();
    format!(
        r#"[pipeline]
name = "three"
namespace = "coding-pipeline"

[[input]]
key = "coding/architecture/system"
file = "system.json"

[[stage]]
name = "first"
component = "{echo}"
reads = ["coding/architecture/system"]
writes = "coding/a"
config = {{ reads = ["coding/architecture/system"], tag = "{first_tag}" }}

[[stage.gate]]
name = "tag-ok"
rule = "The first stage's tag must be ok"
schema = "tag.schema.json"

[[stage]]
name = "second"
component = "{echo}"
reads = ["coding/a"]
writes = "coding/b"
config = {{ reads = ["coding/a"] }}

[[stage]]
name = "third"
component = "{echo}"
reads = ["coding/a", "coding/b"]
writes = "coding/c"
config = {{ reads = ["coding/a", "coding/b"], tag = "{third_tag}" }}
"#
    )
}

pub(crate) fn project() -> Project {
    let p = Project::with_manifest(&manifest("ok", "x"));
    std::fs::write(
        p.root().join("system.json"),
        r#"{"components":[{"id":"api"}]}"#,
    )
    .unwrap();
    std::fs::write(
        p.root().join("tag.schema.json"),
        r#"{"properties":{"tag":{"const":"ok"}}}"#,
    )
    .unwrap();
    p
}

fn statuses(summary: &serde_json::Value) -> Vec<String> {
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"]["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_three_stage_pipeline_passes_with_provenance_and_events() {
    let p = project();
    let summary = p.run(&["run", "--json"]).json();
    assert_eq!(statuses(&summary), ["passed", "passed", "passed"]);
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["inputs_written"], 1);
    let c = p.run(&["memory", "retrieve", "coding/c", "--json"]).json();
    assert_eq!(c["writer"], "stage:third");
    assert_eq!(
        c["value"]["inputs"]["coding/a"]["inputs"]["coding/architecture/system"]["components"][0]["id"],
        "api"
    );
    let prov = &c["provenance"];
    assert_eq!(prov["workflow_id"], summary["workflow_id"]);
    assert_eq!(
        prov["inputs"],
        json!([{"namespace":"coding-pipeline","key":"coding/a","revision":1},{"namespace":"coding-pipeline","key":"coding/b","revision":1}])
    );
    assert_eq!(prov["component_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(prov["config"]["tag"], "x");
    // Events: started, the stage's own, completed; by workflow and by agent.
    let workflow = summary["workflow_id"].as_str().unwrap();
    let events = p.run(&["events", "--workflow", workflow, "--json"]).json();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for expected in [
        "agent.first.started",
        "agent.first.inputRead",
        "agent.first.completed",
        "agent.third.completed",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let agent = prov["agent_id"].as_str().unwrap();
    assert!(
        agent.starts_with("third-") && agent.len() == "third-".len() + 32,
        "{agent}"
    );
    let about_c = p.run(&["events", "--key", "coding/c", "--json"]).json();
    let about_c: Vec<&str> = about_c
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(about_c, ["agent.third.completed"]);
    // baton's own namespaces stay out of listings unless named.
    let listed = p.run(&["memory", "list", "--json"]).json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !m["namespace"].as_str().unwrap().starts_with("baton.")),
        "{listed}"
    );
    assert!(
        !p.run(&["memory", "list", "-n", "baton.events", "--json"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        p.run(&["memory", "namespaces", "--json"])
            .json()
            .get("baton.events")
            .is_none()
    );
    assert!(
        p.run(&["memory", "namespaces", "--all", "--json"]).json()["baton.events"]
            .as_u64()
            .unwrap()
            > 0
    );
    let mine = p.run(&["events", "--agent", agent, "--json"]).json();
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|e| e["agent_id"] == agent)
    );
    assert_eq!(mine.as_array().unwrap().len(), 4, "{mine}");
}

#[test]
fn a_second_run_skips_fresh_stages_and_reruns_exactly_the_stale_ones() {
    let p = project();
    p.run(&["run"]).ok();
    let again = p.run(&["run", "--json"]).json();
    assert_eq!(statuses(&again), ["fresh", "fresh", "fresh"]);
    // A fresh stage's time went on loading its component and checking freshness, and
    // the table says so (issue 30), instead of a bare figure for a stage that did not run.
    for stage in again["stages"].as_array().unwrap() {
        let (total, check) = (
            stage["duration_ms"].as_f64().unwrap(),
            stage["spent"]["check_ms"].as_f64().unwrap(),
        );
        assert!(check > 0.0 && check <= total, "{stage}");
        assert_eq!(stage["spent"]["build_ms"], 0.0, "nothing to build: {stage}");
    }
    let table = p.run(&["run"]).ok();
    let first = table.lines().find(|l| l.starts_with("first")).unwrap();
    assert!(first.contains("(check "), "{table}");
    assert!(
        !first.contains("run "),
        "a fresh stage did not run: {table}"
    );
    // Only the third stage's config changes: only it re-runs.
    std::fs::write(p.root().join("pipeline.toml"), manifest("ok", "y")).unwrap();
    let status = p.run(&["status", "--json"]).json();
    assert_eq!(
        status[2],
        json!({
            "stage": "third", "state": "stale", "why": "the config changed",
            "waiting_on": [], "ready": true, "done": false,
            "gates": {"enforced": 0, "unchecked": []},
        })
    );
    assert_eq!(status[0]["state"], "fresh");
    assert_eq!(
        statuses(&p.run(&["run", "--json"]).json()),
        ["fresh", "fresh", "passed"]
    );
    // The input file changes: everything after it re-runs.
    std::fs::write(p.root().join("system.json"), r#"{"components":[]}"#).unwrap();
    assert_eq!(
        p.run(&["status", "--json"]).json()[0]["why"],
        "input file for `coding/architecture/system` changed"
    );
    assert_eq!(
        statuses(&p.run(&["run", "--json"]).json()),
        ["passed", "passed", "passed"]
    );
    // --force re-runs fresh stages.
    assert_eq!(
        statuses(&p.run(&["run", "--force", "--json"]).json()),
        ["passed", "passed", "passed"]
    );
    assert_eq!(
        p.run(&["memory", "retrieve", "coding/a", "--json"]).json()["revision"],
        3
    );
}

#[test]
fn a_gate_failure_blocks_the_dependents_and_keeps_the_old_revision() {
    let p = project();
    p.run(&["run"]).ok();
    std::fs::write(p.root().join("pipeline.toml"), manifest("bad", "x")).unwrap();
    let out = p.run(&["run", "--json"]);
    assert_eq!(out.code(), 7, "{}", out.stderr());
    let summary = out.json();
    assert_eq!(statuses(&summary), ["gate-failed", "blocked", "blocked"]);
    assert_eq!(
        summary["stages"][1]["outcome"]["detail"],
        "stage `first` did not pass"
    );
    let a = p.run(&["memory", "retrieve", "coding/a", "--json"]).json();
    assert_eq!(
        (a["revision"].as_u64(), a["value"]["tag"].as_str()),
        (Some(1), Some("ok")),
        "old revision in place"
    );
    let quarantined = p
        .run(&[
            "memory",
            "retrieve",
            "first",
            "-n",
            "baton.quarantine",
            "--json",
        ])
        .json();
    assert_eq!(quarantined["value"]["output"]["tag"], "bad");
    assert_eq!(
        quarantined["value"]["gate_report"]["gates"][0]["findings"][0]["pointer"],
        "/tag"
    );
    assert_eq!(p.run(&["status", "--json"]).json()[0]["state"], "stale");
    let events = p
        .run(&[
            "events",
            "--workflow",
            summary["workflow_id"].as_str().unwrap(),
            "--json",
        ])
        .json();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "agent.first.failed"),
        "{events}"
    );
}

#[test]
fn a_hostile_stage_fails_alone_and_its_dependents_are_blocked() {
    let hostile = component("hostile");
    let echo = component("echo");
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "h"
namespace = "n"

[[stage]]
name = "looper"
component = "{}"
writes = "k/loop"
config = {{ mode = "loop" }}
limits = {{ timeout = "200ms" }}

[[stage]]
name = "after-loop"
component = "{}"
reads = ["k/loop"]
writes = "k/after"

[[stage]]
name = "independent"
component = "{}"
writes = "k/independent"
"#,
        hostile.display(),
        echo.display(),
        echo.display()
    ));
    let out = p.run(&["run", "--json"]);
    assert_eq!(out.code(), 6, "{}", out.stderr());
    let summary = out.json();
    let by_name = |n: &str| {
        summary["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("looper")["outcome"]["status"], "failed");
    assert!(
        by_name("looper")["outcome"]["detail"]
            .as_str()
            .unwrap()
            .contains("timed out after 200ms")
    );
    assert_eq!(by_name("after-loop")["outcome"]["status"], "blocked");
    assert_eq!(
        by_name("independent")["outcome"]["status"],
        "passed",
        "a failure stops its dependents, not the others"
    );
    p.run(&["memory", "retrieve", "k/loop", "-n", "n"])
        .fails(3, &["not found"]);
}

#[test]
fn the_default_pipeline_runs_from_the_repository() {
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().join("store");
    let run = |args: &[&str]| crate::harness::baton_in_repo(&store_arg, args);
    let (code, stdout, stderr) = run(&["run", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["passed"], true, "{summary}");
    assert!(
        !stderr.contains("Finished"),
        "build output stays out of the way: {stderr}"
    );
    let (_, system, _) = run(&[
        "memory",
        "retrieve",
        "coding/architecture/performance",
        "--pointer",
        "/system",
    ]);
    assert_eq!(system, "webshop\n");
    let (_, again, _) = run(&["run", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).unwrap()["stages"][0]["outcome"]["status"],
        "fresh"
    );
}

#[test]
fn a_build_command_shared_by_stages_runs_once_per_run() {
    let echo = component("echo");
    let stage = |name: &str, reads: &str| {
        format!(
            "\n[[stage]]\nname = \"{name}\"\ncomponent = \"{}\"\nbuild = \"sleep 0.3 && echo built >> build.log\"\nreads = [\"{reads}\"]\nwrites = \"coding/{name}\"\nconfig = {{ reads = [\"{reads}\"] }}\n",
            echo.display()
        )
    };
    let manifest = format!(
        "[pipeline]\nname = \"b\"\nnamespace = \"coding-pipeline\"\n\n[[input]]\nkey = \"coding/in\"\nfile = \"in.json\"\n{}{}",
        stage("one", "coding/in"),
        stage("two", "coding/one")
    );
    let p = Project::with_manifest(&manifest);
    std::fs::write(p.root().join("in.json"), "{}").unwrap();
    let summary = p.run(&["run", "--json"]).json();
    let log = std::fs::read_to_string(p.root().join("build.log")).unwrap();
    assert_eq!(log, "built\n");
    // The first stage's time went on the build, and the summary says so (issue 30).
    let one = &summary["stages"][0];
    assert_eq!(one["stage"], "one");
    assert!(one["spent"]["build_ms"].as_f64().unwrap() >= 250.0, "{one}");
    // The table says what the time went on: the build, then the check and the run.
    std::fs::write(p.root().join("in.json"), r#"{"changed": true}"#).unwrap();
    std::fs::remove_file(p.root().join("build.log")).unwrap();
    let table = p.run(&["run"]).ok();
    let row = table.lines().find(|l| l.starts_with("one")).unwrap();
    assert!(row.contains("(build ") && row.contains(", run "), "{table}");
}

#[test]
fn a_slow_stage_holds_back_only_the_stages_after_it() {
    // Two slots: `slow` (a loop its 3 s limit stops) beside a chain of three quick
    // stages. Run in waves, the chain's second stage would wait for `slow`; scheduled
    // by readiness, the whole chain ends while `slow` still runs.
    let (hostile, echo) = (component("hostile"), component("echo"));
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "s"
namespace = "n"

[[stage]]
name = "slow"
component = "{hostile}"
writes = "k/slow"
config = {{ mode = "loop" }}
limits = {{ timeout = "3s" }}

[[stage]]
name = "a"
component = "{echo}"
writes = "k/a"

[[stage]]
name = "b"
component = "{echo}"
reads = ["k/a"]
writes = "k/b"
config = {{ reads = ["k/a"] }}

[[stage]]
name = "c"
component = "{echo}"
reads = ["k/b"]
writes = "k/c"
config = {{ reads = ["k/b"] }}
"#,
        hostile = hostile.display(),
        echo = echo.display()
    ));
    let out = p.run(&["run", "-j", "2"]);
    assert_eq!(out.code(), 6, "{}", out.stderr());
    let ended: Vec<String> = out
        .stderr()
        .lines()
        .filter_map(|l| l.trim().split_once("] ").map(|(_, rest)| rest.to_owned()))
        .map(|rest| rest.split_whitespace().last().unwrap().to_owned())
        .collect();
    assert_eq!(ended, ["a", "b", "c", "slow"], "{}", out.stderr());
}
