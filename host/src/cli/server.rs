//! `baton memory server …`: start, stop and inspect the memory server of a store.
//!
//! Commands start a server by themselves (see [`crate::server`]); these subcommands are
//! for people and supervisors: `start` and `stop` by hand, `status` to see one, `run`
//! to keep one in the foreground under a supervisor.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, output};
use crate::server::{self, Outcome, ServeOptions};
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
    let Some(remote) = server::connect(ctx.store_path()?)? else {
        if args.json {
            return output::json(&serde_json::json!({ "stopped": null }));
        }
        eprintln!(
            "no memory server is running for {}",
            ctx.store_path()?.display()
        );
        return Ok(());
    };
    let status = remote.status()?;
    remote.stop()?;
    drop(remote);
    // Stopped when its socket is gone: it removes it after releasing the store.
    let socket = server::socket_path(ctx.store_path()?);
    let started = Instant::now();
    while socket.exists() && started.elapsed() < ctx.store_options().lock_timeout {
        std::thread::sleep(Duration::from_millis(5));
    }
    if socket.exists() {
        return Err(CliError::new(
            Exit::Store,
            anyhow!(
                "the memory server (pid {}) did not stop within {}",
                status.pid,
                humantime::format_duration(ctx.store_options().lock_timeout)
            ),
        ));
    }
    if args.json {
        return output::json(&serde_json::json!({ "stopped": status }));
    }
    eprintln!(
        "stopped the memory server (pid {}) of {}",
        status.pid,
        ctx.store_path()?.display()
    );
    Ok(())
}

fn status(ctx: &Service, args: JsonArg) -> Result<(), CliError> {
    let Some(remote) = server::connect(ctx.store_path()?)? else {
        if args.json {
            output::json(&serde_json::json!({ "running": false, "store": ctx.store_path()? }))?;
        }
        return Err(CliError::new(
            Exit::NotFound,
            anyhow!(
                "no memory server is running for {}",
                ctx.store_path()?.display()
            ),
        ));
    };
    let status = remote.status()?;
    if args.json {
        let mut value = serde_json::to_value(&status).map_err(std::io::Error::from)?;
        value["running"] = true.into();
        return output::json(&value);
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
    let outcome = server::serve(
        ctx.store_path()?,
        ctx.store_options().clone(),
        ServeOptions { idle: args.idle },
    )?;
    match outcome {
        Outcome::Busy => Err(CliError::new(
            Exit::Store,
            anyhow!(
                "another process held {:?} for {}; not serving",
                ctx.store_path()?,
                humantime::format_duration(ctx.store_options().lock_timeout)
            ),
        )
        .hint("`baton memory server status` shows a server already running")),
        Outcome::Stopped(reason) => {
            if args.json {
                return output::json(&serde_json::json!({ "stopped": reason }));
            }
            eprintln!("memory server stopped: {reason}");
            Ok(())
        }
    }
}
