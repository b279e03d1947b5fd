//! Golden files for `pipeline.toml`: each valid manifest with its checked form as JSON,
//! each invalid one with the exact text `baton check` prints. `BATON_BLESS=1` rewrites
//! the expected files from the current output (review the diff before committing).

use std::path::{Path, PathBuf};

use crate::harness::{baton_cmd, repo_root};

fn golden_dir(kind: &str) -> PathBuf {
    repo_root().join("tests/golden/pipeline").join(kind)
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    all.sort();
    all
}

/// Compares `actual` with the expected file, or writes it when blessing.
pub(crate) fn compare(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("BATON_BLESS").is_some() {
        std::fs::write(expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_path)
        .unwrap_or_else(|_| panic!("missing {expected_path:?}: run with BATON_BLESS=1"));
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_path.display()
        ));
    }
}

#[test]
fn invalid_manifests_report_each_problem_with_its_place() {
    let dir = golden_dir("invalid");
    let cases = manifests(&dir);
    assert!(
        cases.len() >= 20,
        "at least 20 invalid manifests, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let out = baton_cmd()
            .current_dir(&dir)
            .args(["check", "--pipeline", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name} must fail the check");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        compare(
            &case.with_extension("err"),
            &String::from_utf8_lossy(&out.stderr),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn valid_manifests_check_into_their_expected_pipelines() {
    let dir = golden_dir("valid");
    let mut failures = Vec::new();
    for case in manifests(&dir) {
        let name = case.file_name().unwrap().to_str().unwrap();
        let out = baton_cmd()
            .current_dir(&dir)
            .args(["check", "--pipeline", name, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        compare(
            &case.with_extension("json"),
            &String::from_utf8_lossy(&out.stdout),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_checked_in_manifest_schema_matches_the_types() {
    let out = baton_cmd().args(["pipeline-schema"]).output().unwrap();
    assert!(out.status.success());
    let mut failures = Vec::new();
    compare(
        &repo_root().join("schemas/pipeline.schema.json"),
        &String::from_utf8_lossy(&out.stdout),
        &mut failures,
    );
    assert!(
        failures.is_empty(),
        "schemas/pipeline.schema.json is stale: {}",
        failures.join("\n")
    );
}

#[test]
fn the_valid_golden_manifests_satisfy_the_manifest_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/pipeline.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for case in manifests(&golden_dir("valid"))
        .into_iter()
        .chain([repo_root().join("pipeline.toml")])
    {
        let doc: toml::Value = toml::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
        let doc = serde_json::to_value(doc).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{case:?}: {errors:?}");
    }
}

#[test]
fn stages_sharing_a_gate_schema_share_one_compiled_validator() {
    use baton::pipeline::{GateCheck, Pipeline};
    let pipeline = Pipeline::load(&repo_root().join("pipeline.toml")).expect("it checks");
    let shared: Vec<_> = pipeline
        .stages
        .iter()
        .flat_map(|s| &s.gates)
        .filter_map(|g| match &g.check {
            GateCheck::Schema { path, schema, .. }
                if path.ends_with("schemas/performance.schema.json") =>
            {
                Some(schema.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        shared.len(),
        pipeline.partitions.len(),
        "each partition's architect stage gates on the schema"
    );
    assert!(shared.len() >= 3);
    assert!(
        shared.iter().all(|v| std::sync::Arc::ptr_eq(&shared[0], v)),
        "compiled once per load, not once per stage"
    );
    assert!(shared[0].validator().is_ok(), "`load` compiled it");
}
