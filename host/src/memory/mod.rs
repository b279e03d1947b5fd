//! The memory: a namespaced, versioned key-value store of JSON documents.
//!
//! Stages and agents hand their outputs to each other through it. An entry lives at a
//! [`Key`] inside a [`Namespace`]; every write makes a new revision with metadata
//! ([`EntryMeta`]: when, who, size, content hash, TTL, provenance) and keeps earlier
//! revisions up to a retention bound. Writes are grouped into a commit of [`Op`]s that
//! is atomic (all or nothing, compare-and-swap checked first) and durable before it
//! returns. An entry written with a TTL is invisible once it expires and its revisions
//! are reclaimed by the next commit.
//!
//! [`Store`] is the backend-neutral trait. [`SledStore`] is the embedded default;
//! [`PostgresStore`] is the shared one for teams on several machines. A store's
//! [`Location`] (a folder or a `postgres://` URL) says which.
//!
//! ```
//! use baton::memory::{Key, Namespace, Op, SledStore, Store, Writer};
//! use serde_json::json;
//!
//! let store = SledStore::temporary()?;
//! let ns = Namespace::new("coding-pipeline")?;
//! let key = Key::new("coding/architecture/system")?;
//! let meta = store.put(&Writer::cli(), &ns, &key, json!({"components": []}))?;
//! assert_eq!(meta.revision, 1);
//! // Compare-and-swap: only if the key is still at revision 1.
//! store.commit(&Writer::cli(), vec![Op::put(&ns, &key, json!({"v": 2})).if_revision(1)])?;
//! assert_eq!(store.get(&ns, &key)?.unwrap().json(), json!({"v": 2}));
//! assert_eq!(store.history(&ns, &key)?.len(), 2);
//! # Ok::<(), baton::memory::MemoryError>(())
//! ```

mod entry;
mod error;
mod name;
mod op;
mod postgres;
pub mod search;
mod sled_store;
mod wait;

use std::collections::BTreeMap;

pub use entry::{Clock, Entry, EntryMeta, Timestamp, Writer, sha256_hex};
pub use error::MemoryError;
pub use name::{APPEND_ONLY, Key, MAX_KEY_LEN, MAX_NAMESPACE_LEN, Namespace, is_name, is_reserved};
pub use op::Op;
pub use postgres::{
    Cancelled, Claim, JobQueue, JobState, JobStatus, Lease, PostgresStore, RunningJob, Submission,
    WorkflowRow, redact,
};
pub use search::{Hit, SearchQuery};
pub(crate) use sled_store::prepare_dir;
pub use sled_store::{DEFAULT_LOCK_TIMEOUT, DEFAULT_RETENTION, SledStore, StoreOptions};
pub(crate) use wait::until as wait_until;

/// Where a store lives: a folder (sled, embedded) or a PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A sled store in this folder.
    Dir(std::path::PathBuf),
    /// A PostgreSQL database, by its `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// A URL starting `postgres://` or `postgresql://` is a database; anything else a
    /// folder.
    pub fn parse(text: &std::ffi::OsStr) -> Self {
        match text.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres(url.to_owned())
            }
            _ => Location::Dir(text.into()),
        }
    }
}

/// Opens the shared store at a database `url` (a [`Location::Postgres`]): the one
/// factory of a backend that needs no process of baton's own to share it. A folder's
/// store is opened through the memory server (`crate::server::open`), sled's concern.
pub fn open_database(url: &str, options: StoreOptions) -> Result<std::sync::Arc<dyn Store>> {
    Ok(std::sync::Arc::new(PostgresStore::open(url, options)?))
}

impl Location {
    /// The location whole, password included: what a process baton starts (an agent)
    /// is given to reach the same store. Never for showing: [`Display`] redacts.
    ///
    /// [`Display`]: std::fmt::Display
    pub fn for_child(&self) -> String {
        match self {
            Location::Dir(path) => path.display().to_string(),
            Location::Postgres(url) => url.clone(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dir(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// The result of a memory operation.
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;

/// Counts describing a store. The top-level counts are of the users' namespaces;
/// baton's own (`baton.*`: events, quarantine) are counted apart in `reserved`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// The counts for the users' namespaces (serialised at the top level).
    #[serde(flatten)]
    pub users: Usage,
    /// The same counts for baton's own namespaces.
    pub reserved: Usage,
    /// Bytes the store occupies on disk, where the backend knows it.
    pub disk_bytes: Option<u64>,
    /// The number of revisions kept per key.
    pub retention: u64,
}

impl Stats {
    /// The usage namespace `ns` counts in: baton's own or the users'.
    pub(crate) fn usage_mut(&mut self, ns: &str) -> &mut Usage {
        if is_reserved(ns) {
            &mut self.reserved
        } else {
            &mut self.users
        }
    }

    /// Counts a key from its head: live keys, and the revisions it retains
    /// (`oldest..=head.revision`) unless it expired.
    pub(crate) fn count_head(&mut self, head: &EntryMeta, oldest: u64, now: Timestamp) {
        let usage = self.usage_mut(&head.namespace);
        if head.is_live(now) {
            *usage.namespaces.entry(head.namespace.clone()).or_insert(0) += 1;
            usage.keys += 1;
        }
        if !head.is_expired(now) {
            usage.revisions += (head.revision + 1).saturating_sub(oldest);
        }
    }
}

/// Counts of keys, revisions and bytes in a set of namespaces.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Live keys per namespace.
    pub namespaces: BTreeMap<String, u64>,
    /// Live keys.
    pub keys: u64,
    /// Revisions retained, tombstones included.
    pub revisions: u64,
    /// Bytes of retained values.
    pub value_bytes: u64,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Revisions written.
    pub imported: u64,
    /// Revisions already present with the same content, left as they were.
    pub unchanged: u64,
}

/// A namespaced, versioned store of JSON values.
///
/// Reads never see a deleted or expired entry. [`Store::commit`] is the only way to
/// write: atomic, compare-and-swap checked, durable when it returns.
pub trait Store: Send + Sync {
    /// The live value of `key`, or `None` when it is absent, deleted or expired.
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>>;

    /// A retained revision of `key` (a tombstone included), or `None`.
    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>>;

    /// The retained revisions of `key`, oldest first; empty if it never existed or expired.
    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>>;

    /// The live entries in `namespace` (all namespaces if `None`) whose key starts
    /// with `prefix`, ordered by namespace and key.
    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>>;

    /// Applies `ops` atomically as `writer`: every compare-and-swap is checked before
    /// anything is written, and the commit is durable when this returns. Returns the
    /// metadata of each revision written, in the order of `ops`.
    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>>;

    /// Calls `visit` with every retained revision of every unexpired key, ordered by
    /// namespace, key and revision, until it returns `false`: the material of an export.
    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()>;

    /// Restores exported revisions with their metadata, atomically. A revision already
    /// present with the same content is left alone; one present with other content is
    /// a conflict and nothing is written.
    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport>;

    /// Reclaims every expired entry now; returns how many keys were reclaimed.
    fn purge_expired(&self) -> Result<u64>;

    /// Counts of namespaces, keys, revisions and bytes.
    fn stats(&self) -> Result<Stats>;

    /// Writes `value` at `key`: a one-op [`Store::commit`].
    fn put(
        &self,
        writer: &Writer,
        namespace: &Namespace,
        key: &Key,
        value: serde_json::Value,
    ) -> Result<EntryMeta> {
        let mut metas = self.commit(writer, vec![Op::put(namespace, key, value)])?;
        Ok(metas.remove(0))
    }

    /// The namespaces holding at least one live key, with their key counts.
    fn namespaces(&self) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for meta in self.list(None, "")? {
            *out.entry(meta.namespace).or_insert(0) += 1;
        }
        Ok(out)
    }

    /// The live documents matching `query`'s words and filters, most similar first
    /// (see [`search`] for what that means on every backend).
    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>>;
}
