//! Rendering a stored document for people, the way the stage that writes it renders it.

use serde_json::Value;

use super::{Error, Result, Service};
use crate::memory::{Key, Namespace};

impl Service {
    /// `doc`, stored at `key` in `ns`, as markdown.
    pub fn render_markdown(&self, doc: &Value, ns: &Namespace, key: &Key) -> Result<String> {
        use baton_performance::PerformanceArchitecture;
        if doc.get("agent").and_then(Value::as_str) != Some("performance-architect") {
            return Err(Error::bad_input(format!(
                "key `{key}` in namespace `{ns}` is not a document baton can render as markdown"
            ))
            .hint("markdown renders a performance architecture (`agent: performance-architect`)"));
        }
        let arch: PerformanceArchitecture = serde_json::from_value(doc.clone()).map_err(|e| {
            Error::bad_input(format!(
                "key `{key}` in namespace `{ns}` is not a whole performance architecture: {e}"
            ))
        })?;
        Ok(baton_performance::render::markdown(&arch))
    }
}
