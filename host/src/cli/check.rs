//! `baton check`: read and check `pipeline.toml` without running anything.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{CliError, Exit, output};
use crate::pipeline::Pipeline;
use crate::service::{CheckedPipeline, FailedCheck, ProblemView};

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the checked pipeline (or the problems) as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: CheckArgs) -> Result<(), CliError> {
    let path = crate::service::manifest_path(args.pipeline, &super::current_dir()?)?;
    let pipeline = match Pipeline::load(&path) {
        Ok(p) => p,
        Err(problems) => {
            if args.json {
                output::json(&FailedCheck {
                    ok: false,
                    problems: problems.0.iter().map(ProblemView::from).collect(),
                })?;
            } else {
                eprintln!("{problems}");
            }
            let n = problems.0.len();
            return Err(CliError::new(
                Exit::BadInput,
                anyhow!(
                    "{} has {n} problem{}",
                    path.display(),
                    if n == 1 { "" } else { "s" }
                ),
            ));
        }
    };
    if args.json {
        return output::json(&CheckedPipeline::of(&pipeline));
    }
    let rows: Vec<Vec<String>> = pipeline
        .stages
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.writes
                    .as_ref()
                    .map_or_else(|| "(nothing)".into(), ToString::to_string),
                if s.external {
                    "external".into()
                } else {
                    "component".into()
                },
                s.gate_counts().to_string(),
                s.depends_on.join(", "),
            ]
        })
        .collect();
    output::table(&["STAGE", "WRITES", "KIND", "GATES", "AFTER"], &rows)?;
    for warning in &pipeline.warnings {
        eprintln!("{}: warning: {}", warning.location(), warning.message);
    }
    let partitions = match pipeline.partitions.len() {
        0 => String::new(),
        n => format!(" over {n} partitions"),
    };
    eprintln!(
        "{}: ok, {} stages, {} inputs{partitions}",
        path.display(),
        pipeline.stages.len(),
        pipeline.inputs.len()
    );
    Ok(())
}
