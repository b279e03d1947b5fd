//! Distributed runs: a pipeline's stages run by `baton worker`s on any machine that
//! reaches the database, scheduled as [`super::run`] schedules them on one machine (a
//! stage starts when every stage it reads from has ended and a worker is free).
//!
//! [`submit`] builds the components, seeds the inputs, and enqueues a workflow: the
//! manifest rewritten so that every file it names (components, schemas, gate
//! components, inputs) is named by content, `blobs/<sha256>.<ext>`, and those files
//! stored in the database once each. A worker's [`Bundles`] fetches a workflow's files
//! it lacks into its cache (checking each against its hash), loads the rewritten
//! manifest from there, and keeps it: a component is fetched and compiled once per
//! worker. [`execute`] runs one claimed stage through the same [`super::run_stage`] as
//! a local run, against the memory fenced on the worker's lease. [`wait`] follows a
//! workflow to its end and returns the same [`RunSummary`] as a local run.
//!
//! A stage whose worker died after committing is not run twice: the next worker to
//! claim it finds the output (or the quarantined output) this workflow committed and
//! records that.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

use super::{Outcome, Plugins, RunOptions, RunSummary, StageSummary, run_stage, seed_inputs};
use crate::memory::{
    Cancelled, Claim, JobQueue, JobState, JobStatus, Store, Submission, WorkflowRow, sha256_hex,
};
use crate::pipeline::{GateCheck, Pipeline};
use crate::records::{Provenance, Quarantined};
use crate::runtime::Runtime;

/// A workflow enqueued.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// Its id.
    pub workflow_id: String,
    /// Inputs seeded (written because new or changed).
    pub inputs_written: usize,
    /// Files stored in the database by this submission (the others were there).
    pub files_uploaded: usize,
}

/// Builds what `pipeline` builds, seeds its inputs, stores the files its stages need,
/// and enqueues one job per stage.
pub fn submit(pipeline: &Pipeline, queue: &JobQueue, force: bool) -> anyhow::Result<Submitted> {
    for stage in &pipeline.stages {
        if let Some(build) = &stage.build {
            build.ensure(&format!("stage `{}`", stage.name))?;
        }
        for gate in &stage.gates {
            if let GateCheck::Component {
                build: Some(build), ..
            } = &gate.check
            {
                build.ensure(&format!("gate `{}` of stage `{}`", gate.name, stage.name))?;
            }
        }
    }
    let inputs_written = seed_inputs(pipeline, queue.store().as_ref())?;
    let (manifest, files) = bundle(pipeline)?;
    let shas: Vec<String> = files.iter().map(|f| f.sha256.clone()).collect();
    let missing = queue.missing_blobs(&shas)?;
    for file in files.iter().filter(|f| missing.contains(&f.sha256)) {
        let bytes = std::fs::read(&file.source)
            .with_context(|| format!("cannot read {}", file.source.display()))?;
        if sha256_hex(&bytes) != file.sha256 {
            bail!(
                "{} changed while it was being stored",
                file.source.display()
            );
        }
        queue.put_blob(&file.sha256, &bytes)?;
    }
    let workflow_id = format!("workflow-{}", uuid::Uuid::new_v4().simple());
    queue.submit(&Submission {
        workflow: WorkflowRow {
            id: workflow_id.clone(),
            manifest,
            files: files.iter().map(|f| f.name.clone()).collect(),
            force,
            traceparent: crate::telemetry::traceparent(&tracing::Span::current()),
        },
        jobs: pipeline
            .stages
            .iter()
            .map(|s| (s.name.clone(), s.depends_on.clone()))
            .collect(),
        agents: pipeline
            .stages
            .iter()
            .filter(|s| s.component.is_none() && s.runner.is_some())
            .map(|s| s.name.clone())
            .collect(),
    })?;
    Ok(Submitted {
        workflow_id,
        inputs_written,
        files_uploaded: missing.len(),
    })
}

/// A file a workflow names by content.
struct BundleFile {
    /// `<sha256>[.ext]`: where the rewritten manifest names it, under `blobs/`.
    name: String,
    sha256: String,
    source: PathBuf,
}

/// The manifest of `pipeline` with every file it names replaced by its content's name,
/// and without what workers do not do (build, render, connect elsewhere); and the files.
fn bundle(pipeline: &Pipeline) -> anyhow::Result<(String, Vec<BundleFile>)> {
    let text = std::fs::read_to_string(&pipeline.path)
        .with_context(|| format!("cannot read {}", pipeline.path.display()))?;
    let mut doc: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not TOML", pipeline.path.display()))?;
    let mut files: Vec<BundleFile> = Vec::new();
    let mut by_content = |value: &mut toml::Value| -> anyhow::Result<()> {
        let Some(path) = value.as_str() else {
            return Ok(());
        };
        let source = pipeline.root.join(path);
        let bytes =
            std::fs::read(&source).with_context(|| format!("cannot read {}", source.display()))?;
        let sha256 = sha256_hex(&bytes);
        let name = match Path::new(path).extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("{sha256}.{ext}")
            }
            _ => sha256.clone(),
        };
        *value = toml::Value::String(format!("blobs/{name}"));
        if !files.iter().any(|f| f.name == name) {
            files.push(BundleFile {
                name,
                sha256,
                source,
            });
        }
        Ok(())
    };
    if let Some(memory) = doc.get_mut("memory").and_then(|m| m.as_table_mut()) {
        // A database URL may carry a password; workers have their own.
        memory.remove("url");
    }
    // Partitions travel as the keys found here (folders matched on this machine,
    // keys added at run time), and inputs as one per partition, each file by content.
    let partitioned = doc.contains_key("partitions");
    if let Some(section) = doc.get_mut("partitions").and_then(|p| p.as_table_mut()) {
        section.remove("folders");
        section.remove("dynamic");
        let keys = pipeline.partitions.iter().cloned().map(toml::Value::String);
        section.insert("keys".into(), toml::Value::Array(keys.collect()));
    }
    let mut inputs = Vec::new();
    for input in &pipeline.inputs {
        let mut table = toml::Table::new();
        table.insert("key".into(), toml::Value::String(input.key.clone()));
        table.insert(
            "namespace".into(),
            toml::Value::String(input.namespace.clone()),
        );
        let mut file = toml::Value::String(input.file.display().to_string());
        by_content(&mut file)?;
        table.insert("file".into(), file);
        if partitioned {
            table.insert("partitioned".into(), toml::Value::Boolean(false));
        }
        inputs.push(toml::Value::Table(table));
    }
    doc.insert("input".into(), toml::Value::Array(inputs));
    // An agent works in the worker's own folder ([`Bundles`]): a runner's `dir`
    // names one on the submitter's machine.
    if let Some(runner) = doc.get_mut("runner").and_then(|r| r.as_table_mut()) {
        runner.remove("dir");
    }
    for stage in tables(&mut doc, "stage") {
        for field in ["build", "render"] {
            stage.remove(field);
        }
        if let Some(runner) = stage.get_mut("runner").and_then(|r| r.as_table_mut()) {
            runner.remove("dir");
        }
        // An agent's definition travels with the workflow: its brief opens with it,
        // and it is what the agent's output is current against.
        for field in ["component", "source"] {
            if let Some(file) = stage.get_mut(field) {
                by_content(file)?;
            }
        }
        for gate in tables(stage, "gate") {
            gate.remove("build");
            for field in ["schema", "component"] {
                if let Some(file) = gate.get_mut(field) {
                    by_content(file)?;
                }
            }
        }
    }
    Ok((toml::to_string(&doc)?, files))
}

/// The tables of the array `name` in `table` (`[[name]]` or an inline array).
fn tables<'a>(table: &'a mut toml::Table, name: &str) -> Vec<&'a mut toml::Table> {
    match table.get_mut(name) {
        Some(toml::Value::Array(items)) => {
            items.iter_mut().filter_map(|v| v.as_table_mut()).collect()
        }
        _ => Vec::new(),
    }
}

/// Cancels `workflow_id`: each stage that has not ended ends as
/// [`Outcome::Cancelled`] with `why`. `None` when no such workflow was submitted.
pub fn cancel(queue: &JobQueue, workflow_id: &str, why: &str) -> anyhow::Result<Option<Cancelled>> {
    let outcome = |stage: &str| {
        let summary = StageSummary {
            stage: stage.to_owned(),
            outcome: Outcome::Cancelled(why.to_owned()),
            duration_ms: 0.0,
            gates: None,
            agent_id: None,
            spent: Default::default(),
            cost_usd: None,
        };
        serde_json::to_string(&summary).expect("a summary serialises")
    };
    Ok(queue.cancel(workflow_id, &outcome)?)
}

/// Follows `workflow` until every stage ended, telling `progress` of each stage's
/// start and end as a local run does; `idle` is told how long the workflow has waited
/// when no worker has claimed any of its stages for a while. Once `interrupted` is
/// set (within a poll), the workflow is cancelled and the wait ends with the stages
/// that were left as [`Outcome::Cancelled`].
pub fn wait(
    queue: &JobQueue,
    workflow_id: &str,
    inputs_written: usize,
    progress: &(dyn Fn(&str, Option<&StageSummary>) + Sync),
    on_attempt: Option<&super::AttemptHook>,
    idle: &dyn Fn(Duration),
    interrupted: &AtomicBool,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut seen: HashMap<String, JobState> = HashMap::new();
    // The agent attempt each stage's worker reported last.
    let mut attempts: HashMap<String, (u32, Option<f64>)> = HashMap::new();
    let mut outcomes: HashMap<String, StageSummary> = HashMap::new();
    let mut last_change = Instant::now();
    let mut warned = false;
    let mut cancelled = false;
    loop {
        if !cancelled && interrupted.load(Ordering::Relaxed) {
            cancel(
                queue,
                workflow_id,
                "cancelled: its `baton run` was interrupted",
            )?;
            cancelled = true;
        }
        // Each look reads the jobs' states alone, and the outcomes of the jobs that
        // ended since the last look: a workflow of thousands of stages (partitions)
        // is not read whole at every stage's end.
        let jobs = queue.states(workflow_id)?;
        if jobs.is_empty() {
            bail!("no workflow `{workflow_id}` in the queue");
        }
        let mut ended = Vec::new();
        for job in &jobs {
            let (stage, state) = (&job.stage, &job.state);
            if let (Some(attempt), Some(hook), JobState::Running) = (job.attempt, on_attempt, state)
                && attempts.insert(stage.clone(), (attempt, job.cost_usd))
                    != Some((attempt, job.cost_usd))
            {
                (hook.0)(stage, attempt, job.cost_usd);
            }
            let before = seen.insert(stage.clone(), *state);
            if before == Some(*state) {
                continue;
            }
            last_change = Instant::now();
            if *state != JobState::Queued && before.is_none_or(|b| b == JobState::Queued) {
                progress(stage, None);
            }
            if *state == JobState::Done {
                ended.push(stage.clone());
            }
        }
        if !ended.is_empty() {
            for (stage, outcome) in queue.outcomes(workflow_id, &ended)? {
                let summary = summary_of(outcome.as_deref(), &stage)?;
                progress(&stage, Some(&summary));
                outcomes.insert(stage, summary);
            }
        }
        if jobs.iter().all(|j| j.state == JobState::Done) {
            let stages = jobs
                .iter()
                .map(|JobStatus { stage, .. }| {
                    outcomes
                        .remove(stage)
                        .ok_or_else(|| anyhow!("stage `{stage}` is done but has no outcome"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let passed = stages
                .iter()
                .all(|s| s.outcome.ok() || s.outcome.passes_over());
            tracing::debug!(workflow_id, elapsed = ?started.elapsed(), "workflow ended");
            let costs: Vec<f64> = stages.iter().filter_map(|s| s.cost_usd).collect();
            return Ok(RunSummary {
                workflow_id: workflow_id.to_owned(),
                inputs_written,
                passed,
                cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
                stages,
            });
        }
        let running = jobs.iter().any(|j| j.state == JobState::Running);
        if !running && !warned && last_change.elapsed() >= IDLE_NOTICE {
            idle(last_change.elapsed());
            warned = true;
        }
        queue.wait(POLL);
    }
}

/// How long a submitter waits with no stage claimed before it says so.
const IDLE_NOTICE: Duration = Duration::from_secs(5);

/// The longest wait between two looks at the queue (notifications usually end it sooner).
pub const POLL: Duration = Duration::from_secs(1);

/// Records how the stage `claim` holds ended, fenced on its lease; false when the
/// lease was lost first. [`summary_of`] reads it back.
pub(super) fn record_outcome(
    queue: &JobQueue,
    claim: &Claim,
    summary: &StageSummary,
) -> Result<bool, crate::memory::MemoryError> {
    let outcome = serde_json::to_string(summary).expect("a summary serialises");
    queue.finish(&claim.lease, &outcome)
}

/// How a stage ended, as [`record_outcome`] recorded it.
fn summary_of(outcome: Option<&str>, stage: &str) -> anyhow::Result<StageSummary> {
    let text = outcome.ok_or_else(|| anyhow!("stage `{stage}` is done but has no outcome"))?;
    serde_json::from_str(text)
        .with_context(|| format!("the recorded outcome of stage `{stage}` does not read"))
}

/// The workflows a worker has fetched: their files in its cache, their manifests
/// loaded, their components loaded.
pub struct Bundles {
    dir: PathBuf,
    pipelines: Mutex<HashMap<String, (Arc<Pipeline>, bool)>>,
    plugins: Plugins,
}

impl Bundles {
    /// Bundles fetched into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            pipelines: Mutex::default(),
            plugins: Plugins::default(),
        }
    }

    /// The pipeline of `workflow_id`, fetched and loaded on first use, and whether
    /// the workflow re-runs fresh stages.
    fn pipeline(
        &self,
        queue: &JobQueue,
        workflow_id: &str,
    ) -> anyhow::Result<(Arc<Pipeline>, bool)> {
        // Held while fetching: the slots of a worker fetch a workflow once.
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pipelines.get(workflow_id) {
            return Ok(p.clone());
        }
        let workflow = queue
            .workflow(workflow_id)?
            .ok_or_else(|| anyhow!("no workflow `{workflow_id}` in the queue"))?;
        let blobs = self.dir.join("blobs");
        std::fs::create_dir_all(&blobs)
            .with_context(|| format!("cannot create {}", blobs.display()))?;
        for name in &workflow.files {
            let path = blobs.join(name);
            if path.is_file() {
                continue;
            }
            let sha256 = name.split('.').next().unwrap_or_default();
            let bytes = queue
                .blob(sha256)?
                .ok_or_else(|| anyhow!("file {sha256} of {workflow_id} is not in the database"))?;
            if sha256_hex(&bytes) != sha256 {
                bail!("file {sha256} of {workflow_id} does not match its hash in the database");
            }
            write_whole(&path, &bytes)?;
        }
        let manifest = self.dir.join(format!("{workflow_id}.toml"));
        write_whole(&manifest, workflow.manifest.as_bytes())?;
        let mut pipeline = Pipeline::load(&manifest)
            .map_err(|p| anyhow!("the manifest of {workflow_id} does not check:\n{p}"))?;
        // An agent works in the worker's folder (where the worker was started: a
        // checkout of the project, say), not in the cache of fetched files.
        let here = std::env::current_dir().context("cannot read the worker's folder")?;
        for stage in &mut pipeline.stages {
            if let Some(runner) = &mut stage.runner {
                runner.dir = here.clone();
            }
        }
        let pipeline = Arc::new(pipeline);
        pipelines.insert(workflow_id.to_owned(), (pipeline.clone(), workflow.force));
        Ok((pipeline, workflow.force))
    }
}

/// Claims of one stage after which it is given up: a stage that takes its worker
/// down (or outlives every lease) is not handed to worker after worker.
pub const MAX_ATTEMPTS: u32 = 3;

/// Writes `bytes` to `path` aside and renames it into place: another worker on this
/// machine, sharing the folder, never reads half a file.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::files::write_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the stage `claim` holds, with its commits fenced on the claim's lease.
/// `base` carries what the agents it starts get (their environment, the flag that
/// stops them).
pub fn execute(
    queue: &JobQueue,
    runtime: &Runtime,
    bundles: &Bundles,
    claim: &Claim,
    base: &RunOptions,
) -> StageSummary {
    let lease = &claim.lease;
    let started = Instant::now();
    let result = (|| -> anyhow::Result<StageSummary> {
        let (pipeline, force) = bundles.pipeline(queue, &lease.workflow)?;
        let stage = pipeline
            .stages
            .iter()
            .find(|s| s.name == lease.stage)
            .ok_or_else(|| anyhow!("{} has no stage `{}`", lease.workflow, lease.stage))?;
        // The outcomes of the stages it reads from alone: a workflow of thousands of
        // stages is not read whole at every claim.
        let deps = queue.outcomes(&lease.workflow, &stage.depends_on)?;
        for dep in &stage.depends_on {
            let ok = match deps.iter().find(|(s, _)| s == dep) {
                Some((_, outcome)) => summary_of(outcome.as_deref(), dep)?.outcome.ok(),
                None => false,
            };
            if !ok {
                return Ok(summary(
                    &stage.name,
                    Outcome::Blocked(format!("stage `{dep}` did not pass")),
                    started,
                ));
            }
        }
        if claim.attempts > 1
            && let Some(outcome) = committed_earlier(
                queue.store().as_ref(),
                &pipeline,
                &stage.name,
                &lease.workflow,
            )?
        {
            return Ok(summary(&stage.name, outcome, started));
        }
        if claim.attempts > MAX_ATTEMPTS {
            return Ok(summary(
                &stage.name,
                Outcome::Failed(format!(
                    "abandoned after {} claims: each worker that ran it was lost before it ended (killed, or cut off from the database for longer than its lease)",
                    claim.attempts - 1
                )),
                started,
            ));
        }
        let options = RunOptions {
            force,
            parallelism: 1,
            ..base.clone()
        };
        let span = super::stage_span(tracing::Span::current().id(), &pipeline, stage);
        let summary = span.in_scope(|| {
            run_stage(
                &pipeline,
                stage,
                runtime,
                &bundles.plugins,
                queue.fenced(lease.clone()),
                &options,
                &lease.workflow,
            )
        });
        super::record_stage(&span, &pipeline, &summary);
        Ok(summary)
    })();
    result.unwrap_or_else(|e| summary(&lease.stage, Outcome::Failed(format!("{e:#}")), started))
}

fn summary(stage: &str, outcome: Outcome, started: Instant) -> StageSummary {
    StageSummary {
        stage: stage.to_owned(),
        outcome,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        gates: None,
        agent_id: None,
        spent: Default::default(),
        cost_usd: None,
    }
}

/// What an earlier attempt of `stage` in `workflow` committed before its worker was
/// lost: its output, or its quarantined output.
fn committed_earlier(
    memory: &dyn Store,
    pipeline: &Pipeline,
    stage_name: &str,
    workflow: &str,
) -> anyhow::Result<Option<Outcome>> {
    let stage = pipeline
        .stages
        .iter()
        .find(|s| s.name == stage_name)
        .ok_or_else(|| anyhow!("no stage `{stage_name}`"))?;
    let ours = |p: Option<Provenance>| {
        p.and_then(|p| p.run)
            .is_some_and(|r| r.workflow_id == workflow && r.stage == stage_name)
    };
    if let Some((ns, key)) = stage.output()
        && let Some(entry) = memory.get(ns, key)?
        && ours(Provenance::of(&entry.meta))
    {
        return Ok(Some(Outcome::Passed(entry.meta.revision)));
    }
    if let Some((_, record)) = Quarantined::read(memory, stage_name)?
        && ours(Some(record.provenance))
    {
        let why = record
            .reason
            .unwrap_or_else(|| format!("failed gates: {}", record.gate_report.failed().join(", ")));
        return Ok(Some(Outcome::GateFailed(why)));
    }
    Ok(None)
}
