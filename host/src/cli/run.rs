//! `baton run`, `baton status` and `baton events`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;

use super::{CliError, Context, Exit, GlobalArgs, output};
use crate::executor::{self, EVENTS_NAMESPACE, Freshness, Outcome, RunOptions};
use crate::memory::{Key, Namespace, Store};

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Re-run stages that are fresh
    #[arg(long)]
    force: bool,
    /// Stages at once [default: the number of cores]
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct StatusArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
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
    let pipeline = super::gate::load_pipeline(super::check::manifest_path(args.pipeline)?)?;
    let ctx = Context::resolve(global)?;
    let runtime = super::stage::runtime(&ctx)?;
    let memory: std::sync::Arc<dyn Store> = ctx.open()?;
    let parallelism = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = RunOptions {
        force: args.force,
        parallelism,
    };
    let interactive = std::io::stderr().is_terminal();
    let (done, total) = (
        std::sync::atomic::AtomicUsize::new(0),
        pipeline.stages.len(),
    );
    let progress = |stage: &str, outcome: Option<&Outcome>| match outcome {
        None if interactive => eprintln!("  running   {stage}"),
        None => {}
        Some(o) => {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            eprintln!("  [{n}/{total}] {:<9} {stage}", label(o));
        }
    };
    let summary = executor::run(&pipeline, &runtime, memory, &options, &progress)
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    if args.json {
        output::json(&summary)?;
    } else {
        let rows: Vec<Vec<String>> = summary
            .stages
            .iter()
            .map(|s| {
                vec![
                    s.stage.clone(),
                    label(&s.outcome).into(),
                    format!("{:.1} ms", s.duration_ms),
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
    }
    if summary.passed {
        return Ok(());
    }
    let gate_failed = summary
        .stages
        .iter()
        .any(|s| matches!(s.outcome, Outcome::GateFailed(_)));
    let (exit, what) = if gate_failed {
        (Exit::GateFailed, "a quality gate")
    } else {
        (Exit::StageFailed, "a stage")
    };
    Err(CliError::new(exit, anyhow!("the pipeline did not pass: {what} failed"))
        .hint("`baton memory retrieve -n baton.quarantine STAGE --json` shows an output its gates refused"))
}

fn label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed(_) => "passed",
        Outcome::Fresh => "fresh",
        Outcome::External => "external",
        Outcome::AwaitingExternal => "awaiting",
        Outcome::Failed(_) => "failed",
        Outcome::GateFailed(_) => "gate-fail",
        Outcome::Blocked(_) => "blocked",
    }
}

fn detail(o: &Outcome) -> String {
    match o {
        Outcome::Passed(rev) => format!("revision {rev}"),
        Outcome::Fresh => "skipped: inputs, component and config unchanged".into(),
        Outcome::External => "stored by an agent outside baton".into(),
        Outcome::AwaitingExternal => "awaiting an external agent".into(),
        Outcome::Failed(e) | Outcome::GateFailed(e) | Outcome::Blocked(e) => e.clone(),
    }
}

pub(super) fn status(global: &GlobalArgs, args: StatusArgs) -> Result<(), CliError> {
    let pipeline = super::gate::load_pipeline(super::check::manifest_path(args.pipeline)?)?;
    let ctx = Context::resolve(global)?;
    let runtime = super::stage::runtime(&ctx)?;
    let memory = ctx.open()?;
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
    let mut rows: Vec<Vec<String>> = Vec::new();
    for stage in &pipeline.stages {
        let changed_input = changed
            .iter()
            .find(|(n, k)| stage.reads.allows(n, k))
            .map(|(_, k)| k.clone());
        let stale_upstream = stage
            .depends_on
            .iter()
            .find(|d| {
                rows.iter().any(|r| {
                    &r[0] == *d && (r[1] == "stale" || r[1] == "missing" || r[1] == "failed")
                })
            })
            .cloned();
        let state = match (&stage.component, changed_input, stale_upstream) {
            (Some(_), Some(key), _) => (
                "stale".to_owned(),
                format!("input file for `{key}` changed"),
            ),
            (Some(_), None, Some(up)) => (
                "stale".to_owned(),
                format!("stage `{up}` before it will run again"),
            ),
            _ => match &stage.component {
                None => {
                    let ns = Namespace::new(stage.writes_namespace.clone())?;
                    match memory.get(&ns, &Key::new(stage.writes.clone())?)? {
                        Some(_) => (
                            "external".to_owned(),
                            "stored by an agent outside baton".to_owned(),
                        ),
                        None => (
                            "awaiting".to_owned(),
                            "awaiting an external agent".to_owned(),
                        ),
                    }
                }
                Some(component) => match runtime.load(component) {
                    Err(e) => ("failed".to_owned(), format!("{e:#}")),
                    Ok((plugin, _)) => match executor::freshness(stage, &plugin.sha256, &*memory)
                        .map_err(|e| CliError::new(Exit::Store, e))?
                    {
                        Freshness::Fresh => ("fresh".into(), String::new()),
                        Freshness::Missing => {
                            let q = Namespace::new(executor::QUARANTINE_NAMESPACE)?;
                            match memory.get(&q, &Key::new(stage.name.clone())?)? {
                                Some(_) => {
                                    ("failed".into(), "its last output is in quarantine".into())
                                }
                                None => ("missing".into(), "never run".into()),
                            }
                        }
                        Freshness::Stale(why) => ("stale".into(), why),
                    },
                },
            },
        };
        rows.push(vec![stage.name.clone(), state.0, state.1]);
    }
    if args.json {
        let doc: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::json!({"stage": r[0], "state": r[1], "why": r[2]}))
            .collect();
        return output::json(&doc);
    }
    output::table(&["STAGE", "STATE", "WHY"], &rows)
}

pub(super) fn events(global: &GlobalArgs, args: EventsArgs) -> Result<(), CliError> {
    let ctx = Context::resolve(global)?;
    let memory = ctx.open()?;
    let ns = Namespace::new(EVENTS_NAMESPACE)?;
    let prefix = args
        .workflow
        .as_deref()
        .map(|w| format!("{w}/"))
        .unwrap_or_default();
    let mut found = Vec::new();
    for meta in memory.list(Some(&ns), &prefix)? {
        let Some(entry) = memory.get(&ns, &Key::new(meta.key.clone())?)? else {
            continue;
        };
        let event = entry.json();
        if args
            .agent
            .as_deref()
            .is_some_and(|a| event["agent_id"] != a)
        {
            continue;
        }
        if args
            .key
            .as_deref()
            .is_some_and(|k| event["attributes"]["key"] != k)
        {
            continue;
        }
        found.push(event);
    }
    found.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    if args.json {
        return output::json(&found);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|e| {
            vec![
                e["at"].as_str().unwrap_or_default().into(),
                e["name"].as_str().unwrap_or_default().into(),
                e["agent_id"].as_str().unwrap_or_default().into(),
                e["attributes"].to_string(),
            ]
        })
        .collect();
    output::table(&["AT", "EVENT", "AGENT", "ATTRIBUTES"], &rows)
}
