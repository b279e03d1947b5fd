//! Admission: the one way a document enters the memory at a key a stage owns or at
//! any key written from outside a run.
//!
//! A stage's output, an agent's output and a `memory store` (or rollback, or MCP
//! `memory_store`) all pass through [`admit`]: the stage's gates judge the document
//! (against the inputs the run read, or the stage's declared inputs as stored now),
//! the gates' report and any override join its provenance, and the document is
//! committed with the events that record it, in one atomic commit. What an error
//! gate refuses is either refused outright (a write from outside: nothing is stored,
//! the caller is told why) or kept in quarantine with its report (a run's output,
//! where nothing waits for an answer), never where other stages read. A run's output
//! whose key changed under the run is quarantined too, so nothing is lost. A stage
//! with an approval gate has what its other gates admit held for a person
//! ([`Held`]): [`approve`] commits it at its key later, [`reject`] keeps it aside
//! with the reason, which the stage's next run hears.
//!
//! [`judge`] is the gate half alone, for a bulk import that commits its own way.

use std::time::Duration;

use serde_json::Value;

use crate::gates::{GateReport, StageGates, inputs_declared, inputs_read};
use crate::memory::{EntryMeta, Key, MemoryError, Namespace, Op, Store, Writer};
use crate::pipeline::Stage;
use crate::records::{Decided, GateOverride, Held, Provenance, Quarantined};
use crate::runtime::Read;

/// A document on its way in.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Where it goes.
    pub namespace: Namespace,
    /// The key.
    pub key: Key,
    /// The document.
    pub value: Value,
    /// Who writes it.
    pub writer: Writer,
    /// Where it came from (a run, an input file, a rollback, an agent's inputs); the
    /// gates' report and any override are added on admission.
    pub provenance: Provenance,
    /// Expire it after this long.
    pub ttl: Option<Duration>,
    /// Only if the key is at this revision (0: absent).
    pub if_revision: Option<u64>,
}

/// The gates a candidate is judged by, and the inputs gate components see.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    /// The stage's compiled gates.
    pub gates: &'a StageGates,
    /// The inputs gate components see.
    pub inputs: Inputs<'a>,
}

/// Which inputs a gate component sees with the document.
#[derive(Clone, Copy)]
pub enum Inputs<'a> {
    /// What the run read, at the revisions it read.
    Read(&'a [Read]),
    /// The stage's declared reads as the memory holds them now (a document from
    /// outside a run).
    Declared(&'a Stage),
}

/// What becomes of a document an error gate refuses.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// Refuse the write: nothing is stored and the caller hears why.
    Refuse,
    /// Store it anyway, recording this reason and the writer in its provenance.
    Override(String),
    /// Keep it in quarantine under this stage's name, with its report (a run's
    /// output). A compare-and-swap that fails quarantines it too.
    Quarantine(String),
}

/// What was decided, told to the caller's event builder so that the events land in
/// the same commit as the decision.
#[derive(Debug)]
pub enum Decision<'a> {
    /// The document is committed at its key.
    Commit {
        /// The gates' report, when the key is gated.
        report: Option<&'a GateReport>,
        /// Whether a failed gate was overridden.
        overridden: bool,
    },
    /// The document goes to quarantine.
    Quarantine {
        /// The gates' report, when the key is gated.
        report: Option<&'a GateReport>,
        /// Why, when not (only) its gates: its key changed under the run.
        reason: Option<&'a str>,
    },
    /// The document passed its gates and is held for a person's approval.
    Hold {
        /// The gates' report, the approval gates waiting.
        report: &'a GateReport,
    },
}

/// How a candidate was admitted.
#[derive(Clone, Debug)]
pub enum Admitted {
    /// Committed at its key.
    Committed {
        /// The revision written.
        meta: EntryMeta,
        /// The gates' report, when the key is gated.
        report: Option<GateReport>,
        /// Whether a failed gate was overridden.
        overridden: bool,
    },
    /// Kept in quarantine.
    Quarantined {
        /// The gates' report, when the key is gated.
        report: Option<GateReport>,
        /// Why, when not (only) its gates.
        reason: Option<String>,
    },
    /// Held for a person's approval under its stage's name.
    Held {
        /// The gates' report, the approval gates waiting.
        report: GateReport,
        /// The held record's revision.
        meta: EntryMeta,
    },
}

/// Why nothing was stored.
#[derive(Debug)]
pub enum Refused {
    /// An error gate refused the document ([`Refusal::Refuse`]).
    Gates(Box<GateReport>),
    /// The memory refused the commit (a compare-and-swap, a closed store, …).
    Memory(MemoryError),
    /// Reading the inputs for a gate component, or building the events, failed.
    Other(anyhow::Error),
}

impl From<MemoryError> for Refused {
    fn from(e: MemoryError) -> Self {
        Refused::Memory(e)
    }
}

/// What the gates said, with the override if one applied.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// The report, when the key is gated.
    pub report: Option<GateReport>,
    /// Recorded when an error gate failed and the writer overrode it.
    pub gate_override: Option<GateOverride>,
    /// A person approves the document before it is stored: admitted, it is held.
    pub hold: bool,
}

impl Verdict {
    /// Whether the document may be committed at its key.
    pub fn admits(&self) -> bool {
        self.report.as_ref().is_none_or(|r| r.passed) || self.gate_override.is_some()
    }
}

/// Judges `value` by `judge` (no judge: an ungated key), reading the inputs gate
/// components need from `store`. With [`Refusal::Refuse`] a failed error gate is an
/// error; with [`Refusal::Override`] it is recorded; with [`Refusal::Quarantine`] the
/// verdict says the document is not admitted.
pub fn judge(
    store: &dyn Store,
    value: &Value,
    judge: Option<Judge<'_>>,
    writer: &Writer,
    refusal: &Refusal,
) -> Result<Verdict, Refused> {
    let Some(Judge { gates, inputs }) = judge else {
        return Ok(Verdict::default());
    };
    let inputs = match (gates.needs_inputs(), inputs) {
        (false, _) => Vec::new(),
        (true, Inputs::Read(reads)) => inputs_read(store, reads).map_err(Refused::Other)?,
        (true, Inputs::Declared(stage)) => inputs_declared(store, stage).map_err(Refused::Other)?,
    };
    let span = tracing::info_span!(
        "gate check",
        baton.stage = tracing::field::Empty,
        baton.key = tracing::field::Empty,
        baton.gates.total = tracing::field::Empty,
        baton.gates.passed = tracing::field::Empty,
        baton.gate.findings = tracing::field::Empty,
        baton.outcome = tracing::field::Empty,
    );
    let report = span.in_scope(|| gates.check(value, &inputs));
    span.record("baton.stage", report.stage.as_str());
    span.record("baton.key", report.key.as_str());
    // Integers as i64: the OpenTelemetry layer records unsigned ones as text.
    span.record("baton.gates.total", report.gates.len() as i64);
    span.record("baton.gates.passed", report.gates_passed as i64);
    span.record(
        "baton.gate.findings",
        (report.errors + report.warnings) as i64,
    );
    span.record(
        "baton.outcome",
        if report.passed { "passed" } else { "refused" },
    );
    for gate in report.gates.iter().filter(|g| !g.passed) {
        crate::telemetry::metrics::gate_refused(&report.stage, &gate.name);
    }
    drop(span);
    let gate_override = match (report.passed, refusal) {
        (true, _) | (false, Refusal::Quarantine(_)) => None,
        (false, Refusal::Override(reason)) => Some(GateOverride {
            reason: reason.clone(),
            by: writer.clone(),
        }),
        (false, Refusal::Refuse) => return Err(Refused::Gates(Box::new(report))),
    };
    Ok(Verdict {
        report: Some(report),
        gate_override,
        hold: gates.awaits_approval(),
    })
}

/// Admits `candidate`: judges it, then commits it at its key or in quarantine, in
/// one atomic commit with the events `events` builds for that decision.
pub fn admit(
    store: &dyn Store,
    candidate: Candidate,
    by: Option<Judge<'_>>,
    refusal: &Refusal,
    events: &mut dyn FnMut(&Decision<'_>) -> anyhow::Result<Vec<Op>>,
) -> Result<Admitted, Refused> {
    let verdict = judge(store, &candidate.value, by, &candidate.writer, refusal)?;
    admit_judged(store, candidate, verdict, refusal, events)
}

/// [`admit`] with the gates' verdict already given (from [`judge`] on this very
/// document): a caller that judged first, to decide whether to try again, does not
/// pay for the gates twice.
pub fn admit_judged(
    store: &dyn Store,
    candidate: Candidate,
    verdict: Verdict,
    refusal: &Refusal,
    events: &mut dyn FnMut(&Decision<'_>) -> anyhow::Result<Vec<Op>>,
) -> Result<Admitted, Refused> {
    let span = tracing::info_span!(
        "memory commit",
        baton.namespace = %candidate.namespace,
        baton.key = %candidate.key,
        baton.writer = %candidate.writer.0,
        baton.outcome = tracing::field::Empty,
        baton.revision = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let admitted = span.in_scope(|| commit(store, candidate, verdict, refusal, events));
    crate::telemetry::metrics::memory_operation("commit", started.elapsed().as_secs_f64());
    match &admitted {
        Ok(Admitted::Committed { meta, .. }) => {
            span.record("baton.outcome", "committed");
            span.record("baton.revision", meta.revision as i64);
        }
        Ok(Admitted::Quarantined { .. }) => {
            span.record("baton.outcome", "quarantined");
        }
        Ok(Admitted::Held { .. }) => {
            span.record("baton.outcome", "held");
        }
        Err(_) => {
            span.record("baton.outcome", "refused");
            span.record("otel.status_code", "ERROR");
        }
    }
    admitted
}

/// [`admit_judged`]'s work, in its span.
fn commit(
    store: &dyn Store,
    candidate: Candidate,
    verdict: Verdict,
    refusal: &Refusal,
    events: &mut dyn FnMut(&Decision<'_>) -> anyhow::Result<Vec<Op>>,
) -> Result<Admitted, Refused> {
    let Candidate {
        namespace,
        key,
        value,
        writer,
        mut provenance,
        ttl,
        if_revision,
    } = candidate;
    let overridden = verdict.gate_override.is_some();
    provenance.gate_report = verdict.report.clone();
    provenance.gate_override = verdict.gate_override.clone();
    let quarantine = |value: Value,
                      reason: Option<String>,
                      stage: &str,
                      events: Vec<Op>|
     -> Result<Admitted, Refused> {
        let record = Quarantined {
            output: value,
            reason: reason.clone(),
            gate_report: verdict
                .report
                .clone()
                .unwrap_or_else(|| GateReport::empty(stage, key.as_str())),
            provenance: provenance.clone(),
        };
        let mut ops = vec![record.op(stage)?];
        ops.extend(events);
        store.commit(&writer, ops)?;
        Ok(Admitted::Quarantined {
            report: verdict.report.clone(),
            reason,
        })
    };
    if !verdict.admits() {
        let Refusal::Quarantine(stage) = refusal else {
            unreachable!("judge refuses or overrides unless told to quarantine")
        };
        let decision = Decision::Quarantine {
            report: verdict.report.as_ref(),
            reason: None,
        };
        let ops = events(&decision).map_err(Refused::Other)?;
        return quarantine(value, None, stage, ops);
    }
    if let (true, Some(report)) = (verdict.hold, verdict.report.as_ref()) {
        let record = Held {
            namespace: namespace.to_string(),
            key: key.to_string(),
            output: value,
            gate_report: report.clone(),
            provenance,
            writer: writer.clone(),
            if_revision,
            held_at: crate::memory::Timestamp::now(),
            rejected: None,
        };
        let mut ops = vec![record.op(&report.stage)?];
        ops.extend(events(&Decision::Hold { report }).map_err(Refused::Other)?);
        let mut metas = store.commit(&writer, ops)?;
        return Ok(Admitted::Held {
            report: report.clone(),
            meta: metas.remove(0),
        });
    }
    let mut op = Op::put(&namespace, &key, value.clone());
    if provenance != Provenance::default() {
        op = op.provenance(provenance.to_value());
    }
    if let Some(ttl) = ttl {
        op = op.ttl(ttl);
    }
    if let Some(rev) = if_revision {
        op = op.if_revision(rev);
    }
    let decision = Decision::Commit {
        report: verdict.report.as_ref(),
        overridden,
    };
    let mut ops = vec![op];
    ops.extend(events(&decision).map_err(Refused::Other)?);
    match (store.commit(&writer, ops), refusal) {
        (Ok(mut metas), _) => Ok(Admitted::Committed {
            meta: metas.remove(0),
            report: verdict.report.clone(),
            overridden,
        }),
        // A run's output whose key was written during the run: the other document is
        // never lost, and neither is this one.
        (Err(MemoryError::Conflict { actual, .. }), Refusal::Quarantine(stage)) => {
            let why = format!(
                "key `{key}` in namespace `{namespace}` was written during the run (revision {} when the stage started, {actual} now); the output was not stored and is in quarantine",
                if_revision.unwrap_or(0)
            );
            let decision = Decision::Quarantine {
                report: verdict.report.as_ref(),
                reason: Some(&why),
            };
            let ops = events(&decision).map_err(Refused::Other)?;
            quarantine(value, Some(why.clone()), stage, ops)
        }
        (Err(e), _) => Err(Refused::Memory(e)),
    }
}

/// Commits stage `stage`'s held output `held` (at revision `at` of its record) at its
/// key, approved by `decided`, with the events `events` builds, in one commit that
/// also ends the hold. The key must still be where it was when the output was held
/// (a run's compare-and-swap), and the record where it was read: a second approval,
/// or a run that wrote the key since, is refused with [`MemoryError::Conflict`].
pub fn approve(
    store: &dyn Store,
    stage: &str,
    (at, held): (&EntryMeta, Held),
    decided: Decided,
    events: Vec<Op>,
) -> Result<EntryMeta, Refused> {
    let namespace = Namespace::new(held.namespace)?;
    let key = Key::new(held.key)?;
    let mut provenance = held.provenance;
    provenance.approval = Some(decided.clone());
    let mut put = Op::put(&namespace, &key, held.output).provenance(provenance.to_value());
    if let Some(rev) = held.if_revision {
        put = put.if_revision(rev);
    }
    let end_hold = Op::delete(
        &Namespace::new(crate::records::APPROVAL_NAMESPACE)?,
        &Key::new(stage)?,
    )
    .if_revision(at.revision);
    commit_first(store, &decided.by, vec![put, end_hold], events)
}

/// Rejects stage `stage`'s held output `held` (at revision `at` of its record): it
/// stays aside with `decided` (who, when, why), never committed, and the stage's
/// next run hears the reason as findings.
pub fn reject(
    store: &dyn Store,
    stage: &str,
    (at, held): (&EntryMeta, Held),
    decided: Decided,
    events: Vec<Op>,
) -> Result<EntryMeta, Refused> {
    let by = decided.by.clone();
    let record = Held {
        rejected: Some(decided),
        ..held
    };
    commit_first(
        store,
        &by,
        vec![record.op(stage)?.if_revision(at.revision)],
        events,
    )
}

/// Commits `ops` then `events` as `by`, in one commit; the first op's revision.
fn commit_first(
    store: &dyn Store,
    by: &Writer,
    mut ops: Vec<Op>,
    events: Vec<Op>,
) -> Result<EntryMeta, Refused> {
    ops.extend(events);
    let mut metas = store.commit(by, ops)?;
    Ok(metas.remove(0))
}
