//! The JSON Schemas of the performance architect's documents: generated from the
//! types in `baton-performance` (so they are documented field by field from the same
//! doc comments), checked in under `schemas/` (`BATON_BLESS=1` rewrites them), each
//! with an example that validates, and every example input of both systems valid.

use std::path::PathBuf;

use baton_performance::inputs::{Analysis, Data, Integration, Measurements, Requirements, System};
use baton_performance::{Inputs, budget, derive, loadtest};
use serde_json::{Value, json};

use crate::harness::repo_root;
use crate::pipeline_golden::compare;

/// The example systems under `examples/`.
pub(crate) const SYSTEMS: [&str; 4] = ["webshop", "telemetry", "freight", "ledger"];

/// The documents each example system has: the five inputs and the measurements.
pub(crate) const DOCUMENTS: [&str; 6] = [
    "requirements",
    "analysis",
    "system",
    "data",
    "integration",
    "measurements",
];

pub(crate) fn example(system: &str, name: &str) -> Value {
    let path = repo_root().join(format!("examples/{system}/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

pub(crate) fn inputs(system: &str) -> Inputs {
    let typed = |name| example(system, name);
    Inputs {
        requirements: serde_json::from_value::<Requirements>(typed("requirements")).unwrap(),
        analysis: serde_json::from_value::<Analysis>(typed("analysis")).unwrap(),
        system: serde_json::from_value::<System>(typed("system")).unwrap(),
        data: serde_json::from_value::<Data>(typed("data")).unwrap(),
        integration: serde_json::from_value::<Integration>(typed("integration")).unwrap(),
    }
}

/// Each schema file and what it must hold: the generated schema with the web shop's
/// document as its example.
fn expected() -> Vec<(PathBuf, Value)> {
    let arch = derive(&inputs("webshop")).unwrap();
    let measured: Measurements =
        serde_json::from_value(example("webshop", "measurements")).unwrap();
    baton_performance::schema::all()
        .into_iter()
        .map(|(file, mut schema)| {
            let name = file.trim_end_matches(".schema.json");
            let sample = match name {
                "performance" => serde_json::to_value(&arch).unwrap(),
                "load-test-plan" => serde_json::to_value(loadtest::plan(&arch)).unwrap(),
                "budget-report" => serde_json::to_value(budget::check(&arch, &measured)).unwrap(),
                input => example("webshop", input),
            };
            schema["examples"] = json!([sample]);
            (repo_root().join("schemas").join(file), schema)
        })
        .collect()
}

#[test]
fn the_checked_in_document_schemas_match_the_types() {
    let mut failures = Vec::new();
    for (path, schema) in expected() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        compare(&path, &text, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "stale schemas (BATON_BLESS=1 rewrites them):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_schema_documents_its_fields_and_its_examples_validate() {
    for (path, schema) in expected() {
        let validator = jsonschema::validator_for(&schema).unwrap();
        for sample in schema["examples"].as_array().unwrap() {
            let errors: Vec<String> = validator
                .iter_errors(sample)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{path:?}: its example does not validate: {errors:?}"
            );
        }
        // Field by field: every property of every object type has a description.
        let mut undocumented = Vec::new();
        walk(&schema, "", &mut undocumented);
        assert!(
            undocumented.is_empty(),
            "{path:?}: undocumented fields: {undocumented:?}"
        );
    }
}

fn walk(node: &Value, at: &str, undocumented: &mut Vec<String>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            if prop.get("description").is_none() {
                undocumented.push(format!("{at}/{name}"));
            }
            walk(prop, &format!("{at}/{name}"), undocumented);
        }
    }
    if let Some(defs) = node.get("$defs").and_then(Value::as_object) {
        for (name, def) in defs {
            walk(def, &format!("#/$defs/{name}"), undocumented);
        }
    }
}

#[test]
fn the_example_inputs_of_both_systems_satisfy_their_schemas() {
    for system in SYSTEMS {
        for name in DOCUMENTS {
            let path = repo_root().join(format!("schemas/{name}.schema.json"));
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let doc = example(system, name);
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "examples/{system}/{name}.json: {errors:?}"
            );
        }
    }
}
