//! The write operations a commit is made of.

use std::time::Duration;

use super::{EntryMeta, Key, MemoryError, Namespace, Result, Timestamp, Writer, sha256_hex};

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

/// The revision an op writes, checked against the key's state and built: one
/// definition of a write's rules for every backend.
pub(crate) struct Prepared {
    /// The new revision's metadata.
    pub meta: EntryMeta,
    /// Its value as stored (compact JSON; empty for a tombstone).
    pub value: Vec<u8>,
}

impl Op {
    /// Checks `self` against the key's head (`head`: its last revision's metadata) at
    /// `now` and builds the revision it writes: an append-only namespace takes only new
    /// keys, a compare-and-swap must find its revision live, a delete a live value.
    pub(crate) fn prepare(
        self,
        head: Option<&EntryMeta>,
        writer: &Writer,
        now: Timestamp,
    ) -> Result<Prepared> {
        let (namespace, key) = self.target();
        let (ns, k) = (namespace.as_str().to_owned(), key.as_str().to_owned());
        if super::APPEND_ONLY.contains(&ns.as_str()) {
            let what = match &self {
                Op::Delete { .. } => Some("deleting"),
                Op::Put { if_revision, .. } if *if_revision != Some(0) => Some("overwriting"),
                Op::Put { .. } => None,
            };
            if let Some(what) = what {
                return Err(MemoryError::AppendOnly {
                    namespace: ns,
                    key: k,
                    what: what.into(),
                });
            }
        }
        let live = head.filter(|h| h.is_live(now)).map_or(0, |h| h.revision);
        let (if_revision, is_delete) = match &self {
            Op::Put { if_revision, .. } => (*if_revision, false),
            Op::Delete { if_revision, .. } => (*if_revision, true),
        };
        if let Some(expected) = if_revision
            && expected != live
        {
            return Err(MemoryError::Conflict {
                namespace: ns,
                key: k,
                expected,
                actual: live,
            });
        }
        if is_delete && live == 0 {
            return Err(MemoryError::NotFound {
                namespace: ns,
                key: k,
            });
        }
        let (value, expires_at, provenance) = match self {
            Op::Put {
                value,
                ttl,
                provenance,
                ..
            } => (
                serde_json::to_vec(&value).expect("a JSON value serialises"),
                ttl.map(|d| now.plus(d)),
                provenance,
            ),
            Op::Delete { .. } => (Vec::new(), None, None),
        };
        let meta = EntryMeta {
            namespace: ns,
            key: k,
            revision: head.map_or(0, |h| h.revision) + 1,
            written_at: now,
            writer: writer.clone(),
            size: value.len() as u64,
            sha256: sha256_hex(&value),
            expires_at,
            deleted: is_delete,
            provenance,
        };
        Ok(Prepared { meta, value })
    }
}
