//! Quality gates: the checks a document must pass before it is stored at a gated key.
//!
//! A stage's gates come from `pipeline.toml`: a name, the sentence it enforces, a
//! severity, and a check. [`StageGates::compile`] compiles each JSON Schema once;
//! [`StageGates::check`] applies them to a document (whole, or the part at a JSON
//! pointer) and returns a [`GateReport`]: every gate with pass or fail and its findings
//! (JSON pointer, what was expected, what was found). An error-severity failure blocks
//! the document; a warning only reports. The same check runs for a stage's output and
//! for a document stored from outside (`baton memory store`, `import`).
//!
//! Gate components (the WIT `gate` world) are declared and checked in `pipeline.toml`
//! but not run yet: [`StageGates::compile`] refuses them with an error that says so,
//! rather than letting a document through unchecked.

mod report;

use serde_json::Value;

pub use report::{Finding, GateReport, GateResult};

use crate::pipeline::{GateCheck, Severity, Stage};

/// A stage's gates, compiled.
pub struct StageGates {
    stage: String,
    key: String,
    gates: Vec<CompiledGate>,
}

struct CompiledGate {
    name: String,
    rule: String,
    severity: Severity,
    pointer: String,
    validator: std::sync::Arc<jsonschema::Validator>,
}

impl StageGates {
    /// Compiles `stage`'s gates.
    pub fn compile(stage: &Stage) -> anyhow::Result<Self> {
        let mut gates = Vec::new();
        for gate in &stage.gates {
            match &gate.check {
                GateCheck::Schema {
                    validator, pointer, ..
                } => {
                    gates.push(CompiledGate {
                        name: gate.name.clone(),
                        rule: gate.rule.clone(),
                        severity: gate.severity,
                        pointer: pointer.clone(),
                        validator: validator.clone(),
                    });
                }
                GateCheck::Component { path, .. } => anyhow::bail!(
                    "gate `{}` of stage `{}` is a gate component ({path:?}); running gate components is not implemented yet",
                    gate.name,
                    stage.name
                ),
            }
        }
        Ok(Self {
            stage: stage.name.clone(),
            key: stage.writes.clone(),
            gates,
        })
    }

    /// Whether the stage has any gate.
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// Checks `document` against every gate.
    pub fn check(&self, document: &Value) -> GateReport {
        let results = self
            .gates
            .iter()
            .map(|gate| {
                let findings = match document.pointer(&gate.pointer) {
                    None => vec![Finding {
                        pointer: gate.pointer.clone(),
                        expected: "a value".into(),
                        actual: "nothing".into(),
                        message: format!("the document has nothing at {:?}", gate.pointer),
                    }],
                    Some(part) => gate
                        .validator
                        .iter_errors(part)
                        .map(|e| Finding {
                            pointer: format!("{}{}", gate.pointer, e.instance_path()),
                            expected: format!("schema {}", e.schema_path()),
                            actual: report::abbreviate(e.instance()),
                            message: e.to_string(),
                        })
                        .collect(),
                };
                GateResult {
                    name: gate.name.clone(),
                    rule: gate.rule.clone(),
                    severity: gate.severity,
                    passed: findings.is_empty(),
                    findings,
                }
            })
            .collect();
        GateReport::new(&self.stage, &self.key, results)
    }
}
