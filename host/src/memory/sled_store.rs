//! The embedded backend: one sled tree, written in atomic batches.
//!
//! Layout (NUL separates names, which validation keeps free of control characters):
//!
//! | key | value |
//! |---|---|
//! | `h` ns `\0` key | the head: current revision's metadata and the oldest retained revision |
//! | `r` ns `\0` key `\0` revision (u64 BE) | a revision: u32 BE metadata length, metadata JSON, value bytes |
//! | `x` expiry ms (u64 BE) ns `\0` key | the expiry index, oldest first |
//! | `g` | the generation: one more with every commit (u64 BE) |
//!
//! Each head carries the generation that last changed it, which the search index
//! ([`super::search::index`], in the folder's `search/`) catches up from.
//!
//! A commit reads what it needs, builds one `sled::Batch`, applies it atomically and
//! flushes before returning, all under an in-process writer lock; sled's directory
//! lock keeps other processes out, and [`SledStore::open`] waits for it with a bound.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::search::index::{Change, SearchIndex};
use super::search::{self, Hit, SearchQuery};
use super::{
    Clock, Entry, EntryMeta, ImportReport, Key, MemoryError, Namespace, Op, Result, Stats, Store,
    Timestamp, Writer,
};

/// The key of the store's generation.
const GENERATION: &[u8] = b"g";

/// Revisions kept per key unless configured otherwise.
pub const DEFAULT_RETENTION: u64 = 16;
/// How long [`SledStore::open`] waits for another process to release the store.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How a [`SledStore`] is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Revisions kept per key (at least 1).
    pub retention: u64,
    /// How long to wait for another process holding the store.
    pub lock_timeout: Duration,
    /// Where the store reads the time (TTL expiry).
    pub clock: Clock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            retention: DEFAULT_RETENTION,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            clock: Clock::System,
        }
    }
}

/// The sled-backed [`Store`].
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    retention: u64,
    clock: Clock,
    writer: Mutex<()>,
    /// The generation of the last commit (see the module's table).
    generation: AtomicU64,
    /// The search index, opened by the first search; before that, commits only stamp
    /// their heads and the search catches up.
    search: Mutex<Option<SearchIndex>>,
    /// baton's own lock on the store, held while open; dropped after `db`.
    _lock: Option<std::fs::File>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Head {
    meta: EntryMeta,
    /// Oldest retained revision; `meta.revision + 1` when none is retained.
    oldest: u64,
    /// The generation of the commit that last changed it (0: before generations).
    #[serde(default)]
    changed: u64,
}

impl SledStore {
    /// Opens (creating if needed) the store in directory `path`, waiting up to
    /// `options.lock_timeout` while another process has it open.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        prepare_dir(&path)?;
        let started = Instant::now();
        let lock = lock(&path, started, options.lock_timeout)?;
        Self::open_locked(path, lock, started, options)
    }

    /// Opens sled in `path`, whose baton lock this process holds.
    fn open_locked(
        path: PathBuf,
        lock: std::fs::File,
        started: Instant,
        options: StoreOptions,
    ) -> Result<Self> {
        // sled 0.34 writes a snapshot to `snap.<lsn>.generating`, then renames it. A
        // process killed in between leaves the partial file, which the next open picks
        // as the newest snapshot and refuses as corrupt (spacejam/sled#1527). A
        // `.generating` file is never a finished snapshot, and under baton's lock no
        // other process is writing one: remove it, and sled recovers from the last
        // finished snapshot and its log.
        remove_partial_snapshots(&path)?;
        let config = sled::Config::new().path(&path).flush_every_ms(None);
        // baton's lock keeps other baton processes out, but sled releases its own lock
        // from background threads a little after the previous holder dropped the store
        // (a reopen in one process, or the next process in line): wait for it too.
        let db = super::wait::until(&path, started, options.lock_timeout, || {
            match config.open() {
                Ok(db) => Ok(Some(db)),
                Err(e) if is_lock_error(&e) => Ok(None),
                Err(e) => Err(backend(&path, e)),
            }
        })?;
        tracing::debug!(path = %path.display(), waited_ms = started.elapsed().as_millis() as u64, "store open");
        let generation = read_generation(&db, &path)?;
        Ok(Self {
            db,
            path,
            retention: options.retention.max(1),
            clock: options.clock,
            writer: Mutex::new(()),
            generation: AtomicU64::new(generation),
            search: Mutex::new(None),
            _lock: Some(lock),
        })
    }

    /// Opens the store in directory `path` if no other process holds it, without
    /// waiting: `None` when another process (a command, or the memory server) has it.
    pub fn try_open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Option<Self>> {
        let path = path.as_ref().to_path_buf();
        prepare_dir(&path)?;
        let started = Instant::now();
        match lock(&path, started, Duration::ZERO) {
            Ok(lock) => Self::open_locked(path, lock, started, options).map(Some),
            Err(MemoryError::Locked { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Store::commit`] keeping `retention` revisions per key instead of the store's
    /// own setting: the memory server serves commands that each bring theirs.
    pub fn commit_retaining(
        &self,
        writer: &Writer,
        ops: Vec<Op>,
        retention: u64,
    ) -> Result<Vec<EntryMeta>> {
        let retention = retention.max(1);
        let _guard = self.lock_writer();
        let now = self.clock.now();
        let mut pending = self.pending();
        let reclaimed = self.reclaim_expired(now, &mut pending)?;
        let mut metas = Vec::with_capacity(ops.len());
        for op in ops {
            metas.push(self.apply_op(writer, now, op, retention, &mut pending)?);
        }
        self.apply(pending)?;
        tracing::debug!(writes = metas.len(), reclaimed, "commit durable");
        Ok(metas)
    }

    /// A store in a temporary directory, removed when dropped: for tests.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|e| backend(Path::new("<temporary>"), e))?;
        Ok(Self {
            db,
            path: PathBuf::from("<temporary>"),
            retention: DEFAULT_RETENTION,
            clock: Clock::System,
            writer: Mutex::new(()),
            generation: AtomicU64::new(1),
            search: Mutex::new(None),
            _lock: None,
        })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_head(&self, hk: &[u8]) -> Result<Option<Head>> {
        match self.db.get(hk).map_err(|e| backend(&self.path, e))? {
            None => Ok(None),
            Some(bytes) => self.decode_head(hk, &bytes).map(Some),
        }
    }

    fn decode_head(&self, hk: &[u8], bytes: &[u8]) -> Result<Head> {
        serde_json::from_slice(bytes).map_err(|e| self.corrupt(hk, e))
    }

    fn read_revision(&self, ns: &str, key: &str, revision: u64) -> Result<Option<Entry>> {
        let rk = rev_key(ns, key, revision);
        match self.db.get(&rk).map_err(|e| backend(&self.path, e))? {
            None => Ok(None),
            Some(bytes) => self.decode_revision(&rk, &bytes).map(Some),
        }
    }

    /// A revision record's metadata bytes and value: `len (u32 BE) | meta JSON | value`.
    fn split_revision<'b>(&self, rk: &[u8], bytes: &'b [u8]) -> Result<(&'b [u8], &'b [u8])> {
        let short = || self.corrupt(rk, "record shorter than its header");
        let len =
            u32::from_be_bytes(bytes.get(..4).ok_or_else(short)?.try_into().unwrap()) as usize;
        let meta = bytes.get(4..4 + len).ok_or_else(short)?;
        Ok((meta, &bytes[4 + len..]))
    }

    fn revision_value<'b>(&self, rk: &[u8], bytes: &'b [u8]) -> Result<&'b [u8]> {
        self.split_revision(rk, bytes).map(|(_, value)| value)
    }

    fn decode_revision(&self, rk: &[u8], bytes: &[u8]) -> Result<Entry> {
        let (meta, value) = self.split_revision(rk, bytes)?;
        let meta = serde_json::from_slice(meta).map_err(|e| self.corrupt(rk, e))?;
        Ok(Entry {
            meta,
            value: value.to_vec(),
        })
    }

    fn corrupt(&self, at: &[u8], reason: impl ToString) -> MemoryError {
        MemoryError::Corrupt {
            path: self.path.clone(),
            what: String::from_utf8_lossy(at).replace('\0', "/"),
            reason: reason.to_string(),
        }
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A commit under construction, of the next generation (under the writer lock).
    fn pending(&self) -> Pending {
        Pending::new(self.generation.load(Ordering::SeqCst) + 1)
    }

    /// Applies `pending` atomically and durably with its generation; then, if the
    /// search index is open, hands it the changed keys.
    fn apply(&self, mut pending: Pending) -> Result<()> {
        let generation = pending.generation;
        pending.batch.insert(GENERATION, &generation.to_be_bytes());
        self.db
            .apply_batch(pending.batch)
            .map_err(|e| backend(&self.path, e))?;
        self.db.flush().map_err(|e| backend(&self.path, e))?;
        self.generation.store(generation, Ordering::SeqCst);
        let mut index = self.lock_search();
        if let Some(index) = index.as_mut() {
            for head in pending.heads.values() {
                self.index_head(index, head, generation)?;
            }
        }
        Ok(())
    }

    fn lock_search(&self) -> std::sync::MutexGuard<'_, Option<SearchIndex>> {
        self.search
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Indexes `head`'s live value, or removes it from the index.
    fn index_head(&self, index: &mut SearchIndex, head: &Head, generation: u64) -> Result<()> {
        let meta = &head.meta;
        let live = !meta.deleted && head.oldest <= meta.revision;
        let value = match live {
            true => self.read_revision(&meta.namespace, &meta.key, meta.revision)?,
            false => None,
        };
        let change = Change {
            meta,
            value: value.as_ref().map(|e| e.value.as_slice()),
        };
        index.apply(&[change], generation)
    }

    /// Brings `index` level with the store: every head changed after the generation it
    /// holds (every head, for a new index) is indexed again.
    fn catch_up(&self, index: &mut SearchIndex) -> Result<()> {
        let target = self.generation.load(Ordering::SeqCst);
        if index.seen >= target {
            return Ok(());
        }
        let (from, started) = (index.seen, Instant::now());
        let mut changed = 0u64;
        for item in self.heads(None) {
            let (_, head) = item?;
            if from == 0 || head.changed > from {
                self.index_head(index, &head, target)?;
                changed += 1;
            }
        }
        index.seen = index.seen.max(target);
        tracing::debug!(
            from,
            target,
            changed,
            ms = started.elapsed().as_millis() as u64,
            "search index caught up"
        );
        Ok(())
    }

    /// Adds to `pending` the reclamation of every entry expired at `now`.
    fn reclaim_expired(&self, now: Timestamp, pending: &mut Pending) -> Result<u64> {
        let mut reclaimed = 0;
        for item in self.db.scan_prefix(b"x") {
            let (xk, _) = item.map_err(|e| backend(&self.path, e))?;
            let Some((expires, ns, key)) = split_expiry_key(&xk) else {
                return Err(self.corrupt(&xk, "malformed expiry key"));
            };
            if expires > now.millis() {
                break;
            }
            pending.batch.remove(&*xk);
            let hk = head_key(&ns, &key);
            let Some(mut head) = pending.head(self, &hk)? else {
                continue;
            };
            if head.meta.expires_at != Some(Timestamp(expires)) || head.meta.deleted {
                continue; // a stale index entry: the key was rewritten since
            }
            for revision in head.oldest..=head.meta.revision {
                pending.batch.remove(rev_key(&ns, &key, revision));
            }
            head.oldest = head.meta.revision + 1;
            pending.set_head(hk, head)?;
            reclaimed += 1;
        }
        Ok(reclaimed)
    }

    fn apply_op(
        &self,
        writer: &Writer,
        now: Timestamp,
        op: Op,
        retention: u64,
        pending: &mut Pending,
    ) -> Result<EntryMeta> {
        let (namespace, key) = op.target();
        let (ns, k) = (namespace.as_str().to_owned(), key.as_str().to_owned());
        let hk = head_key(&ns, &k);
        let head = pending.head(self, &hk)?;
        let super::op::Prepared { meta, value } =
            op.prepare(head.as_ref().map(|h| &h.meta), writer, now)?;
        let (revision, expires_at) = (meta.revision, meta.expires_at);
        let mut oldest = head.as_ref().map_or(1, |h| h.oldest);
        if let Some(old) = head.as_ref().and_then(|h| h.meta.expires_at) {
            pending.batch.remove(expiry_key(old.millis(), &ns, &k));
        }
        if let Some(t) = expires_at {
            pending
                .batch
                .insert(expiry_key(t.millis(), &ns, &k), &revision.to_be_bytes());
        }
        pending
            .batch
            .insert(rev_key(&ns, &k, revision), encode_revision(&meta, &value));
        while revision + 1 - oldest > retention {
            pending.batch.remove(rev_key(&ns, &k, oldest));
            oldest += 1;
        }
        pending.set_head(
            hk,
            Head {
                meta: meta.clone(),
                oldest,
                changed: 0,
            },
        )?;
        Ok(meta)
    }

    fn heads(
        &self,
        namespace: Option<&Namespace>,
    ) -> impl Iterator<Item = Result<(sled::IVec, Head)>> + '_ {
        let prefix = match namespace {
            Some(ns) => head_key(ns.as_str(), ""),
            None => b"h".to_vec(),
        };
        self.db.scan_prefix(prefix).map(move |item| {
            let (hk, bytes) = item.map_err(|e| backend(&self.path, e))?;
            let head = self.decode_head(&hk, &bytes)?;
            Ok((hk, head))
        })
    }
}

/// A commit under construction: the batch and the heads it has changed so far.
struct Pending {
    batch: sled::Batch,
    heads: HashMap<Vec<u8>, Head>,
    /// The generation the commit makes, stamped on every head it changes.
    generation: u64,
}

impl Pending {
    fn new(generation: u64) -> Self {
        Self {
            batch: sled::Batch::default(),
            heads: HashMap::new(),
            generation,
        }
    }

    fn head(&self, store: &SledStore, hk: &[u8]) -> Result<Option<Head>> {
        match self.heads.get(hk) {
            Some(h) => Ok(Some(h.clone())),
            None => store.read_head(hk),
        }
    }

    fn set_head(&mut self, hk: Vec<u8>, mut head: Head) -> Result<()> {
        head.changed = self.generation;
        self.batch.insert(
            hk.clone(),
            serde_json::to_vec(&head).expect("a head serialises"),
        );
        self.heads.insert(hk, head);
        Ok(())
    }
}

impl Store for SledStore {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        let Some(head) = self.read_head(&head_key(namespace.as_str(), key.as_str()))? else {
            return Ok(None);
        };
        if !head.meta.is_live(self.clock.now()) {
            return Ok(None);
        }
        // The head carries the live revision's metadata: read only its value.
        let rk = rev_key(namespace.as_str(), key.as_str(), head.meta.revision);
        let Some(bytes) = self.db.get(&rk).map_err(|e| backend(&self.path, e))? else {
            return Err(self.corrupt(&rk, "the head names a revision that is missing"));
        };
        let value = self.revision_value(&rk, &bytes)?.to_vec();
        Ok(Some(Entry {
            meta: head.meta,
            value,
        }))
    }

    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>> {
        let Some(head) = self.read_head(&head_key(namespace.as_str(), key.as_str()))? else {
            return Ok(None);
        };
        if head.meta.is_expired(self.clock.now()) {
            return Ok(None);
        }
        self.read_revision(namespace.as_str(), key.as_str(), revision)
    }

    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        let (ns, k) = (namespace.as_str(), key.as_str());
        let Some(head) = self.read_head(&head_key(ns, k))? else {
            return Ok(Vec::new());
        };
        if head.meta.is_expired(self.clock.now()) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in self
            .db
            .range(rev_key(ns, k, head.oldest)..=rev_key(ns, k, head.meta.revision))
        {
            let (rk, bytes) = item.map_err(|e| backend(&self.path, e))?;
            out.push(self.decode_revision(&rk, &bytes)?.meta);
        }
        Ok(out)
    }

    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for item in self.heads(namespace) {
            let (_, head) = item?;
            if head.meta.is_live(now) && head.meta.key.starts_with(prefix) {
                out.push(head.meta);
            }
        }
        Ok(out)
    }

    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        self.commit_retaining(writer, ops, self.retention)
    }

    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()> {
        let now = self.clock.now();
        for item in self.heads(namespace) {
            let (_, head) = item?;
            if head.meta.is_expired(now) {
                continue;
            }
            let (ns, k) = (&head.meta.namespace, &head.meta.key);
            for item in self
                .db
                .range(rev_key(ns, k, head.oldest)..=rev_key(ns, k, head.meta.revision))
            {
                let (rk, bytes) = item.map_err(|e| backend(&self.path, e))?;
                if !visit(self.decode_revision(&rk, &bytes)?) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport> {
        let _guard = self.lock_writer();
        let mut pending = self.pending();
        let mut report = ImportReport::default();
        for entry in entries {
            let meta = &entry.meta;
            let (ns, k) = (
                Namespace::new(meta.namespace.clone())?,
                Key::new(meta.key.clone())?,
            );
            if let Some(problem) = entry.import_problem() {
                return Err(problem);
            }
            let rk = rev_key(ns.as_str(), k.as_str(), meta.revision);
            if let Some(existing) = self.read_revision(ns.as_str(), k.as_str(), meta.revision)? {
                if existing.meta.sha256 == meta.sha256 {
                    report.unchanged += 1;
                    continue;
                }
                return Err(MemoryError::ImportConflict {
                    namespace: meta.namespace.clone(),
                    key: meta.key.clone(),
                    revision: meta.revision,
                });
            }
            pending
                .batch
                .insert(rk, encode_revision(meta, &entry.value));
            let hk = head_key(ns.as_str(), k.as_str());
            let head = match pending.head(self, &hk)? {
                Some(h) if h.meta.revision >= meta.revision => Head {
                    oldest: h.oldest.min(meta.revision),
                    ..h
                },
                previous => {
                    if let Some(t) = previous.as_ref().and_then(|h| h.meta.expires_at) {
                        pending
                            .batch
                            .remove(expiry_key(t.millis(), ns.as_str(), k.as_str()));
                    }
                    if let Some(t) = meta.expires_at {
                        pending.batch.insert(
                            expiry_key(t.millis(), ns.as_str(), k.as_str()),
                            &meta.revision.to_be_bytes(),
                        );
                    }
                    let oldest = previous.map_or(meta.revision, |h| h.oldest.min(meta.revision));
                    Head {
                        meta: meta.clone(),
                        oldest,
                        changed: 0,
                    }
                }
            };
            pending.set_head(hk, head)?;
            report.imported += 1;
        }
        self.apply(pending)?;
        Ok(report)
    }

    fn purge_expired(&self) -> Result<u64> {
        let _guard = self.lock_writer();
        let mut pending = self.pending();
        let reclaimed = self.reclaim_expired(self.clock.now(), &mut pending)?;
        self.apply(pending)?;
        Ok(reclaimed)
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        let parsed = search::parse(&query.text)?;
        let mut guard = self.lock_search();
        let index = match guard.as_mut() {
            Some(index) => index,
            None => {
                let dir = (!self.path.starts_with("<temporary>")).then_some(self.path.as_path());
                guard.insert(SearchIndex::open(dir)?)
            }
        };
        self.catch_up(index)?;
        index.commit()?;
        let index = &*index;
        search::judge(self, query, &parsed, &mut |offset, count| {
            index.candidates(query, &parsed, offset, count)
        })
    }

    fn stats(&self) -> Result<Stats> {
        let now = self.clock.now();
        let mut stats = Stats {
            retention: self.retention,
            ..Stats::default()
        };
        for item in self.heads(None) {
            let (_, head) = item?;
            stats.count_head(&head.meta, head.oldest, now);
        }
        for item in self.db.scan_prefix(b"r") {
            let (rk, bytes) = item.map_err(|e| backend(&self.path, e))?;
            let entry = self.decode_revision(&rk, &bytes)?;
            stats.usage_mut(&entry.meta.namespace).value_bytes += entry.value.len() as u64;
        }
        stats.disk_bytes = self.db.size_on_disk().ok();
        Ok(stats)
    }
}

/// Creates a new store at `path` so that a crash leaves either no store or a whole
/// one: sled writes its files in a temporary sibling folder, which is renamed into
/// place once complete. A process killed while sled writes its `conf` file would
/// otherwise leave a store that sled refuses to open. Two processes creating at once
/// both succeed: the second rename finds the first's store and discards its own.
fn create_atomically(path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.creating-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    {
        let db = sled::Config::new()
            .path(&tmp)
            .flush_every_ms(None)
            .open()
            .map_err(|e| backend(&tmp, e))?;
        db.flush().map_err(|e| backend(&tmp, e))?;
    }
    match std::fs::rename(&tmp, path) {
        Ok(()) => {
            // The rename is durable once the folder holding it is (`.` for a relative
            // path of one component, whose parent is empty).
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| backend(path, e))?;
            Ok(())
        }
        Err(_) if path.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => Err(backend(path, e)),
    }
}

fn backend(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> MemoryError {
    MemoryError::Backend {
        path: path.to_path_buf(),
        cause: Box::new(e),
    }
}

/// The name of baton's lock file inside a store.
const LOCK_FILE: &str = "baton.lock";

/// Takes baton's exclusive lock on the store at `path`, waiting (with backoff and
/// jitter) up to `timeout` from `started` while another process holds it.
fn lock(path: &Path, started: Instant, timeout: Duration) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join(LOCK_FILE))
        .map_err(|e| backend(path, e))?;
    super::wait::until(path, started, timeout, || match file.try_lock() {
        Ok(()) => Ok(Some(())),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(backend(path, e)),
    })?;
    Ok(file)
}

/// Creates the store's directory (and its parents) if it does not exist yet.
pub(crate) fn prepare_dir(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| backend(path, e))?;
    }
    if !path.exists() {
        create_atomically(path)?;
    }
    Ok(())
}

/// Removes the partial snapshots a killed process left in the store at `path`.
fn remove_partial_snapshots(path: &Path) -> Result<()> {
    let entries = std::fs::read_dir(path).map_err(|e| backend(path, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing a partial snapshot left by a crash");
            std::fs::remove_file(entry.path()).map_err(|e| backend(path, e))?;
        }
    }
    Ok(())
}

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// Up to `base` of pseudo-random extra wait, so that waiting processes spread out.
/// The generation stored in `db`; 1 for a store from before generations (or new), so
/// that a new index, at 0, is always behind.
fn read_generation(db: &sled::Db, path: &Path) -> Result<u64> {
    let bytes = db.get(GENERATION).map_err(|e| backend(path, e))?;
    Ok(bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(1, u64::from_be_bytes)
        .max(1))
}

fn head_key(ns: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + ns.len() + key.len());
    k.push(b'h');
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn rev_key(ns: &str, key: &str, revision: u64) -> Vec<u8> {
    let mut k = head_key(ns, key);
    k[0] = b'r';
    k.push(0);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

fn expiry_key(expires_ms: u64, ns: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + ns.len() + key.len());
    k.push(b'x');
    k.extend_from_slice(&expires_ms.to_be_bytes());
    k.extend_from_slice(&head_key(ns, key)[1..]);
    k
}

fn split_expiry_key(xk: &[u8]) -> Option<(u64, String, String)> {
    let expires = u64::from_be_bytes(xk.get(1..9)?.try_into().ok()?);
    let rest = std::str::from_utf8(xk.get(9..)?).ok()?;
    let (ns, key) = rest.split_once('\0')?;
    Some((expires, ns.to_owned(), key.to_owned()))
}

fn encode_revision(meta: &EntryMeta, value: &[u8]) -> Vec<u8> {
    let meta = serde_json::to_vec(meta).expect("metadata serialises");
    let mut out = Vec::with_capacity(4 + meta.len() + value.len());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(value);
    out
}
