//! A gate component for the host's tests. The gate's name picks the rule:
//!
//! - `max-items`: the array at `config.pointer` has at most `config.max` items;
//! - `inputs-agree`: `/count` equals the number of items in the input at `config.key`
//!   (a cross-reference to an input);
//! - `loop`: never returns (the host's time limit must stop it);
//! - `panic`: panics;
//! - `finding-flood`: a million findings; `huge-finding`: one with a 50 MB message
//!   (the host's limits must refuse both).
//!
//! Any other name is a finding: a gate never passes a rule it does not know.

use baton_sdk::serde_json::Value;
use baton_sdk::{Finding, Gate, Inputs, export_gate};

struct TestGate;

impl Gate for TestGate {
    fn check(gate: &str, document: &Value, inputs: &Inputs, config: &Value) -> Vec<Finding> {
        match gate {
            "max-items" => {
                let pointer = config["pointer"].as_str().unwrap_or("");
                let max = config["max"].as_u64().unwrap_or(0) as usize;
                match document.pointer(pointer).and_then(Value::as_array) {
                    None => vec![Finding::new(
                        pointer,
                        "an array",
                        "nothing",
                        "no array here",
                    )],
                    Some(items) if items.len() > max => vec![Finding::new(
                        pointer,
                        format!("at most {max} items"),
                        format!("{} items", items.len()),
                        format!("{} items, over the limit of {max}", items.len()),
                    )],
                    Some(_) => Vec::new(),
                }
            }
            "inputs-agree" => {
                let key = config["key"].as_str().unwrap_or("");
                let Some(input) = inputs.get(key) else {
                    return vec![Finding::new(
                        "",
                        format!("input `{key}`"),
                        "none",
                        "input missing",
                    )];
                };
                let expected = input["items"].as_array().map_or(0, Vec::len) as u64;
                match document["count"].as_u64() {
                    Some(n) if n == expected => Vec::new(),
                    other => vec![Finding::new(
                        "/count",
                        expected.to_string(),
                        format!("{other:?}"),
                        format!("`count` must equal the items in `{key}`"),
                    )],
                }
            }
            "loop" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "panic" => panic!("the test gate panics on purpose"),
            "finding-flood" => (0..1_000_000)
                .map(|i| Finding::new(format!("/{i}"), "", "", ""))
                .collect(),
            "huge-finding" => vec![Finding::new("", "", "", "z".repeat(50 << 20))],
            other => vec![Finding::new(
                "",
                "a known rule",
                other,
                format!("unknown rule `{other}`"),
            )],
        }
    }
}

export_gate!(TestGate);
