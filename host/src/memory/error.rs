//! Errors of the memory, each naming the namespace, key or path it concerns.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong in the memory.
///
/// Serialisable, so that the memory server hands a command the very error its store
/// raised (and so the same exit code); a backend's cause crosses as its message.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum MemoryError {
    /// A namespace failed validation.
    #[error("invalid namespace {namespace:?}: {reason}")]
    InvalidNamespace {
        /// The namespace as given.
        namespace: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key failed validation.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key has no live value.
    #[error("key `{key}` not found in namespace `{namespace}`")]
    NotFound {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
    },
    /// A search query that cannot be searched.
    #[error("cannot search for {query:?}: {reason}")]
    InvalidQuery {
        /// The query's start.
        query: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record to import is malformed.
    #[error(
        "cannot import revision {revision} of key `{key}` in namespace `{namespace}`: {reason}"
    )]
    InvalidImport {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The revision.
        revision: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A compare-and-swap found another revision.
    #[error("{}", conflict_message(namespace, key, *expected, *actual))]
    Conflict {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The revision the writer expected (0: absent).
        expected: u64,
        /// The live revision found (0: absent).
        actual: u64,
    },
    /// An import would overwrite a revision that holds other content.
    #[error(
        "import conflicts with revision {revision} of key `{key}` in namespace `{namespace}`, which holds other content"
    )]
    ImportConflict {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The revision.
        revision: u64,
    },
    /// A write that would change or remove an entry of an append-only namespace
    /// (`baton.events`, the audit log): only new keys may be added there.
    #[error(
        "namespace `{namespace}` is append-only: {what} key `{key}` is refused; only new entries may be added"
    )]
    AppendOnly {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// What was attempted: `deleting`, `overwriting`.
        what: String,
    },
    /// Another process held the store for longer than the lock timeout.
    #[error("store {path:?} is locked by another process; gave up after {waited:?}")]
    Locked {
        /// The store's directory.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// The backend failed.
    // The cause is part of the message and not also a `source()`: a report that prints
    // the chain would print it twice.
    #[error("store {path:?}: {cause}")]
    Backend {
        /// The store's location.
        path: PathBuf,
        /// The backend's error.
        #[serde(with = "cause_text")]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database behind the store failed (PostgreSQL), or could not be reached.
    #[error("database {location}: {cause}")]
    Database {
        /// The database's URL, without a password.
        location: String,
        /// The database's error.
        #[serde(with = "cause_text")]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A worker's commit after its lease on the stage passed to another worker (it ran
    /// too long without renewing, or was cut off): nothing was written.
    #[error(
        "stage `{stage}` of {workflow}: this worker's lease on it was lost (expired and claimed by another worker); its output was not stored"
    )]
    LeaseLost {
        /// The workflow.
        workflow: String,
        /// The stage.
        stage: String,
    },
    /// Bytes in the store do not decode.
    #[error("store {path:?} holds a corrupt record under {what}: {reason}")]
    Corrupt {
        /// The store's location.
        path: PathBuf,
        /// Which record.
        what: String,
        /// Why it does not decode.
        reason: String,
    },
}

mod cause_text {
    use serde::{Deserialize, Deserializer, Serializer};

    type Cause = Box<dyn std::error::Error + Send + Sync>;

    pub fn serialize<S: Serializer>(cause: &Cause, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cause)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cause, D::Error> {
        Ok(String::deserialize(d)?.into())
    }
}

/// A compare-and-swap's refusal, said as it is: a key that does not exist is not "at
/// revision 0", and one that exists when none was expected is not "at revision N, not 0".
fn conflict_message(namespace: &str, key: &str, expected: u64, actual: u64) -> String {
    match (expected, actual) {
        (_, 0) => {
            format!("no key `{key}` in namespace `{namespace}`: expected it at revision {expected}")
        }
        (0, _) => format!(
            "key `{key}` in namespace `{namespace}` already exists (at revision {actual}): expected none"
        ),
        _ => format!(
            "key `{key}` in namespace `{namespace}` is at revision {actual}, not {expected}"
        ),
    }
}
