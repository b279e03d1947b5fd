//! The performance gates as one gate component: `measurable-slos`,
//! `latency-budgets`, `growth-capacity`, `cache-invalidation` (the performance
//! architect's four quality gates) and `budgets-met` (the budget check's). The rule is
//! the gate's `config.rule`, or else its name. The rules live in
//! `baton_performance::gates`, where they are tested natively.

use baton_performance::gates;
use baton_sdk::serde_json::Value;
use baton_sdk::{Finding, Gate, Inputs, export_gate};

struct PerformanceGates;

impl Gate for PerformanceGates {
    fn check(gate: &str, document: &Value, inputs: &Inputs, config: &Value) -> Vec<Finding> {
        let rule = config.get("rule").and_then(Value::as_str).unwrap_or(gate);
        gates::check(rule, document, &|key| inputs.get(key).cloned())
            .into_iter()
            .map(|f| Finding::new(f.pointer, f.expected, f.actual, f.message))
            .collect()
    }
}

export_gate!(PerformanceGates);
