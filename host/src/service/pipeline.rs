//! The pipeline's operations: run it, and say where each stage stands.

use serde::Serialize;
use serde_json::Value;

use super::{Error, ErrorKind, Result, Service};
use crate::executor::worker;
use crate::executor::{self, Bundles, Freshness, RunOptions, RunSummary, StageSummary};
use crate::memory::{Cancelled, Key, Namespace, RunningJob, Store};
use crate::pipeline::{GateCounts, Pipeline, Stage};
use crate::records::{Held, Provenance, Quarantined};

/// Where a stage stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageState {
    /// Its output is current.
    Fresh,
    /// Its output is out of date, or will be once a stage before it runs again.
    Stale,
    /// It never ran.
    Missing,
    /// Its last run failed, or its component cannot be loaded.
    Failed,
    /// An external stage whose document is present.
    External,
    /// An external stage whose document an agent has yet to store.
    Awaiting,
    /// An external stage that writes nothing: baton cannot tell when it is done.
    Untracked,
    /// Its output passed its gates and waits for a person's approval.
    Held,
}

impl StageState {
    /// The state's name, as in `baton status`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Fresh => "fresh",
            StageState::Stale => "stale",
            StageState::Missing => "missing",
            StageState::Failed => "failed",
            StageState::External => "external",
            StageState::Awaiting => "awaiting",
            StageState::Untracked => "untracked",
            StageState::Held => "held",
        }
    }
}

/// One stage's line in the pipeline's status.
#[derive(Clone, Debug, Serialize)]
pub struct StageStatus {
    /// The stage: `stage[partition]` for one partition's run.
    pub stage: String,
    /// The partition it runs for, if it is one partition's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Where it stands.
    pub state: StageState,
    /// Why, in a sentence (empty when fresh).
    pub why: String,
    /// The stages before it whose outputs are not yet current: it waits on them.
    pub waiting_on: Vec<String>,
    /// What it reads that no stage writes, no input seeds and the memory does not hold
    /// (`key` or `prefix/*`, in namespace `ns`, as `ns:key`): it waits on a person or an
    /// earlier phase to store them. A read the memory holds is satisfied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The workers running it now, each in its workflow (a store in PostgreSQL).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub running_on: Vec<RunningJob>,
    /// Whether it can run (or an external agent can do its work) now: its output is
    /// not current and every stage before it is.
    pub ready: bool,
    /// Whether its output is current (fresh, or stored by its agent): the stages
    /// after it may use it.
    pub done: bool,
    /// How many of its gates are enforced, and which are prose only.
    pub gates: GateCounts,
    /// What its agent's attempts cost for its stored output, in US dollars, as the
    /// agent's CLI reported (an agent baton runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// How long the memory server a run with agents starts waits without connections.
const AGENT_SERVER_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

impl Service {
    /// Works as a `baton worker`: claims stages from the store's queue and runs them
    /// until idle (with `exit_when_idle`) or killed. Every slot's connection is
    /// opened first, so that a store no worker can share (a folder) or a wrong URL
    /// fails before `started` is told the worker started.
    pub fn work(
        &self,
        options: &worker::Options,
        started: impl FnOnce(),
        report: &(dyn Fn(worker::Report<'_>) + Sync),
    ) -> Result<()> {
        let queues = (0..options.slots.max(1))
            .map(|_| self.queue())
            .collect::<Result<Vec<_>>>()?;
        let runtime = self.runtime()?;
        let bundles = Bundles::new(self.bundle_dir());
        // The agents it starts reach the same database.
        let agent_env = [("BATON_STORE".to_owned(), self.location().for_child())];
        if crate::telemetry::metrics::exporting() {
            // On its own connection, asked whenever the metrics are collected.
            let depth = self.queue()?;
            crate::telemetry::metrics::observe_queue_depth(move || depth.open_jobs().ok());
        }
        started();
        worker::work(&runtime, &bundles, &queues, options, &agent_env, report);
        Ok(())
    }

    /// Runs `pipeline`: seeds its inputs, runs its stale stages, gates and commits.
    /// `progress` hears of each stage's start and end.
    pub fn run(
        &self,
        pipeline: &Pipeline,
        options: &RunOptions,
        progress: &(dyn Fn(&str, Option<&StageSummary>) + Sync),
    ) -> Result<RunSummary> {
        let runtime = self.runtime()?;
        let mut options = options.clone();
        if pipeline.stages.iter().any(|s| s.runner.is_some()) {
            // The agents it starts reach the store while the run holds it: through a
            // memory server for a folder, and through the same location.
            if self.store_path().is_ok() {
                self.serve_store(AGENT_SERVER_IDLE)?;
            }
            options
                .agent_env
                .push(("BATON_STORE".into(), self.location().for_child()));
        }
        let memory = self.store()?;
        executor::run(pipeline, &runtime, memory, &options, progress)
            .map_err(|e| Error::new(ErrorKind::Failure, e))
    }

    /// Runs `pipeline` on workers: builds and seeds here, enqueues its stages in the
    /// database, and follows them until each ended (`baton run --distributed`).
    /// `submitted` hears the workflow's id once it is enqueued, and `idle` how long no
    /// worker has claimed a stage, once. Setting `interrupted` cancels the workflow
    /// ([`Service::cancel_workflow`]); the summary then lists the stages left as
    /// cancelled.
    pub fn run_distributed(
        &self,
        pipeline: &Pipeline,
        options: &RunOptions,
        progress: &(dyn Fn(&str, Option<&StageSummary>) + Sync),
        submitted: &dyn Fn(&str),
        idle: &dyn Fn(std::time::Duration),
        interrupted: &std::sync::atomic::AtomicBool,
    ) -> Result<RunSummary> {
        let queue = self.queue()?;
        let failure = |e| Error::new(ErrorKind::Failure, e);
        // The workflow's span: the workers' stages continue its trace.
        let workflow = tracing::info_span!(
            "workflow",
            otel.name = %format!("workflow {}", pipeline.name),
            baton.pipeline = %pipeline.name,
            baton.workflow.id = tracing::field::Empty,
            baton.stages = pipeline.stages.len() as i64,
            baton.distributed = true,
        );
        let _entered = workflow.enter();
        let enqueued = executor::submit(pipeline, &queue, options.force).map_err(failure)?;
        workflow.record("baton.workflow.id", enqueued.workflow_id.as_str());
        tracing::info!(
            workflow = enqueued.workflow_id,
            files_uploaded = enqueued.files_uploaded,
            "enqueued"
        );
        submitted(&enqueued.workflow_id);
        executor::wait(
            &queue,
            &enqueued.workflow_id,
            enqueued.inputs_written,
            progress,
            options.on_attempt.as_ref(),
            idle,
            interrupted,
        )
        .map_err(failure)
    }

    /// Cancels the distributed workflow `id` (`baton cancel`): its stages that no
    /// worker claimed will not run, and the workers running the others can no longer
    /// commit their results. A workflow whose stages all ended is left as it is, with
    /// nothing in the answer's lists.
    pub fn cancel_workflow(&self, id: &str) -> Result<Cancelled> {
        let well_formed = id.len() > "workflow-".len()
            && id.len() <= 128
            && id.starts_with("workflow-")
            && !id.chars().any(char::is_control);
        if !well_formed {
            return Err(Error::bad_input(format!(
                "{:?} is not a workflow id: ids look like `workflow-` and 32 hex digits",
                id.chars().take(48).collect::<String>()
            ))
            .hint("`baton run --distributed` prints its workflow's id when it enqueues it"));
        }
        let queue = self.queue()?;
        executor::cancel(&queue, id, "cancelled by `baton cancel`")
            .map_err(|e| Error::new(ErrorKind::Failure, e))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    anyhow::anyhow!("no workflow `{id}` in the queue of {}", self.location),
                )
                .hint("`baton run --distributed` prints its workflow's id when it enqueues it")
            })
    }

    /// The stages of `pipeline` that can never run as things stand, each with the
    /// reads it lacks: a read that no stage writes and no input seeds (one phase of a
    /// larger pipeline, an imported agent reading what no agent stores) is fine while
    /// the memory holds it. A local run runs the rest and blocks these, saying so.
    pub fn unrunnable(&self, pipeline: &Pipeline) -> Result<Vec<(String, Vec<String>)>> {
        // A pipeline whose every read has a producer (the usual case) needs no store.
        let produced = Produced::of(pipeline);
        let all_produced = pipeline
            .stages
            .iter()
            .all(|s| s.reads.0.iter().all(|g| produced.covers(g)));
        if all_produced {
            return Ok(Vec::new());
        }
        let memory = self.store()?;
        let mut lacking = Vec::new();
        for stage in &pipeline.stages {
            let reads = missing_reads(&produced, stage, &*memory)?;
            if !reads.is_empty() {
                lacking.push((stage.name.clone(), reads));
            }
        }
        Ok(lacking)
    }

    /// [`Self::unrunnable`] as a local run blocks them: each stage with why, in a
    /// sentence naming the reads it lacks.
    pub fn cannot_run(
        &self,
        pipeline: &Pipeline,
    ) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .unrunnable(pipeline)?
            .into_iter()
            .map(|(stage, reads)| {
                let why = format!(
                    "cannot run: it reads {}, which no stage writes, no input seeds and the memory does not hold",
                    reads.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                );
                (stage, why)
            })
            .collect())
    }

    /// `pipeline` (loaded with [`super::load_definitions`] from `path`) if every stage
    /// can run ([`Self::unrunnable`]); else an error naming what each lacks (a
    /// distributed run, which is all or nothing).
    pub fn runnable(&self, pipeline: Pipeline, path: &std::path::Path) -> Result<Pipeline> {
        let lacking: Vec<String> = self
            .unrunnable(&pipeline)?
            .into_iter()
            .flat_map(|(stage, reads)| {
                reads
                    .into_iter()
                    .map(move |read| format!("stage `{stage}` reads `{read}`"))
            })
            .collect();
        if lacking.is_empty() {
            return Ok(pipeline);
        }
        Err(Error::bad_input(format!(
            "{} cannot run: no stage writes, no input seeds and the memory does not hold what {} read{}:\n{}",
            path.display(),
            if lacking.len() == 1 { "one stage" } else { "its stages" },
            if lacking.len() == 1 { "s" } else { "" },
            lacking.join("\n")
        ))
        .hint("store each (`baton memory store -n NAMESPACE KEY < document.json`), or seed it from a file with an `[[input]]` in pipeline.toml")
        .hint("`baton status` shows which stages need what"))
    }

    /// Each stage of `pipeline`: fresh, stale (and why), missing, failed, external or
    /// awaiting.
    pub fn status(&self, pipeline: &Pipeline) -> Result<Vec<StageStatus>> {
        let runtime = self.runtime()?;
        let memory = self.store()?;
        let running = self.running()?;
        // Inputs whose file no longer matches what is stored are re-seeded by the next run.
        let mut changed: Vec<(String, String)> = Vec::new();
        for input in &pipeline.inputs {
            let file: Option<Value> = std::fs::read_to_string(&input.file)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            let stored = memory
                .get(
                    &Namespace::new(input.namespace.clone())?,
                    &Key::new(input.key.clone())?,
                )?
                .map(|e| e.json());
            if file != stored {
                changed.push((input.namespace.clone(), input.key.clone()));
            }
        }
        let produced = Produced::of(pipeline);
        let mut out: Vec<StageStatus> = Vec::new();
        // Each stage's state once it is known, by name, for the stages after it.
        let mut states: std::collections::HashMap<&str, StageState> = Default::default();
        for stage in &pipeline.stages {
            let changed_input = changed
                .iter()
                .find(|(n, k)| stage.reads.allows(n, k))
                .map(|(_, k)| k.clone());
            let stale_upstream = stage
                .depends_on
                .iter()
                .find(|d| {
                    states.get(d.as_str()).is_some_and(|state| {
                        matches!(
                            state,
                            StageState::Stale | StageState::Missing | StageState::Failed
                        )
                    })
                })
                .cloned();
            let (state, why) = match (&stage.component, changed_input, stale_upstream) {
                // Stages baton runs (a component, an agent with a runner) go stale with
                // their inputs.
                (c, Some(key), _) if c.is_some() || stage.runner.is_some() => {
                    (StageState::Stale, format!("input file for `{key}` changed"))
                }
                (c, None, Some(up)) if c.is_some() || stage.runner.is_some() => (
                    StageState::Stale,
                    format!("stage `{up}` before it will run again"),
                ),
                // An agent baton runs is current as a component is.
                (None, _, _) if stage.runner.is_some() && stage.writes.is_some() => {
                    let runner = stage.runner.as_ref().expect("matched");
                    match executor::agent_freshness(pipeline, stage, runner, &*memory) {
                        Err(e) => (StageState::Failed, format!("{e:#}")),
                        Ok(Freshness::Fresh) => (StageState::Fresh, String::new()),
                        Ok(Freshness::Missing) => quarantined(&*memory, &stage.name)?,
                        Ok(Freshness::Stale(why)) => (StageState::Stale, why),
                    }
                }
                (None, _, _) if stage.writes.is_none() => (
                    StageState::Untracked,
                    "writes nothing: baton cannot tell when it is done".to_owned(),
                ),
                (None, _, _) => {
                    let (ns, key) = stage
                        .output()
                        .expect("a stage that writes nothing is matched above");
                    match memory.get(ns, key)? {
                        Some(entry) => match changed_since(&*memory, &entry.meta)? {
                            Some(key) => (
                                StageState::Stale,
                                format!("input `{key}` changed since its agent stored it"),
                            ),
                            None => (
                                StageState::External,
                                "stored by an agent outside baton".to_owned(),
                            ),
                        },
                        None => (
                            StageState::Awaiting,
                            "awaiting an external agent".to_owned(),
                        ),
                    }
                }
                (Some(component), _, _) => match runtime.load(component) {
                    Err(e) => (StageState::Failed, format!("{e:#}")),
                    Ok((plugin, _)) => match executor::freshness(stage, &plugin.sha256, &*memory)
                        .map_err(|e| Error::new(ErrorKind::Store, e))?
                    {
                        Freshness::Fresh => (StageState::Fresh, String::new()),
                        Freshness::Missing => quarantined(&*memory, &stage.name)?,
                        Freshness::Stale(why) => (StageState::Stale, why),
                    },
                },
            };
            let (state, why) = match held(&*memory, stage)? {
                Some(Ok(waiting)) => (StageState::Held, waiting),
                Some(Err(rejected)) if state != StageState::Fresh => {
                    (state, format!("{why}; {rejected}"))
                }
                _ => (state, why),
            };
            let waiting_on: Vec<String> = stage
                .depends_on
                .iter()
                .filter(|d| {
                    states.get(d.as_str()).is_some_and(|state| {
                        !matches!(state, StageState::Fresh | StageState::External)
                    })
                })
                .cloned()
                .collect();
            let missing = missing_reads(&produced, stage, &*memory)?;
            let current = matches!(state, StageState::Fresh | StageState::External);
            states.insert(stage.name.as_str(), state);
            out.push(StageStatus {
                stage: stage.name.clone(),
                partition: stage.partition.clone(),
                ready: !current
                    && !matches!(state, StageState::Untracked | StageState::Held)
                    && waiting_on.is_empty()
                    && missing.is_empty(),
                state,
                why,
                done: current,
                waiting_on,
                missing,
                running_on: running
                    .iter()
                    .filter(|j| j.stage == stage.name)
                    .cloned()
                    .collect(),
                gates: stage.gate_counts(),
                cost_usd: match (&stage.runner, stage.output()) {
                    (Some(_), Some((ns, key))) => memory
                        .get(ns, key)?
                        .and_then(|e| Provenance::of(&e.meta))
                        .and_then(|p| p.run?.agent?.usage.cost_usd),
                    _ => None,
                },
            });
        }
        Ok(out)
    }
}

/// Stage `stage`'s output held for a person: `Ok(why)` while it waits, `Err(why)`
/// once rejected (its next run sends it back); `None` without one.
fn held(memory: &dyn Store, stage: &Stage) -> Result<Option<std::result::Result<String, String>>> {
    if !stage.awaits_approval() {
        return Ok(None);
    }
    let name = &stage.name;
    Ok(Held::read(memory, name)?.map(|(_, h)| match &h.rejected {
        None => Ok(format!(
            "its output (by {}, held {}) waits for a person: `baton approve {name}` stores it, `baton reject {name} --reason TEXT` sends it back",
            h.writer, h.held_at
        )),
        Some(r) => Err(format!(
            "its last output was rejected by {}: {:?}; the next run sends it back with that reason",
            r.by,
            crate::text::short(r.reason.as_deref().unwrap_or_default())
        )),
    }))
}

/// The reads of `stage` that nothing in `pipeline` produces (no stage writes them, no
/// input seeds them) and the memory does not hold: a partial pipeline's reads from
/// earlier phases are satisfied once someone stores them.
fn missing_reads(
    produced: &Produced<'_>,
    stage: &Stage,
    memory: &dyn Store,
) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for grant in stage.reads.0.iter().filter(|g| !produced.covers(g)) {
        let ns = Namespace::new(grant.namespace.clone())?;
        let held = if grant.prefix {
            memory
                .list(Some(&ns), &grant.key)?
                .iter()
                .any(|m| !m.deleted)
        } else {
            memory.get(&ns, &Key::new(grant.key.clone())?)?.is_some()
        };
        if !held {
            let star = if grant.prefix { "*" } else { "" };
            missing.push(format!("{}:{}{star}", grant.namespace, grant.key));
        }
    }
    Ok(missing)
}

/// The keys some stage of a pipeline writes or some input seeds, looked up by key: a
/// status of thousands of stages (partitions) asks once per read.
struct Produced<'p> {
    exact: std::collections::HashSet<(&'p str, &'p str)>,
}

impl<'p> Produced<'p> {
    fn of(pipeline: &'p Pipeline) -> Self {
        let outputs = pipeline
            .stages
            .iter()
            .filter_map(|s| s.output())
            .map(|(n, k)| (n.as_str(), k.as_str()));
        let inputs = pipeline
            .inputs
            .iter()
            .map(|i| (i.namespace.as_str(), i.key.as_str()));
        Self {
            exact: outputs.chain(inputs).collect(),
        }
    }

    /// Whether a key `grant` reads is written or seeded.
    fn covers(&self, grant: &crate::runtime::Grant) -> bool {
        match grant.prefix {
            false => self
                .exact
                .contains(&(grant.namespace.as_str(), grant.key.as_str())),
            true => self.exact.iter().any(|(n, k)| grant.allows(n, k)),
        }
    }
}

/// The first input whose revision is not what an external agent's output was stored
/// against (`baton agent output` records them), if any.
fn changed_since(memory: &dyn Store, meta: &crate::memory::EntryMeta) -> Result<Option<String>> {
    let Some(seen) = crate::records::Provenance::of(meta).and_then(|p| p.inputs_seen) else {
        return Ok(None);
    };
    for read in seen {
        let now = memory
            .get(
                &Namespace::new(read.namespace)?,
                &Key::new(read.key.clone())?,
            )?
            .map(|e| e.meta.revision);
        if now != read.revision {
            return Ok(Some(read.key));
        }
    }
    Ok(None)
}

/// A stage with no output: failed if its last output is in quarantine, else missing.
fn quarantined(memory: &dyn Store, stage: &str) -> Result<(StageState, String)> {
    Ok(match Quarantined::read(memory, stage)? {
        Some(_) => (
            StageState::Failed,
            "its last output is in quarantine".into(),
        ),
        None => (StageState::Missing, "never run".into()),
    })
}
