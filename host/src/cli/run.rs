//! `baton run`, `baton cancel`, `baton status` and `baton events`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use clap::Args;

use super::{CliError, Exit, GlobalArgs, output};
use crate::service::{EventFilter, Outcome, RunOptions, StageSummary, manifest_path};

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Only these partitions' stages (repeatable), with the stages of no partition
    /// [default: every partition]. Over many partitions it is a backfill: the stale
    /// ones run, up to `-j` at once, and `--force` runs them all
    #[arg(short = 'p', long, value_name = "KEY")]
    partition: Vec<String>,
    /// Re-run stages that are fresh
    #[arg(long)]
    force: bool,
    /// Stages at once [default: the number of cores]
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Run the stages on `baton worker`s: enqueue them in the store's database and
    /// wait for them to end (a PostgreSQL store only). Its workflow's id is printed
    /// when enqueued; Ctrl-C (or SIGTERM) cancels the workflow, as `baton cancel` does,
    /// and a second one quits at once
    #[arg(long, conflicts_with = "jobs")]
    distributed: bool,
    /// Start no more agents once the run's agents have cost this many US dollars (as
    /// their CLIs report it); the agent stages not started are blocked
    #[arg(long, value_name = "USD", value_parser = budget, conflicts_with = "distributed")]
    budget: Option<f64>,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct CancelArgs {
    /// The workflow, as `baton run --distributed` printed it (`workflow-…`)
    workflow: String,
    /// Print what was cancelled as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct StatusArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Only these partitions' stages (repeatable), with the stages of no partition
    #[arg(short = 'p', long, value_name = "KEY")]
    partition: Vec<String>,
    /// A partitioned pipeline as a matrix: a row per partition, a column per stage
    #[arg(long)]
    matrix: bool,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct EventsArgs {
    /// Only this workflow
    #[arg(long)]
    workflow: Option<String>,
    /// Only this agent id
    #[arg(long)]
    agent: Option<String>,
    /// Only events about this key (a stage's output key)
    #[arg(long)]
    key: Option<String>,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

pub(super) fn run(global: &GlobalArgs, args: RunArgs) -> Result<(), CliError> {
    let manifest = manifest_path(args.pipeline, &super::current_dir()?)?;
    let ctx = super::service(global)?;
    let mut pipeline = ctx.load_definitions(&manifest)?;
    pipeline
        .restrict(&args.partition)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!(e)))?;
    // A distributed run is all or nothing; a local one runs what can run.
    let (pipeline, cannot_run) = if args.distributed {
        (ctx.runnable(pipeline, &manifest)?, Default::default())
    } else {
        let cannot_run = ctx.cannot_run(&pipeline)?;
        if !cannot_run.is_empty() {
            eprintln!(
                "baton: {} stage(s) cannot run: they read what no stage writes, no input seeds and the memory does not hold; the rest runs",
                cannot_run.len()
            );
            eprintln!(
                "hint: store each (`baton memory store -n NAMESPACE KEY < document.json`), or seed it with an `[[input]]`; `baton status` shows which stages need what"
            );
        }
        (pipeline, cannot_run)
    };
    let parallelism = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let live = std::sync::Arc::new(super::progress::RunProgress::new(
        &pipeline,
        super::progress::wanted(args.json),
    ));
    let told = live.clone();
    let options = RunOptions {
        force: args.force,
        parallelism,
        budget_usd: args.budget,
        cannot_run,
        on_attempt: Some(crate::service::AttemptHook(std::sync::Arc::new(
            move |stage, attempt, cost| told.attempt(stage, attempt, cost),
        ))),
        ..Default::default()
    };
    let progress = |stage: &str, ended: Option<&StageSummary>| live.update(stage, ended);
    let summary = if args.distributed {
        let idle = |waited: std::time::Duration| {
            live.suspend(|| eprintln!(
                "baton: no worker has claimed a stage for {}s; start one: `baton worker --store URL`",
                waited.as_secs()
            ))
        };
        let submitted = |workflow: &str| {
            live.suspend(|| {
                eprintln!("enqueued {workflow}: Ctrl-C or `baton cancel {workflow}` cancels it")
            });
        };
        ctx.run_distributed(
            &pipeline,
            &options,
            &progress,
            &submitted,
            &idle,
            interruption()?,
        )?
    } else {
        if pipeline.stages.iter().any(|s| s.runner.is_some()) {
            stop_agents_on_interrupt()?;
        }
        let ran = ctx.run(&pipeline, &options, &progress);
        if STOPPING.load(Ordering::SeqCst) {
            // The handler stopped the agents, which ended this run: the process is
            // the handler's to end, with 130 once it has sent the spans.
            loop {
                std::thread::park();
            }
        }
        ran?
    };
    live.finish();
    if args.json {
        output::json(&summary)?;
    } else {
        let rows: Vec<Vec<String>> = summary
            .stages
            .iter()
            .map(|s| {
                vec![
                    s.stage.clone(),
                    s.outcome.label().into(),
                    time(s),
                    s.gates.map_or("-".into(), |(p, t)| format!("{p}/{t}")),
                    detail(&s.outcome),
                ]
            })
            .collect();
        output::table(&["STAGE", "STATUS", "TIME", "GATES", "DETAIL"], &rows)?;
        eprintln!(
            "workflow {} ({} inputs written)",
            summary.workflow_id, summary.inputs_written
        );
        if let Some(usd) = summary.cost_usd {
            eprintln!("its agents cost ${usd:.4}, as their CLIs reported");
        }
    }
    if summary.passed {
        return Ok(());
    }
    Err(not_passed(&summary.stages))
}

/// Why a run did not pass, said as it happened: cancelled stages as cancelled, and
/// the quarantine hint only for stages whose refused output was quarantined.
fn not_passed(stages: &[StageSummary]) -> CliError {
    let named = |f: fn(&Outcome) -> bool| -> Vec<&str> {
        stages
            .iter()
            .filter(|s| f(&s.outcome))
            .map(|s| s.stage.as_str())
            .collect()
    };
    let refused = named(|o| matches!(o, Outcome::GateFailed(_)));
    let failed = named(|o| matches!(o, Outcome::Failed(_)));
    let cancelled = named(|o| matches!(o, Outcome::Cancelled(_)));
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(first) = refused.first() {
        return CliError::new(
            Exit::GateFailed,
            anyhow!(
                "the pipeline did not pass: the quality gates refused the output of {}",
                list(&refused)
            ),
        )
        .hint(format!(
            "`baton memory retrieve -n baton.quarantine {first} --json` shows the refused output and its gate report"
        ));
    }
    if !failed.is_empty() {
        return CliError::new(
            Exit::StageFailed,
            anyhow!("the pipeline did not pass: {} failed", list(&failed)),
        );
    }
    if !cancelled.is_empty() {
        return CliError::new(
            Exit::StageFailed,
            anyhow!(
                "the run was cancelled: {} did not run to the end, and nothing failed",
                list(&cancelled)
            ),
        );
    }
    CliError::new(
        Exit::StageFailed,
        anyhow!("the pipeline did not pass: a stage it needs did not run"),
    )
}

/// Set by the first Ctrl-C (or SIGTERM, or SIGHUP) of a distributed run: the wait
/// then cancels its workflow. A second one exits at once.
fn interruption() -> Result<&'static AtomicBool, CliError> {
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            crate::telemetry::flush();
            std::process::exit(130);
        }
        eprintln!("baton: interrupted: cancelling the workflow (again to quit now)");
    })
    .map_err(|e| CliError::new(Exit::Failure, anyhow!("cannot handle Ctrl-C: {e}")))?;
    Ok(&INTERRUPTED)
}

/// Set by [`stop_agents_on_interrupt`]'s handler before it stops the agents, so that
/// the run their deaths end does not exit first, with its own code and before the
/// spans are sent.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// On Ctrl-C (or SIGTERM, or SIGHUP) of a local run with agents: the agents run in
/// process groups of their own, which the terminal's signal does not reach, so they
/// are killed here before baton exits. What was committed stays.
fn stop_agents_on_interrupt() -> Result<(), CliError> {
    ctrlc::set_handler(|| {
        STOPPING.store(true, Ordering::SeqCst);
        let n = crate::service::stop_agents();
        eprintln!("baton: interrupted: stopped {n} running agent(s)");
        // The spans of the stages that ended reach the collector.
        crate::telemetry::flush();
        std::process::exit(130);
    })
    .map_err(|e| CliError::new(Exit::Failure, anyhow!("cannot handle Ctrl-C: {e}")))
}

/// A budget in US dollars: a positive number.
fn budget(text: &str) -> Result<f64, String> {
    match text.trim_start_matches('$').parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 => Ok(usd),
        _ => Err(format!(
            "{:?} is not a budget: give US dollars, such as `5` or `0.50`",
            crate::text::short(text)
        )),
    }
}

/// `baton cancel`.
pub(super) fn cancel(global: &GlobalArgs, args: CancelArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    let cancelled = ctx.cancel_workflow(&args.workflow)?;
    if args.json {
        return output::json(&cancelled);
    }
    if cancelled.queued.is_empty() && cancelled.running.is_empty() {
        eprintln!(
            "{}: every stage had ended ({}); nothing to cancel",
            cancelled.workflow, cancelled.ended
        );
        return Ok(());
    }
    eprintln!(
        "cancelled {}: {} stage(s) will not run, {} running will not be kept, {} had ended",
        cancelled.workflow,
        cancelled.queued.len(),
        cancelled.running.len(),
        cancelled.ended
    );
    for stage in &cancelled.queued {
        eprintln!("  queued    {stage}");
    }
    for job in &cancelled.running {
        eprintln!(
            "  running   {} (on {}: its result is refused)",
            job.stage, job.worker
        );
    }
    Ok(())
}

/// A stage's time, and what it went on where that is not the run itself: building
/// the component, and loading it and checking freshness (all of a fresh stage's).
fn time(s: &StageSummary) -> String {
    let show = |ms: f64| {
        if ms >= 1000.0 {
            format!("{:.1} s", ms / 1000.0)
        } else {
            format!("{ms:.1} ms")
        }
    };
    let mut parts = Vec::new();
    if s.spent.build_ms >= 0.05 {
        parts.push(format!("build {}", show(s.spent.build_ms)));
    }
    if s.spent.check_ms >= 0.05 {
        parts.push(format!("check {}", show(s.spent.check_ms)));
    }
    if parts.is_empty() {
        return show(s.duration_ms);
    }
    let run = s.duration_ms - s.spent.build_ms - s.spent.check_ms;
    if s.outcome != Outcome::Fresh && run >= 0.05 {
        parts.push(format!("run {}", show(run)));
    }
    format!("{} ({})", show(s.duration_ms), parts.join(", "))
}

fn detail(o: &Outcome) -> String {
    match o {
        Outcome::Passed(rev) => format!("revision {rev}"),
        Outcome::Fresh => "skipped: inputs, component and config unchanged".into(),
        Outcome::External => "stored by an agent outside baton".into(),
        Outcome::AwaitingExternal => "awaiting an external agent".into(),
        Outcome::Untracked => {
            "an agent that writes nothing: nothing to wait on or check (give it `writes` to track it)".into()
        }
        Outcome::Failed(e)
        | Outcome::GateFailed(e)
        | Outcome::AwaitingApproval(e)
        | Outcome::Blocked(e)
        | Outcome::Cancelled(e) => e.clone(),
    }
}

pub(super) fn status(global: &GlobalArgs, args: StatusArgs) -> Result<(), CliError> {
    // Reads that nothing produces do not stop a status: the memory may hold them (a
    // partial pipeline, seeded by hand), and the stages that lack them say so.
    let ctx = super::service(global)?;
    let mut pipeline =
        ctx.load_definitions(&manifest_path(args.pipeline, &super::current_dir()?)?)?;
    pipeline
        .restrict(&args.partition)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!(e)))?;
    let stages = ctx.status(&pipeline)?;
    if args.matrix {
        let matrix = crate::service::matrix(&pipeline, &stages);
        return match args.json {
            true => output::json(&matrix),
            false => super::partition::print_matrix(&matrix),
        };
    }
    if args.json {
        return output::json(&stages);
    }
    let rows: Vec<Vec<String>> = stages
        .iter()
        .map(|s| {
            let next = if let Some(job) = s.running_on.first() {
                format!("running on {} ({})", job.worker, job.workflow)
            } else if s.done {
                "done".to_owned()
            } else if s.state == crate::service::StageState::Held {
                format!("`baton approve {0}` or `baton reject {0}`", s.stage)
            } else if s.ready {
                "ready".to_owned()
            } else if !s.waiting_on.is_empty() {
                format!("waits on {}", s.waiting_on.join(", "))
            } else if let Some(first) = s.missing.first() {
                let more = match s.missing.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                };
                format!("needs `{first}`{more}: no stage writes it; `baton memory store` it")
            } else {
                "-".to_owned()
            };
            vec![
                s.stage.clone(),
                s.state.as_str().into(),
                next,
                s.gates.to_string(),
                s.why.clone(),
            ]
        })
        .collect();
    output::table(&["STAGE", "STATE", "NEXT", "GATES", "WHY"], &rows)
}

pub(super) fn events(global: &GlobalArgs, args: EventsArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    let found = ctx.events(&EventFilter {
        workflow: args.workflow,
        agent: args.agent,
        key: args.key,
        name_prefix: None,
    })?;
    if args.json {
        return output::json(&found);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|e| {
            vec![
                e.at.to_string(),
                e.name.clone(),
                e.agent_id.clone(),
                e.attributes.to_string(),
            ]
        })
        .collect();
    output::table(&["AT", "EVENT", "AGENT", "ATTRIBUTES"], &rows)
}
