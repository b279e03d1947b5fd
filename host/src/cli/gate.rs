//! `baton gate check`: a document checked against a stage's gates, nothing stored.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, output};
use crate::service::{Service, blocked, load_definitions, manifest_path};

#[derive(Debug, Subcommand)]
pub(super) enum GateCommand {
    /// Check a document against a stage's gates without storing it
    ///
    /// Prints the report (every gate, pass or fail, with findings) and exits 0 if the
    /// document would be accepted, 7 if an error-severity gate blocks it.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The stage whose gates apply, by its name in pipeline.toml
    #[arg(long)]
    stage: String,
    /// The JSON document (`-` for standard input)
    file: PathBuf,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Service, cmd: GateCommand) -> Result<(), CliError> {
    let GateCommand::Check(args) = cmd;
    let pipeline = load_definitions(&manifest_path(args.pipeline, &super::current_dir()?)?)?;
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| {
            CliError::new(Exit::BadInput, anyhow!("cannot read {:?}: {e}", args.file))
        })?
    };
    let document: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!("{:?} is not JSON: {e}", args.file)))?;
    let report = ctx.gate_check(&pipeline, &args.stage, &document)?;
    if args.json {
        output::json(&report)?;
    } else {
        println!("{report}");
    }
    if !report.passed {
        return Err(blocked(&report));
    }
    Ok(())
}
