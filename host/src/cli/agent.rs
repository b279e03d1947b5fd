//! `baton agent inputs|output`: the two calls an external agent's hooks make.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use super::{CliError, Exit, output};
use crate::service::{OutputOptions, Service, StageInput, brief, find_stage_of, manifest_path};

#[derive(Debug, Subcommand)]
pub(super) enum AgentCommand {
    /// Print everything a stage reads, in one answer (its `pre` hook)
    ///
    /// Every key the stage's `reads` name, as stored now. If any is missing the agent
    /// is not ready: the error names each missing key and its stage (exit 3).
    Inputs(InputsArgs),
    /// Store a stage's output at the key it writes, through its gates (its `post` hook)
    ///
    /// VALUE is JSON, or text stored as a JSON string; `--file` reads a JSON document
    /// (`-` for standard input). A document an error-severity gate fails is refused
    /// with the gate report (exit 7); unchecked (prose) gates are listed, never block.
    Output(OutputArgs),
    /// Print the brief `baton run` hands the stage's agent
    ///
    /// Its definition (the body of its `source` file), the `===AGENT_CONTEXT===` block
    /// (with ids generated now: a run generates its own), its inputs as stored now,
    /// the contract of its output (key, gates, schema) and how to hand it back.
    Brief(BriefArgs),
}

#[derive(Debug, Args)]
pub(super) struct BriefArgs {
    /// The stage, by its name in pipeline.toml (one partition's as `stage[KEY]`)
    stage: String,
    /// The partition, for a stage that runs once per partition
    #[arg(short = 'p', long, value_name = "KEY", env = "BATON_PARTITION")]
    partition: Option<String>,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object: each key (`namespace:key` outside the pipeline's namespace)
    /// with its document.
    Json,
    /// A context block for a prompt: a heading and a JSON code block per key.
    Markdown,
}

#[derive(Debug, Args)]
pub(super) struct InputsArgs {
    /// The stage, by its name in pipeline.toml (one partition's as `stage[KEY]`)
    stage: String,
    /// The partition, for a stage that runs once per partition
    #[arg(short = 'p', long, value_name = "KEY", env = "BATON_PARTITION")]
    partition: Option<String>,
    /// How to print them
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct OutputArgs {
    /// The stage, by its name in pipeline.toml (one partition's as `stage[KEY]`)
    stage: String,
    /// The partition, for a stage that runs once per partition
    #[arg(short = 'p', long, value_name = "KEY", env = "BATON_PARTITION")]
    partition: Option<String>,
    /// The output: JSON, or text stored as a JSON string
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    value: Option<String>,
    /// Read the output from a JSON file (`-`: standard input)
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Record this agent id as the writer instead of the stage's agent
    #[arg(long, env = "BATON_AGENT_ID", value_name = "ID")]
    agent: Option<String>,
    /// Store even if a quality gate fails; the reason and the report are recorded
    #[arg(long, value_name = "REASON")]
    override_gates: Option<String>,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the stored revision and gate report as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Service, cmd: AgentCommand) -> Result<(), CliError> {
    match cmd {
        AgentCommand::Brief(args) => {
            let pipeline =
                ctx.load_definitions(&manifest_path(args.pipeline, &super::current_dir()?)?)?;
            let stage = find_stage_of(&pipeline, &args.stage, args.partition.as_deref())?;
            let stage = stage.name.clone();
            print!("{}", ctx.agent_brief(&pipeline, &stage)?);
            Ok(())
        }
        AgentCommand::Inputs(args) => {
            let pipeline =
                ctx.load_definitions(&manifest_path(args.pipeline, &super::current_dir()?)?)?;
            let stage = find_stage_of(&pipeline, &args.stage, args.partition.as_deref())?;
            let stage = stage.name.clone();
            let inputs = ctx.stage_inputs(&pipeline, &stage)?;
            match args.format {
                Format::Json => output::json(&as_object(&inputs, &pipeline.namespace)),
                Format::Markdown => {
                    print!("{}", as_markdown(&stage, &inputs));
                    Ok(())
                }
            }
        }
        AgentCommand::Output(args) => {
            let pipeline =
                ctx.load_definitions(&manifest_path(args.pipeline, &super::current_dir()?)?)?;
            let stage = find_stage_of(&pipeline, &args.stage, args.partition.as_deref())?;
            let stage = stage.name.clone();
            let (text, must_be_json) = match (args.value, &args.file) {
                (Some(text), _) => (text, false),
                (None, Some(file)) if file.as_os_str() == "-" => {
                    (std::io::read_to_string(std::io::stdin())?, true)
                }
                (None, Some(file)) => {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        CliError::new(Exit::BadInput, anyhow!("cannot read {file:?}: {e}"))
                    })?;
                    (text, true)
                }
                (None, None) => unreachable!("clap requires VALUE or --file"),
            };
            let options = OutputOptions {
                agent: args.agent,
                override_gates: args.override_gates,
            };
            let stored = ctx.stage_output_text(&pipeline, &stage, text, must_be_json, &options)?;
            if args.json {
                return output::json(&stored);
            }
            if let Some(report) = &stored.report {
                eprintln!("{report}");
            }
            if stored.overridden {
                eprintln!("warning: storing despite failed gates, as `--override-gates` asks");
            }
            eprintln!(
                "stored `{}` revision {} in namespace `{}` for stage `{}`",
                stored.meta.key, stored.meta.revision, stored.meta.namespace, stage
            );
            Ok(())
        }
    }
}

/// The inputs as one object, keyed as the manifest names them.
fn as_object(inputs: &[StageInput], namespace: &str) -> Value {
    let mut map = Map::new();
    for input in inputs {
        let name = if input.namespace == namespace {
            input.key.clone()
        } else {
            format!("{}:{}", input.namespace, input.key)
        };
        map.insert(name, input.value.clone());
    }
    Value::Object(map)
}

/// The inputs as a markdown context block, as a brief shows them.
fn as_markdown(stage: &str, inputs: &[StageInput]) -> String {
    let inputs: Vec<brief::Input> = inputs
        .iter()
        .map(|i| brief::Input {
            namespace: i.namespace.clone(),
            key: i.key.clone(),
            revision: i.revision,
            value: i.value.clone(),
        })
        .collect();
    brief::inputs_markdown(stage, &inputs)
}
