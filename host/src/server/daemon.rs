//! The serving side: hold the store, answer connections, stop when idle or asked.
//!
//! The server takes the store's lock like any command and keeps it. Threads wait in
//! `accept`, and the one that accepts a connection serves it; when none is left
//! waiting, another is started first, and one finding enough others waiting when its
//! connection ends stops. A connection so finds a thread ready, not one to be started
//! (a hook's call is a connection of one request). The store is shared behind a
//! read-write lock whose write side only the shutdown takes, so a stop waits for the
//! requests in flight, then drops the store cleanly (sled's own shutdown) before the
//! process ends.
//! The server stops after `idle` without connections, when asked (`stop`, or a client
//! of another build taking over), or when its socket or store directory disappears.

use std::io::{BufReader, BufWriter};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::protocol::{
    Hello, Reply, Request, ServerStatus, Welcome, put_frame, read_frame, write_frame,
};
use super::{SPAWN_MARKER, build_id, socket_path};
use crate::memory::{MemoryError, SledStore, Store, StoreOptions, Timestamp, wait_until};

/// How long a reply may wait for a client to read it before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Threads kept waiting in `accept` between connections.
const WAITING: u64 = 2;

/// How a server runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Stop after this long without a connection.
    pub idle: Duration,
}

/// How [`serve`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Another process held the store for the whole lock timeout: nothing was served.
    Busy,
    /// Served, then stopped for the reason given.
    Stopped(String),
}

struct Shared {
    /// `None` once the shutdown has taken the store.
    store: RwLock<Option<SledStore>>,
    path: PathBuf,
    build: String,
    idle: Duration,
    started: Instant,
    started_at: Timestamp,
    /// Milliseconds after `started` of the last request or connection.
    last_activity: AtomicU64,
    connections: AtomicU64,
    requests: AtomicU64,
    /// Threads waiting in `accept`.
    waiting: AtomicU64,
    /// Why the server is stopping, once it is.
    stop: Mutex<Option<String>>,
}

impl Shared {
    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity.store(ms, Ordering::SeqCst);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_activity.load(Ordering::SeqCst));
        self.started.elapsed().saturating_sub(last)
    }

    fn request_stop(&self, reason: String) {
        self.stop_reason().get_or_insert(reason);
    }

    fn stop_reason(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.stop.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop_reason().is_some()
    }

    fn status(&self) -> ServerStatus {
        ServerStatus {
            pid: std::process::id(),
            store: self.path.clone(),
            build: self.build.clone(),
            started_at: self.started_at,
            idle_timeout_ms: self.idle.as_millis() as u64,
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
        }
    }
}

/// Serves the store at `path` until it stops. Waits up to `options.lock_timeout` for
/// the store; another process holding it that long is [`Outcome::Busy`].
pub fn serve(
    path: &Path,
    options: StoreOptions,
    serve: ServeOptions,
) -> Result<Outcome, MemoryError> {
    let io_err = |what: &str, e: std::io::Error| MemoryError::Backend {
        path: path.to_path_buf(),
        cause: format!("memory server: {what}: {e}").into(),
    };
    let Some(store) = acquire(path, options)? else {
        let _ = std::fs::remove_file(path.join(SPAWN_MARKER));
        return Ok(Outcome::Busy);
    };
    let socket = socket_path(path);
    // This process holds the store's lock, so no live server owns a socket file here:
    // one found is left by a server that was killed.
    match std::fs::remove_file(&socket) {
        Ok(()) => tracing::info!(socket = %socket.display(), "removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot remove a stale socket", e)),
    }
    let listener = UnixListener::bind(&socket).map_err(|e| io_err("cannot listen", e))?;
    // Only the store's owner may talk to it: the socket is as private as the data.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err("cannot restrict the socket", e))?;
    let inode = std::fs::metadata(&socket)
        .map_err(|e| io_err("cannot read the socket", e))?
        .ino();
    let _ = std::fs::remove_file(path.join(SPAWN_MARKER));
    let started = Instant::now();
    let shared = Arc::new(Shared {
        store: RwLock::new(Some(store)),
        path: path.to_path_buf(),
        build: build_id().to_owned(),
        idle: serve.idle,
        started,
        started_at: Timestamp::now(),
        last_activity: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        waiting: AtomicU64::new(0),
        stop: Mutex::new(None),
    });
    tracing::info!(pid = std::process::id(), store = %path.display(), idle = ?serve.idle, "memory server listening");
    let listener = Arc::new(listener);
    for _ in 0..WAITING {
        start_acceptor(&listener, &shared)
            .map_err(|e| io_err("cannot start the accepting threads", e))?;
    }

    let reason = watch(&shared, &socket, inode);
    shared.request_stop(reason.clone());
    // The acceptors drop whatever connects from now on (they end with the process).
    // Wait for the requests in flight: the write side of the store's lock waits for
    // every reader.
    let store = shared
        .store
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    drop(store);
    if std::fs::metadata(&socket).is_ok_and(|m| m.ino() == inode) {
        let _ = std::fs::remove_file(&socket);
    }
    tracing::info!(reason = %reason, "memory server stopped");
    Ok(Outcome::Stopped(reason))
}

/// Takes the store, waiting up to the lock timeout for a command using it; `None` at
/// once when a server of this build already serves it, or when the wait runs out.
fn acquire(path: &Path, options: StoreOptions) -> Result<Option<SledStore>, MemoryError> {
    let waited = wait_until(path, Instant::now(), options.lock_timeout, || {
        if super::connect(path).is_ok_and(|served| served.is_some()) {
            tracing::info!(store = %path.display(), "another memory server serves this store");
            return Ok(Some(None));
        }
        Ok(SledStore::try_open(path, options.clone())?.map(Some))
    });
    match waited {
        Ok(store) => Ok(store),
        Err(MemoryError::Locked { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits until the server should stop, and says why.
fn watch(shared: &Shared, socket: &Path, inode: u64) -> String {
    let tick = Duration::from_millis(100).min(shared.idle.max(Duration::from_millis(10)));
    loop {
        std::thread::sleep(tick);
        if let Some(reason) = shared.stop_reason().clone() {
            return reason;
        }
        if shared.connections.load(Ordering::SeqCst) == 0 && shared.idle_for() >= shared.idle {
            return format!("idle for {}", humantime::format_duration(shared.idle));
        }
        match std::fs::metadata(socket) {
            Ok(m) if m.ino() == inode => {}
            _ => return "its socket was removed".into(),
        }
        if !shared.path.is_dir() {
            return "its store was removed".into();
        }
    }
}

/// Starts a thread that waits in `accept` and serves what it accepts.
fn start_acceptor(listener: &Arc<UnixListener>, shared: &Arc<Shared>) -> std::io::Result<()> {
    let (listener, theirs) = (listener.clone(), shared.clone());
    shared.waiting.fetch_add(1, Ordering::SeqCst);
    let started = std::thread::Builder::new()
        .name("connection".into())
        .spawn(move || accept(listener, theirs));
    if started.is_err() {
        shared.waiting.fetch_sub(1, Ordering::SeqCst);
    }
    started.map(drop)
}

/// Accepts connections and serves each, until the server stops or enough other
/// threads wait.
fn accept(listener: Arc<UnixListener>, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping() {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        shared.touch();
        // The last thread waiting starts the next before serving.
        if shared.waiting.fetch_sub(1, Ordering::SeqCst) == 1
            && let Err(e) = start_acceptor(&listener, &shared)
        {
            tracing::warn!(error = %e, "cannot start a connection thread");
        }
        if let Err(e) = connection(stream, &shared) {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        shared.touch();
        shared.connections.fetch_sub(1, Ordering::SeqCst);
        if shared.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING {
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            return;
        }
    }
}

/// Serves one connection: the hello, then requests until the client closes it.
fn connection(stream: UnixStream, shared: &Shared) -> std::io::Result<()> {
    // A client that stops reading (mid-export, say) must not hold the store's read
    // lock, and so a shutdown, for ever.
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let Some(hello) = read_frame::<Hello>(&mut reader)? else {
        return Ok(());
    };
    if hello.build != shared.build {
        write_frame(
            &mut writer,
            &Welcome::Different {
                build: shared.build.clone(),
            },
        )?;
        if hello.replace_if_different {
            shared.request_stop(format!("replaced by build {}", hello.build));
        }
        return Ok(());
    }
    let welcome = Welcome::Serving {
        pid: std::process::id(),
    };
    // A client that sent its first request with the hello gets the welcome with the
    // reply, in one write.
    match reader.buffer().is_empty() {
        true => write_frame(&mut writer, &welcome)?,
        false => put_frame(&mut writer, &welcome)?,
    }
    while let Some(request) = read_frame::<Request>(&mut reader)? {
        shared.touch();
        answer(request, hello.retention, shared, &mut writer)?;
        shared.requests.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// Carries out a request and writes its reply (several frames for an export).
fn answer(
    request: Request,
    retention: u64,
    shared: &Shared,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    // Held until the reply is written: the shutdown waits for it.
    let guard = shared.store.read().unwrap_or_else(|p| p.into_inner());
    let store = guard.as_ref().filter(|_| !shared.stopping());
    let reply = match (request, store) {
        (Request::Status, _) => Ok(Reply::Status(shared.status())),
        (Request::Stop, _) => {
            shared.request_stop("asked to stop".into());
            Ok(Reply::Done)
        }
        (_, None) => Ok(Reply::Stopping),
        (Request::Get { namespace, key }, Some(store)) => {
            store.get(&namespace, &key).map(Reply::Entry)
        }
        (
            Request::GetRevision {
                namespace,
                key,
                revision,
            },
            Some(store),
        ) => store
            .get_revision(&namespace, &key, revision)
            .map(Reply::Entry),
        (Request::History { namespace, key }, Some(store)) => {
            store.history(&namespace, &key).map(Reply::Metas)
        }
        (Request::List { namespace, prefix }, Some(store)) => {
            store.list(namespace.as_ref(), &prefix).map(Reply::Metas)
        }
        (Request::Commit { writer, ops }, Some(store)) => store
            .commit_retaining(&writer, ops, retention)
            .map(Reply::Metas),
        (Request::Export { namespace }, Some(store)) => {
            let mut failed = None;
            let result = store.export(namespace.as_ref(), &mut |entry| match write_frame(
                out,
                &Reply::Exported(entry),
            ) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            result.map(|()| Reply::Done)
        }
        (Request::Import { entries }, Some(store)) => store.import(entries).map(Reply::Imported),
        (Request::PurgeExpired, Some(store)) => store.purge_expired().map(Reply::Purged),
        (Request::Search(query), Some(store)) => store.search(&query).map(Reply::Hits),
        (Request::Stats, Some(store)) => store.stats().map(|mut stats| {
            stats.retention = retention.max(1);
            Reply::Stats(stats)
        }),
    };
    write_frame(out, &reply.unwrap_or_else(Reply::Failed))
}
