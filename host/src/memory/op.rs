//! The write operations a commit is made of.

use std::time::Duration;

use super::{Key, Namespace};

/// One write in a commit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// Write a new revision of a key.
    Put {
        /// Where.
        namespace: Namespace,
        /// Which key.
        key: Key,
        /// The value.
        value: serde_json::Value,
        /// Time to live from the commit; `None` keeps the entry until overwritten.
        ttl: Option<Duration>,
        /// Compare-and-swap: the live revision the key must be at (0: absent).
        if_revision: Option<u64>,
        /// Provenance recorded with the revision.
        provenance: Option<serde_json::Value>,
    },
    /// Write a tombstone revision: the key reads as absent afterwards.
    Delete {
        /// Where.
        namespace: Namespace,
        /// Which key.
        key: Key,
        /// Compare-and-swap: the live revision the key must be at.
        if_revision: Option<u64>,
    },
}

impl Op {
    /// A plain put.
    pub fn put(namespace: &Namespace, key: &Key, value: serde_json::Value) -> Self {
        Op::Put {
            namespace: namespace.clone(),
            key: key.clone(),
            value,
            ttl: None,
            if_revision: None,
            provenance: None,
        }
    }

    /// A plain delete.
    pub fn delete(namespace: &Namespace, key: &Key) -> Self {
        Op::Delete {
            namespace: namespace.clone(),
            key: key.clone(),
            if_revision: None,
        }
    }

    /// Requires the key's live revision to be `revision` (0: absent) at commit.
    pub fn if_revision(mut self, revision: u64) -> Self {
        match &mut self {
            Op::Put { if_revision, .. } | Op::Delete { if_revision, .. } => {
                *if_revision = Some(revision)
            }
        }
        self
    }

    /// Gives a put a time to live (no effect on a delete).
    pub fn ttl(mut self, d: Duration) -> Self {
        if let Op::Put { ttl, .. } = &mut self {
            *ttl = Some(d);
        }
        self
    }

    /// Records provenance with a put (no effect on a delete).
    pub fn provenance(mut self, p: serde_json::Value) -> Self {
        if let Op::Put { provenance, .. } = &mut self {
            *provenance = Some(p);
        }
        self
    }

    /// The namespace and key the op writes.
    pub fn target(&self) -> (&Namespace, &Key) {
        match self {
            Op::Put { namespace, key, .. } | Op::Delete { namespace, key, .. } => (namespace, key),
        }
    }
}
