//! What a running stage holds: who it is, its configuration, and typed reads.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::baton::stage::{events, log, memory, types as wit};

pub use wit::Level;

/// The context of one stage run: identity, configuration and access to the memory.
pub struct Context {
    raw: wit::Context,
    config: serde_json::Value,
}

impl Context {
    pub(crate) fn new(raw: wit::Context) -> Result<Self, Error> {
        let config = match raw.config.trim() {
            "" => serde_json::Value::Object(Default::default()),
            text => serde_json::from_str(text)
                .map_err(|e| Error::failed(format!("stage config is not JSON: {e}")))?,
        };
        Ok(Self { raw, config })
    }

    /// The stage's name in pipeline.toml.
    pub fn stage(&self) -> &str {
        &self.raw.stage
    }
    /// The agent's name, such as `performanceArchitect`.
    pub fn agent_name(&self) -> &str {
        &self.raw.agent_name
    }
    /// This run's agent id, `<agent-name>-<32 hex>`.
    pub fn agent_id(&self) -> &str {
        &self.raw.agent_id
    }
    /// The workflow id, `workflow-<32 hex>`.
    pub fn workflow_id(&self) -> &str {
        &self.raw.workflow_id
    }
    /// Who started this run.
    pub fn parent(&self) -> &str {
        &self.raw.parent
    }
    /// The pipeline's default namespace.
    pub fn namespace(&self) -> &str {
        &self.raw.namespace
    }
    /// The key the output will be stored at.
    pub fn output_key(&self) -> &str {
        &self.raw.output_key
    }

    /// The stage's configuration as JSON.
    pub fn config_json(&self) -> &serde_json::Value {
        &self.config
    }

    /// The stage's configuration, typed. A wrong field names its JSON pointer.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode(&self.config).map_err(|(pointer, message)| {
            Error::failed(format!("stage config at {pointer}: {message}"))
        })
    }

    /// Reads and decodes `key` in the pipeline's namespace; a missing key or field is
    /// [`Error::InvalidInput`] naming the key and JSON pointer.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        self.read_in(&self.raw.namespace.clone(), key)
    }

    /// Reads and decodes `key` in `namespace`.
    pub fn read_in<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> Result<T, Error> {
        self.try_read_in(namespace, key)?
            .ok_or_else(|| Error::InvalidInput {
                namespace: namespace.into(),
                key: key.into(),
                pointer: String::new(),
                message: "no value is stored at this key".into(),
            })
    }

    /// Reads and decodes `key` in the pipeline's namespace, `None` if it is absent.
    pub fn try_read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.try_read_in(&self.raw.namespace.clone(), key)
    }

    /// Reads and decodes `key` in `namespace`, `None` if it is absent.
    pub fn try_read_in<T: DeserializeOwned>(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<T>, Error> {
        let Some(entry) = memory::get(namespace, key).map_err(Error::from_memory)? else {
            return Ok(None);
        };
        let invalid = |pointer: String, message: String| Error::InvalidInput {
            namespace: namespace.into(),
            key: key.into(),
            pointer,
            message,
        };
        let value: serde_json::Value = serde_json::from_str(&entry.value)
            .map_err(|e| invalid(String::new(), format!("not JSON: {e}")))?;
        decode(&value)
            .map(Some)
            .map_err(|(pointer, message)| invalid(pointer, message))
    }

    /// The JSON text stored at `key` in the pipeline's namespace, undecoded, `None` if
    /// absent: for stages that pass documents on or decode them their own way.
    pub fn read_text(&self, key: &str) -> Result<Option<String>, Error> {
        let entry = memory::get(&self.raw.namespace, key).map_err(Error::from_memory)?;
        Ok(entry.map(|e| e.value))
    }

    /// The keys in the pipeline's namespace starting with `prefix`, among those this
    /// stage may read.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        memory::list_keys(&self.raw.namespace, prefix).map_err(Error::from_memory)
    }

    /// Records the milestone `agent.<agent-name>.<event>` with `attributes` (an object).
    pub fn emit(&self, event: &str, attributes: impl Serialize) {
        let attributes = serde_json::to_string(&attributes).unwrap_or_else(|_| "{}".into());
        events::emit(event, &attributes);
    }

    /// Writes a diagnostic line into the host's log under this stage's name.
    pub fn log(&self, level: Level, message: &str) {
        log::log(level, message);
    }
}

/// Decodes `value` as `T`; on failure, the JSON pointer of the offending field and
/// the reason. A missing field's pointer names the field itself.
fn decode<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(describe)
}

/// The JSON pointer and reason of a decoding error; a missing field's pointer names
/// the field itself.
fn describe<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> (String, String) {
    {
        let mut pointer = String::new();
        for segment in e.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => pointer.push_str(&format!("/{}", escape(key))),
                Segment::Enum { variant } => pointer.push_str(&format!("/{}", escape(variant))),
                Segment::Unknown => {}
            }
        }
        let message = e.inner().to_string();
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            pointer.push_str(&format!("/{}", escape(field)));
        }
        (pointer, message)
    }
}

/// Escapes a JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
