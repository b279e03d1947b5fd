//! Stages and gates in Python, built with the pinned componentize-py
//! (`guest/python/requirements.txt`) through `guest/python/build.py`: the mixed example
//! pipeline (a Rust stage, a Python stage with a Python gate, a JavaScript stage) end
//! to end, hostile Python
//! stages each contained with its reason, and the Python scaffold from an empty folder
//! outside the checkout to a passing `stage run`. Without componentize-py the tests
//! say so and skip, except in CI (`CI` or `BATON_REQUIRE_PYTHON_STAGES` set), where
//! its absence fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::repo_root;

/// Whether componentize-py is installed.
pub(crate) fn componentize_py() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import componentize_py"])
        .status()
        .is_ok_and(|s| s.success());
    crate::harness::present_or_skip(
        found,
        "componentize-py (python3 -m pip install -r guest/python/requirements.txt)",
        "BATON_REQUIRE_PYTHON_STAGES",
    )
}

/// Builds the Python component `app` (world `world`) from folder `path` into
/// `guest/target/python/<out>.wasm`.
fn build(world: &str, app: &str, path: &Path, out: &str) -> PathBuf {
    let root = repo_root();
    let wasm = root.join("guest/target/python").join(format!("{out}.wasm"));
    let status = Command::new("python3")
        .arg(root.join("guest/python/build.py"))
        .args(["--world", world, "--app", app, "--wit"])
        .arg(root.join("wit"))
        .arg("--out")
        .arg(&wasm)
        .arg("--path")
        .arg(path)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "building {app} failed");
    wasm
}

fn stage<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {summary}"))
}

#[test]
fn the_mixed_example_runs_rust_python_and_js_stages_with_a_python_gate() {
    if !componentize_py() || !crate::js_stages::componentize_js() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let store = store.path().join("store");
    let baton = |args: &[&str]| crate::harness::baton_in_repo(&store, args);
    let (code, stdout, stderr) = baton(&[
        "run",
        "--pipeline",
        "examples/mixed/pipeline.toml",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    for name in ["inventory", "capacity", "report"] {
        assert_eq!(
            stage(&summary, name)["outcome"]["status"],
            "passed",
            "{summary}"
        );
    }
    assert_eq!(stage(&summary, "capacity")["gates"], json!([1, 1]));
    let (_, stdout, _) = baton(&["memory", "retrieve", "coding/mixed/capacity", "--json"]);
    let stored: Value = serde_json::from_str(&stdout).unwrap();
    let by_kind = &stored["value"]["usable_rps_by_kind"];
    assert_eq!(by_kind["gateway"], 3500.0, "5000 rps at 0.7: {stored}");
    assert_eq!(
        stored["provenance"]["gate_report"]["gates"][0]["passed"],
        true
    );
    let (_, stdout, _) = baton(&["memory", "retrieve", "coding/mixed/report"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["largest"], "gateway", "{report}");
    // The components of the example system that state no capacity, sorted.
    let system: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/webshop/system.json")).unwrap(),
    )
    .unwrap();
    let mut unrated: Vec<&str> = system["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("capacity_rps").is_none())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    unrated.sort();
    assert_eq!(unrated.len(), 3);
    assert_eq!(report["unrated"], json!(unrated), "{report}");
    assert_eq!(
        report["total_usable_rps"], 7140.0,
        "0.7 × 10,200 rps: {report}"
    );
    let (_, stdout, _) = baton(&["events", "--json"]);
    assert!(
        stdout.contains("agent.capacity.capacityComputed"),
        "the Python stage's milestone is recorded"
    );
    // The Python gate refuses a document with a kind of no capacity.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        bad.path(),
        json!({"usable_rps_by_kind": {"cache": 0, "service": 10}}).to_string(),
    )
    .unwrap();
    let (code, stdout, stderr) = baton(&[
        "gate",
        "check",
        "--pipeline",
        "examples/mixed/pipeline.toml",
        "--stage",
        "capacity",
        bad.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(7), "{stdout}{stderr}");
    assert!(
        stdout.contains("/usable_rps_by_kind/cache: kind `cache` has no usable capacity"),
        "{stdout}"
    );
}

#[test]
fn hostile_python_stages_are_contained_each_with_its_reason() {
    if !componentize_py() {
        return;
    }
    let root = repo_root();
    let hostile = build(
        "stage",
        "hostile",
        &root.join("guest/test-stages/hostile-py"),
        "hostile_py",
    );
    crate::harness::assert_runs_start_fresh(&hostile);
    let (_p, detail) = crate::harness::run_hostile(&hostile);
    assert!(
        detail("loop").contains("timed out after 3s"),
        "{}",
        detail("loop")
    );
    let bomb = detail("memory-bomb");
    assert!(
        bomb.contains("ran out of memory") || bomb.contains("MemoryError"),
        "{bomb}"
    );
    let denied = detail("undeclared-read");
    assert!(denied.contains("secrets/api-token"), "{denied}");
    let raised = detail("exception");
    assert!(
        raised.starts_with("stage `exception` ")
            && raised.contains("Traceback")
            && raised.contains("KeyError: 'no such field: `components`'"),
        "{raised}"
    );
    let sdk = detail("sdk-exception");
    assert!(
        sdk.contains("ZeroDivisionError") && sdk.contains("in run"),
        "{sdk}"
    );
    assert!(
        detail("not-json").contains("not JSON"),
        "{}",
        detail("not-json")
    );
}

#[test]
fn the_python_scaffold_builds_and_runs_from_an_empty_folder() {
    if !componentize_py() {
        return;
    }
    let (_outside, dir, printed) = crate::harness::scaffold("my-stage", "python");
    // Each step as the scaffold printed it.
    let step = |prefix: &str| crate::harness::printed_step(&printed, prefix);
    let sh = |command: &str| crate::harness::shell_ok(&dir, command);
    assert!(sh(&step("python3 -m pytest")).contains("2 passed"));
    sh(&step("python3 build.py"));
    // Against the default pipeline's example data.
    crate::harness::run_scaffolded(&dir, &printed);
}

#[test]
fn the_python_sdk_passes_its_own_native_tests() {
    if !componentize_py() {
        return;
    }
    let out = Command::new("python3")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "guest/python",
        ])
        .current_dir(repo_root())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed"), "{text}");
}
