//! `baton stage …`: run one component against the memory, and scaffold a new stage.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, GlobalArgs, output};
use crate::runtime::{Limits, parse_size};
use crate::service::{ComponentRun, Service, scaffold};

#[derive(Debug, Subcommand)]
pub(super) enum StageCommand {
    /// Run one stage component against the memory and print its output
    ///
    /// For authors testing a stage before wiring it into pipeline.toml: nothing is
    /// stored. The stage may read only the keys given with `--reads`.
    Run(RunArgs),
    /// Scaffold a new stage in Rust, Python or JavaScript, in any folder
    ///
    /// It carries this binary's SDK (`sdk/baton-sdk`, `baton_sdk.py` or
    /// `baton-sdk.js`, with their build helpers) and WIT contract (`wit/baton.wit`), a
    /// stage that reads `coding/architecture/system`, and a native test.
    New(NewArgs),
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The component, a `.wasm` file built for wasm32-wasip2
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,
    /// A key the stage may read: `key`, `prefix/*` or `namespace:key` (repeatable)
    #[arg(long = "reads", value_name = "KEY")]
    reads: Vec<String>,
    /// The stage's configuration: a JSON object, or `@FILE`
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
    /// The stage's name [default: the component's file name]
    #[arg(long)]
    name: Option<String>,
    /// The namespace reads default to [default: the pipeline's `namespace`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Wall-time limit, such as `500ms` or `10s`
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Memory limit, such as `64MiB`
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    memory: usize,
    /// Output size limit, such as `16MiB`
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    max_output: usize,
    /// Print the output with its events, reads and duration as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct NewArgs {
    /// The stage's name, such as `load-test-planner`
    name: String,
    /// Where to create the crate [default: `./NAME`]
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The stage's language
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    /// A Rust crate built for wasm32-wasip2 with the vendored `baton-sdk`
    Rust,
    /// A Python module built with componentize-py and the vendored `baton_sdk.py`
    Python,
    /// A JavaScript module built with componentize-js and the vendored `baton-sdk.js`
    Js,
}

pub(super) fn run(global: &GlobalArgs, cmd: StageCommand) -> Result<(), CliError> {
    match cmd {
        StageCommand::Run(args) => run_stage(&super::service(global)?, args),
        StageCommand::New(args) => scaffold(args),
    }
}

fn run_stage(ctx: &Service, args: RunArgs) -> Result<(), CliError> {
    let config_text = match args.config.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                Exit::BadInput,
                anyhow!("cannot read the config file {path:?}: {e}"),
            )
        })?,
        None => args.config.clone(),
    };
    let config: serde_json::Value = serde_json::from_str(&config_text)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!("`--config` is not JSON: {e}")))?;
    let output = ctx.run_component(ComponentRun {
        component: args.component,
        name: args.name,
        namespace: args.namespace,
        reads: args.reads,
        config,
        limits: Limits {
            timeout: args.timeout,
            memory_bytes: args.memory,
            output_bytes: args.max_output,
            host: Default::default(),
        },
    })?;
    if args.json {
        return output::json(&output);
    }
    for event in &output.events {
        eprintln!("event {} {}", event.name, event.attributes);
    }
    for denial in &output.denials {
        eprintln!("warning: {denial}");
    }
    output::json(&output.output)
}

fn scaffold(args: NewArgs) -> Result<(), CliError> {
    let lang = match args.lang {
        Lang::Rust => scaffold::Lang::Rust,
        Lang::Python => scaffold::Lang::Python,
        Lang::Js => scaffold::Lang::Js,
    };
    let done = scaffold::scaffold(&args.name, args.path, lang)?;
    eprintln!("{}", done.created);
    eprint!("{}", done.next);
    Ok(())
}
