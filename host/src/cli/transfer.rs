//! `baton memory export` and `import`: JSON Lines that keep revisions and metadata.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::anyhow;
use serde_json::Value;

use super::gate::Gatekeeper;
use super::{CliError, Context, Exit, output};
use crate::memory::{Entry, EntryMeta, Key, MemoryError, Namespace, Writer};
use clap::Args;

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
    /// Import even if a quality gate fails; the reason is recorded
    #[arg(long, value_name = "REASON")]
    override_gates: Option<String>,
}

/// One line of an export: the metadata's fields, then `value` (absent for a tombstone).
#[derive(serde::Serialize, serde::Deserialize)]
struct ExportLine<V> {
    #[serde(flatten)]
    meta: EntryMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<V>,
}

pub(super) fn export(ctx: &Context, args: ExportArgs) -> Result<(), CliError> {
    let ns = args.namespace.map(Namespace::new).transpose()?;
    let store = ctx.open()?;
    let mut count = 0u64;
    let mut write_all = |out: &mut dyn Write| -> Result<(), CliError> {
        let mut failure: Option<CliError> = None;
        store.export(ns.as_ref(), &mut |entry| {
            if ns.is_none() && !args.all && crate::memory::is_reserved(&entry.meta.namespace) {
                return true;
            }
            match write_line(out, entry) {
                Ok(()) => count += 1,
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(out.flush()?),
        }
    };
    match &args.output {
        None => write_all(&mut std::io::BufWriter::new(std::io::stdout().lock()))?,
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp).map_err(|e| {
                CliError::new(Exit::BadInput, anyhow!("cannot create {tmp:?}: {e}"))
            })?;
            let mut file = std::io::BufWriter::new(file);
            write_all(&mut file)?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    anyhow!("cannot rename {tmp:?} to {path:?}: {e}"),
                )
            })?;
        }
    }
    eprintln!("exported {count} revisions");
    Ok(())
}

fn write_line(out: &mut dyn Write, entry: Entry) -> Result<(), CliError> {
    let value = match entry.meta.deleted {
        true => None,
        false => {
            let text = String::from_utf8(entry.value).map_err(|e| corrupt(&entry.meta, e))?;
            Some(
                serde_json::value::RawValue::from_string(text)
                    .map_err(|e| corrupt(&entry.meta, e))?,
            )
        }
    };
    serde_json::to_writer(
        &mut *out,
        &ExportLine {
            meta: entry.meta,
            value,
        },
    )
    .map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn corrupt(meta: &EntryMeta, e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Corrupt {
        path: "<store>".into(),
        what: format!("{}/{} revision {}", meta.namespace, meta.key, meta.revision),
        reason: e.to_string(),
    }
}

pub(super) fn import(ctx: &Context, args: ImportArgs) -> Result<(), CliError> {
    let (name, reader): (String, Box<dyn BufRead>) = match &args.file {
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
    let store = ctx.open()?;
    let mut keeper = Gatekeeper::new(ctx)?;
    let importer = Writer("import".into());
    let audit = super::audit::Audit::start("import", &importer);
    let mut entries = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line =
            line.map_err(|e| CliError::new(Exit::BadInput, anyhow!("cannot read {name}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine<Value> = serde_json::from_str(&line).map_err(|e| {
            CliError::new(
                Exit::BadInput,
                anyhow!("{name} line {}: not an export record: {e}", n + 1),
            )
        })?;
        let value = match (&parsed.meta.deleted, parsed.value) {
            (true, _) => Vec::new(),
            (false, Some(v)) => serde_json::to_vec(&v).map_err(std::io::Error::from)?,
            (false, None) => {
                return Err(CliError::new(
                    Exit::BadInput,
                    anyhow!("{name} line {}: record has no `value`", n + 1),
                ));
            }
        };
        if !parsed.meta.deleted {
            let ns = Namespace::new(parsed.meta.namespace.clone())?;
            let key = Key::new(parsed.meta.key.clone())?;
            let doc: Value = serde_json::from_slice(&value).map_err(std::io::Error::from)?;
            let writer = Writer("import".into());
            super::gate::gate_write(
                &mut keeper,
                &*store,
                &ns,
                &key,
                &doc,
                &writer,
                args.override_gates.as_deref(),
            )
            .map_err(|e| {
                let e = e.context(format!(
                    "{name} line {}: revision {} of key `{key}`",
                    n + 1,
                    parsed.meta.revision
                ));
                let what = serde_json::json!({ "source": name, "namespace": ns.as_str(), "key": key.as_str() });
                audit.refused(&*store, what, &e);
                e
            })?;
        }
        entries.push(Entry {
            meta: parsed.meta,
            value,
        });
    }
    // An import lands in one atomic commit of its own; its audit event follows it.
    let what = serde_json::json!({ "source": name, "records": entries.len() });
    let report = match store.import(entries) {
        Ok(report) => report,
        Err(e) => {
            let e = CliError::from(e);
            audit.refused(&*store, what, &e);
            return Err(e);
        }
    };
    let mut done = what;
    done["imported"] = report.imported.into();
    done["unchanged"] = report.unchanged.into();
    store.commit(&importer, vec![audit.success(done)?])?;
    if args.json {
        return output::json(&report);
    }
    eprintln!(
        "imported {} revisions ({} already present)",
        report.imported, report.unchanged
    );
    Ok(())
}
