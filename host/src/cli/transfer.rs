//! `baton memory export` and `import`: where the JSON Lines go and come from.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{CliError, Exit, output};
use crate::memory::Namespace;
use crate::service::{ExportScope, Service};

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// Only this namespace [default: all but baton's own `baton.*`]
    #[arg(short, long)]
    namespace: Option<String>,
    /// Include baton's own namespaces (events, quarantine) when no namespace is named
    #[arg(long, conflicts_with = "namespace")]
    all: bool,
    /// Write to this file instead of standard output (replaced only once complete)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// The JSON Lines file to import (`-` or nothing for standard input)
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// Import even if a quality gate fails; the reason is recorded with each such
    /// revision and in the import's audit event
    #[arg(long, value_name = "REASON")]
    override_gates: Option<String>,
}

pub(super) fn export(ctx: &Service, args: ExportArgs) -> Result<(), CliError> {
    let scope = match args.namespace {
        Some(ns) => ExportScope::Namespace(Namespace::new(ns)?),
        None => ExportScope::Every { all: args.all },
    };
    let count = match &args.output {
        None => ctx.export(
            &scope,
            &mut std::io::BufWriter::new(std::io::stdout().lock()),
        )?,
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp).map_err(|e| {
                CliError::new(Exit::BadInput, anyhow!("cannot create {tmp:?}: {e}"))
            })?;
            let mut file = std::io::BufWriter::new(file);
            let count = ctx.export(&scope, &mut file)?;
            file.flush()?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    anyhow!("cannot rename {tmp:?} to {path:?}: {e}"),
                )
            })?;
            count
        }
    };
    eprintln!("exported {count} revisions");
    Ok(())
}

pub(super) fn import(ctx: &Service, args: ImportArgs) -> Result<(), CliError> {
    let (name, mut reader): (String, Box<dyn BufRead>) = match &args.file {
        None => ("standard input".into(), Box::new(std::io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => {
            ("standard input".into(), Box::new(std::io::stdin().lock()))
        }
        Some(p) => {
            let file = std::fs::File::open(p)
                .map_err(|e| CliError::new(Exit::BadInput, anyhow!("cannot open {p:?}: {e}")))?;
            (format!("{p:?}"), Box::new(std::io::BufReader::new(file)))
        }
    };
    let report = ctx.import(&mut reader, &name, args.override_gates.as_deref())?;
    if args.json {
        return output::json(&report);
    }
    eprintln!(
        "imported {} revisions ({} already present)",
        report.imported, report.unchanged
    );
    Ok(())
}
