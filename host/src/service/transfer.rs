//! Export and import: JSON Lines that keep every revision with its metadata. An import
//! lands all or nothing, each value through its key's gates, with an audit event.

use std::io::BufRead;

use serde_json::{Value, json};

use super::audit::Audit;
use super::{Error, ErrorKind, Result, Service};
use crate::memory::{Entry, EntryMeta, ImportReport, Key, MemoryError, Namespace, Writer};
use crate::records::Provenance;

/// Which namespaces an export covers.
#[derive(Clone, Debug)]
pub enum ExportScope {
    /// One namespace, baton's own included if named.
    Namespace(Namespace),
    /// Every users' namespace; baton's own too when `all`.
    Every {
        /// Include `baton.*`.
        all: bool,
    },
}

/// One line of an export: the metadata's fields, then `value` (absent for a tombstone).
#[derive(serde::Serialize, serde::Deserialize)]
struct ExportLine<V> {
    #[serde(flatten)]
    meta: EntryMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<V>,
}

/// One line of an export as a revision to import: its metadata and value bytes, or
/// why it cannot be (`name` and the line number `n` name it). The whole check of a
/// record before its gates; public for fuzzing.
pub fn read_record(line: &str, name: &str, n: usize) -> Result<Entry> {
    let parsed: ExportLine<Value> = serde_json::from_str(line)
        .map_err(|e| Error::bad_input(format!("{name} line {n}: not an export record: {e}")))?;
    let value = match (&parsed.meta.deleted, parsed.value) {
        (true, _) => Vec::new(),
        (false, Some(v)) => serde_json::to_vec(&v).map_err(std::io::Error::from)?,
        (false, None) => {
            return Err(Error::bad_input(format!(
                "{name} line {n}: record has no `value`"
            )));
        }
    };
    Namespace::new(parsed.meta.namespace.clone())?;
    Key::new(parsed.meta.key.clone())?;
    Ok(Entry {
        meta: parsed.meta,
        value,
    })
}

impl Service {
    /// Writes every retained revision in `scope` to `out`, one JSON line each;
    /// returns how many.
    pub fn export(&self, scope: &ExportScope, out: &mut dyn std::io::Write) -> Result<u64> {
        let store = self.store()?;
        let (ns, all) = match scope {
            ExportScope::Namespace(ns) => (Some(ns), true),
            ExportScope::Every { all } => (None, *all),
        };
        let mut count = 0u64;
        let mut failure: Option<Error> = None;
        store.export(ns, &mut |entry| {
            if !all && crate::memory::is_reserved(&entry.meta.namespace) {
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
            None => {
                out.flush()?;
                Ok(count)
            }
        }
    }

    /// Restores the revisions of an export read from `reader` (called `name` in
    /// errors), each value through its key's gates; all or nothing. With
    /// `override_gates`, a value that fails its gates is imported anyway and the
    /// reason is recorded in its provenance and in the import's audit event.
    pub fn import(
        &self,
        reader: &mut dyn BufRead,
        name: &str,
        override_gates: Option<&str>,
    ) -> Result<ImportReport> {
        let store = self.store()?;
        let importer = Writer("import".into());
        let audit = Audit::start("import", &importer);
        let mut entries = Vec::new();
        let mut overrides = Vec::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::bad_input(format!("cannot read {name}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let Entry {
                meta: mut parsed_meta,
                value,
            } = read_record(&line, name, n + 1)?;
            let target = Namespace::new(parsed_meta.namespace.clone())?;
            self.may_write(&target, &Key::new(parsed_meta.key.clone())?)
                .map_err(|e| {
                    e.context(format!("{name} line {}: key `{}`", n + 1, parsed_meta.key))
                })?;
            if !parsed_meta.deleted {
                let ns = target.clone();
                let key = Key::new(parsed_meta.key.clone())?;
                let doc: Value = serde_json::from_slice(&value).map_err(std::io::Error::from)?;
                let verdict = self
                    .judge(&*store, &ns, &key, &doc, &importer, override_gates)
                    .map_err(|e| {
                        let e = e.context(format!(
                            "{name} line {}: revision {} of key `{key}`",
                            n + 1,
                            parsed_meta.revision
                        ));
                        let what = json!({ "source": name, "namespace": ns.as_str(), "key": key.as_str() });
                        audit.refused(&*store, what, &e);
                        e
                    })?;
                // A person's gate: only a revision a person approved (in the store it
                // was exported from) is imported; an import approves nothing.
                let approved = Provenance::of(&parsed_meta).is_some_and(|p| p.approval.is_some());
                if verdict.hold && !approved {
                    let stage = verdict.report.as_ref().map_or("", |r| r.stage.as_str());
                    let e = Error::new(
                        ErrorKind::GateFailed,
                        anyhow::anyhow!(
                            "{name} line {}: revision {} of key `{key}` waits for a person's approval (stage `{stage}`) and carries none: an import approves nothing",
                            n + 1,
                            parsed_meta.revision
                        ),
                    )
                    .hint("store it with `baton memory store` to hold it for approval, then `baton approve`");
                    let what =
                        json!({ "source": name, "namespace": ns.as_str(), "key": key.as_str() });
                    audit.refused(&*store, what, &e);
                    return Err(e);
                }
                if verdict.gate_override.is_some() {
                    overrides.push(json!({
                        "namespace": ns.as_str(),
                        "key": key.as_str(),
                        "revision": parsed_meta.revision,
                        "reason": override_gates,
                        "failed_gates": verdict.report.as_ref().map(|r| r.failed()),
                    }));
                    // The override travels with the revision, as a `memory store` one does.
                    let mut provenance = Provenance::of(&parsed_meta).unwrap_or_default();
                    provenance.gate_report = verdict.report;
                    provenance.gate_override = verdict.gate_override;
                    parsed_meta.provenance = Some(provenance.to_value());
                }
            }
            entries.push(Entry {
                meta: parsed_meta,
                value,
            });
        }
        // An import lands in one atomic commit of its own; its audit event follows it.
        let mut what = json!({ "source": name, "records": entries.len() });
        if !overrides.is_empty() {
            what["gates_overridden"] = overrides.into();
        }
        let report = match store.import(entries) {
            Ok(report) => report,
            Err(e) => {
                let e = Error::from(e);
                audit.refused(&*store, what, &e);
                return Err(e);
            }
        };
        what["imported"] = report.imported.into();
        what["unchanged"] = report.unchanged.into();
        store.commit(&importer, vec![audit.success(what)?])?;
        Ok(report)
    }
}

fn write_line(out: &mut dyn std::io::Write, entry: Entry) -> Result<()> {
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

fn corrupt(meta: &EntryMeta, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Store,
        MemoryError::Corrupt {
            path: "<store>".into(),
            what: format!("{}/{} revision {}", meta.namespace, meta.key, meta.revision),
            reason: e.to_string(),
        },
    )
}
