//! The replies of the MCP tools, each one `Serialize` type in the shape agents
//! already read (claude-flow's memory answers, eventuali's events): what a tool
//! answers is written down once, here, rather than built by hand per call.

use serde::Serialize;
use serde_json::Value;

use crate::gates::GateReport;
use crate::memory::{EntryMeta, Timestamp, Writer};
use crate::records::Event;
use crate::service::{Error, StageInput, StageStatus, Stored};

/// A failed call's structured content.
#[derive(Serialize)]
pub struct Failure<'a> {
    /// Always false.
    pub success: bool,
    /// What failed.
    pub error: String,
    /// The error's kind, such as `gate-failed`.
    pub kind: &'static str,
    /// What to do about it.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub hints: &'a [String],
    /// The gates' report, when gates refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_report: Option<&'a GateReport>,
}

impl<'a> Failure<'a> {
    /// The failure of `e`.
    pub fn of(e: &'a Error) -> Self {
        Self {
            success: false,
            error: e.message(),
            kind: e.kind().code(),
            hints: e.hints(),
            gate_report: e.report(),
        }
    }
}

/// `memory_store`, `memory_rollback`, `agent_output`: what was stored.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredReply<'a> {
    /// Always true.
    pub success: bool,
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// False when the document is held for a person's approval instead.
    pub stored: bool,
    /// The stage whose approval gate holds the document (`approve_output`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_for_approval: Option<&'a str>,
    /// When.
    pub stored_at: Timestamp,
    /// The revision written (when held: of the held record).
    pub revision: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: &'a str,
    /// The gates' verdict, when the key is gated.
    pub gates: Option<GatesSummary>,
    /// Whether a failed gate was overridden.
    #[serde(rename = "gates_overridden")]
    pub gates_overridden: bool,
}

/// A gate report, counted.
#[derive(Serialize)]
pub struct GatesSummary {
    /// Whether no error gate failed.
    pub passed: bool,
    /// Gates passed.
    pub gates_passed: usize,
    /// Gates in all.
    pub total: usize,
    /// Warning gates failed.
    pub warnings: usize,
}

impl<'a> StoredReply<'a> {
    /// The reply for `stored` in namespace `ns`.
    pub fn of(ns: &'a str, stored: &'a Stored) -> Self {
        let meta = &stored.meta;
        let held = stored.held.as_ref();
        Self {
            success: true,
            key: held.map_or(&meta.key, |h| &h.key),
            namespace: ns,
            stored: held.is_none(),
            held_for_approval: held.map(|h| h.held_for_approval.as_str()),
            stored_at: meta.written_at,
            revision: meta.revision,
            size: meta.size,
            sha256: &meta.sha256,
            gates: stored.report.as_ref().map(|r| GatesSummary {
                passed: r.passed,
                gates_passed: r.gates_passed,
                total: r.gates.len(),
                warnings: r.warnings,
            }),
            gates_overridden: stored.overridden,
        }
    }
}

/// `memory_retrieve`: the document, or that there is none.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retrieved<'a> {
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The document (null when not found).
    pub value: Value,
    /// Whether the key holds a document.
    pub found: bool,
    /// Its revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// When it was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_at: Option<Timestamp>,
    /// The same, in claude-flow's other spelling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Who stored it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<&'a Writer>,
    /// Its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why nothing was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where else to look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<&'a [String]>,
}

/// One `memory_search` result.
#[derive(Serialize)]
pub struct SearchHit<'a> {
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The document.
    pub value: Value,
    /// How well it matches, 0 to 1: about the share of the query's words and phrases
    /// it holds.
    pub similarity: f64,
    /// Its revision.
    pub revision: u64,
    /// The query's words and phrases it holds.
    pub matched: &'a [String],
    /// Where it matched, the matched words marked `**so**`.
    pub snippet: &'a str,
}

/// `memory_search`.
#[derive(Serialize)]
pub struct Searched<'a> {
    /// The query.
    pub query: &'a str,
    /// The threshold asked for.
    pub threshold: Option<f64>,
    /// Results.
    pub total: usize,
    /// The results.
    pub results: Vec<SearchHit<'a>>,
}

/// One `memory_list` entry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryRow<'a> {
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// Its revision.
    pub revision: u64,
    /// When it was stored.
    pub stored_at: Timestamp,
    /// The same, in claude-flow's other spelling.
    pub updated_at: Timestamp,
    /// Its size in bytes.
    pub size: u64,
    /// Who stored it.
    pub writer: &'a Writer,
}

impl<'a> EntryRow<'a> {
    /// The row of `m`.
    pub fn of(m: &'a EntryMeta) -> Self {
        Self {
            key: &m.key,
            namespace: &m.namespace,
            revision: m.revision,
            stored_at: m.written_at,
            updated_at: m.written_at,
            size: m.size,
            writer: &m.writer,
        }
    }
}

/// A page of items, with the total before paging.
#[derive(Serialize)]
pub struct Page<T> {
    /// The items of this page.
    #[serde(flatten)]
    pub items: T,
    /// How many there are in all.
    pub total: usize,
    /// The page's size.
    pub limit: usize,
    /// Where it starts.
    pub offset: usize,
}

/// `memory_list`'s items.
#[derive(Serialize)]
pub struct Entries<'a> {
    /// The entries.
    pub entries: Vec<EntryRow<'a>>,
}

/// `get_events`' items.
#[derive(Serialize)]
pub struct EventItems<'a> {
    /// The events.
    pub events: Vec<EventItem<'a>>,
}

/// `memory_delete`.
#[derive(Serialize)]
pub struct Deleted<'a> {
    /// Whether a document was deleted.
    pub success: bool,
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// Whether a document was deleted.
    pub deleted: bool,
    /// The tombstone's revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// Why nothing was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where else to look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<&'a [String]>,
}

/// `memory_history`.
#[derive(Serialize)]
pub struct History<'a> {
    /// The key.
    pub key: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// Its retained revisions, oldest first.
    pub revisions: Vec<EntryMeta>,
}

/// `agent_inputs`.
#[derive(Serialize)]
pub struct Inputs<'a> {
    /// The stage.
    pub stage: &'a str,
    /// Each key it reads.
    pub inputs: Vec<StageInput>,
}

/// `agent_brief`.
#[derive(Serialize)]
pub struct Brief<'a> {
    /// The stage.
    pub stage: &'a str,
    /// The brief, in markdown.
    pub brief: String,
}

/// `pipeline_status`.
#[derive(Serialize)]
pub struct Status<'a> {
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// Each stage.
    pub stages: Vec<StageStatus>,
}

/// `events_query`.
#[derive(Serialize)]
pub struct Events {
    /// The events, oldest first.
    pub events: Vec<Event>,
    /// How many matched before the limit.
    pub total: usize,
}

/// Attributes of `workflow.started`.
#[derive(Serialize)]
pub struct WorkflowStarted<'a> {
    /// When.
    pub started_at: Timestamp,
    /// The prompt that started it.
    pub user_prompt: &'a str,
}

/// Attributes of `workflow.completed` / `failed`.
#[derive(Serialize)]
pub struct WorkflowEnded {
    /// Whether it succeeded.
    pub success: bool,
    /// When.
    pub completed_at: Timestamp,
    /// What it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An event in eventuali's `EventItem` shape.
#[derive(Serialize)]
pub struct EventItem<'a> {
    /// Its id.
    pub event_id: &'a str,
    /// The workflow's id for a workflow event, else the agent's.
    pub aggregate_id: &'a str,
    /// `agent`, `workflow`, `system`, or `audit`.
    pub aggregate_type: &'static str,
    /// Its name.
    pub event_type: &'a str,
    /// Its name again.
    pub event_name: &'a str,
    /// When.
    pub timestamp: Timestamp,
    /// What it says.
    pub attributes: &'a Value,
    /// The agent's name.
    pub agent_name: Option<&'a str>,
    /// The agent instance, for an agent's event.
    pub agent_id: Option<&'a str>,
    /// The agent that started this one.
    pub parent_agent_id: Option<&'a str>,
    /// The workflow.
    pub workflow_id: &'a str,
    /// The prompt, when the event carries one.
    pub user_prompt: Option<&'a Value>,
    /// The session, when the event carries one.
    pub session_id: Option<&'a Value>,
    /// The workflow, as correlation.
    pub correlation_id: &'a str,
    /// The parent agent, as causation.
    pub causation_id: Option<&'a str>,
}

impl<'a> EventItem<'a> {
    /// The item of `e`.
    pub fn of(e: &'a Event) -> Self {
        let kind = aggregate_type(e);
        Self {
            event_id: &e.event_id,
            aggregate_id: match kind {
                "workflow" => &e.workflow_id,
                _ => &e.agent_id,
            },
            aggregate_type: kind,
            event_type: &e.name,
            event_name: &e.name,
            timestamp: e.at,
            attributes: &e.attributes,
            agent_name: e.agent_name.as_deref(),
            agent_id: (kind == "agent").then_some(e.agent_id.as_str()),
            parent_agent_id: e.parent_agent_id.as_deref(),
            workflow_id: &e.workflow_id,
            user_prompt: e.attributes.get("user_prompt"),
            session_id: e.attributes.get("session_id"),
            correlation_id: &e.workflow_id,
            causation_id: e.parent_agent_id.as_deref(),
        }
    }
}

/// `agent`, `workflow`, `system`, or `audit` for the trail of memory changes.
pub fn aggregate_type(e: &Event) -> &'static str {
    match e.name.split('.').next() {
        Some("agent") => "agent",
        Some("workflow") => "workflow",
        Some("system") => "system",
        _ => "audit",
    }
}
