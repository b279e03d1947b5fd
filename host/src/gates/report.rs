//! A gate report: for people as a table, for machines as JSON.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pipeline::Severity;

/// One problem a gate found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The JSON pointer of the offending part of the document.
    pub pointer: String,
    /// What the gate expected there.
    pub expected: String,
    /// What it found (abbreviated).
    pub actual: String,
    /// A sentence for people.
    pub message: String,
}

/// One gate's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name.
    pub name: String,
    /// The sentence it enforces.
    pub rule: String,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// Whether the document passed (an unchecked gate never fails).
    pub passed: bool,
    /// Prose only: nothing checked this rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchecked: bool,
    /// A person checks this rule ([`crate::admission`] holds the document for them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval: bool,
    /// What it found; empty when it passed.
    pub findings: Vec<Finding>,
}

/// Every gate's verdict on one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// The stage whose gates these are.
    pub stage: String,
    /// The key the document is bound for.
    pub key: String,
    /// True unless an error-severity gate failed.
    pub passed: bool,
    /// Enforced gates passed.
    pub gates_passed: usize,
    /// Gates that are prose only: listed, never checked.
    #[serde(default)]
    pub unchecked: usize,
    /// Error-severity gates failed.
    pub errors: usize,
    /// Warning-severity gates failed.
    pub warnings: usize,
    /// Each gate.
    pub gates: Vec<GateResult>,
}

impl GateReport {
    pub(super) fn new(stage: &str, key: &str, gates: Vec<GateResult>) -> Self {
        let failed = |s: Severity| {
            gates
                .iter()
                .filter(|g| !g.passed && g.severity == s)
                .count()
        };
        let (errors, warnings) = (failed(Severity::Error), failed(Severity::Warning));
        Self {
            stage: stage.into(),
            key: key.into(),
            passed: errors == 0,
            gates_passed: gates
                .iter()
                .filter(|g| g.passed && !g.unchecked && !g.approval)
                .count(),
            unchecked: gates.iter().filter(|g| g.unchecked).count(),
            errors,
            warnings,
            gates,
        }
    }
}

impl GateReport {
    /// The report on a document for a key with no gates: it passes.
    pub fn empty(stage: &str, key: &str) -> Self {
        Self::new(stage, key, Vec::new())
    }

    /// A person's rejection of a held document, as a report of its failed approval
    /// gates: it goes back to an agent as findings, as a refused gate's do.
    pub fn rejected(held: &GateReport, by: &str, reason: &str) -> Self {
        let gates = held
            .gates
            .iter()
            .filter(|g| g.approval)
            .map(|g| GateResult {
                passed: false,
                findings: vec![Finding {
                    pointer: String::new(),
                    expected: "a person's approval".into(),
                    actual: format!("rejected by {by}"),
                    message: reason.to_owned(),
                }],
                ..g.clone()
            })
            .collect();
        Self::new(&held.stage, &held.key, gates)
    }

    /// The names of the gates that failed, warnings included.
    pub fn failed(&self) -> Vec<&str> {
        self.gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| g.name.as_str())
            .collect()
    }
}

impl fmt::Display for GateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "gates of stage `{}` for `{}`:", self.stage, self.key)?;
        for gate in &self.gates {
            if gate.unchecked {
                writeln!(
                    f,
                    "  ----  {}  ({}) unchecked: prose only",
                    gate.name, gate.rule
                )?;
                continue;
            }
            if gate.approval && gate.passed {
                writeln!(
                    f,
                    "  wait  {}  ({}) a person approves or rejects it",
                    gate.name, gate.rule
                )?;
                continue;
            }
            let verdict = match (gate.passed, gate.severity) {
                (true, _) => "pass",
                (false, Severity::Error) => "FAIL",
                (false, Severity::Warning) => "warn",
            };
            writeln!(f, "  {verdict}  {}  ({})", gate.name, gate.rule)?;
            for finding in &gate.findings {
                let at = if finding.pointer.is_empty() {
                    "(document)"
                } else {
                    &finding.pointer
                };
                writeln!(
                    f,
                    "        at {at}: {} [expected {}, found {}]",
                    finding.message, finding.expected, finding.actual
                )?;
            }
        }
        write!(
            f,
            "{}: {} passed, {} failed, {} warning{}",
            if self.passed { "passed" } else { "blocked" },
            self.gates_passed,
            self.errors,
            self.warnings,
            if self.warnings == 1 { "" } else { "s" }
        )?;
        // Prose-only gates are counted too: "0 passed, 0 failed" alone would read as
        // a document that had nothing to pass.
        let unchecked = self.gates.iter().filter(|g| g.unchecked).count();
        if unchecked > 0 {
            write!(f, ", {unchecked} unchecked (prose only)")?;
        }
        Ok(())
    }
}

/// A JSON value shortened for a report line.
pub(super) fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}
