//! `baton memory server …`: start, stop and inspect the memory server of a store.
//!
//! Commands start a server by themselves (see [`crate::server`]); these subcommands are
//! for people and supervisors: `start` and `stop` by hand, `status` to see one, `run`
//! to keep one in the foreground under a supervisor.

use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, output};
use crate::server::ServerStatus;
use crate::service::Service;

#[derive(Debug, Subcommand)]
pub(super) enum ServerCommand {
    /// Start a server for the store in the background (commands start one by themselves
    /// unless `--server never`)
    Start(RunArgs),
    /// Stop the store's server once the requests in flight are answered
    Stop(JsonArg),
    /// Show the store's server: process, build, idle timeout, connections, requests.
    /// Exits with 3 when none is running
    Status(JsonArg),
    /// Serve the store in the foreground until idle, stopped or interrupted
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Stop after this long without connections, such as `90s` or `1h`
    #[arg(long, env = "BATON_SERVER_IDLE", value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    idle: Duration,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct JsonArg {
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Service, cmd: ServerCommand) -> Result<(), CliError> {
    match cmd {
        ServerCommand::Start(args) => start(ctx, args),
        ServerCommand::Stop(args) => stop(ctx, args),
        ServerCommand::Status(args) => status(ctx, args),
        ServerCommand::Run(args) => foreground(ctx, args),
    }
}

fn start(ctx: &Service, args: RunArgs) -> Result<(), CliError> {
    let (status, already) = ctx.serve_store(args.idle)?;
    if args.json {
        return output::json(&status);
    }
    let verb = if already {
        "is already serving"
    } else {
        "serves"
    };
    eprintln!(
        "memory server (pid {}) {verb} {}; it stops after {} without connections",
        status.pid,
        status.store.display(),
        humantime::format_duration(Duration::from_millis(status.idle_timeout_ms))
    );
    Ok(())
}

fn stop(ctx: &Service, args: JsonArg) -> Result<(), CliError> {
    let stopped = ctx.stop_server()?;
    if args.json {
        return output::json(&Stopped { stopped });
    }
    match stopped {
        Some(status) => eprintln!(
            "stopped the memory server (pid {}) of {}",
            status.pid,
            ctx.store_path()?.display()
        ),
        None => eprintln!(
            "no memory server is running for {}",
            ctx.store_path()?.display()
        ),
    }
    Ok(())
}

/// `stop --json` and `run --json`: what stopped (the server's status, or why).
#[derive(serde::Serialize)]
struct Stopped<T> {
    stopped: Option<T>,
}

/// `status --json`.
#[derive(serde::Serialize)]
struct Running<'a> {
    running: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    status: Option<&'a ServerStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'a std::path::Path>,
}

fn status(ctx: &Service, args: JsonArg) -> Result<(), CliError> {
    let Some(status) = ctx.server_status()? else {
        if args.json {
            output::json(&Running {
                running: false,
                status: None,
                store: Some(ctx.store_path()?),
            })?;
        }
        return Err(CliError::new(
            Exit::NotFound,
            anyhow!(
                "no memory server is running for {}",
                ctx.store_path()?.display()
            ),
        ));
    };
    if args.json {
        return output::json(&Running {
            running: true,
            status: Some(&status),
            store: None,
        });
    }
    let idle = humantime::format_duration(Duration::from_millis(status.idle_timeout_ms));
    output::table(
        &[
            "pid",
            "store",
            "build",
            "since",
            "idle timeout",
            "connections",
            "requests",
        ],
        &[vec![
            status.pid.to_string(),
            status.store.display().to_string(),
            status.build.clone(),
            status.started_at.to_string(),
            idle.to_string(),
            status.connections.to_string(),
            status.requests.to_string(),
        ]],
    )
}

fn foreground(ctx: &Service, args: RunArgs) -> Result<(), CliError> {
    let reason = ctx.serve_foreground(args.idle)?;
    if args.json {
        return output::json(&Stopped {
            stopped: Some(reason),
        });
    }
    eprintln!("memory server stopped: {reason}");
    Ok(())
}
