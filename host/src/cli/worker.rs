//! `baton worker`: claims stages from the database's queue and runs them.

use std::time::Duration;

use clap::Args;

use super::{CliError, GlobalArgs, output};
use crate::service::{StageSummary, WorkerOptions, WorkerReport as Report, default_name};

#[derive(Debug, Args)]
pub(super) struct WorkerArgs {
    /// Stages run at once [default: the number of cores]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// How long a claim holds a stage without renewal; the worker renews it every
    /// third of that while the stage runs. A killed worker's stages are claimed again
    /// once their leases expire.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// Stop when no stage of any workflow is queued or running (for scripts and tests)
    #[arg(long)]
    exit_when_idle: bool,
    /// The name its leases carry [default: HOST:PID]
    #[arg(long)]
    name: Option<String>,
    /// Run agent stages too: their runner's CLI (`claude`, …) and its credentials are
    /// on this machine. Only such workers claim them; each agent works in the
    /// worker's current folder and reaches the same database
    #[arg(long)]
    agents: bool,
    /// Print each finished stage as a line of JSON on stdout
    #[arg(long)]
    json: bool,
}

pub(super) fn run(global: &GlobalArgs, args: WorkerArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    if args.lease < Duration::from_millis(300) {
        return Err(CliError::bad_input(format!(
            "a lease of {} is too short to renew",
            humantime::format_duration(args.lease)
        ))
        .hint("use `--lease 1s` or more"));
    }
    let options = WorkerOptions {
        slots: args
            .jobs
            .map(|n| n as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        lease: args.lease,
        exit_when_idle: args.exit_when_idle,
        name: args.name.unwrap_or_else(default_name),
        agents: args.agents,
    };
    let json = args.json;
    let report = |r: Report<'_>| match r {
        Report::Claimed(c) => eprintln!(
            "  claimed   {} of {} (attempt {})",
            c.lease.stage, c.lease.workflow, c.attempts
        ),
        Report::Finished {
            claim,
            summary,
            recorded,
        } => {
            if !recorded {
                eprintln!(
                    "  lost      {} of {}: its lease passed to another worker, or its workflow was cancelled; nothing recorded",
                    claim.lease.stage, claim.lease.workflow
                );
            } else {
                eprintln!(
                    "  {:<9} {} ({:.1} ms)",
                    summary.outcome.label(),
                    summary.stage,
                    summary.duration_ms
                );
            }
            if json {
                let _ = output::json_line(&Finished {
                    workflow: &claim.lease.workflow,
                    attempt: claim.attempts,
                    recorded,
                    summary,
                });
            }
        }
        Report::Trouble(e) => eprintln!("baton worker: {e:#}; retrying"),
    };
    // A store no worker can share is refused before the worker says it started.
    let started = || {
        eprintln!(
            "baton worker {}: {} slot(s) on {}, lease {}",
            options.name,
            options.slots,
            ctx.location(),
            humantime::format_duration(options.lease)
        )
    };
    ctx.work(&options, started, &report)?;
    Ok(())
}

/// A finished stage, as `--json` prints it.
#[derive(serde::Serialize)]
struct Finished<'a> {
    workflow: &'a str,
    attempt: u32,
    recorded: bool,
    summary: &'a StageSummary,
}
