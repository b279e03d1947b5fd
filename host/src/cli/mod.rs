//! The `baton` command line: argument parsing, the store a command works on, and how
//! results and failures reach the user.
//!
//! Data goes to stdout, everything else (confirmations, diagnostics, errors) to stderr.
//! Every command takes `--json` for scripts. A failure prints `baton: error: ` and the
//! error chain on one line, `hint:` lines where there is an obvious fix, and exits with
//! a code that says what kind of failure it was ([`Exit`]).

mod agent;
mod approval;
mod check;
mod error;
mod gate;
mod hook;
mod import;
mod memory;
mod output;
mod partition;
mod progress;
mod run;
mod server;
mod stage;
mod transfer;
mod ui;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use error::{CliError, Exit};

use crate::service::{Service, Settings};

/// baton: a runtime for multi-agent pipelines.
///
/// Stages hand their outputs to each other through a namespaced, versioned memory;
/// every output passes its quality gates before later stages see it.
#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    top: TopArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, clap::Args)]
struct TopArgs {
    /// The store: a folder (sled, embedded) or a `postgres://` URL (PostgreSQL)
    /// [default: `[memory] url` of the nearest `pipeline.toml`, else `.baton/store` beside it]
    #[arg(long, global = true, env = "BATON_STORE", value_name = "DIR|URL")]
    store: Option<PathBuf>,
    /// More diagnostics on stderr (-v debug, -vv trace); `RUST_LOG` overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// The store options, also accepted before the command name (`baton --retention 3
    /// memory store …`); each command that uses them lists them in its own help.
    #[command(flatten)]
    leading: LeadingStoreOptions,
}

/// How a command that opens the store waits for it, how many revisions its writes
/// keep, and whether it starts a memory server: shown on the commands they apply to.
#[derive(Debug, Default, clap::Args)]
struct StoreOptions {
    /// How long to wait for another process using the store, such as `500ms` or `10s`
    /// [default: 30s]
    #[arg(long, global = true, env = "BATON_LOCK_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    lock_timeout: Option<Duration>,
    /// Revisions kept per key [default: `memory.retention` in `pipeline.toml`, else 16]
    #[arg(long, global = true, env = "BATON_RETENTION", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    retention: Option<u64>,
    /// Whether a command that finds no memory server starts one for the commands
    /// after it [default: auto]
    #[arg(long, global = true, env = "BATON_SERVER", value_name = "WHEN")]
    server: Option<crate::server::Policy>,
}

/// [`StoreOptions`] given before the command name, or by the environment alone (for
/// the commands that do not list them): accepted, not listed.
#[derive(Debug, Default, clap::Args)]
struct LeadingStoreOptions {
    #[arg(long = "lock-timeout", id = "leading_lock_timeout", hide = true, env = "BATON_LOCK_TIMEOUT", value_parser = humantime::parse_duration)]
    lock_timeout: Option<Duration>,
    #[arg(long = "retention", id = "leading_retention", hide = true, env = "BATON_RETENTION", value_parser = clap::value_parser!(u64).range(1..))]
    retention: Option<u64>,
    #[arg(
        long = "server",
        id = "leading_server",
        hide = true,
        env = "BATON_SERVER"
    )]
    server: Option<crate::server::Policy>,
}

/// What a command works with, resolved from the command line and the environment.
#[derive(Debug)]
struct GlobalArgs {
    store: Option<PathBuf>,
    lock_timeout: Duration,
    retention: Option<u64>,
    server: crate::server::Policy,
}

impl GlobalArgs {
    /// `top`'s options, with `options` (given after the command name) taking precedence.
    fn resolve(top: &TopArgs, options: Option<&StoreOptions>) -> Self {
        Self {
            store: top.store.clone(),
            lock_timeout: options
                .and_then(|o| o.lock_timeout)
                .or(top.leading.lock_timeout)
                .unwrap_or(Duration::from_secs(30)),
            retention: options.and_then(|o| o.retention).or(top.leading.retention),
            server: options
                .and_then(|o| o.server)
                .or(top.leading.server)
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store, read and manage entries in the memory
    #[command(alias = "mem")]
    Memory {
        #[command(flatten)]
        options: StoreOptions,
        #[command(subcommand)]
        command: memory::MemoryCommand,
    },
    /// Run the pipeline: seed inputs, run stale stages, gate and commit their outputs
    Run {
        #[command(flatten)]
        options: StoreOptions,
        #[command(flatten)]
        args: run::RunArgs,
    },
    /// Cancel a distributed run's workflow (PostgreSQL stores only): its stages no
    /// worker has claimed never run, and a worker running one can no longer commit
    /// its result
    ///
    /// A worker running a stage of it finishes the stage, then records nothing; a
    /// commit that landed before the cancel stays. The stages end as `cancelled`, and
    /// a `baton run --distributed` following the workflow prints them so and exits 6.
    Cancel(run::CancelArgs),
    /// Show each stage as fresh, stale (and why), missing, awaiting, held for a
    /// person's approval or failed, and which worker runs it now
    Status(run::StatusArgs),
    /// Read the recorded events, by workflow or agent
    Events(run::EventsArgs),
    /// Store a stage's output that its approval gate holds for a person
    ///
    /// A stage with a gate `approval = true` has the output that passes its other
    /// gates held: not at its key, not read by the stages after it. Approving commits
    /// it at its key with who approved (and the note) in its provenance; the next
    /// `baton run` goes on with the stages that read it.
    Approve(approval::ApproveArgs),
    /// Send a stage's held output back, with the reason
    ///
    /// Nothing is stored. The next `baton run` runs the stage again; an agent stage's
    /// agent gets the reason in its brief as findings, as a refused gate's.
    Reject(approval::RejectArgs),
    /// List the outputs held for a person's approval, or show one
    Held(approval::HeldArgs),
    /// Check `pipeline.toml` without running anything: every problem, with its line
    Check(check::CheckArgs),
    /// List a partitioned pipeline's partitions and their stages' states, or add a
    /// partition at run time
    Partition {
        #[command(subcommand)]
        command: partition::PartitionCommand,
    },
    /// Check documents against quality gates
    Gate {
        #[command(subcommand)]
        command: gate::GateCommand,
    },
    /// Print the JSON Schema of `pipeline.toml`
    PipelineSchema,
    /// Run a single stage component, or scaffold a new stage crate
    Stage {
        #[command(flatten)]
        options: StoreOptions,
        #[command(subcommand)]
        command: stage::StageCommand,
    },
    /// An external agent's two calls: its inputs in one answer, its output through
    /// its gates
    Agent {
        #[command(flatten)]
        options: StoreOptions,
        #[command(subcommand)]
        command: agent::AgentCommand,
    },
    /// Write pipeline.toml from the agent definitions a team already has
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Serve MCP on standard input and output, for agents
    ///
    /// The tools of claude-flow's memory (`memory_store`, `memory_retrieve`,
    /// `memory_search`, `memory_list`, `memory_delete`, plus `memory_history` and
    /// `memory_rollback`), of the eventuali server's agent lifecycle (`start_agent`,
    /// `emit_agent_event`, `complete_agent`, `start_workflow`, `emit_workflow_event`,
    /// `complete_workflow`, `emit_system_event`, `get_events`) and of the pipeline
    /// (`gate_check`, `pipeline_status`, `events_query`, `agent_inputs`,
    /// `agent_output`, `agent_brief`, and a person's `held_outputs`, `approve_output`,
    /// `reject_output`). Point an `.mcp.json` entry named `claude-flow` or `eventuali`
    /// at `baton mcp` and agents written for those servers work unchanged.
    Mcp {
        #[command(flatten)]
        options: StoreOptions,
    },
    /// Claim stages from the database's queue and run them (PostgreSQL stores only)
    ///
    /// Start any number, on any machine that reaches the database; `baton run
    /// --distributed` enqueues a pipeline's stages for them. A worker fetches each
    /// component once by its SHA-256 and compiles it once, renews its lease while a
    /// stage runs, and commits only while it holds the lease: a killed worker's stage
    /// is claimed again when its lease expires, and never committed twice.
    Worker(worker::WorkerArgs),
    /// Serve a web app on 127.0.0.1 that shows the pipeline, its gates and its
    /// memory, live
    ///
    /// The pipeline as a graph coloured by each stage's state, each stage's runs with
    /// their gate reports, events and provenance, and the memory: namespaces, keys,
    /// revisions with a diff between any two, and rollback through the key's gates.
    Ui {
        #[command(flatten)]
        options: StoreOptions,
        #[command(flatten)]
        args: ui::UiArgs,
    },
}

impl Command {
    /// The command's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Memory { .. } => "memory",
            Command::Run { .. } => "run",
            Command::Cancel(_) => "cancel",
            Command::Status(_) => "status",
            Command::Events(_) => "events",
            Command::Approve(_) => "approve",
            Command::Reject(_) => "reject",
            Command::Held(_) => "held",
            Command::Check(_) => "check",
            Command::Partition { .. } => "partition",
            Command::Gate { .. } => "gate",
            Command::PipelineSchema => "pipeline-schema",
            Command::Stage { .. } => "stage",
            Command::Agent { .. } => "agent",
            Command::Import { .. } => "import",
            Command::Mcp { .. } => "mcp",
            Command::Worker(_) => "worker",
            Command::Ui { .. } => "ui",
        }
    }

    /// Whether it serves until stopped rather than doing one thing.
    fn serves(&self) -> bool {
        matches!(
            self,
            Command::Mcp { .. }
                | Command::Worker(_)
                | Command::Ui { .. }
                | Command::Memory {
                    command: memory::MemoryCommand::Server(_),
                    ..
                }
        )
    }
}

impl Cli {
    /// Parses `args` (the program's name first): a hook's `memory store` or
    /// `memory retrieve` by [`hook::parse`], anything else (or anything it refuses)
    /// by clap.
    fn parse_args(args: Vec<std::ffi::OsString>) -> Self {
        match hook::parse(&args, &|var| std::env::var_os(var)) {
            Some(cli) => cli,
            None => Self::parse_from(args),
        }
    }
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse_args(std::env::args_os().collect());
    let telemetry = crate::telemetry::init(cli.top.verbose);
    // The command's span: every span of the command is in it, and it continues the
    // trace of whoever started this process (`TRACEPARENT`), such as an agent's hook.
    // A server's (MCP, a worker, the UI, the memory server) units of work are each
    // their own trace instead.
    let span = match cli.command.serves() {
        true => tracing::Span::none(),
        false => {
            tracing::info_span!("command", otel.name = %format!("baton {}", cli.command.name()))
        }
    };
    crate::telemetry::continue_from_environment(&span);
    let code = span.in_scope(|| execute(cli));
    drop(span);
    drop(telemetry);
    code
}

/// Runs the parsed command line.
fn execute(cli: Cli) -> ExitCode {
    let top = &cli.top;
    let with = |options: &StoreOptions| GlobalArgs::resolve(top, Some(options));
    let plain = GlobalArgs::resolve(top, None);
    let result = match cli.command {
        Command::Memory { options, command } => memory::run(&with(&options), command),
        Command::Stage { options, command } => stage::run(&with(&options), command),
        Command::Check(args) => check::run(args),
        Command::Partition { command } => partition::run(&plain, command),
        Command::Run { options, args } => run::run(&with(&options), args),
        Command::Cancel(args) => run::cancel(&plain, args),
        Command::Status(args) => run::status(&plain, args),
        Command::Events(args) => run::events(&plain, args),
        Command::Approve(args) => approval::approve(&plain, args),
        Command::Reject(args) => approval::reject(&plain, args),
        Command::Held(args) => approval::held(&plain, args),
        Command::Gate { command } => service(&plain).and_then(|svc| gate::run(&svc, command)),
        Command::Agent { options, command } => {
            service(&with(&options)).and_then(|svc| agent::run(&svc, command))
        }
        Command::Import { command } => import::run(command),
        Command::Worker(args) => worker::run(&plain, args),
        Command::Ui { options, args } => ui::run(&with(&options), args),
        Command::PipelineSchema => output::json(&crate::pipeline::manifest_schema()),
        Command::Mcp { options } => service(&with(&options))
            .and_then(|svc| crate::mcp::serve(svc).map_err(|e| CliError::new(Exit::Failure, e))),
    };
    // The command's service is dropped, and with it the store: a server may take it
    // now, if the command opened the store itself and the policy allows
    // ([`Service`]'s `Drop`).
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error::report(e),
    }
}

/// The service a command works with: the store and project its flags name.
fn service(global: &GlobalArgs) -> Result<Service, CliError> {
    Service::resolve(Settings {
        store: global.store.clone(),
        lock_timeout: global.lock_timeout,
        retention: global.retention,
        server: global.server,
        cwd: current_dir()?,
        // Set by `baton run` for the agents it starts.
        manifest: std::env::var_os(crate::service::PIPELINE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        confined_to: std::env::var("BATON_STAGE").ok().filter(|s| !s.is_empty()),
    })
}

/// The current directory, or an error saying it cannot be read.
fn current_dir() -> Result<PathBuf, CliError> {
    std::env::current_dir().map_err(|e| {
        CliError::new(
            Exit::Failure,
            anyhow::anyhow!("cannot read the current directory: {e}"),
        )
    })
}
