//! The audit trail of memory changes made from outside a run: every
//! store, delete, rollback and import, from the CLI or an agent's MCP call, leaves an
//! event in `baton.events` under workflow `cli`, saying when, who (the writer), what
//! (the action, and the namespace, key, size and SHA-256 the caller gives), the
//! outcome, the duration, and the error if any. A change that lands carries its event
//! in the same atomic commit; a refused one records it alone.

use std::time::Instant;

use serde_json::{Value, json};

use super::{Error, Result};
use crate::memory::{Op, Store, Writer};
use crate::records::Event;

/// The workflow id of changes made from outside a run.
pub(super) const CLI_WORKFLOW: &str = "cli";

/// One change being made, timed from its start.
pub(super) struct Audit {
    action: &'static str,
    writer: Writer,
    started: Instant,
}

impl Audit {
    /// Starts timing `action` (`store`, `delete`, `rollback`, `import`) by `writer`.
    pub(super) fn start(action: &'static str, writer: &Writer) -> Self {
        Self {
            action,
            writer: writer.clone(),
            started: Instant::now(),
        }
    }

    fn event(&self, mut attributes: Value, outcome: &str, error: Option<String>) -> Result<Op> {
        attributes["outcome"] = json!(outcome);
        attributes["duration_ms"] = json!(self.started.elapsed().as_secs_f64() * 1e3);
        if let Some(e) = error {
            attributes["error"] = json!(e);
        }
        let event = Event::new(
            format!("memory.{}", self.action),
            CLI_WORKFLOW,
            &self.writer.0,
            attributes,
        );
        Ok(event.op(&uuid::Uuid::new_v4().simple().to_string())?)
    }

    /// The event for a change that succeeds, to commit together with it.
    pub(super) fn success(&self, attributes: Value) -> Result<Op> {
        self.event(attributes, "success", None)
    }

    /// Records a change that was refused (`error` says why), in a commit of its own.
    /// Best effort: failing to record does not hide the refusal itself.
    pub(super) fn refused(&self, store: &dyn Store, attributes: Value, error: &Error) {
        let recorded = self
            .event(attributes, "refused", Some(error.message()))
            .and_then(|op| Ok(store.commit(&self.writer, vec![op])?));
        if let Err(e) = recorded {
            tracing::warn!(error = %e.message(), "could not record the refused change in the audit trail");
        }
    }
}
