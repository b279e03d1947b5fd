//! `baton partition add|list`: a pipeline's partitions, and keys added at run time.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, GlobalArgs, output};
use crate::service::manifest_path;

#[derive(Debug, Subcommand)]
pub(super) enum PartitionCommand {
    /// Add a partition key at run time (a pipeline whose `[partitions]` sets
    /// `dynamic = true`)
    ///
    /// The key is kept in the memory, so every command and worker on the store sees
    /// it; the next `baton run` runs each partitioned stage for it. A key is 1 to 64
    /// letters, digits, `-`, `_` and `.`: a key that reads as a path (`/`, `..`) or a
    /// template (`{`) is refused, and nothing is stored. The pipeline must still check
    /// with it (its input files exist, its namespace is valid).
    Add(AddArgs),
    /// List the pipeline's partitions: declared, found in folders, added at run time
    List(ListArgs),
}

#[derive(Debug, Args)]
pub(super) struct AddArgs {
    /// The partition key, such as `ledger`
    key: String,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print what was added as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

pub(super) fn run(global: &GlobalArgs, command: PartitionCommand) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    match command {
        PartitionCommand::Add(args) => {
            let path = manifest_path(args.pipeline, &super::current_dir()?)?;
            let added = ctx.add_partition(&path, &args.key)?;
            if args.json {
                return output::json(&added);
            }
            match added.added {
                true => eprintln!(
                    "added partition `{}` to pipeline `{}`: {} stage(s) to run (`baton run --partition {}`)",
                    added.partition,
                    added.pipeline,
                    added.stages.len(),
                    added.partition
                ),
                false => eprintln!(
                    "pipeline `{}` already has partition `{}`: nothing stored",
                    added.pipeline, added.partition
                ),
            }
            Ok(())
        }
        PartitionCommand::List(args) => {
            let path = manifest_path(args.pipeline, &super::current_dir()?)?;
            let pipeline = ctx.load_definitions(&path)?;
            let matrix = ctx.matrix(&pipeline)?;
            if args.json {
                return output::json(&matrix);
            }
            print_matrix(&matrix)
        }
    }
}

/// The matrix as a table: a row per partition, a column per partitioned stage.
pub(super) fn print_matrix(matrix: &crate::service::Matrix) -> Result<(), CliError> {
    let rows_of: Vec<&crate::service::MatrixRow> =
        matrix.rows.iter().filter(|r| !r.cells.is_empty()).collect();
    let mut header = vec!["PARTITION"];
    header.extend(rows_of.iter().map(|r| r.stage.as_str()));
    let rows: Vec<Vec<String>> = matrix
        .partitions
        .iter()
        .map(|p| {
            let mut row = vec![p.clone()];
            row.extend(rows_of.iter().map(|r| {
                r.cells
                    .iter()
                    .find(|c| &c.partition == p)
                    .map_or_else(|| "-".to_owned(), |c| c.state.clone())
            }));
            row
        })
        .collect();
    output::table(&header, &rows)
}
