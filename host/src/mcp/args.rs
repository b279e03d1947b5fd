//! The tools' arguments, with the names and shapes the servers agents already use:
//! claude-flow 3's memory tools take flat arguments; eventuali's tools take one
//! argument, `request`, holding the fields. Unknown fields are ignored, as those
//! servers ignore them; a field of the wrong type is an error naming it.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `memory_store`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryStore {
    /// The key, such as `coding/architecture/performance`.
    pub key: String,
    /// The value: a JSON document, or a string (a string holding JSON is stored as that JSON).
    pub value: Value,
    /// The namespace [default: the pipeline's `namespace`].
    pub namespace: Option<String>,
    /// Tags, recorded in the write's audit event.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Time to live, in seconds.
    pub ttl: Option<f64>,
    /// Overwrite an existing key (default true); false stores only a new key.
    pub upsert: Option<bool>,
    /// Store only if the key is at this revision (baton).
    pub if_revision: Option<u64>,
    /// Who is writing: an agent id, recorded as the writer (baton).
    pub agent_id: Option<String>,
    /// Store although a quality gate fails, recording this reason (baton).
    pub override_gates: Option<String>,
}

/// `memory_retrieve`, `memory_delete`, `memory_history`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryKey {
    /// The key.
    pub key: String,
    /// The namespace [default: the pipeline's `namespace`].
    pub namespace: Option<String>,
    /// A retained revision instead of the live value (`memory_retrieve` only).
    pub revision: Option<u64>,
}

/// `memory_search`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemorySearch {
    /// Words to find in keys and values, and "quoted phrases": any case or accent,
    /// English word forms; best matches first.
    pub query: String,
    /// Only this namespace [default: every users' namespace].
    pub namespace: Option<String>,
    /// Most results (default 10, at most 1000).
    pub limit: Option<u32>,
    /// The least similarity, 0 to 1 (about the share of the query's words and phrases
    /// a document holds) [default: 0].
    pub threshold: Option<f64>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only documents stored with every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only documents this stage wrote.
    pub stage: Option<String>,
    /// Only documents written at or after this: an RFC 3339 time or how long ago (`2h`).
    pub after: Option<String>,
    /// Only documents written before this: an RFC 3339 time or how long ago (`2h`).
    pub before: Option<String>,
}

/// `memory_list`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryList {
    /// Only this namespace [default: every users' namespace].
    pub namespace: Option<String>,
    /// Most entries (default 50).
    pub limit: Option<u32>,
    /// Entries to skip (default 0).
    pub offset: Option<u32>,
    /// Only keys starting with this (baton).
    pub prefix: Option<String>,
}

/// `memory_rollback`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryRollback {
    /// The key.
    pub key: String,
    /// The namespace [default: the pipeline's `namespace`].
    pub namespace: Option<String>,
    /// The retained revision whose value to write again.
    pub revision: u64,
    /// Roll back only if the key is at this revision.
    pub if_revision: Option<u64>,
    /// Who is writing: an agent id.
    pub agent_id: Option<String>,
    /// Store although a quality gate fails, recording this reason.
    pub override_gates: Option<String>,
}

/// eventuali's tools: one argument, `request`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Request<T> {
    /// The request's fields.
    pub request: T,
}

/// `start_agent`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartAgent {
    /// The agent's name, such as `performanceArchitect`.
    pub agent_name: String,
    /// This instance's id, such as `performanceArchitect-<32 hex>`.
    pub agent_id: String,
    /// The agent that started this one.
    pub parent_agent_id: Option<String>,
    /// The workflow it belongs to.
    pub workflow_id: Option<String>,
}

/// `emit_agent_event`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AgentEvent {
    /// The agent instance.
    pub agent_id: String,
    /// The event, such as `architectureAnalyzed`: recorded as `agent.<agent_name>.<event_name>`.
    pub event_name: String,
    /// The agent's name.
    pub agent_name: String,
    /// The agent that started this one.
    pub parent_agent_id: Option<String>,
    /// The workflow it belongs to.
    pub workflow_id: Option<String>,
    /// What the event says.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// `complete_agent`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompleteAgent {
    /// The agent instance.
    pub agent_id: String,
    /// The agent's name.
    pub agent_name: String,
    /// Whether it succeeded (default true): `completed`, else `failed`.
    #[serde(default = "yes")]
    pub success: bool,
    /// A closing message or the error.
    pub message: Option<String>,
    /// The workflow it belongs to.
    pub workflow_id: Option<String>,
    /// The agent that started this one.
    pub parent_agent_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// `start_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartWorkflow {
    /// The workflow's id.
    pub workflow_id: String,
    /// The prompt that started it.
    pub user_prompt: String,
}

/// `emit_workflow_event`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WorkflowEvent {
    /// The workflow's id.
    pub workflow_id: String,
    /// The event: recorded as `workflow.<event_name>`.
    pub event_name: String,
    /// The prompt that started the workflow.
    pub user_prompt: Option<String>,
    /// What the event says.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// `complete_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompleteWorkflow {
    /// The workflow's id.
    pub workflow_id: String,
    /// Whether it succeeded (default true).
    #[serde(default = "yes")]
    pub success: bool,
    /// A closing message or the error.
    pub message: Option<String>,
}

/// `emit_system_event`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SystemEvent {
    /// The event: recorded as `system.<event_name>`.
    pub event_name: String,
    /// The session it belongs to.
    pub session_id: Option<String>,
    /// What the event says.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// `get_events`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GetEvents {
    /// Most events (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// Events to skip (default 0).
    pub offset: Option<u32>,
    /// Only events of this name, such as `agent.performanceArchitect.completed`.
    pub event_type: Option<String>,
    /// Only `agent`, `workflow` or `system` events.
    pub aggregate_type: Option<String>,
    /// Only this workflow (baton).
    pub workflow_id: Option<String>,
    /// Only this agent instance (baton).
    pub agent_id: Option<String>,
}

/// `gate_check`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GateCheck {
    /// The stage whose gates apply, by its name in pipeline.toml.
    pub stage: String,
    /// The partition, for a stage that runs once per partition (or name the stage
    /// `stage[partition]`).
    #[serde(default)]
    pub partition: Option<String>,
    /// The draft document.
    pub document: Value,
}

/// `agent_inputs`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AgentInputs {
    /// The stage, by its name in pipeline.toml.
    pub stage: String,
    /// The partition, for a stage that runs once per partition (or name the stage
    /// `stage[partition]`).
    #[serde(default)]
    pub partition: Option<String>,
}

/// `approve_output`, `reject_output`: a person's decision on a held output.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Decide {
    /// The stage whose approval gate holds the output.
    pub stage: String,
    /// Who decides: a person's name, recorded as `person:NAME`.
    pub by: String,
    /// Approving: a note recorded in the output's provenance. Rejecting: why, which
    /// the stage's agent hears as findings on its next run (required).
    pub reason: Option<String>,
}

/// `held_outputs`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Held {
    /// Only this stage's held output [default: every one].
    pub stage: Option<String>,
}

/// `agent_output`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AgentOutput {
    /// The stage, by its name in pipeline.toml.
    pub stage: String,
    /// The partition, for a stage that runs once per partition (or name the stage
    /// `stage[partition]`).
    #[serde(default)]
    pub partition: Option<String>,
    /// Its output document (`document` is accepted too, the name of earlier versions).
    #[serde(alias = "document")]
    pub value: Value,
    /// Who is writing: an agent id, recorded as the writer [default: the stage's agent].
    pub agent_id: Option<String>,
    /// Store although a quality gate fails, recording this reason.
    pub override_gates: Option<String>,
}

/// `pipeline_status`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PipelineStatus {
    /// Only these partitions' stages, with the stages of no partition [default: all].
    #[serde(default)]
    pub partitions: Vec<String>,
}

/// `partition_add`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PartitionAdd {
    /// The partition key: 1 to 64 letters, digits, `-`, `_` and `.`.
    pub partition: String,
}

/// `partitions`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Partitions {}

/// `events_query`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct EventsQuery {
    /// Only this workflow.
    pub workflow_id: Option<String>,
    /// Only this agent instance.
    pub agent_id: Option<String>,
    /// Only events about this key.
    pub key: Option<String>,
    /// Most events, newest kept (default 200).
    pub limit: Option<u32>,
}
