//! The event log as agents use it: the query behind `baton events`, and each
//! agent's lifecycle (start, milestones, completion) plus workflow and system events,
//! as the MCP tools of eventuali record them.
//!
//! Every agent started here has a record in `baton.agents` (its name, workflow,
//! parent, state and event count). Each lifecycle call reads that record and commits
//! the record's next revision together with the event, compare-and-swap: two calls
//! racing for one agent cannot both record a completion, an event of an agent never
//! started or already completed is refused, and nothing is recorded twice.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Error, ErrorKind, Result, Service};
use crate::memory::{Key, MemoryError, Namespace, Op, Timestamp, Writer};
use crate::records::{EVENTS_NAMESPACE, Event};

/// Where agents started through the lifecycle calls are recorded, by agent id.
pub const AGENTS_NAMESPACE: &str = "baton.agents";
/// The workflow of an agent started without one.
const NO_WORKFLOW: &str = "agents";
/// How often a lifecycle call retries after losing a race for its agent's record.
const RETRIES: usize = 16;

/// Which events a query returns.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this agent id.
    pub agent: Option<String>,
    /// Only events about this key (a stage's output key).
    pub key: Option<String>,
    /// Only events whose name starts with this, such as `agent.` or `workflow.`.
    pub name_prefix: Option<String>,
}

/// An event an agent reports about itself.
#[derive(Clone, Debug, Default)]
pub struct AgentEvent {
    /// The agent instance, such as `performanceArchitect-0123…`.
    pub agent_id: String,
    /// The agent's name, such as `performanceArchitect`.
    pub agent_name: String,
    /// The event, such as `architectureAnalyzed`; recorded as `agent.<name>.<event>`.
    pub event_name: String,
    /// The workflow it belongs to.
    pub workflow_id: Option<String>,
    /// The agent that started it.
    pub parent_agent_id: Option<String>,
    /// What it says.
    pub attributes: Map<String, Value>,
}

/// The answer to a lifecycle call, in eventuali's shape.
#[derive(Clone, Debug, Serialize)]
pub struct EventAck {
    /// Always true: a refusal is an error instead.
    pub success: bool,
    /// The id of the event recorded.
    pub event_id: String,
    /// What was recorded, in a sentence.
    pub message: String,
    /// When.
    pub timestamp: Timestamp,
}

/// An agent's record in [`AGENTS_NAMESPACE`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct AgentRecord {
    agent_name: String,
    workflow_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_agent_id: Option<String>,
    state: AgentState,
    events: u64,
    started_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AgentState {
    Running,
    Completed,
    Failed,
}

/// Checks a name used in an event name: a letter, then letters, digits, `_` or `-`.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if crate::memory::is_name(name) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "{what} {} is not a name: use 1 to 64 letters, digits, `_` or `-`, starting with a letter",
        quote(name)
    )))
}

/// Checks a stage's name: a name, or one partition's run of one (`stage[partition]`).
pub fn check_stage_name(name: &str) -> Result<()> {
    if crate::pipeline::partitions::is_stage_name(name) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "stage {} is not a stage's name: use 1 to 64 letters, digits, `_` or `-`, starting with a letter, and `[partition]` after it for one partition's",
        quote(name)
    )))
}

/// Checks an id that becomes part of a key: letters, digits, `.`, `_`, `-`, `:`.
fn check_id(what: &str, id: &str) -> Result<()> {
    let ok = (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
        && !id.starts_with('.');
    if ok {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "{what} {} is not an id: use 1 to 128 letters, digits, `.`, `_`, `-` or `:`",
        quote(id)
    )))
}

/// A name quoted for an error, cut short if long.
fn quote(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    match cut.len() < text.len() {
        true => format!("{cut:?}…"),
        false => format!("{cut:?}"),
    }
}

impl Service {
    /// The recorded events that pass `filter`, oldest first.
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        let memory = self.store()?;
        let ns = Namespace::new(EVENTS_NAMESPACE)?;
        let prefix = filter
            .workflow
            .as_deref()
            .map(|w| format!("{w}/"))
            .unwrap_or_default();
        let mut found = Vec::new();
        for meta in memory.list(Some(&ns), &prefix)? {
            let Some(entry) = memory.get(&ns, &Key::new(meta.key.clone())?)? else {
                continue;
            };
            let Some(event) = Event::of(&entry) else {
                continue;
            };
            if filter.agent.as_deref().is_some_and(|a| event.agent_id != a)
                || filter
                    .key
                    .as_deref()
                    .is_some_and(|k| event.attributes["key"] != k)
                || filter
                    .name_prefix
                    .as_deref()
                    .is_some_and(|p| !event.name.starts_with(p))
            {
                continue;
            }
            found.push(event);
        }
        found.sort_by_key(|e| e.at);
        Ok(found)
    }

    /// Starts agent `agent_id`: records `agent.<name>.started`. An agent starts once.
    pub fn start_agent(
        &self,
        agent_name: &str,
        agent_id: &str,
        workflow_id: Option<&str>,
        parent_agent_id: Option<&str>,
    ) -> Result<EventAck> {
        check_name("agent name", agent_name)?;
        check_id("agent id", agent_id)?;
        let workflow = workflow_id.unwrap_or(NO_WORKFLOW);
        check_id("workflow id", workflow)?;
        if let Some(parent) = parent_agent_id {
            check_id("parent agent id", parent)?;
        }
        let store = self.store()?;
        let (ns, key) = agent_key(agent_id)?;
        let now = Timestamp::now();
        let record = AgentRecord {
            agent_name: agent_name.into(),
            workflow_id: workflow.into(),
            parent_agent_id: parent_agent_id.map(Into::into),
            state: AgentState::Running,
            events: 1,
            started_at: now,
        };
        let mut event = Event::new(
            format!("agent.{agent_name}.started"),
            workflow,
            agent_id,
            json!({ "agent_id": agent_id, "agent_name": agent_name, "started_at": now }),
        );
        event.agent_name = Some(agent_name.into());
        event.parent_agent_id = parent_agent_id.map(Into::into);
        let ops = vec![
            Op::put(
                &ns,
                &key,
                serde_json::to_value(&record).expect("a record serialises"),
            )
            .if_revision(0),
            event.op(&seq(0))?,
        ];
        match store.commit(&Writer::agent(agent_id), ops) {
            Ok(metas) => Ok(ack(
                &metas[1].key,
                now,
                format!("agent `{agent_id}` started"),
            )),
            Err(MemoryError::Conflict { .. }) => Err(Error::new(
                ErrorKind::Conflict,
                anyhow::anyhow!("agent `{agent_id}` was already started"),
            )
            .hint("each agent instance starts once: give a new instance a new `agent_id`")),
            Err(e) => Err(e.into()),
        }
    }

    /// Records `agent.<name>.<event>` for a started, running agent. `completed` and
    /// `failed` end the agent, as [`Service::complete_agent`] does.
    pub fn emit_agent_event(&self, request: &AgentEvent) -> Result<EventAck> {
        check_name("event name", &request.event_name)?;
        if request.event_name == "started" {
            return self.start_agent(
                &request.agent_name,
                &request.agent_id,
                request.workflow_id.as_deref(),
                request.parent_agent_id.as_deref(),
            );
        }
        let ends = match request.event_name.as_str() {
            "completed" => Some(AgentState::Completed),
            "failed" => Some(AgentState::Failed),
            _ => None,
        };
        self.agent_step(request, ends)
    }

    /// Ends agent `agent_id`: `agent.<name>.completed`, or `failed` when not `success`.
    /// An agent ends once.
    pub fn complete_agent(
        &self,
        request: &AgentEvent,
        success: bool,
        message: Option<&str>,
    ) -> Result<EventAck> {
        let mut request = request.clone();
        request.event_name = if success { "completed" } else { "failed" }.into();
        request.attributes.insert("success".into(), success.into());
        request
            .attributes
            .insert("completed_at".into(), json!(Timestamp::now()));
        if let Some(m) = message {
            request.attributes.insert("message".into(), m.into());
        }
        let state = if success {
            AgentState::Completed
        } else {
            AgentState::Failed
        };
        self.agent_step(&request, Some(state))
    }

    /// One event of a running agent, committed with its record's next revision.
    fn agent_step(&self, request: &AgentEvent, ends: Option<AgentState>) -> Result<EventAck> {
        let agent_id = request.agent_id.as_str();
        check_id("agent id", agent_id)?;
        check_name("agent name", &request.agent_name)?;
        let store = self.store()?;
        let (ns, key) = agent_key(agent_id)?;
        for _ in 0..RETRIES {
            let Some(entry) = store.get(&ns, &key)? else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    anyhow::anyhow!("agent `{agent_id}` was never started"),
                )
                .hint("call `start_agent` with this `agent_id` first"));
            };
            let mut record: AgentRecord = serde_json::from_slice(&entry.value).map_err(|e| {
                Error::new(
                    ErrorKind::Store,
                    anyhow::anyhow!("the record of agent `{agent_id}` is unreadable: {e}"),
                )
            })?;
            check_matches(
                agent_id,
                "agent_name",
                &record.agent_name,
                Some(&request.agent_name),
            )?;
            check_matches(
                agent_id,
                "workflow_id",
                &record.workflow_id,
                request.workflow_id.as_deref(),
            )?;
            if record.state != AgentState::Running {
                let state = if record.state == AgentState::Completed {
                    "completed"
                } else {
                    "failed"
                };
                return Err(Error::new(
                    ErrorKind::Conflict,
                    anyhow::anyhow!("agent `{agent_id}` has already {state}; nothing recorded"),
                ));
            }
            let mut attributes = Map::new();
            attributes.insert("agent_id".into(), agent_id.into());
            attributes.insert("agent_name".into(), record.agent_name.clone().into());
            attributes.extend(request.attributes.clone());
            let mut event = Event::new(
                format!("agent.{}.{}", record.agent_name, request.event_name),
                &record.workflow_id,
                agent_id,
                Value::Object(attributes),
            );
            event.agent_name = Some(record.agent_name.clone());
            event.parent_agent_id = request
                .parent_agent_id
                .clone()
                .or_else(|| record.parent_agent_id.clone());
            let at = event.at;
            let event_op = event.op(&seq(record.events))?;
            record.events += 1;
            if let Some(state) = ends {
                record.state = state;
            }
            let ops = vec![
                Op::put(
                    &ns,
                    &key,
                    serde_json::to_value(&record).expect("a record serialises"),
                )
                .if_revision(entry.meta.revision),
                event_op,
            ];
            match store.commit(&Writer::agent(agent_id), ops) {
                Ok(metas) => {
                    let what = format!("agent.{}.{}", record.agent_name, request.event_name);
                    return Ok(ack(&metas[1].key, at, format!("recorded `{what}`")));
                }
                // Another call for this agent landed first: read its record again.
                Err(MemoryError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            anyhow::anyhow!(
                "agent `{agent_id}`: {RETRIES} other calls for it landed first; nothing recorded"
            ),
        ))
    }

    /// Records `workflow.<event>` for workflow `workflow_id`.
    pub fn emit_workflow_event(
        &self,
        workflow_id: &str,
        event_name: &str,
        attributes: Map<String, Value>,
    ) -> Result<EventAck> {
        check_id("workflow id", workflow_id)?;
        check_name("event name", event_name)?;
        let mut all = Map::new();
        all.insert("workflow_id".into(), workflow_id.into());
        all.extend(attributes);
        let event = Event::new(
            format!("workflow.{event_name}"),
            workflow_id,
            "workflow",
            Value::Object(all),
        );
        self.append(event, &Writer(format!("workflow:{workflow_id}")))
    }

    /// Records `system.<event>`, under workflow `system` and the session, if any.
    pub fn emit_system_event(
        &self,
        event_name: &str,
        session_id: Option<&str>,
        attributes: Map<String, Value>,
    ) -> Result<EventAck> {
        check_name("event name", event_name)?;
        let session = session_id.unwrap_or("system");
        check_id("session id", session)?;
        let mut all = attributes;
        if let Some(s) = session_id {
            all.insert("session_id".into(), s.into());
        }
        let event = Event::new(
            format!("system.{event_name}"),
            "system",
            session,
            Value::Object(all),
        );
        self.append(event, &Writer("system".into()))
    }

    /// Appends an event with no lifecycle of its own, at a key no other event has.
    fn append(&self, event: Event, writer: &Writer) -> Result<EventAck> {
        let at = event.at;
        let name = event.name.clone();
        let id = format!("{:013}-{}", at.millis(), uuid::Uuid::new_v4().simple());
        let metas = self.store()?.commit(writer, vec![event.op(&id)?])?;
        Ok(ack(&metas[0].key, at, format!("recorded `{name}`")))
    }
}

fn agent_key(agent_id: &str) -> Result<(Namespace, Key)> {
    Ok((Namespace::new(AGENTS_NAMESPACE)?, Key::new(agent_id)?))
}

/// The key suffix of an agent's `n`-th event: ordered as text up to 10,000 events.
fn seq(n: u64) -> String {
    format!("{n:04}")
}

fn ack(event_id: &str, at: Timestamp, message: String) -> EventAck {
    EventAck {
        success: true,
        event_id: event_id.into(),
        message,
        timestamp: at,
    }
}

/// A field given with a lifecycle call must match what the agent started with.
fn check_matches(agent_id: &str, field: &str, recorded: &str, given: Option<&str>) -> Result<()> {
    match given {
        Some(given) if given != recorded => Err(Error::bad_input(format!(
            "agent `{agent_id}` was started with {field} `{recorded}`, not {}",
            quote(given)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_checked() {
        assert!(check_name("agent name", "performanceArchitect").is_ok());
        assert!(check_name("agent name", "url-cacher").is_ok());
        for bad in ["", "9lives", "bad name", "a/../b", &"x".repeat(65)] {
            assert!(check_name("agent name", bad).is_err(), "{bad:?}");
        }
        assert!(check_id("agent id", "performanceArchitect-0123abcd").is_ok());
        for bad in ["", "a/b", "..", "white space", &"x".repeat(129)] {
            assert!(check_id("agent id", bad).is_err(), "{bad:?}");
        }
        let long = check_name("event name", &"y ".repeat(5000))
            .unwrap_err()
            .message();
        assert!(long.len() < 200, "a long name is quoted short: {long}");
    }
}
