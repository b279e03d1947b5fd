//! The memory operations: gated writes with their audit events (store, delete,
//! rollback), and reads that never let a key stored elsewhere look simply absent.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::audit::Audit;
use super::{Error, ErrorKind, Result, Service};
use crate::admission::{Admitted, Candidate, Decision};
use crate::gates::GateReport;
use crate::memory::{
    Entry, EntryMeta, Hit, Key, MemoryError, Namespace, Op, SearchQuery, Stats, Store, Writer,
    is_reserved, sha256_hex,
};
use crate::records::Provenance;

/// A document to store.
#[derive(Clone, Debug)]
pub struct Write {
    /// Where.
    pub namespace: Namespace,
    /// Which key.
    pub key: Key,
    /// The document.
    pub value: Value,
    /// Who writes it.
    pub writer: Writer,
    /// Expire it after this long.
    pub ttl: Option<Duration>,
    /// Only if the key is at this revision (0: absent).
    pub if_revision: Option<u64>,
    /// Store even if a gate fails, recording this reason.
    pub override_gates: Option<String>,
    /// Tags, recorded in the document's provenance (a search may filter by them) and
    /// in the write's audit event.
    pub tags: Vec<String>,
    /// The inputs an external stage's agent had (recorded in the provenance).
    pub inputs_seen: Option<Vec<crate::runtime::Read>>,
}

impl Write {
    /// A plain write of `value` at `key` by `writer`.
    pub fn new(namespace: Namespace, key: Key, value: Value, writer: Writer) -> Self {
        Self {
            namespace,
            key,
            value,
            writer,
            ttl: None,
            if_revision: None,
            override_gates: None,
            tags: Vec::new(),
            inputs_seen: None,
        }
    }
}

/// A document stored: its new revision, and what its gates said.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Stored {
    /// The revision written (when held: the revision of the held record).
    pub meta: EntryMeta,
    /// The gates' report, when the key is gated.
    pub report: Option<GateReport>,
    /// Whether a failed gate was overridden.
    pub overridden: bool,
    /// When its stage has an approval gate: the document is held for a person, not
    /// stored at its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldFor>,
}

/// A document held for a person's approval instead of stored.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeldFor {
    /// The stage whose approval gate holds it (`baton approve STAGE`).
    pub held_for_approval: String,
    /// The namespace it is bound for.
    pub namespace: String,
    /// The key it is bound for.
    pub key: String,
}

impl Service {
    /// Stores `write.value` at its key through the key's gates, with an audit event in
    /// the same commit; a refusal (a gate, a compare-and-swap) is audited too.
    pub fn store_value(&self, write: Write) -> Result<Stored> {
        self.may_write(&write.namespace, &write.key)?;
        let store = self.store()?;
        self.gated_put(&*store, write, "store", None)
    }

    /// The gated, audited put behind store, rollback and a stage's handoff, on a
    /// store the caller already opened.
    pub(super) fn gated_put(
        &self,
        store: &dyn Store,
        write: Write,
        action: &'static str,
        rolled_back_from: Option<u64>,
    ) -> Result<Stored> {
        let Write {
            namespace: ns,
            key,
            value,
            writer,
            ttl,
            if_revision,
            override_gates,
            tags,
            inputs_seen,
        } = write;
        let audit = Audit::start(action, &writer);
        let bytes = serde_json::to_vec(&value).map_err(std::io::Error::from)?;
        let mut what = json!({
            "namespace": ns.as_str(),
            "key": key.as_str(),
            "bytes": bytes.len(),
            "sha256": sha256_hex(&bytes),
        });
        if let Some(rev) = rolled_back_from {
            what["to_revision"] = rev.into();
        }
        if !tags.is_empty() {
            what["tags"] = tags.clone().into();
        }
        let (ns_name, key_name) = (ns.to_string(), key.to_string());
        let candidate = Candidate {
            namespace: ns,
            key,
            value,
            writer: writer.clone(),
            provenance: Provenance {
                rolled_back_from,
                inputs_seen,
                tags,
                ..Default::default()
            },
            ttl,
            if_revision,
        };
        let admitted = self.admit(
            store,
            candidate,
            override_gates.as_deref(),
            &mut |decision| {
                let mut what = what.clone();
                match decision {
                    Decision::Commit {
                        report: Some(report),
                        overridden,
                    } => {
                        what["gates_passed"] = report.passed.into();
                        what["gates_overridden"] = (*overridden).into();
                    }
                    Decision::Hold { report } => {
                        what["held_for_approval"] = report.stage.clone().into();
                    }
                    _ => {}
                }
                let event = audit
                    .success(what)
                    .map_err(|e| anyhow::anyhow!(e.message()))?;
                Ok(vec![event])
            },
        );
        match admitted {
            Ok(Admitted::Committed {
                meta,
                report,
                overridden,
            }) => Ok(Stored {
                meta,
                report,
                overridden,
                held: None,
            }),
            Ok(Admitted::Held { report, meta }) => Ok(Stored {
                meta,
                held: Some(HeldFor {
                    held_for_approval: report.stage.clone(),
                    namespace: ns_name,
                    key: key_name,
                }),
                report: Some(report),
                overridden: false,
            }),
            Ok(Admitted::Quarantined { .. }) => {
                unreachable!("a write from outside a run is refused, never quarantined")
            }
            Err(e) => {
                if matches!(e.kind(), ErrorKind::GateFailed | ErrorKind::Conflict) {
                    audit.refused(store, what, &e);
                }
                Err(e)
            }
        }
    }

    /// The live entry at `key`, or the given retained revision of it.
    pub fn retrieve(&self, ns: &Namespace, key: &Key, revision: Option<u64>) -> Result<Entry> {
        let store = self.store()?;
        let started = std::time::Instant::now();
        let entry = match revision {
            None => store
                .get(ns, key)?
                .ok_or_else(|| not_found(&*store, ns, key)),
            Some(rev) => match store.get_revision(ns, key, rev)? {
                Some(entry) => Ok(entry),
                None => Err(missing_revision(&*store, ns, key, rev)),
            },
        };
        crate::telemetry::metrics::memory_operation("get", started.elapsed().as_secs_f64());
        entry
    }

    /// Deletes `key` (a tombstone revision), with its audit event.
    pub fn delete(
        &self,
        ns: &Namespace,
        key: &Key,
        if_revision: Option<u64>,
        writer: &Writer,
    ) -> Result<EntryMeta> {
        self.may_write(ns, key)?;
        let mut op = Op::delete(ns, key);
        if let Some(rev) = if_revision {
            op = op.if_revision(rev);
        }
        let store = self.store()?;
        let audit = Audit::start("delete", writer);
        let what = json!({ "namespace": ns.as_str(), "key": key.as_str() });
        match store.commit(writer, vec![op, audit.success(what.clone())?]) {
            Ok(mut metas) => Ok(metas.remove(0)),
            Err(MemoryError::NotFound { .. }) => Err(not_found(&*store, ns, key)),
            Err(e) => {
                let e = Error::from(e);
                if e.kind() == ErrorKind::Conflict {
                    audit.refused(&*store, what, &e);
                }
                Err(e)
            }
        }
    }

    /// Writes revision `to` of `key` again as a new revision, through the key's gates
    /// and with an audit event, as every change from outside a run. The key must be at
    /// `if_revision` when given.
    pub fn rollback(
        &self,
        ns: &Namespace,
        key: &Key,
        to: u64,
        writer: &Writer,
        if_revision: Option<u64>,
        override_gates: Option<String>,
    ) -> Result<Stored> {
        self.may_write(ns, key)?;
        let store = self.store()?;
        let old = match store.get_revision(ns, key, to)? {
            Some(entry) => entry,
            None => return Err(missing_revision(&*store, ns, key, to)),
        };
        if old.meta.deleted {
            return Err(Error::bad_input(format!(
                "revision {to} of key `{key}` in namespace `{ns}` is a deletion; there is no value to roll back to"
            ))
            .hint("pick a revision with a value from `baton memory history`"));
        }
        let write = Write {
            if_revision,
            override_gates,
            ..Write::new(ns.clone(), key.clone(), old.json(), writer.clone())
        };
        self.gated_put(&*store, write, "rollback", Some(to))
    }

    /// The retained revisions of `key`, oldest first.
    pub fn history(&self, ns: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        let store = self.store()?;
        let metas = store.history(ns, key)?;
        if metas.is_empty() {
            return Err(not_found(&*store, ns, key));
        }
        Ok(metas)
    }

    /// Live keys in `ns` (all users' namespaces if `None`) starting with `prefix`.
    pub fn list(&self, ns: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        let mut metas = self.store()?.list(ns, prefix)?;
        if ns.is_none() {
            metas.retain(|m| !is_reserved(&m.namespace));
        }
        Ok(metas)
    }

    /// The live documents matching `query`, most similar first (see
    /// [`crate::memory::search`]); baton's own namespaces only when named.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        if let Some(ns) = &query.namespace {
            Namespace::new(ns.clone())?;
        }
        if !(0.0..=1.0).contains(&query.threshold) {
            return Err(Error::bad_input(format!(
                "threshold: {} is not from 0 to 1",
                query.threshold
            )));
        }
        Ok(self.store()?.search(query)?)
    }

    /// Namespaces with their live key counts; baton's own only with `all`.
    pub fn namespaces(&self, all: bool) -> Result<BTreeMap<String, u64>> {
        let mut counts = self.store()?.namespaces()?;
        if !all {
            counts.retain(|ns, _| !is_reserved(ns));
        }
        Ok(counts)
    }

    /// Counts of namespaces, keys, revisions and bytes.
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.store()?.stats()?)
    }
}

/// The value text an agent or a person hands over, as JSON. Text that starts like a
/// JSON object or array (after white space), or any text when `required`, must be
/// JSON: a parse error names the line, column and reason, and nesting deeper than
/// serde_json's 128 levels is such an error (one depth limit for every way in). Other
/// text is stored as a JSON string.
pub fn value_from_text(text: String, required: bool, ns: &Namespace, key: &Key) -> Result<Value> {
    let looks_like_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => Ok(v),
        Err(e) if required || looks_like_json => {
            let hint = if looks_like_json {
                "drop `--json` and quote the text as a JSON string (`\"{…}\"`) to store it as text"
            } else {
                "drop `--json` to store the text as a JSON string"
            };
            Err(Error::bad_input(format!(
                "value for key `{key}` in namespace `{ns}` is not valid JSON: {e}"
            ))
            .hint(hint))
        }
        Err(_) => Ok(Value::String(text)),
    }
}

/// The part of `entry`'s value at `pointer` (the whole value without one).
pub fn select(entry: &Entry, pointer: Option<&str>) -> Result<Value> {
    let value = entry.json();
    let Some(pointer) = pointer else {
        return Ok(value);
    };
    value.pointer(pointer).cloned().ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            anyhow::anyhow!(
                "JSON pointer {pointer:?} selects nothing in key `{}` in namespace `{}`",
                entry.meta.key,
                entry.meta.namespace
            ),
        )
        .hint("a pointer starts with `/` and names object keys or array indexes, such as `/slos/0/target`")
    })
}

/// The error for a key with no live value, with a hint naming the namespaces that
/// do have it: a key stored elsewhere must never look simply absent.
/// Why revision `rev` of `key` cannot be read: the key has no revision at all (it
/// never existed here), the revision was never written, or it was written and is no
/// longer retained.
fn missing_revision(store: &dyn Store, ns: &Namespace, key: &Key, rev: u64) -> Error {
    let kept: Vec<u64> = store
        .history(ns, key)
        .unwrap_or_default()
        .iter()
        .map(|m| m.revision)
        .collect();
    let (Some(&oldest), Some(&latest)) = (kept.iter().min(), kept.iter().max()) else {
        return not_found(store, ns, key);
    };
    let history = format!("`baton memory history {key} --namespace {ns}` lists the revisions kept");
    if rev > latest || rev == 0 {
        return Error::new(
            ErrorKind::NotFound,
            anyhow::anyhow!(
                "no such revision: key `{key}` in namespace `{ns}` has revisions 1 to {latest}, and {rev} was never written"
            ),
        )
        .hint(history);
    }
    Error::new(
        ErrorKind::NotFound,
        anyhow::anyhow!(
            "revision {rev} of key `{key}` in namespace `{ns}` is not retained: the oldest kept is {oldest}"
        ),
    )
    .hint(history)
}

fn not_found(store: &dyn Store, ns: &Namespace, key: &Key) -> Error {
    let mut err = Error::from(MemoryError::NotFound {
        namespace: ns.to_string(),
        key: key.to_string(),
    });
    for other in holding(store, ns, key) {
        err = err.hint(format!(
            "key `{key}` exists in namespace `{other}`: pass `--namespace {other}`"
        ));
    }
    err
}

/// The namespaces other than `ns` where `key` is live.
fn holding(store: &dyn Store, ns: &Namespace, key: &Key) -> Vec<String> {
    store
        .namespaces()
        .unwrap_or_default()
        .into_keys()
        .filter(|other| other != ns.as_str())
        .filter(|other| {
            Namespace::new(other.clone()).is_ok_and(|o| store.get(&o, key).ok().flatten().is_some())
        })
        .collect()
}

impl Service {
    /// Hints for reads that found nothing: each `key` absent from `ns` but live in
    /// another namespace, and the flag that names it.
    pub fn missing_elsewhere(&self, reads: &[(Namespace, Key)]) -> Result<Vec<String>> {
        let store = self.store()?;
        let mut hints = Vec::new();
        for (ns, key) in reads {
            if store.get(ns, key)?.is_some() {
                continue;
            }
            for other in holding(&*store, ns, key) {
                hints.push(format!(
                    "key `{key}` is not in namespace `{ns}` but exists in `{other}`: pass `--namespace {other}`"
                ));
            }
        }
        Ok(hints)
    }
}
