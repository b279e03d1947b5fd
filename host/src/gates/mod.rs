//! Quality gates: the checks a document must pass before it is stored at a gated key.
//!
//! A stage's gates come from `pipeline.toml`: a name, the sentence it enforces, a
//! severity, and a check: a JSON Schema (compiled once, when the manifest is checked)
//! applied to the whole document or the part at a JSON pointer, or a gate component
//! (the WIT `gate` world) that receives the document, the stage's inputs and its
//! configuration, for rules that need arithmetic or cross-references.
//! [`StageGates::check`] returns a [`GateReport`]: every gate with pass or fail and
//! its findings (JSON pointer, what was expected, what was found). An error-severity
//! failure blocks the document; a warning only reports. A gate component that traps,
//! runs out of time or memory fails its gate: a gate that cannot answer never lets a
//! document through. Gate components run under their stage's limits. The same check
//! runs for a stage's output and for a document stored from outside (`baton memory
//! store`, `agent output`, `import`). A gate with neither (an imported agent's prose
//! rule) is unchecked: it appears in every report as such and never blocks. An
//! approval gate is a person's: the report lists it as awaiting them, and
//! [`crate::admission`] holds a document the other gates admit until they decide.

mod report;

use std::sync::Arc;

use serde_json::Value;

pub use report::{Finding, GateReport, GateResult};

use crate::memory::{Key, Namespace, Store};
use crate::pipeline::{GateCheck, Schema, Severity, Stage};
use crate::runtime::{GateInput, GatePlugin, Grant, Limits, Read, Runtime};

/// A stage's gates, compiled.
pub struct StageGates {
    stage: String,
    key: String,
    /// The stage's limits, which its gate components run under too.
    limits: Limits,
    gates: Vec<CompiledGate>,
}

struct CompiledGate {
    name: String,
    rule: String,
    severity: Severity,
    check: Check,
}

enum Check {
    Schema {
        pointer: String,
        /// Compiled: [`StageGates::compile`] made sure of it.
        schema: Arc<Schema>,
    },
    Component {
        plugin: Arc<GatePlugin>,
        config: Value,
    },
    /// Prose only: reported, never checked.
    Unchecked,
    /// A person checks it: reported as awaiting approval, never failed here.
    Approval,
}

impl StageGates {
    /// Whether `stage` has a gate component, and so needs a [`Runtime`] to compile.
    pub fn need_runtime(stage: &Stage) -> bool {
        stage
            .gates
            .iter()
            .any(|g| matches!(g.check, GateCheck::Component { .. }))
    }

    /// Compiles `stage`'s gates; gate components are built (if they have a build
    /// command) and loaded into `runtime`, which they need. Gates sharing one
    /// component (one file serving several rules) load it once.
    pub fn compile(stage: &Stage, runtime: Option<&Runtime>) -> anyhow::Result<Self> {
        let mut gates = Vec::new();
        let mut loaded: Vec<(&std::path::Path, Arc<GatePlugin>)> = Vec::new();
        for gate in &stage.gates {
            let check = match &gate.check {
                GateCheck::Unchecked => Check::Unchecked,
                GateCheck::Approval => Check::Approval,
                GateCheck::Schema {
                    path,
                    schema,
                    pointer,
                } => {
                    // Compiled now if the manifest was loaded for a write, so that a
                    // schema that does not compile refuses the write that needs it.
                    if let Err(e) = schema.validator() {
                        anyhow::bail!(
                            "schema {path:?} of gate `{}` of stage `{}`{e}",
                            gate.name,
                            stage.name
                        );
                    }
                    Check::Schema {
                        pointer: pointer.clone(),
                        schema: schema.clone(),
                    }
                }
                GateCheck::Component {
                    path,
                    config,
                    build,
                } => {
                    let what = format!("gate `{}` of stage `{}`", gate.name, stage.name);
                    let runtime = runtime.ok_or_else(|| {
                        anyhow::anyhow!("{what} is a gate component and needs the runtime")
                    })?;
                    if let Some(build) = build {
                        build.ensure(&what)?;
                    }
                    let plugin = match loaded.iter().find(|(p, _)| p == path) {
                        Some((_, plugin)) => plugin.clone(),
                        None => {
                            let (plugin, _) = runtime
                                .load_gate(path)
                                .map_err(|e| anyhow::anyhow!("{what}: {e:#}"))?;
                            let plugin = Arc::new(plugin);
                            loaded.push((path, plugin.clone()));
                            plugin
                        }
                    };
                    Check::Component {
                        plugin,
                        config: config.clone(),
                    }
                }
            };
            gates.push(CompiledGate {
                name: gate.name.clone(),
                rule: gate.rule.clone(),
                severity: gate.severity,
                check,
            });
        }
        Ok(Self {
            stage: stage.name.clone(),
            key: stage.key().to_owned(),
            limits: stage.limits.clone(),
            gates,
        })
    }

    /// Whether the stage has any gate.
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// Whether a person approves a document the other gates admit before it is stored.
    pub fn awaits_approval(&self) -> bool {
        self.gates
            .iter()
            .any(|g| matches!(g.check, Check::Approval))
    }

    /// Whether a gate component is among the gates: only those see the inputs, so
    /// callers fetch inputs only then.
    pub fn needs_inputs(&self) -> bool {
        self.gates
            .iter()
            .any(|g| matches!(g.check, Check::Component { .. }))
    }

    /// Checks `document` against every gate; gate components also see `inputs`.
    pub fn check(&self, document: &Value, inputs: &[GateInput]) -> GateReport {
        let mut text = None;
        let results = self
            .gates
            .iter()
            .map(|gate| {
                let findings = match &gate.check {
                    Check::Unchecked | Check::Approval => Vec::new(),
                    Check::Schema { pointer, schema } => {
                        let validator = schema.validator().expect("compiled with the gates");
                        schema_findings(document, pointer, validator)
                    }
                    Check::Component { plugin, config } => {
                        let text = text.get_or_insert_with(|| document.to_string());
                        match plugin.check(
                            &self.stage,
                            &gate.name,
                            text,
                            inputs,
                            config,
                            &self.limits,
                        ) {
                            Ok(found) => found
                                .into_iter()
                                .map(|f| Finding {
                                    pointer: f.pointer,
                                    expected: f.expected,
                                    actual: f.actual,
                                    message: f.message,
                                })
                                .collect(),
                            Err(failure) => vec![Finding {
                                pointer: String::new(),
                                expected: "the gate component to answer".into(),
                                actual: failure.kind.code().into(),
                                message: failure.to_string(),
                            }],
                        }
                    }
                };
                GateResult {
                    name: gate.name.clone(),
                    rule: gate.rule.clone(),
                    severity: gate.severity,
                    passed: findings.is_empty(),
                    unchecked: matches!(gate.check, Check::Unchecked),
                    approval: matches!(gate.check, Check::Approval),
                    findings,
                }
            })
            .collect();
        GateReport::new(&self.stage, &self.key, results)
    }
}

fn schema_findings(
    document: &Value,
    pointer: &str,
    validator: &jsonschema::Validator,
) -> Vec<Finding> {
    match document.pointer(pointer) {
        None => vec![Finding {
            pointer: pointer.to_owned(),
            expected: "a value".into(),
            actual: "nothing".into(),
            message: format!("the document has nothing at {pointer:?}"),
        }],
        Some(part) => validator
            .iter_errors(part)
            .map(|e| Finding {
                pointer: format!("{pointer}{}", e.instance_path()),
                expected: format!("schema {}", e.schema_path()),
                actual: report::abbreviate(e.instance()),
                message: e.to_string(),
            })
            .collect(),
    }
}

/// The inputs a stage run read, at the revisions it read: what its gates see.
pub fn inputs_read(memory: &dyn Store, reads: &[Read]) -> anyhow::Result<Vec<GateInput>> {
    let mut out = Vec::new();
    for read in reads {
        let Some(revision) = read.revision else {
            continue;
        };
        if out
            .iter()
            .any(|i: &GateInput| i.namespace == read.namespace && i.key == read.key)
        {
            continue;
        }
        let (ns, key) = (
            Namespace::new(read.namespace.clone())?,
            Key::new(read.key.clone())?,
        );
        if let Some(entry) = memory
            .get_revision(&ns, &key, revision)?
            .filter(|e| !e.meta.deleted)
        {
            out.push(GateInput {
                namespace: read.namespace.clone(),
                key: read.key.clone(),
                value: String::from_utf8_lossy(&entry.value).into_owned(),
            });
        }
    }
    Ok(out)
}

/// The live documents a stage declares it reads: what its gates see when a document
/// for its key comes from outside (`baton memory store`, `import`, `gate check`).
pub fn inputs_declared(memory: &dyn Store, stage: &Stage) -> anyhow::Result<Vec<GateInput>> {
    Ok(read_declared(memory, stage)?
        .into_iter()
        .filter_map(|(namespace, key, entry)| {
            entry.map(|e| GateInput {
                namespace,
                key,
                value: String::from_utf8_lossy(&e.value).into_owned(),
            })
        })
        .collect())
}

/// Every key `stage` declares it reads, as `memory` holds it now: each key of a
/// prefix grant that exists, and each single key with its live entry or `None`.
pub fn read_declared(
    memory: &dyn Store,
    stage: &Stage,
) -> anyhow::Result<Vec<(String, String, Option<crate::memory::Entry>)>> {
    let mut out = Vec::new();
    for Grant {
        namespace,
        key,
        prefix,
    } in stage.reads.0.iter()
    {
        let ns = Namespace::new(namespace.clone())?;
        let keys = if *prefix {
            memory
                .list(Some(&ns), key)?
                .into_iter()
                .map(|m| m.key)
                .collect()
        } else {
            vec![key.clone()]
        };
        for k in keys {
            let entry = memory.get(&ns, &Key::new(k.clone())?)?;
            out.push((namespace.clone(), k, entry));
        }
    }
    Ok(out)
}
