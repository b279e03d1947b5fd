//! The executor: runs a checked [`Pipeline`] against the memory.
//!
//! Inputs are seeded first (a file whose content changed becomes a new revision).
//! A stage starts as soon as every stage it reads from has ended and one of the run's
//! slots is free. A stage whose recorded provenance (the revisions it read, its
//! component's SHA-256, its config) still matches is fresh and skipped. A stage's
//! output is admitted by [`crate::admission`], as every document is: its gates, then
//! one atomic, durable commit with its provenance and its events, or quarantine with
//! its report, never where other stages read; the stages after a refused output do
//! not run. Events (the agent lifecycle) and quarantined outputs live in the reserved
//! namespaces [`EVENTS_NAMESPACE`] and [`QUARANTINE_NAMESPACE`].
//!
//! The same stages run on workers in `distributed`: [`submit`] enqueues a pipeline in
//! the database, [`execute`] runs one claimed stage through the same stage run as
//! here, its commits fenced on the worker's lease, and [`wait`] follows the workflow to
//! the same [`RunSummary`].

mod agent;
mod distributed;
mod freshness;
pub mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::records::{EVENTS_NAMESPACE, QUARANTINE_NAMESPACE};
pub use agent::agent_freshness;
use distributed::record_outcome;
pub use distributed::{Bundles, POLL, Submitted, cancel, execute, submit, wait};
pub use freshness::{Freshness, freshness};

use crate::admission::{self, Admitted, Candidate, Decision, Inputs, Judge, Refusal, Refused};
use crate::gates::StageGates;
use crate::memory::{Key, Namespace, Op, Store, Writer};
use crate::pipeline::{Pipeline, Stage};
use crate::records::{Event, Provenance, StageRun};
use crate::runtime::{Invocation, Plugin, Runtime};

/// How a stage ended in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum Outcome {
    /// Ran, passed its gates, committed at this revision.
    Passed(u64),
    /// Fresh: skipped.
    Fresh,
    /// External, and its document is present.
    External,
    /// External, and no document yet.
    AwaitingExternal,
    /// External, and writes nothing (an agent definition without hooks): nothing for
    /// a run to wait on or check, so it is passed over.
    Untracked,
    /// The stage failed (the failure, as text).
    Failed(String),
    /// The output failed an error gate; it is in quarantine.
    GateFailed(String),
    /// The output passed its gates and is held for a person's approval (what to do,
    /// as text); a held output from an earlier run is not run again.
    AwaitingApproval(String),
    /// Not run because a stage it reads from did not pass.
    Blocked(String),
    /// Its distributed workflow was cancelled before it ended (why, as text): it did
    /// not run, or its worker's result is not kept.
    Cancelled(String),
}

impl Outcome {
    /// Whether the run does not count it as a failure though nothing was produced:
    /// an external stage still awaited, or one that writes nothing.
    pub fn passes_over(&self) -> bool {
        matches!(self, Outcome::AwaitingExternal | Outcome::Untracked)
    }

    /// Its one-word name, as `baton run` prints it and traces record it.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed(_) => "passed",
            Outcome::Fresh => "fresh",
            Outcome::External => "external",
            Outcome::AwaitingExternal => "awaiting",
            Outcome::Untracked => "skipped",
            Outcome::Failed(_) => "failed",
            Outcome::GateFailed(_) => "gate-fail",
            Outcome::AwaitingApproval(_) => "held",
            Outcome::Blocked(_) => "blocked",
            Outcome::Cancelled(_) => "cancelled",
        }
    }

    /// Whether the stage's key holds a good, current output after this run.
    pub fn ok(&self) -> bool {
        matches!(
            self,
            Outcome::Passed(_) | Outcome::Fresh | Outcome::External
        )
    }
}

/// One stage's line in the run summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageSummary {
    /// The stage.
    pub stage: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Gates passed / total, when they ran.
    pub gates: Option<(usize, usize)>,
    /// The agent id of the run, when it ran.
    pub agent_id: Option<String>,
    /// What the time went on: building the component, loading it (compiling on a
    /// cache miss) and checking freshness, then running, gating and committing.
    #[serde(default)]
    pub spent: Spent,
    /// What its agent's attempts cost, in US dollars, as the agent's CLI reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Where a stage's time went, in milliseconds; what is left of `duration_ms` is the
/// run itself (the component, its gates and the commit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spent {
    /// Running the stage's `build` command (0 when it was up to date or there is none).
    pub build_ms: f64,
    /// Loading the component (from the compile cache, or compiling it) and checking
    /// whether the stage is fresh.
    pub check_ms: f64,
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The workflow id of this run.
    pub workflow_id: String,
    /// Inputs seeded (written because new or changed).
    pub inputs_written: usize,
    /// Each stage, in pipeline order.
    pub stages: Vec<StageSummary>,
    /// Whether every stage ended well.
    pub passed: bool,
    /// What the run's agents cost, in US dollars, as their CLIs reported (absent
    /// when none reported a cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Re-run fresh stages too.
    pub force: bool,
    /// Stages at once (at least 1).
    pub parallelism: usize,
    /// Variables every agent a run starts gets besides its own (the store it reaches).
    pub agent_env: Vec<(String, String)>,
    /// Stop starting agents once their reported cost reaches this many US dollars;
    /// the agent stages not started are blocked, saying so.
    pub budget_usd: Option<f64>,
    /// Set to stop the running agents (a worker that lost its stage's lease: the
    /// workflow was cancelled, or another worker has the stage now).
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Stages that cannot run, each with why (the reads nothing provides): they are
    /// blocked, saying so, and the rest of the pipeline runs.
    pub cannot_run: HashMap<String, String>,
    /// Told of each agent attempt as it starts and ends (for progress).
    pub on_attempt: Option<AttemptHook>,
}

/// Told of an agent's attempt: its stage, its number and what the stage's attempts
/// have cost so far (US dollars, as the agents' CLIs reported).
#[derive(Clone)]
pub struct AttemptHook(pub Arc<AttemptFn>);

/// The function an [`AttemptHook`] calls: stage, attempt, cost so far.
pub type AttemptFn = dyn Fn(&str, u32, Option<f64>) + Send + Sync;

impl std::fmt::Debug for AttemptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttemptHook")
    }
}

/// Where a run stands: which stages started, how each ended, how many run now.
struct Schedule {
    started: Vec<bool>,
    results: Vec<Option<StageSummary>>,
    running: usize,
}

/// Runs `pipeline`: seeds its inputs, then its stages, each as soon as the stages it
/// reads from have ended and a slot is free. `progress` is told when each stage
/// starts and ends.
pub fn run(
    pipeline: &Pipeline,
    runtime: &Runtime,
    memory: Arc<dyn Store>,
    options: &RunOptions,
    progress: &(dyn Fn(&str, Option<&StageSummary>) + Sync),
) -> anyhow::Result<RunSummary> {
    let workflow_id = format!("workflow-{}", uuid::Uuid::new_v4().simple());
    let workflow = tracing::info_span!(
        "workflow",
        otel.name = %format!("workflow {}", pipeline.name),
        baton.pipeline = %pipeline.name,
        baton.workflow.id = %workflow_id,
        baton.stages = pipeline.stages.len() as i64,
        baton.passed = tracing::field::Empty,
    );
    let _entered = workflow.enter();
    let inputs_written = seed_inputs(pipeline, memory.as_ref())?;
    let plugins = Plugins::default();
    let parallelism = options.parallelism.max(1);
    let n = pipeline.stages.len();
    let producers: Vec<Vec<usize>> = pipeline
        .stages
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|d| pipeline.stages.iter().position(|p| &p.name == d))
                .collect()
        })
        .collect();
    let state = Mutex::new(Schedule {
        started: vec![false; n],
        results: vec![None; n],
        running: 0,
    });
    let wake = Condvar::new();
    // What the run's agents have cost so far, as their CLIs reported.
    let cost: Mutex<Option<f64>> = Mutex::new(None);
    // A stage starts as soon as every stage it reads from has ended and one of the
    // `parallelism` slots is free: one slow stage holds back only the stages after it.
    std::thread::scope(|scope| {
        for _ in 0..parallelism.min(n) {
            scope.spawn(|| {
                loop {
                    let next = {
                        let mut st = state.lock().unwrap();
                        loop {
                            let ready = (0..n).find(|&i| {
                                !st.started[i]
                                    && producers[i].iter().all(|&j| st.results[j].is_some())
                            });
                            if let Some(i) = ready {
                                st.started[i] = true;
                                st.running += 1;
                                let blocker = producers[i]
                                    .iter()
                                    .find(|&&j| {
                                        st.results[j].as_ref().is_some_and(|r| !r.outcome.ok())
                                    })
                                    .map(|&j| {
                                        let name = &pipeline.stages[j].name;
                                        match st.results[j].as_ref().map(|r| &r.outcome) {
                                            Some(Outcome::AwaitingApproval(_)) => format!(
                                                "stage `{name}` awaits a person's approval"
                                            ),
                                            _ => format!("stage `{name}` did not pass"),
                                        }
                                    });
                                break Some((i, blocker));
                            }
                            // Nothing ready: done when nothing runs that could make a
                            // stage ready (the check refuses cycles).
                            if st.running == 0 {
                                break None;
                            }
                            st = wake.wait(st).unwrap();
                        }
                    };
                    let Some((i, blocker)) = next else {
                        wake.notify_all();
                        return;
                    };
                    let stage = &pipeline.stages[i];
                    progress(&stage.name, None);
                    let spent = *cost.lock().unwrap();
                    let over_budget = options
                        .budget_usd
                        .filter(|budget| stage.runner.is_some() && spent.unwrap_or(0.0) >= *budget);
                    // Its own missing reads say more than a stage before it that
                    // did not pass.
                    let blocker = options
                        .cannot_run
                        .get(&stage.name)
                        .cloned()
                        .or(blocker)
                        .or_else(|| {
                        over_budget.map(|budget| {
                            format!(
                                "not started: the run's agents have cost ${:.4} of its ${budget} budget",
                                spent.unwrap_or(0.0)
                            )
                        })
                    });
                    let summary = match blocker {
                        Some(why) => StageSummary {
                            stage: stage.name.clone(),
                            outcome: Outcome::Blocked(why),
                            duration_ms: 0.0,
                            gates: None,
                            agent_id: None,
                            spent: Spent::default(),
                            cost_usd: None,
                        },
                        None => {
                            let span = stage_span(workflow.id(), pipeline, stage);
                            let summary = span.in_scope(|| {
                                run_stage(
                                    pipeline,
                                    stage,
                                    runtime,
                                    &plugins,
                                    memory.clone(),
                                    options,
                                    &workflow_id,
                                )
                            });
                            record_stage(&span, pipeline, &summary);
                            summary
                        }
                    };
                    if let Some(usd) = summary.cost_usd {
                        let mut total = cost.lock().unwrap();
                        *total = Some(total.unwrap_or(0.0) + usd);
                    }
                    progress(&stage.name, Some(&summary));
                    let mut st = state.lock().unwrap();
                    st.results[i] = Some(summary);
                    st.running -= 1;
                    drop(st);
                    wake.notify_all();
                }
            });
        }
    });
    let stages: Vec<StageSummary> = state
        .into_inner()
        .unwrap()
        .results
        .into_iter()
        .flatten()
        .collect();
    let passed = stages
        .iter()
        .all(|s| s.outcome.ok() || s.outcome.passes_over());
    workflow.record("baton.passed", passed);
    Ok(RunSummary {
        workflow_id,
        inputs_written,
        stages,
        passed,
        cost_usd: cost.into_inner().unwrap(),
    })
}

/// The span of a run of `stage`, in `parent` (its workflow's, or a worker's claim);
/// [`record_stage`] fills in how it ended.
fn stage_span(parent: Option<tracing::Id>, pipeline: &Pipeline, stage: &Stage) -> tracing::Span {
    tracing::info_span!(
        parent: parent,
        "stage",
        otel.name = %format!("stage {}", stage.name),
        baton.pipeline = %pipeline.name,
        baton.stage = %stage.name,
        baton.partition = stage.partition.clone(),
        baton.namespace = stage.output().map(|(ns, _)| ns.to_string()),
        baton.key = stage.output().map(|(_, key)| key.to_string()),
        baton.outcome = tracing::field::Empty,
        baton.revision = tracing::field::Empty,
        baton.gates.passed = tracing::field::Empty,
        baton.gates.total = tracing::field::Empty,
        baton.cost_usd = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// Records how a stage of `pipeline` ended: on its span, and in the metrics.
fn record_stage(span: &tracing::Span, pipeline: &Pipeline, summary: &StageSummary) {
    crate::telemetry::metrics::stage_ended(
        &pipeline.name,
        &summary.stage,
        summary.outcome.label(),
        summary.duration_ms / 1e3,
    );
    span.record("baton.outcome", summary.outcome.label());
    if let Outcome::Passed(revision) = summary.outcome {
        span.record("baton.revision", revision as i64);
    }
    if let Some((passed, total)) = summary.gates {
        span.record("baton.gates.passed", passed as i64);
        span.record("baton.gates.total", total as i64);
    }
    if let Some(usd) = summary.cost_usd {
        span.record("baton.cost_usd", usd);
    }
    if matches!(summary.outcome, Outcome::Failed(_) | Outcome::GateFailed(_)) {
        span.record("otel.status_code", "ERROR");
    }
}

fn seed_inputs(pipeline: &Pipeline, memory: &dyn Store) -> anyhow::Result<usize> {
    let mut ops = Vec::new();
    for input in &pipeline.inputs {
        let text = std::fs::read_to_string(&input.file)
            .map_err(|e| anyhow::anyhow!("cannot read input {:?}: {e}", input.file))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("input {:?} is not JSON: {e}", input.file))?;
        let (ns, key) = (
            Namespace::new(input.namespace.clone())?,
            Key::new(input.key.clone())?,
        );
        let unchanged = memory
            .get(&ns, &key)?
            .is_some_and(|e| e.value == serde_json::to_vec(&value).unwrap_or_default());
        if !unchanged {
            let provenance = Provenance {
                input_file: Some(input.file.clone()),
                ..Default::default()
            };
            ops.push(Op::put(&ns, &key, value).provenance(provenance.to_value()));
        }
    }
    let n = ops.len();
    if n > 0 {
        memory.commit(&Writer("input".into()), ops)?;
    }
    Ok(n)
}

/// An event of a run, with when it happened: its name, its attributes, its time.
type Happened = (String, Value, crate::memory::Timestamp);

/// The event `(name, attributes)`, happening now. A run's events are committed
/// together when the stage ends; each keeps the time it happened (a stage's
/// `started` event, the time it started).
fn stamped((name, attributes): (String, Value)) -> Happened {
    (name, attributes, crate::memory::Timestamp::now())
}

/// The ops recording a run's events, in order.
fn event_ops(
    workflow: &str,
    agent_id: &str,
    agent_name: &str,
    partition: Option<&str>,
    events: Vec<Happened>,
) -> anyhow::Result<Vec<Op>> {
    sequenced_event_ops(workflow, agent_id, agent_name, "", partition, events)
}

/// [`event_ops`] with each sequence number after `prefix`: an agent's own lifecycle
/// calls (`start_agent`, …) number theirs from `0000`, so a run's events about that
/// agent are `run-0000`, … beside them.
fn sequenced_event_ops(
    workflow: &str,
    agent_id: &str,
    agent_name: &str,
    prefix: &str,
    partition: Option<&str>,
    events: Vec<Happened>,
) -> anyhow::Result<Vec<Op>> {
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (name, mut attributes, at))| {
            // Every event of one partition's stage says which partition.
            if let (Some(p), Some(object)) = (partition, attributes.as_object_mut()) {
                object.insert("partition".into(), p.into());
            }
            let mut event = Event::new(name, workflow, agent_id, attributes);
            event.at = at;
            event.agent_name = Some(agent_name.to_owned());
            Ok(event.op(&format!("{prefix}{seq:04}"))?)
        })
        .collect()
}

/// How a stage ends once admission decided on its output, with its gates passed /
/// total; `note` follows a gate refusal's reason (an agent's attempts).
fn admitted_outcome(admitted: Admitted, note: &str) -> (Outcome, Option<(usize, usize)>) {
    let counts = |report: &Option<crate::gates::GateReport>| {
        report.as_ref().map(|r| (r.gates_passed, r.gates.len()))
    };
    match admitted {
        Admitted::Committed { meta, report, .. } => {
            (Outcome::Passed(meta.revision), counts(&report))
        }
        Admitted::Quarantined {
            report,
            reason: Some(why),
        } => (Outcome::Failed(why), counts(&report)),
        Admitted::Quarantined {
            report,
            reason: None,
        } => {
            let failed = report
                .as_ref()
                .map(|r| r.failed().join(", "))
                .unwrap_or_default();
            (
                Outcome::GateFailed(format!("failed gates: {failed}{note}")),
                counts(&report),
            )
        }
        Admitted::Held { report, .. } => {
            let counts = counts(&Some(report.clone()));
            (awaiting_approval(&report.stage), counts)
        }
    }
}

/// The outcome of stage `stage`, whose output is held for a person's approval.
fn awaiting_approval(stage: &str) -> Outcome {
    Outcome::AwaitingApproval(format!(
        "held for a person's approval: `baton approve {stage}` stores it, `baton reject {stage} --reason TEXT` sends it back"
    ))
}

/// Whether stage `stage` has an output held for a person from an earlier run: it is
/// not run again until they decide (unless forced).
fn held_from_before(stage: &Stage, memory: &dyn Store, force: bool) -> anyhow::Result<bool> {
    if force || !stage.awaits_approval() {
        return Ok(false);
    }
    Ok(crate::records::Held::read(memory, &stage.name)?.is_some_and(|(_, h)| h.waiting()))
}

/// What admission refused, as a run's error (a run quarantines a gate refusal, so
/// only the memory, or reading inputs, ends here).
fn refused(r: Refused) -> anyhow::Error {
    match r {
        Refused::Memory(e) => e.into(),
        Refused::Other(e) => e,
        Refused::Gates(report) => {
            anyhow::anyhow!("gates refused: {}", report.failed().join(", "))
        }
    }
}

/// What a run loads once and its stages share: components by path (stages sharing
/// a component load it once) and each stage's compiled gates.
#[derive(Default)]
struct Plugins {
    components: Mutex<HashMap<PathBuf, Arc<Plugin>>>,
    gates: Mutex<HashMap<(PathBuf, String), Arc<StageGates>>>,
}

impl Plugins {
    fn load(&self, runtime: &Runtime, path: &Path) -> anyhow::Result<Arc<Plugin>> {
        if let Some(p) = self.components.lock().unwrap().get(path) {
            return Ok(p.clone());
        }
        let (plugin, _) = runtime.load(path)?;
        let plugin = Arc::new(plugin);
        self.components
            .lock()
            .unwrap()
            .insert(path.to_path_buf(), plugin.clone());
        Ok(plugin)
    }

    /// The gates of `stage` of the pipeline at `manifest`, compiled on first use (a
    /// schema's validator, a gate component) and shared by every later run of it.
    fn gates(
        &self,
        runtime: &Runtime,
        manifest: &Path,
        stage: &Stage,
    ) -> anyhow::Result<Arc<StageGates>> {
        let id = (manifest.to_path_buf(), stage.name.clone());
        if let Some(g) = self.gates.lock().unwrap().get(&id) {
            return Ok(g.clone());
        }
        let gates = Arc::new(StageGates::compile(stage, Some(runtime))?);
        self.gates.lock().unwrap().insert(id, gates.clone());
        Ok(gates)
    }
}

fn run_stage(
    pipeline: &Pipeline,
    stage: &Stage,
    runtime: &Runtime,
    plugins: &Plugins,
    memory: Arc<dyn Store>,
    options: &RunOptions,
    workflow_id: &str,
) -> StageSummary {
    let started = Instant::now();
    let spent = std::cell::Cell::new(Spent::default());
    let cost = std::cell::Cell::new(None);
    let summary = |outcome, gates, agent_id| StageSummary {
        stage: stage.name.clone(),
        outcome,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        gates,
        agent_id,
        spent: spent.get(),
        cost_usd: cost.get(),
    };
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1e3;
    let result = (|| -> anyhow::Result<StageSummary> {
        if stage.component.is_none() && stage.writes.is_none() {
            return Ok(summary(Outcome::Untracked, None, None));
        }
        let (ns, key) = stage
            .output()
            .map(|(n, k)| (n.clone(), k.clone()))
            .ok_or_else(|| anyhow::anyhow!("stage `{}` writes no key", stage.name))?;
        if held_from_before(stage, memory.as_ref(), options.force)? {
            return Ok(summary(awaiting_approval(&stage.name), None, None));
        }
        if let (None, Some(runner)) = (&stage.component, &stage.runner) {
            let (outcome, gates, agent, usd) = agent::run(
                pipeline,
                stage,
                runner,
                runtime,
                plugins,
                memory.clone(),
                options,
                workflow_id,
            )?;
            cost.set(usd);
            return Ok(summary(outcome, gates, agent));
        }
        let Some(component) = &stage.component else {
            let present = memory.get(&ns, &key)?.is_some();
            return Ok(summary(
                if present {
                    Outcome::External
                } else {
                    Outcome::AwaitingExternal
                },
                None,
                None,
            ));
        };
        let mut build_ms = 0.0;
        if let Some(build) = &stage.build {
            let at = Instant::now();
            build.ensure(&format!("stage `{}`", stage.name))?;
            build_ms = ms(at);
        }
        let at = Instant::now();
        let plugin = plugins.load(runtime, component)?;
        let fresh = !options.force
            && freshness(stage, &plugin.sha256, memory.as_ref())? == Freshness::Fresh;
        spent.set(Spent {
            build_ms,
            check_ms: ms(at),
        });
        if fresh {
            return Ok(summary(Outcome::Fresh, None, None));
        }
        // The revision the output's key is at before the run: the commit requires it.
        let key_revision = memory.get(&ns, &key)?.map_or(0, |e| e.meta.revision);
        let mut invocation = Invocation::new(&stage.name, stage.namespace.as_str());
        invocation.agent_name = stage.agent_name.clone();
        invocation.agent_id = format!("{}-{}", stage.agent_name, uuid::Uuid::new_v4().simple());
        invocation.workflow_id = workflow_id.to_owned();
        invocation.output_key = stage.key().to_owned();
        invocation.config = stage.config.clone();
        invocation.grants = stage.reads.clone();
        invocation.limits = stage.limits.clone();
        let agent = invocation.agent_id.clone();
        let writer = Writer::stage(&stage.name);
        let mut events = vec![stamped((
            format!("agent.{}.started", stage.agent_name),
            json!({ "stage": stage.name }),
        ))];
        let output = match runtime.run(&plugin, &invocation, memory.clone()) {
            Ok(out) => out,
            Err(failure) => {
                events.push(stamped((
                    format!("agent.{}.failed", stage.agent_name),
                    json!({ "error": failure.to_string(), "kind": failure.kind.code() }),
                )));
                memory.commit(
                    &writer,
                    event_ops(
                        workflow_id,
                        &agent,
                        &stage.agent_name,
                        stage.partition.as_deref(),
                        events,
                    )?,
                )?;
                return Ok(summary(
                    Outcome::Failed(failure.to_string()),
                    None,
                    Some(agent),
                ));
            }
        };
        events.extend(
            output
                .events
                .iter()
                .map(|e| stamped((e.name.clone(), e.attributes.clone()))),
        );
        let gates = plugins.gates(runtime, &pipeline.path, stage)?;
        let inputs = output.reads.clone();
        let candidate = Candidate {
            namespace: ns,
            key,
            value: output.output,
            writer: writer.clone(),
            provenance: Provenance {
                run: Some(StageRun {
                    stage: stage.name.clone(),
                    partition: stage.partition.clone(),
                    agent_id: agent.clone(),
                    workflow_id: workflow_id.to_owned(),
                    component_sha256: plugin.sha256.clone(),
                    config: stage.config.clone(),
                    inputs: output.reads,
                    agent: None,
                }),
                ..Default::default()
            },
            ttl: None,
            // Compare-and-swap against the revision the key had when the stage
            // started: a document stored there meanwhile (an agent, another run) is
            // never lost.
            if_revision: Some(key_revision),
        };
        let judge = Judge {
            gates: &gates,
            inputs: Inputs::Read(&inputs),
        };
        let name = &stage.agent_name;
        let admitted = admission::admit(
            memory.as_ref(),
            candidate,
            Some(judge),
            &Refusal::Quarantine(stage.name.clone()),
            &mut |decision| {
                let mut all = events.clone();
                all.push(stamped(match decision {
                    Decision::Commit { report, .. } => (
                        format!("agent.{name}.completed"),
                        json!({ "key": stage.key(), "gates_passed": report.map_or(0, |r| r.gates_passed) }),
                    ),
                    Decision::Quarantine {
                        reason: Some(why), ..
                    } => (
                        format!("agent.{name}.failed"),
                        json!({ "error": why, "kind": "conflict" }),
                    ),
                    Decision::Quarantine { report, .. } => (
                        format!("agent.{name}.failed"),
                        json!({ "error": "gates failed", "gate_report": report }),
                    ),
                    Decision::Hold { report } => (
                        format!("agent.{name}.held"),
                        json!({ "key": stage.key(), "gates_passed": report.gates_passed }),
                    ),
                }));
                event_ops(workflow_id, &agent, name, stage.partition.as_deref(), all)
            },
        )
        .map_err(refused)?;
        let (outcome, gates) = admitted_outcome(admitted, "");
        Ok(summary(outcome, gates, Some(agent)))
    })();
    result.unwrap_or_else(|e| summary(Outcome::Failed(format!("{e:#}")), None, None))
}
