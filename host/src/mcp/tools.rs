//! The tool table: each tool's name, description, argument schema and the call into
//! the service that answers it. Results and failures become tool results here, in one
//! place ([`respond`]).

use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{args, replies};
use crate::memory::{Key, Namespace, SearchQuery, Timestamp, Writer, search};
use crate::records::Event;
use crate::service::{
    AgentEvent, Error, ErrorKind, EventFilter, OutputOptions, Result, Service, Stored, Write,
    find_stage_of,
};
use crate::text::short;

/// The largest value (or draft document) a tool accepts, as compact JSON.
pub const MAX_VALUE_BYTES: usize = 16 << 20;

/// One tool.
pub struct ToolDef {
    /// The tool's name.
    pub name: &'static str,
    description: &'static str,
    schema: fn() -> Value,
    /// Answers a call with these arguments.
    pub call: fn(&Service, JsonObject) -> CallToolResult,
}

macro_rules! tool {
    ($name:literal, $args:ty, $description:literal, $handler:expr) => {
        ToolDef {
            name: $name,
            description: $description,
            schema: || {
                serde_json::to_value(schemars::schema_for!($args)).expect("a schema serialises")
            },
            call: |service, arguments| {
                respond(parse::<$args>(arguments).and_then(|a| $handler(service, a)))
            },
        }
    };
}

static TOOLS: &[ToolDef] = &[
    tool!(
        "memory_store",
        args::MemoryStore,
        "Store a value at a key in baton's memory (a new revision). A key a pipeline stage writes is gated: the document must pass that stage's quality gates, and a refusal lists every finding (gate, JSON pointer, expected, found). Upsert by default; `upsert: false` stores only a new key.",
        memory_store
    ),
    tool!(
        "memory_retrieve",
        args::MemoryKey,
        "Read the value at a key, with its revision and writer. A key absent from the namespace asked for but present in another says where it is.",
        memory_retrieve
    ),
    tool!(
        "memory_search",
        args::MemorySearch,
        "Find live entries whose key or value contains a text, ignoring case.",
        memory_search
    ),
    tool!(
        "memory_list",
        args::MemoryList,
        "List live keys, in one namespace or every users' namespace, with paging.",
        memory_list
    ),
    tool!(
        "memory_delete",
        args::MemoryKey,
        "Delete a key: a tombstone revision; its history is kept.",
        memory_delete
    ),
    tool!(
        "memory_history",
        args::MemoryKey,
        "The retained revisions of a key, oldest first, with when, who, size and provenance.",
        memory_history
    ),
    tool!(
        "memory_rollback",
        args::MemoryRollback,
        "Write an earlier revision's value again as a new revision, through the key's gates.",
        memory_rollback
    ),
    tool!(
        "start_agent",
        args::Request<args::StartAgent>,
        "Start an agent instance: records `agent.<agent_name>.started`. Each agent_id starts once.",
        |s: &Service, a: args::Request<args::StartAgent>| {
            let r = a.request;
            to_json(s.start_agent(
                &r.agent_name,
                &r.agent_id,
                r.workflow_id.as_deref(),
                r.parent_agent_id.as_deref(),
            )?)
        }
    ),
    tool!(
        "emit_agent_event",
        args::Request<args::AgentEvent>,
        "Record an event of a started, running agent as `agent.<agent_name>.<event_name>`.",
        |s: &Service, a: args::Request<args::AgentEvent>| {
            let r = a.request;
            to_json(s.emit_agent_event(&AgentEvent {
                agent_id: r.agent_id,
                agent_name: r.agent_name,
                event_name: r.event_name,
                workflow_id: r.workflow_id,
                parent_agent_id: r.parent_agent_id,
                attributes: r.attributes,
            })?)
        }
    ),
    tool!(
        "complete_agent",
        args::Request<args::CompleteAgent>,
        "End an agent: `agent.<agent_name>.completed`, or `failed` when success is false. An agent ends once.",
        |s: &Service, a: args::Request<args::CompleteAgent>| {
            let r = a.request;
            let event = AgentEvent {
                agent_id: r.agent_id,
                agent_name: r.agent_name,
                workflow_id: r.workflow_id,
                parent_agent_id: r.parent_agent_id,
                ..Default::default()
            };
            to_json(s.complete_agent(&event, r.success, r.message.as_deref())?)
        }
    ),
    tool!(
        "start_workflow",
        args::Request<args::StartWorkflow>,
        "Start a workflow: records `workflow.started` with the prompt.",
        |s: &Service, a: args::Request<args::StartWorkflow>| {
            let r = a.request;
            let attributes = object(to_json(replies::WorkflowStarted {
                started_at: now(),
                user_prompt: &r.user_prompt,
            })?);
            to_json(s.emit_workflow_event(&r.workflow_id, "started", attributes)?)
        }
    ),
    tool!(
        "emit_workflow_event",
        args::Request<args::WorkflowEvent>,
        "Record `workflow.<event_name>` for a workflow.",
        |s: &Service, a: args::Request<args::WorkflowEvent>| {
            let r = a.request;
            let mut attributes = r.attributes;
            if let Some(p) = r.user_prompt {
                attributes.insert("user_prompt".into(), p.into());
            }
            to_json(s.emit_workflow_event(&r.workflow_id, &r.event_name, attributes)?)
        }
    ),
    tool!(
        "complete_workflow",
        args::Request<args::CompleteWorkflow>,
        "End a workflow: `workflow.completed`, or `failed` when success is false.",
        |s: &Service, a: args::Request<args::CompleteWorkflow>| {
            let r = a.request;
            let attributes = object(to_json(replies::WorkflowEnded {
                success: r.success,
                completed_at: now(),
                message: r.message,
            })?);
            let name = if r.success { "completed" } else { "failed" };
            to_json(s.emit_workflow_event(&r.workflow_id, name, attributes)?)
        }
    ),
    tool!(
        "emit_system_event",
        args::Request<args::SystemEvent>,
        "Record `system.<event_name>`.",
        |s: &Service, a: args::Request<args::SystemEvent>| {
            let r = a.request;
            to_json(s.emit_system_event(&r.event_name, r.session_id.as_deref(), r.attributes)?)
        }
    ),
    tool!(
        "get_events",
        args::Request<args::GetEvents>,
        "Read recorded events, oldest first, with paging and filters, in eventuali's shape.",
        get_events
    ),
    tool!(
        "gate_check",
        args::GateCheck,
        "Check a draft document against a stage's quality gates without storing it: the report lists every gate, pass or fail, with findings.",
        gate_check
    ),
    tool!(
        "agent_inputs",
        args::AgentInputs,
        "Everything a stage reads, in one answer: each key it reads with namespace, revision and document. Fails naming each missing key when the stage is not ready.",
        |s: &Service, a: args::AgentInputs| {
            let pipeline = definitions(s)?;
            let stage = stage_of(&pipeline, &a.stage, a.partition.as_deref())?;
            to_json(replies::Inputs {
                inputs: s.stage_inputs(&pipeline, &stage)?,
                stage: &stage,
            })
        }
    ),
    tool!(
        "agent_brief",
        args::AgentInputs,
        "The brief `baton run` hands a stage's agent: its definition, the ===AGENT_CONTEXT=== block (ids generated now), its inputs as stored, the contract of its output (key, gates, schema) and how to hand it back.",
        |s: &Service, a: args::AgentInputs| {
            let pipeline = definitions(s)?;
            let stage = stage_of(&pipeline, &a.stage, a.partition.as_deref())?;
            to_json(replies::Brief {
                brief: s.agent_brief(&pipeline, &stage)?,
                stage: &stage,
            })
        }
    ),
    tool!(
        "held_outputs",
        args::Held,
        "The outputs held for a person's approval (a stage with an approval gate), or one stage's: the document, its gates' report, who handed it in and when, and a rejection if one was made.",
        |s: &Service, a: args::Held| match a.stage {
            Some(stage) => to_json(s.held_output(&stage)?.into_iter().collect::<Vec<_>>()),
            None => to_json(s.held_outputs()?),
        }
    ),
    tool!(
        "approve_output",
        args::Decide,
        "A person approves a stage's held output: it is stored at its key, with who approved (and `reason`, as a note) in its provenance, and the stages after it may run. An agent confined to its stage cannot approve.",
        |s: &Service, a: args::Decide| to_json(s.approve(&a.stage, &a.by, a.reason)?)
    ),
    tool!(
        "reject_output",
        args::Decide,
        "A person rejects a stage's held output, giving `reason`: nothing is stored, and the stage's next run sends its agent back with the reason as findings. An agent confined to its stage cannot reject.",
        |s: &Service, a: args::Decide| to_json(s.reject(
            &a.stage,
            &a.by,
            a.reason.unwrap_or_default()
        )?)
    ),
    tool!(
        "agent_output",
        args::AgentOutput,
        "Store a stage's output at the key it writes, through its quality gates (refused with the gate report if an enforced gate fails; unchecked prose gates are listed).",
        |s: &Service, a: args::AgentOutput| {
            check_size("the value", &a.value)?;
            let pipeline = definitions(s)?;
            let output = OutputOptions {
                agent: a.agent_id,
                override_gates: a.override_gates,
            };
            let stage = stage_of(&pipeline, &a.stage, a.partition.as_deref())?;
            to_json(s.stage_output(&pipeline, &stage, a.value, &output)?)
        }
    ),
    tool!(
        "pipeline_status",
        args::PipelineStatus,
        "Each stage of the pipeline: fresh, stale (and why), missing, failed, external, awaiting or untracked, which stages it waits on, which reads no stage writes and the memory lacks, whether it is ready or done, which workers run it now (a PostgreSQL store), and how many of its gates are enforced and which are prose only.",
        |s: &Service, a: args::PipelineStatus| {
            let mut pipeline = definitions(s)?;
            pipeline.restrict(&a.partitions).map_err(Error::bad_input)?;
            to_json(replies::Status {
                pipeline: &pipeline.name,
                stages: s.status(&pipeline)?,
            })
        }
    ),
    tool!(
        "partitions",
        args::Partitions,
        "The pipeline's partitions and, for each stage, each partition's state (fresh, stale, failed, running, missing…): one row per stage as declared, one cell per partition.",
        |s: &Service, _a: args::Partitions| {
            let pipeline = definitions(s)?;
            to_json(s.matrix(&pipeline)?)
        }
    ),
    tool!(
        "partition_add",
        args::PartitionAdd,
        "Add a partition key at run time to a pipeline whose `[partitions]` sets `dynamic = true`: every partitioned stage runs for it on the next run. A key that reads as a path or a template is refused, and nothing is stored.",
        |s: &Service, a: args::PartitionAdd| to_json(s.add_partition(manifest(s)?, &a.partition)?)
    ),
    tool!(
        "events_query",
        args::EventsQuery,
        "Events by workflow, agent or key, as `baton events` lists them.",
        |s: &Service, a: args::EventsQuery| {
            let mut events = s.events(&EventFilter {
                workflow: a.workflow_id,
                agent: a.agent_id,
                key: a.key,
                name_prefix: None,
            })?;
            let limit = a.limit.unwrap_or(200) as usize;
            let total = events.len();
            events.drain(..total.saturating_sub(limit));
            to_json(replies::Events { events, total })
        }
    ),
];

/// Every tool, as MCP lists them.
pub fn list() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|t| {
            let Value::Object(schema) = (t.schema)() else {
                unreachable!("a struct's schema is an object")
            };
            Tool::new(t.name, t.description, schema)
        })
        .collect()
}

/// The tool named `name`.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The tools' names.
pub fn names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// The arguments as `T`, or an error naming the field that does not fit.
fn parse<T: DeserializeOwned>(arguments: JsonObject) -> Result<T> {
    serde_path_to_error::deserialize(Value::Object(arguments)).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "the arguments".to_owned()
        } else {
            format!("argument `{path}`")
        };
        Error::bad_input(format!("{at}: {}", short(&e.into_inner().to_string())))
    })
}

/// A service result as a tool result: the value as structured content and text, or
/// the failure as a tool error the model can act on.
fn respond(result: Result<Value>) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => {
            let body = serde_json::to_value(replies::Failure::of(&e)).unwrap_or_default();
            let mut text = format!("error ({}): {}", e.kind().code(), e.message());
            for hint in e.hints() {
                text.push_str(&format!("\nhint: {hint}"));
            }
            if let Some(report) = e.report() {
                text = format!("{report}\n{text}");
            }
            let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
            result.structured_content = Some(body);
            result
        }
    }
}

fn to_json(value: impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::new(ErrorKind::Failure, e))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn now() -> crate::memory::Timestamp {
    crate::memory::Timestamp::now()
}

fn writer(agent_id: Option<&str>) -> Writer {
    agent_id.map_or_else(|| Writer("mcp".into()), Writer::agent)
}

/// A value's size as stored, refused past [`MAX_VALUE_BYTES`].
fn check_size(what: &str, value: &Value) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::new(ErrorKind::Failure, e))?
        .len();
    if bytes > MAX_VALUE_BYTES {
        return Err(Error::bad_input(format!(
            "{what} is {:.1} MiB; a tool takes at most {} MiB",
            bytes as f64 / (1 << 20) as f64,
            MAX_VALUE_BYTES >> 20
        ))
        .hint("store large documents with `baton memory store --file`"));
    }
    Ok(())
}

fn stored(ns: &Namespace, stored: Stored) -> Result<Value> {
    to_json(replies::StoredReply::of(ns.as_str(), &stored))
}

fn memory_store(s: &Service, a: args::MemoryStore) -> Result<Value> {
    let ns = s.namespace(a.namespace.as_deref())?;
    let key = Key::new(a.key)?;
    // As from the command line: text that is JSON is stored as that JSON, and text
    // that starts like a JSON object or array must be JSON.
    let value = match a.value {
        Value::String(text) => crate::service::value_from_text(text, false, &ns, &key)?,
        other => other,
    };
    check_size("the value", &value)?;
    let ttl = match a.ttl {
        None => None,
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e12 => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(secs) => {
            return Err(Error::bad_input(format!(
                "argument `ttl`: {secs} is not a number of seconds above zero"
            )));
        }
    };
    let if_revision = a.if_revision.or((a.upsert == Some(false)).then_some(0));
    let write = Write {
        ttl,
        if_revision,
        override_gates: a.override_gates,
        tags: a.tags,
        ..Write::new(ns.clone(), key, value, writer(a.agent_id.as_deref()))
    };
    stored(&ns, s.store_value(write)?)
}

fn memory_retrieve(s: &Service, a: args::MemoryKey) -> Result<Value> {
    let ns = s.namespace(a.namespace.as_deref())?;
    let key = Key::new(a.key)?;
    match s.retrieve(&ns, &key, a.revision) {
        Ok(entry) => to_json(replies::Retrieved {
            key: key.as_str(),
            namespace: ns.as_str(),
            value: entry.json(),
            found: true,
            revision: Some(entry.meta.revision),
            stored_at: Some(entry.meta.written_at),
            updated_at: Some(entry.meta.written_at),
            writer: Some(&entry.meta.writer),
            size: Some(entry.meta.size),
            message: None,
            hints: None,
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => to_json(replies::Retrieved {
            key: key.as_str(),
            namespace: ns.as_str(),
            value: Value::Null,
            found: false,
            revision: None,
            stored_at: None,
            updated_at: None,
            writer: None,
            size: None,
            message: Some(e.message()),
            hints: Some(e.hints()),
        }),
        Err(e) => Err(e),
    }
}

fn memory_search(s: &Service, a: args::MemorySearch) -> Result<Value> {
    let now = Timestamp::now();
    let when = |name: &str, text: Option<String>| {
        text.map(|t| search::parse_when(&t, now))
            .transpose()
            .map_err(|e| Error::new(ErrorKind::BadInput, anyhow::anyhow!("{name}: {e}")))
    };
    let query = SearchQuery {
        namespace: a.namespace,
        key_prefix: a.prefix.unwrap_or_default(),
        tags: a.tags,
        stage: a.stage,
        after: when("after", a.after)?,
        before: when("before", a.before)?,
        limit: a.limit.unwrap_or(10) as usize,
        threshold: a.threshold.unwrap_or(0.0),
        ..SearchQuery::new(a.query.clone())
    };
    let hits = s.search(&query)?;
    let results: Vec<replies::SearchHit<'_>> = hits
        .iter()
        .map(|h| replies::SearchHit {
            key: &h.entry.meta.key,
            namespace: &h.entry.meta.namespace,
            value: h.entry.json(),
            similarity: h.similarity,
            revision: h.entry.meta.revision,
            matched: &h.matched,
            snippet: &h.snippet,
        })
        .collect();
    to_json(replies::Searched {
        query: &a.query,
        threshold: a.threshold,
        total: results.len(),
        results,
    })
}

fn memory_list(s: &Service, a: args::MemoryList) -> Result<Value> {
    let ns = a.namespace.map(Namespace::new).transpose()?;
    let metas = s.list(ns.as_ref(), a.prefix.as_deref().unwrap_or(""))?;
    let (limit, offset) = (
        a.limit.unwrap_or(50) as usize,
        a.offset.unwrap_or(0) as usize,
    );
    let entries = metas
        .iter()
        .skip(offset)
        .take(limit)
        .map(replies::EntryRow::of)
        .collect();
    to_json(replies::Page {
        items: replies::Entries { entries },
        total: metas.len(),
        limit,
        offset,
    })
}

fn memory_delete(s: &Service, a: args::MemoryKey) -> Result<Value> {
    let ns = s.namespace(a.namespace.as_deref())?;
    let key = Key::new(a.key)?;
    match s.delete(&ns, &key, None, &Writer("mcp".into())) {
        Ok(meta) => to_json(replies::Deleted {
            success: true,
            key: key.as_str(),
            namespace: ns.as_str(),
            deleted: true,
            revision: Some(meta.revision),
            message: None,
            hints: None,
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => to_json(replies::Deleted {
            success: false,
            key: key.as_str(),
            namespace: ns.as_str(),
            deleted: false,
            revision: None,
            message: Some(e.message()),
            hints: Some(e.hints()),
        }),
        Err(e) => Err(e),
    }
}

fn memory_history(s: &Service, a: args::MemoryKey) -> Result<Value> {
    let ns = s.namespace(a.namespace.as_deref())?;
    let key = Key::new(a.key)?;
    let revisions = s.history(&ns, &key)?;
    to_json(replies::History {
        key: key.as_str(),
        namespace: ns.as_str(),
        revisions,
    })
}

fn memory_rollback(s: &Service, a: args::MemoryRollback) -> Result<Value> {
    let ns = s.namespace(a.namespace.as_deref())?;
    let key = Key::new(a.key)?;
    let done = s.rollback(
        &ns,
        &key,
        a.revision,
        &writer(a.agent_id.as_deref()),
        a.if_revision,
        a.override_gates,
    )?;
    stored(&ns, done)
}

/// The project's manifest, checked for work on one stage's definition (its inputs, its
/// output, its gates): reads nothing produces stop a run, not these.
fn definitions(s: &Service) -> Result<crate::pipeline::Pipeline> {
    s.load_definitions(manifest(s)?)
}

/// The name of stage `name` (of `partition`, if given) in `pipeline`.
fn stage_of(
    pipeline: &crate::pipeline::Pipeline,
    name: &str,
    partition: Option<&str>,
) -> Result<String> {
    Ok(find_stage_of(pipeline, name, partition)?.name.clone())
}

fn manifest(s: &Service) -> Result<&std::path::Path> {
    s.manifest().ok_or_else(|| {
        Error::bad_input("no `pipeline.toml`: `baton mcp` was started outside a baton project")
            .hint("start it in the project's folder, or give the server's `cwd` in `.mcp.json`")
    })
}

fn gate_check(s: &Service, a: args::GateCheck) -> Result<Value> {
    check_size("the document", &a.document)?;
    let pipeline = definitions(s)?;
    let stage = stage_of(&pipeline, &a.stage, a.partition.as_deref())?;
    to_json(s.gate_check(&pipeline, &stage, &a.document)?)
}

fn get_events(s: &Service, a: args::Request<args::GetEvents>) -> Result<Value> {
    let r = a.request;
    let limit = r.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_input(format!(
            "argument `request.limit`: {limit} is not from 1 to 1000"
        )));
    }
    let offset = r.offset.unwrap_or(0) as usize;
    let events = s.events(&EventFilter {
        workflow: r.workflow_id,
        agent: r.agent_id,
        ..Default::default()
    })?;
    let kept: Vec<&Event> = events
        .iter()
        .filter(|e| r.event_type.as_deref().is_none_or(|t| e.name == t))
        .filter(|e| {
            r.aggregate_type
                .as_deref()
                .is_none_or(|t| replies::aggregate_type(e) == t)
        })
        .collect();
    let events = kept
        .iter()
        .skip(offset)
        .take(limit as usize)
        .map(|e| replies::EventItem::of(e))
        .collect();
    to_json(replies::Page {
        items: replies::EventItems { events },
        total: kept.len(),
        limit: limit as usize,
        offset,
    })
}
