//! baton's own records: the provenance stored with a revision, the events of the event
//! log and the quarantined outputs. Each is one Rust type, written and read through
//! that type by every part of baton (the executor, the service, the front ends), so a
//! field has one name and one meaning.
//!
//! The memory stores provenance as JSON beside a revision ([`EntryMeta::provenance`])
//! without knowing its shape; [`Provenance::of`] reads it back. Events live one per
//! entry in [`EVENTS_NAMESPACE`], keyed `<workflow>/<agent>/<sequence>`, outputs a
//! gate refused in [`QUARANTINE_NAMESPACE`], keyed by stage, and outputs held for a
//! person's approval in [`APPROVAL_NAMESPACE`], keyed by stage.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gates::GateReport;
use crate::memory::{Entry, EntryMeta, Key, MemoryError, Namespace, Op, Store, Timestamp, Writer};
use crate::runtime::Read;

/// Where events are recorded, one entry per event, keyed `<workflow>/<agent>/<seq>`.
pub const EVENTS_NAMESPACE: &str = "baton.events";
/// Where outputs that failed their gates are kept, keyed by stage name.
pub const QUARANTINE_NAMESPACE: &str = "baton.quarantine";
/// Where outputs wait for a person's approval, keyed by stage name.
pub const APPROVAL_NAMESPACE: &str = "baton.approval";

/// Where a stored revision came from, and the gates it passed on the way in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The stage run that produced it, if a stage did.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub run: Option<StageRun>,
    /// The input file it was seeded from, if it is a pipeline input.
    #[serde(rename = "input", default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<PathBuf>,
    /// The report of the gates it was checked against, if its key is gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_report: Option<GateReport>,
    /// Stored although a gate failed: why, and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_override: Option<GateOverride>,
    /// The revision whose value a rollback wrote again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_from: Option<u64>,
    /// For an external stage's output stored with `baton agent output`: the revision
    /// of every key the stage reads when it was stored, which the output is current
    /// against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_seen: Option<Vec<Read>>,
    /// Held for a person's approval, then approved: by whom, when, with their note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Decided>,
    /// The tags it was stored with (`memory store --tag`, `memory_store`'s `tags`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A person's decision on a held output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    /// Who decided (`person:<name>`).
    pub by: Writer,
    /// When.
    pub at: Timestamp,
    /// Their note (approving) or reason (rejecting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The stage run behind an output: what a stage is fresh against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    /// The stage.
    pub stage: String,
    /// The partition it ran for, if it is one partition's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The agent instance of the run.
    pub agent_id: String,
    /// The workflow of the run.
    pub workflow_id: String,
    /// SHA-256 of the stage's component.
    pub component_sha256: String,
    /// The stage's configuration.
    pub config: Value,
    /// Every read the run made, with the revision it saw.
    pub inputs: Vec<Read>,
    /// For an agent's output: how it was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRun>,
}

/// How an agent produced an output: its runner, the attempt, and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentRun {
    /// The program started (the runner's `argv[0]`).
    pub runner: String,
    /// The attempt whose output this is (1 is the first).
    pub attempt: u32,
    /// What all the attempts cost, as the agent's CLI reported it.
    #[serde(default)]
    pub usage: crate::runner::Usage,
}

/// A document stored despite a failed gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateOverride {
    /// The reason given.
    pub reason: String,
    /// Who overrode.
    pub by: Writer,
}

impl Provenance {
    /// The provenance recorded with `meta`, if any and if it reads as one.
    pub fn of(meta: &EntryMeta) -> Option<Self> {
        meta.provenance
            .as_ref()
            .and_then(|p| serde_json::from_value(p.clone()).ok())
    }

    /// As JSON, to hand to [`Op::provenance`].
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("provenance serialises")
    }
}

/// One event of the event log: an agent's lifecycle (`agent.<name>.started`,
/// milestones, `completed`/`failed`), workflow and system events, and the audit
/// trail of changes made from outside a run (`memory.store`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its id, unique in the store; the key it is stored at.
    #[serde(default)]
    pub event_id: String,
    /// Such as `agent.performanceArchitect.started`.
    pub name: String,
    /// The workflow it belongs to (`cli` for command-line changes).
    pub workflow_id: String,
    /// The agent instance (or writer) it is about.
    pub agent_id: String,
    /// The agent's name, when the event is an agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The agent that started this one: the event's causation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_agent_id: Option<String>,
    /// When it happened.
    pub at: Timestamp,
    /// What it says: a JSON object.
    pub attributes: Value,
}

impl Event {
    /// An event named `name` of `agent_id` in `workflow_id`, now.
    pub fn new(
        name: impl Into<String>,
        workflow_id: &str,
        agent_id: &str,
        attributes: Value,
    ) -> Self {
        Self {
            event_id: String::new(),
            name: name.into(),
            workflow_id: workflow_id.into(),
            agent_id: agent_id.into(),
            agent_name: None,
            parent_agent_id: None,
            at: Timestamp::now(),
            attributes,
        }
    }

    /// The key of the `seq`-th event of `agent` in `workflow`.
    pub fn key(workflow: &str, agent: &str, seq: &str) -> String {
        format!("{workflow}/{agent}/{seq}")
    }

    /// The op that records this event at `<workflow>/<agent>/<seq>`; only that key,
    /// never an existing event (the log is append-only).
    pub fn op(mut self, seq: &str) -> Result<Op, MemoryError> {
        let key = Key::new(Self::key(&self.workflow_id, &self.agent_id, seq))?;
        self.event_id = key.as_str().to_owned();
        let ns = Namespace::new(EVENTS_NAMESPACE)?;
        let value = serde_json::to_value(&self).expect("an event serialises");
        Ok(Op::put(&ns, &key, value).if_revision(0))
    }

    /// The event stored in `entry`, if it reads as one.
    pub fn of(entry: &Entry) -> Option<Self> {
        let mut event: Self = serde_json::from_slice(&entry.value).ok()?;
        if event.event_id.is_empty() {
            event.event_id = entry.meta.key.clone();
        }
        Some(event)
    }
}

/// An output kept out of the memory: its gates refused it, or its key changed under
/// the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The output as the stage returned it.
    pub output: Value,
    /// Why it is here, when not (only) its gates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The gates' verdict on it.
    pub gate_report: GateReport,
    /// The run that produced it.
    pub provenance: Provenance,
}

impl Quarantined {
    /// The op that keeps this record as stage `stage`'s last refused output (the one
    /// writer: [`crate::admission::admit`]).
    pub fn op(&self, stage: &str) -> Result<Op, MemoryError> {
        record_op(QUARANTINE_NAMESPACE, stage, self)
    }

    /// Stage `stage`'s last refused output, if any (the one reader), with the
    /// revision it is at. A record that does not read as one is reported as corrupt.
    pub fn read(store: &dyn Store, stage: &str) -> Result<Option<(EntryMeta, Self)>, MemoryError> {
        read_record(store, QUARANTINE_NAMESPACE, stage)
    }
}

/// An output its gates admitted that waits for a person (its stage has an approval
/// gate): not at its key, not read by later stages, until `baton approve` commits it
/// or `baton reject` sends it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// The namespace it is bound for.
    pub namespace: String,
    /// The key it is bound for.
    pub key: String,
    /// The output as it was handed in.
    pub output: Value,
    /// The gates' verdict on it (the approval gates waiting).
    pub gate_report: GateReport,
    /// Where it came from, as it will be committed.
    pub provenance: Provenance,
    /// Who handed it in.
    pub writer: Writer,
    /// The revision its key must still be at when it is approved (a run's
    /// compare-and-swap), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_revision: Option<u64>,
    /// When it was held.
    pub held_at: Timestamp,
    /// The person's rejection, once rejected: the stage's next run gets the reason
    /// as findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Decided>,
}

impl Held {
    /// The op that holds this record for stage `stage` (the writers:
    /// [`crate::admission`]'s hold and reject).
    pub fn op(&self, stage: &str) -> Result<Op, MemoryError> {
        record_op(APPROVAL_NAMESPACE, stage, self)
    }

    /// Stage `stage`'s held (or rejected) output, if any, with the revision it is at.
    pub fn read(store: &dyn Store, stage: &str) -> Result<Option<(EntryMeta, Self)>, MemoryError> {
        read_record(store, APPROVAL_NAMESPACE, stage)
    }

    /// Whether it still waits for a person (not rejected).
    pub fn waiting(&self) -> bool {
        self.rejected.is_none()
    }

    /// Once rejected: why, as a heading and findings for the stage's next brief,
    /// as a refused gate's are.
    pub fn findings(&self) -> Option<(String, GateReport)> {
        let r = self.rejected.as_ref()?;
        let by = r.by.to_string();
        Some((
            format!("your last output was rejected by {by}"),
            GateReport::rejected(&self.gate_report, &by, r.reason.as_deref().unwrap_or("")),
        ))
    }
}

fn record_op(namespace: &str, stage: &str, record: &impl Serialize) -> Result<Op, MemoryError> {
    let value = serde_json::to_value(record).expect("a record serialises");
    Ok(Op::put(
        &Namespace::new(namespace)?,
        &Key::new(stage)?,
        value,
    ))
}

fn read_record<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    namespace: &str,
    stage: &str,
) -> Result<Option<(EntryMeta, T)>, MemoryError> {
    let ns = Namespace::new(namespace)?;
    let Some(entry) = store.get(&ns, &Key::new(stage)?)? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&entry.value).map_err(|e| MemoryError::Corrupt {
        path: PathBuf::from(namespace),
        what: format!("key `{stage}`, revision {}", entry.meta.revision),
        reason: e.to_string(),
    })?;
    Ok(Some((entry.meta, record)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_provenance_round_trips_with_its_old_field_names() {
        let p = Provenance {
            run: Some(StageRun {
                stage: "s".into(),
                partition: None,
                agent_id: "a-1".into(),
                workflow_id: "w".into(),
                component_sha256: "00".into(),
                config: serde_json::json!({}),
                inputs: vec![Read {
                    namespace: "n".into(),
                    key: "k".into(),
                    revision: Some(2),
                }],
                agent: None,
            }),
            ..Default::default()
        };
        let v = p.to_value();
        assert_eq!(v["component_sha256"], "00");
        assert_eq!(v["inputs"][0]["revision"], 2);
        assert_eq!(serde_json::from_value::<Provenance>(v).unwrap(), p);
        let seeded: Provenance =
            serde_json::from_value(serde_json::json!({"input": "x.json"})).unwrap();
        assert!(seeded.run.is_none());
        assert_eq!(seeded.input_file, Some(PathBuf::from("x.json")));
    }
}
