//! The views front ends show, each one `Serialize` type: a checked pipeline
//! (`check --json`), a pipeline with every stage's state (the UI's graph), a stage's
//! page (its output, provenance, history, runs and quarantine), an entry with its
//! history, and the changes between two revisions. A front end prints or sends them
//! as they are, so the CLI, the UI and MCP show one shape of each.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ErrorKind, EventFilter, Result, Service, StageState, StageStatus, find_stage};
use crate::memory::{EntryMeta, Key, Namespace, Store, Timestamp};
use crate::pipeline::{GateCheck, Pipeline, Problem, Severity, Stage};
use crate::records::{Event, Provenance, Quarantined};

/// A pipeline as `baton check --json` shows it, paths relative to its folder.
#[derive(Debug, Serialize)]
pub struct CheckedPipeline {
    /// Always true: the pipeline checked.
    pub ok: bool,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Revisions kept per key, if it says.
    pub retention: Option<u64>,
    /// Its inputs.
    pub inputs: Vec<InputFile>,
    /// What deserves a word but does not stop it.
    pub warnings: Vec<ProblemView>,
    /// Its stages, in order.
    pub stages: Vec<CheckedStage>,
    /// Its partition keys, if it is partitioned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
}

/// A pipeline input and the file it is seeded from.
#[derive(Debug, Serialize)]
pub struct InputFile {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
    /// The file, relative to the manifest's folder.
    pub file: String,
}

/// A problem (or warning) at its place in a file.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemView {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl From<&Problem> for ProblemView {
    fn from(p: &Problem) -> Self {
        Self {
            file: p.file.clone(),
            line: p.line,
            column: p.column,
            message: p.message.clone(),
        }
    }
}

/// The problems of a pipeline that does not check.
#[derive(Debug, Serialize)]
pub struct FailedCheck {
    /// Always false.
    pub ok: bool,
    /// Every problem.
    pub problems: Vec<ProblemView>,
}

/// A checked stage.
#[derive(Debug, Serialize)]
pub struct CheckedStage {
    /// Its name.
    pub name: String,
    /// The partition it runs for, if it is one partition's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Its agent's name.
    pub agent: String,
    /// Its phase.
    pub phase: Option<u32>,
    /// Its agent number.
    pub agent_number: Option<u32>,
    /// Produced outside baton.
    pub external: bool,
    /// Its component, relative to the manifest's folder.
    pub component: Option<String>,
    /// What it may read.
    pub reads: Vec<String>,
    /// `namespace:key` it writes.
    pub writes: Option<String>,
    /// The stages it runs after.
    pub after: Vec<String>,
    /// Its configuration.
    pub config: Value,
    /// Its limits.
    pub limits: LimitsView,
    /// The agent definition it was imported from.
    pub source: Option<String>,
    /// Its gates, counted.
    pub gate_counts: crate::pipeline::GateCounts,
    /// Its gates.
    pub gates: Vec<CheckedGate>,
}

/// A stage's limits.
#[derive(Debug, Serialize)]
pub struct LimitsView {
    /// Wall-clock time.
    pub timeout_ms: u64,
    /// Linear memory.
    pub memory_bytes: u64,
    /// The output's size.
    pub output_bytes: u64,
}

/// A gate and how it checks.
#[derive(Debug, Serialize)]
pub struct CheckedGate {
    /// Its name.
    pub name: String,
    /// The sentence it enforces.
    pub rule: String,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// How it checks.
    pub check: CheckView,
}

/// How a gate checks, as `check --json` says it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CheckView {
    /// A JSON Schema at a pointer.
    Schema {
        /// The schema file.
        schema: String,
        /// Where in the document.
        pointer: String,
    },
    /// A gate component.
    Component {
        /// The component file.
        component: String,
        /// Its configuration.
        config: Value,
    },
    /// Prose only.
    Unchecked {
        /// Always true.
        unchecked: bool,
    },
    /// A person approves the output.
    Approval {
        /// Always true.
        approval: bool,
    },
}

impl CheckedPipeline {
    /// The view of `p`.
    pub fn of(p: &Pipeline) -> Self {
        let rel = |path: &Path| {
            path.strip_prefix(&p.root)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        Self {
            ok: true,
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            retention: p.retention,
            inputs: p
                .inputs
                .iter()
                .map(|i| InputFile {
                    namespace: i.namespace.clone(),
                    key: i.key.clone(),
                    file: rel(&i.file),
                })
                .collect(),
            warnings: p.warnings.iter().map(ProblemView::from).collect(),
            partitions: p.partitions.clone(),
            stages: p
                .stages
                .iter()
                .map(|s| CheckedStage {
                    name: s.name.clone(),
                    partition: s.partition.clone(),
                    agent: s.agent_name.clone(),
                    phase: s.phase,
                    agent_number: s.agent_number,
                    external: s.external,
                    component: s.component.as_deref().map(rel),
                    reads: s.reads.0.iter().map(|g| g.to_string()).collect(),
                    writes: s
                        .writes
                        .as_ref()
                        .map(|w| format!("{}:{w}", s.writes_namespace)),
                    after: s.depends_on.clone(),
                    config: s.config.clone(),
                    limits: LimitsView {
                        timeout_ms: s.limits.timeout.as_millis() as u64,
                        memory_bytes: s.limits.memory_bytes as u64,
                        output_bytes: s.limits.output_bytes as u64,
                    },
                    source: s.source.clone(),
                    gate_counts: s.gate_counts(),
                    gates: s
                        .gates
                        .iter()
                        .map(|g| CheckedGate {
                            name: g.name.clone(),
                            rule: g.rule.clone(),
                            severity: g.severity,
                            check: match &g.check {
                                GateCheck::Schema { path, pointer, .. } => CheckView::Schema {
                                    schema: rel(path),
                                    pointer: pointer.clone(),
                                },
                                GateCheck::Component { path, config, .. } => CheckView::Component {
                                    component: rel(path),
                                    config: config.clone(),
                                },
                                GateCheck::Unchecked => CheckView::Unchecked { unchecked: true },
                                GateCheck::Approval => CheckView::Approval { approval: true },
                            },
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A pipeline with every stage's state: the UI's graph.
#[derive(Debug, Serialize)]
pub struct PipelineView {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its manifest.
    pub manifest: PathBuf,
    /// The store it runs against.
    pub store: String,
    /// Its inputs.
    pub inputs: Vec<InputKey>,
    /// Its stages, in order.
    pub stages: Vec<StageView>,
}

/// An input's key.
#[derive(Debug, Serialize)]
pub struct InputKey {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
}

/// A stage with its state, gates and last run.
#[derive(Debug, Serialize)]
pub struct StageView {
    /// Its name: `stage[partition]` for one partition's run.
    pub name: String,
    /// Its name as declared.
    pub declared: String,
    /// The partition it runs for, if it is one partition's.
    pub partition: Option<String>,
    /// Its agent's name.
    pub agent: String,
    /// Its phase.
    pub phase: Option<u32>,
    /// Its agent number.
    pub agent_number: Option<u32>,
    /// Produced outside baton.
    pub external: bool,
    /// The namespace it writes.
    pub namespace: String,
    /// The key it writes.
    pub writes: Option<String>,
    /// What it may read.
    pub reads: Vec<String>,
    /// The stages it runs after.
    pub depends_on: Vec<String>,
    /// Its gates.
    pub gates: Vec<GateView>,
    /// Gates enforced.
    pub enforced: usize,
    /// Gates in prose only.
    pub unchecked: usize,
    /// Where it stands.
    pub state: StageState,
    /// Why, in a sentence.
    pub why: String,
    /// The stages it waits on.
    pub waiting_on: Vec<String>,
    /// Reads no stage writes and the memory does not hold (`namespace:key`).
    pub missing: Vec<String>,
    /// Whether it can run now.
    pub ready: bool,
    /// Whether its output is current.
    pub done: bool,
    /// Whether the last output its gates refused is newer than the stored one.
    pub quarantined: bool,
    /// A worker runs it now (a PostgreSQL store's queue; a local run's stages are
    /// not visible until they commit).
    pub running: bool,
    /// Its stored output's run.
    pub last_run: Option<LastRun>,
    /// Whether it has a renderer.
    pub renders: bool,
    /// What its agent cost for its stored output, in US dollars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// A gate, as a stage view lists it.
#[derive(Debug, Serialize)]
pub struct GateView {
    /// Its name.
    pub name: String,
    /// The sentence it enforces.
    pub rule: String,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// `schema`, `component` or `unchecked`.
    pub kind: &'static str,
}

/// The run behind a stage's stored output.
#[derive(Debug, Serialize)]
pub struct LastRun {
    /// When it was stored.
    pub at: Timestamp,
    /// Its revision.
    pub revision: u64,
    /// The workflow that produced it, if a run did.
    pub workflow: Option<String>,
    /// The agent instance.
    pub agent_id: Option<String>,
}

/// A stage's page: the stage, its output, the history of its key, its last runs'
/// events, and what its gates last refused.
#[derive(Debug, Serialize)]
pub struct StagePage {
    /// The stage.
    pub stage: StageView,
    /// Its stored output.
    pub output: Option<OutputView>,
    /// The output's provenance.
    pub provenance: Option<Provenance>,
    /// The retained revisions of its key.
    pub history: Vec<EntryMeta>,
    /// Its last runs (at most ten), newest first.
    pub runs: Vec<RunEvents>,
    /// Its last refused output.
    pub quarantine: Option<QuarantineView>,
    /// Its output held for a person's approval, or rejected by one.
    pub held: Option<super::HeldOutput>,
}

/// A stored document with its metadata.
#[derive(Debug, Serialize)]
pub struct OutputView {
    /// Its metadata.
    pub meta: EntryMeta,
    /// The document.
    pub value: Value,
}

/// One run's events.
#[derive(Debug, Serialize)]
pub struct RunEvents {
    /// The agent instance of the run.
    pub agent_id: String,
    /// Its events, in order.
    pub events: Vec<Event>,
}

/// A quarantine record and when it was written.
#[derive(Debug, Serialize)]
pub struct QuarantineView {
    /// When.
    pub at: Timestamp,
    /// The record.
    pub record: Quarantined,
}

/// A revision with its provenance and its key's history.
#[derive(Debug, Serialize)]
pub struct EntryView {
    /// Its metadata.
    pub meta: EntryMeta,
    /// The document (null for a deletion).
    pub value: Value,
    /// Its provenance.
    pub provenance: Option<Provenance>,
    /// The key's retained revisions.
    pub history: Vec<EntryMeta>,
}

/// One difference between two documents.
#[derive(Debug, Serialize)]
pub struct Change {
    /// Where, as a JSON pointer.
    pub pointer: String,
    /// `added`, `removed` or `changed`.
    pub op: &'static str,
    /// The value before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The changes between two revisions.
#[derive(Debug, Serialize)]
pub struct Changes {
    /// At most 1,000, in document order.
    pub changes: Vec<Change>,
}

/// A document as its stage's renderer draws it for a page (format `view`): blocks
/// in order. The host reads it into this type, so a renderer can hand the page
/// nothing but these blocks, and the page draws any stage's view the same way.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentView {
    /// The blocks, drawn in order.
    pub blocks: Vec<ViewBlock>,
}

/// One block of a [`DocumentView`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ViewBlock {
    /// A heading.
    Heading(String),
    /// A table of text cells.
    Table {
        /// Column headings.
        headers: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<String>>,
    },
    /// A stacked bar: a whole split into parts.
    Bar {
        /// What it is of.
        title: String,
        /// Said after the title.
        note: String,
        /// A word of warning after the note.
        flag: Option<ViewFlag>,
        /// The whole.
        total: f64,
        /// The parts.
        segments: Vec<ViewSegment>,
    },
    /// A line chart: series of values over the same labels.
    Lines {
        /// What it shows, for people who cannot see it.
        label: String,
        /// The labels along the horizontal axis.
        x: Vec<String>,
        /// One line each.
        series: Vec<ViewSeries>,
    },
}

/// A flag after a bar's note.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFlag {
    /// The words.
    pub text: String,
    /// `fail` or `muted`.
    pub tone: ViewTone,
}

/// How a flag is drawn.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewTone {
    /// A failure.
    Fail,
    /// A caution.
    Muted,
}

/// A part of a bar.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSegment {
    /// What it is.
    pub label: String,
    /// How much.
    pub value: f64,
    /// Of what.
    pub unit: String,
    /// What is left over, drawn grey.
    pub rest: bool,
}

/// One line of a chart.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSeries {
    /// Its name.
    pub name: String,
    /// A value per label.
    pub values: Vec<f64>,
}

impl Service {
    /// The stored output of stage `name` as its renderer draws it for a page; an
    /// error when the stage writes nothing, has no output, no renderer, or a renderer
    /// that offers no `view` (the page then shows the markdown).
    pub fn document_view(&self, pipeline: &Pipeline, name: &str) -> Result<DocumentView> {
        let stage = find_stage(pipeline, name)?;
        let Some((ns, key)) = stage.output() else {
            return Err(super::Error::not_found(format!(
                "stage `{}` writes nothing to draw",
                stage.name
            )));
        };
        let entry = self.retrieve(ns, key, None)?;
        let text = self.render(&entry.json(), ns, key, "view")?;
        serde_json::from_str(&text).map_err(|e| {
            super::Error::new(
                ErrorKind::StageFailed,
                anyhow::anyhow!(
                    "the renderer of stage `{}` returned a view that does not read: {e}",
                    stage.name
                ),
            )
        })
    }

    /// `pipeline` with every stage's state, gates and last run: the UI's graph.
    pub fn pipeline_view(&self, pipeline: &Pipeline) -> Result<PipelineView> {
        let statuses = self.status(pipeline)?;
        let store = self.store()?;
        let stages = pipeline
            .stages
            .iter()
            .zip(statuses)
            .map(|(stage, status)| stage_view(store.as_ref(), stage, status))
            .collect::<Result<_>>()?;
        Ok(PipelineView {
            name: pipeline.name.clone(),
            namespace: pipeline.namespace.clone(),
            manifest: pipeline.path.clone(),
            store: self.location().to_string(),
            inputs: pipeline
                .inputs
                .iter()
                .map(|i| InputKey {
                    namespace: i.namespace.clone(),
                    key: i.key.clone(),
                })
                .collect(),
            stages,
        })
    }

    /// The page of stage `name`: its state, output, history, last runs and
    /// quarantine. An unknown stage is [`ErrorKind::NotFound`].
    pub fn stage_page(&self, pipeline: &Pipeline, name: &str) -> Result<StagePage> {
        let stage = find_stage(pipeline, name).map_err(|e| {
            let mut err = super::Error::not_found(e.message());
            for hint in e.hints() {
                err = err.hint(hint.clone());
            }
            err
        })?;
        let index = pipeline
            .stages
            .iter()
            .position(|s| s.name == stage.name)
            .unwrap_or(0);
        let status = self.status(pipeline)?.swap_remove(index);
        let slot = stage.output();
        // The store is released before the calls below open it again: with no memory
        // server, this process may hold it once at a time.
        let (view, output, quarantine) = {
            let store = self.store()?;
            let output = match &slot {
                Some((ns, key)) => store.get(ns, key)?,
                None => None,
            };
            let quarantine =
                Quarantined::read(store.as_ref(), &stage.name)?.map(|(meta, record)| {
                    QuarantineView {
                        at: meta.written_at,
                        record,
                    }
                });
            (
                stage_view(store.as_ref(), stage, status)?,
                output,
                quarantine,
            )
        };
        let history = match &slot {
            Some((ns, key)) => self.history(ns, key).or_else(|e| match e.kind() {
                ErrorKind::NotFound => Ok(Vec::new()),
                _ => Err(e),
            })?,
            None => Vec::new(),
        };
        let events = self.events(&EventFilter {
            workflow: None,
            agent: None,
            key: None,
            name_prefix: Some(format!("agent.{}.", stage.agent_name)),
        })?;
        // The events of the stage's last runs, newest run first.
        let mut runs: Vec<RunEvents> = Vec::new();
        for e in events {
            match runs.iter_mut().find(|r| r.agent_id == e.agent_id) {
                Some(run) => run.events.push(e),
                None => runs.push(RunEvents {
                    agent_id: e.agent_id.clone(),
                    events: vec![e],
                }),
            }
        }
        runs.reverse();
        runs.truncate(10);
        let held = match stage.awaits_approval() {
            true => self.held_output(&stage.name)?,
            false => None,
        };
        Ok(StagePage {
            held,
            stage: view,
            provenance: output.as_ref().and_then(|e| Provenance::of(&e.meta)),
            output: output.map(|e| OutputView {
                value: e.json(),
                meta: e.meta,
            }),
            history,
            runs,
            quarantine,
        })
    }

    /// Revision `revision` of `key` (the live one by default) with its provenance
    /// and the key's history.
    pub fn entry_view(
        &self,
        ns: &Namespace,
        key: &Key,
        revision: Option<u64>,
    ) -> Result<EntryView> {
        let entry = self.retrieve(ns, key, revision)?;
        let history = self.history(ns, key)?;
        Ok(EntryView {
            provenance: Provenance::of(&entry.meta),
            value: match entry.meta.deleted {
                true => Value::Null,
                false => entry.json(),
            },
            meta: entry.meta,
            history,
        })
    }

    /// What changed from revision `from` of `key` to revision `to`, by JSON pointer
    /// (a deletion reads as null).
    pub fn diff(&self, ns: &Namespace, key: &Key, from: u64, to: u64) -> Result<Changes> {
        let pick = |n: u64| -> Result<Value> {
            let e = self.retrieve(ns, key, Some(n))?;
            Ok(match e.meta.deleted {
                true => Value::Null,
                false => e.json(),
            })
        };
        let (a, b) = (pick(from)?, pick(to)?);
        let mut changes = Vec::new();
        changed(&a, &b, &mut String::new(), &mut changes);
        Ok(Changes { changes })
    }
}

fn gate_views(stage: &Stage) -> Vec<GateView> {
    stage
        .gates
        .iter()
        .map(|g| GateView {
            name: g.name.clone(),
            rule: g.rule.clone(),
            severity: g.severity,
            kind: match g.check {
                GateCheck::Schema { .. } => "schema",
                GateCheck::Component { .. } => "component",
                GateCheck::Unchecked => "unchecked",
                GateCheck::Approval => "approval",
            },
        })
        .collect()
}

fn stage_view(store: &dyn Store, stage: &Stage, status: StageStatus) -> Result<StageView> {
    let output = match stage.output() {
        Some((ns, key)) => store.get(ns, key)?.map(|e| e.meta),
        None => None,
    };
    // Quarantined when the last output its gates refused is newer than the stored one.
    let quarantined = Quarantined::read(store, &stage.name)?
        .is_some_and(|(q, _)| output.as_ref().is_none_or(|o| q.written_at >= o.written_at));
    let last_run = output.map(|meta| {
        let run = Provenance::of(&meta).and_then(|p| p.run);
        LastRun {
            at: meta.written_at,
            revision: meta.revision,
            workflow: run.as_ref().map(|r| r.workflow_id.clone()),
            agent_id: run.map(|r| r.agent_id),
        }
    });
    let gates = gate_views(stage);
    Ok(StageView {
        name: stage.name.clone(),
        declared: stage.declared.clone(),
        partition: stage.partition.clone(),
        agent: stage.agent_name.clone(),
        phase: stage.phase,
        agent_number: stage.agent_number,
        external: stage.external,
        namespace: stage.writes_namespace.to_string(),
        writes: stage.writes.as_ref().map(ToString::to_string),
        reads: stage.reads.0.iter().map(|g| g.to_string()).collect(),
        depends_on: stage.depends_on.clone(),
        enforced: gates.iter().filter(|g| g.kind != "unchecked").count(),
        unchecked: gates.iter().filter(|g| g.kind == "unchecked").count(),
        gates,
        state: status.state,
        why: status.why,
        waiting_on: status.waiting_on,
        missing: status.missing,
        ready: status.ready,
        done: status.done,
        quarantined,
        running: !status.running_on.is_empty(),
        last_run,
        renders: stage.render.is_some(),
        cost_usd: status.cost_usd,
    })
}

/// Adds the differences of `a` and `b` below `pointer` to `out`, at most 1,000.
fn changed(a: &Value, b: &Value, pointer: &mut String, out: &mut Vec<Change>) {
    if out.len() >= 1000 || a == b {
        return;
    }
    let len = pointer.len();
    let push = |out: &mut Vec<Change>,
                pointer: &str,
                op,
                before: Option<&Value>,
                after: Option<&Value>| {
        out.push(Change {
            pointer: pointer.to_owned(),
            op,
            before: before.cloned(),
            after: after.cloned(),
        })
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                push_token(pointer, k);
                match y.get(k) {
                    Some(vb) => changed(va, vb, pointer, out),
                    None => push(out, pointer, "removed", Some(va), None),
                }
                pointer.truncate(len);
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                push_token(pointer, k);
                push(out, pointer, "added", None, Some(vb));
                pointer.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                push_token(pointer, &i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => changed(va, vb, pointer, out),
                    (Some(va), None) => push(out, pointer, "removed", Some(va), None),
                    (None, Some(vb)) => push(out, pointer, "added", None, Some(vb)),
                    (None, None) => {}
                }
                pointer.truncate(len);
            }
        }
        _ => push(out, pointer, "changed", Some(a), Some(b)),
    }
}

fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}
