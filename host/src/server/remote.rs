//! [`RemoteStore`]: the [`Store`] a command uses while a memory server holds the store.
//!
//! One connection per command, one request at a time on it. Errors the store raised
//! come back as the same [`MemoryError`]s (and so the same exit codes); a connection that
//! fails is a backend error naming the server's process and the store.
//!
//! A command that makes one call (a hook's `store` or `retrieve`) sends its hello with
//! that call's request and reads the welcome before the reply: one round trip, not
//! two. If the welcome is not the server serving it (another build, or a server on
//! its way out), the server has read nothing past the hello, so [`Optimistic`] opens
//! the store the usual way and makes the call there.

use std::io::{BufReader, BufWriter};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::protocol::{
    Hello, Reply, Request, ServerStatus, Welcome, put_frame, read_frame, write_frame,
};
use crate::memory::{
    Entry, EntryMeta, Hit, ImportReport, Key, MemoryError, Namespace, Op, Result, SearchQuery,
    Stats, Store, StoreOptions, Writer,
};

/// A connection to the memory server of one store.
pub struct RemoteStore {
    conn: Mutex<Conn>,
    store: PathBuf,
    /// The server's process id, once its welcome said it (0 before).
    pid: AtomicU32,
    /// The hello went with the first request and the welcome was not the server
    /// serving: nothing was carried out.
    turned_away: AtomicBool,
}

struct Conn {
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
    /// The hello was sent with the first request: its welcome comes before the reply.
    welcome_pending: bool,
}

/// What a connection attempt found.
pub(super) enum Connect {
    /// A server of this build answered.
    Serving(RemoteStore),
    /// Nothing listens on the socket (no file, or a file left by a server that died).
    Absent,
    /// A server of another build answered; it stops if the hello asked it to.
    Different {
        /// The other build.
        build: String,
    },
}

impl RemoteStore {
    /// Connects to the server listening at `socket` for the store at `store`.
    pub(super) fn connect(socket: &Path, store: &Path, hello: &Hello) -> Result<Connect> {
        let stream = match UnixStream::connect(socket) {
            Ok(s) => s,
            Err(e) => {
                tracing::trace!(socket = %socket.display(), error = %e, "no memory server");
                return Ok(Connect::Absent);
            }
        };
        // A server that closes the connection during the greeting is on its way out
        // (stopping, or replaced): as good as absent, and the caller waits for the store.
        let greeted = stream.try_clone().and_then(|clone| {
            let mut conn = Conn {
                reader: BufReader::new(clone),
                writer: BufWriter::new(stream),
                welcome_pending: false,
            };
            write_frame(&mut conn.writer, hello)?;
            let welcome = read_frame::<Welcome>(&mut conn.reader)?;
            Ok((conn, welcome))
        });
        let (conn, welcome) = match greeted {
            Ok(greeted) => greeted,
            Err(e) => {
                tracing::debug!(socket = %socket.display(), error = %e, "the memory server closed the connection while greeting");
                return Ok(Connect::Absent);
            }
        };
        match welcome {
            Some(Welcome::Serving { pid }) => {
                tracing::debug!(pid, store = %store.display(), "using the memory server");
                Ok(Connect::Serving(Self {
                    conn: Mutex::new(conn),
                    store: store.to_path_buf(),
                    pid: AtomicU32::new(pid),
                    turned_away: AtomicBool::new(false),
                }))
            }
            Some(Welcome::Different { build }) => Ok(Connect::Different { build }),
            // Accepted and closed: the server is on its way out.
            None => Ok(Connect::Absent),
        }
    }

    /// Connects to the server listening at `socket` and puts the hello in the
    /// connection's buffer, to go with the first request; `None` when nothing
    /// listens there.
    fn connect_with_first_request(
        socket: &Path,
        store: &Path,
        hello: &Hello,
    ) -> Result<Option<Self>> {
        let Ok(stream) = UnixStream::connect(socket) else {
            return Ok(None);
        };
        let io = |e| connection_error(store, None, "connecting", e);
        let mut conn = Conn {
            reader: BufReader::new(stream.try_clone().map_err(io)?),
            writer: BufWriter::new(stream),
            welcome_pending: true,
        };
        put_frame(&mut conn.writer, hello).map_err(io)?;
        Ok(Some(Self {
            conn: Mutex::new(conn),
            store: store.to_path_buf(),
            pid: AtomicU32::new(0),
            turned_away: AtomicBool::new(false),
        }))
    }

    /// The server's process id (0 until it has answered).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// The server's process id, for messages, once known.
    fn known_pid(&self) -> Option<u32> {
        Some(self.pid()).filter(|&pid| pid != 0)
    }

    /// The server's status.
    pub fn status(&self) -> Result<ServerStatus> {
        match self.call(&Request::Status)? {
            Reply::Status(status) => Ok(status),
            other => Err(self.unexpected("status", &other)),
        }
    }

    /// Asks the server to stop once the requests in flight are answered.
    pub fn stop(&self) -> Result<()> {
        match self.call(&Request::Stop)? {
            Reply::Done | Reply::Stopping => Ok(()),
            other => Err(self.unexpected("stop", &other)),
        }
    }

    fn call(&self, request: &Request) -> Result<Reply> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.send(&mut conn, request)?;
        self.receive(&mut conn, request)
    }

    fn send(&self, conn: &mut Conn, request: &Request) -> Result<()> {
        write_frame(&mut conn.writer, request).map_err(|e| {
            // A server that closed the connection before reading the hello (one on its
            // way out) carried nothing out: turned away, as by its welcome.
            if conn.welcome_pending {
                self.turned_away.store(true, Ordering::SeqCst);
            }
            connection_error(&self.store, self.known_pid(), "sending a request", e)
        })
    }

    /// Reads the welcome of a hello sent with the first request: the server serving
    /// this build, or an error with [`Self::turned_away`] set.
    fn welcome(&self, conn: &mut Conn) -> Result<()> {
        let turned_away = |why: String| {
            self.turned_away.store(true, Ordering::SeqCst);
            MemoryError::Backend {
                path: self.store.clone(),
                cause: format!("the memory server did not serve the request: {why}").into(),
            }
        };
        match read_frame::<Welcome>(&mut conn.reader) {
            Ok(Some(Welcome::Serving { pid })) => {
                conn.welcome_pending = false;
                self.pid.store(pid, Ordering::Relaxed);
                tracing::debug!(pid, store = %self.store.display(), "using the memory server");
                Ok(())
            }
            Ok(Some(Welcome::Different { build })) => {
                tracing::info!(other = %build, "a memory server of another build holds the store; it is stopping");
                Err(turned_away(format!("it is another build ({build})")))
            }
            Ok(None) => Err(turned_away("it closed the connection".into())),
            Err(e) => Err(turned_away(e.to_string())),
        }
    }

    fn receive(&self, conn: &mut Conn, request: &Request) -> Result<Reply> {
        if conn.welcome_pending {
            self.welcome(conn)?;
        }
        let what = "waiting for its reply (a write may or may not have landed)";
        match read_frame::<Reply>(&mut conn.reader) {
            Ok(Some(Reply::Failed(e))) => Err(e),
            Ok(Some(Reply::Stopping)) if !matches!(request, Request::Stop) => {
                Err(MemoryError::Backend {
                    path: self.store.clone(),
                    cause: format!(
                        "the memory server (pid {}) is stopping and did not carry out the request; run the command again",
                        self.pid()
                    )
                    .into(),
                })
            }
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(connection_error(
                &self.store,
                self.known_pid(),
                what,
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            )),
            Err(e) => Err(connection_error(&self.store, self.known_pid(), what, e)),
        }
    }

    fn unexpected(&self, what: &str, reply: &Reply) -> MemoryError {
        MemoryError::Backend {
            path: self.store.clone(),
            cause: format!(
                "the memory server (pid {}) answered {what} with `{}`",
                self.pid(),
                reply.kind()
            )
            .into(),
        }
    }
}

fn connection_error(store: &Path, pid: Option<u32>, what: &str, e: std::io::Error) -> MemoryError {
    let server = match pid {
        Some(pid) => format!("the memory server (pid {pid})"),
        None => "the memory server".to_owned(),
    };
    MemoryError::Backend {
        path: store.to_path_buf(),
        cause: format!("connection to {server} failed while {what}: {e}").into(),
    }
}

impl Store for RemoteStore {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        let request = Request::Get {
            namespace: namespace.clone(),
            key: key.clone(),
        };
        match self.call(&request)? {
            Reply::Entry(entry) => Ok(entry),
            other => Err(self.unexpected("get", &other)),
        }
    }

    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>> {
        let request = Request::GetRevision {
            namespace: namespace.clone(),
            key: key.clone(),
            revision,
        };
        match self.call(&request)? {
            Reply::Entry(entry) => Ok(entry),
            other => Err(self.unexpected("get-revision", &other)),
        }
    }

    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        let request = Request::History {
            namespace: namespace.clone(),
            key: key.clone(),
        };
        match self.call(&request)? {
            Reply::Metas(metas) => Ok(metas),
            other => Err(self.unexpected("history", &other)),
        }
    }

    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        let request = Request::List {
            namespace: namespace.cloned(),
            prefix: prefix.to_owned(),
        };
        match self.call(&request)? {
            Reply::Metas(metas) => Ok(metas),
            other => Err(self.unexpected("list", &other)),
        }
    }

    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        let request = Request::Commit {
            writer: writer.clone(),
            ops,
        };
        match self.call(&request)? {
            Reply::Metas(metas) => Ok(metas),
            other => Err(self.unexpected("commit", &other)),
        }
    }

    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()> {
        let request = Request::Export {
            namespace: namespace.cloned(),
        };
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.send(&mut conn, &request)?;
        // Read the stream to its end even after `visit` has had enough, so the
        // connection stays in step for the next request.
        let mut wanted = true;
        loop {
            match self.receive(&mut conn, &request)? {
                Reply::Exported(entry) => {
                    if wanted {
                        wanted = visit(entry);
                    }
                }
                Reply::Done => return Ok(()),
                other => return Err(self.unexpected("export", &other)),
            }
        }
    }

    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport> {
        match self.call(&Request::Import { entries })? {
            Reply::Imported(report) => Ok(report),
            other => Err(self.unexpected("import", &other)),
        }
    }

    fn purge_expired(&self) -> Result<u64> {
        match self.call(&Request::PurgeExpired)? {
            Reply::Purged(n) => Ok(n),
            other => Err(self.unexpected("purge", &other)),
        }
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        match self.call(&Request::Search(query.clone()))? {
            Reply::Hits(hits) => Ok(hits),
            other => Err(self.unexpected("search", &other)),
        }
    }

    fn stats(&self) -> Result<Stats> {
        match self.call(&Request::Stats)? {
            Reply::Stats(stats) => Ok(stats),
            other => Err(self.unexpected("stats", &other)),
        }
    }
}

/// A store reached through its server by a connection whose hello goes with the first
/// request ([`RemoteStore::connect_with_first_request`]), for a command that makes a
/// call or two. If the server turns the first request away unread (another build,
/// which stops for this one; or a server on its way out), the store is opened the
/// usual way ([`super::open`]: through a server if one serves it by then, else here)
/// and the call is made there, as are the calls after it. A store so opened here is
/// released when this is dropped, and then (as `policy` allows) a server of this
/// build is started for the commands after it.
pub struct Optimistic {
    remote: RemoteStore,
    path: PathBuf,
    options: StoreOptions,
    policy: super::Policy,
    instead: OnceLock<Arc<dyn Store>>,
    start_server: Mutex<Option<super::StartServer>>,
}

impl Drop for Optimistic {
    fn drop(&mut self) {
        drop(self.instead.take());
        if let Some(start) = self.start_server.get_mut().ok().and_then(Option::take) {
            start.start();
        }
    }
}

impl Optimistic {
    /// Connects to the server of the store at `path` listening at `socket`; `None`
    /// when nothing listens there.
    pub(super) fn connect(
        socket: &Path,
        path: &Path,
        hello: &Hello,
        options: &StoreOptions,
        policy: super::Policy,
    ) -> Result<Option<Self>> {
        let remote = RemoteStore::connect_with_first_request(socket, path, hello)?;
        Ok(remote.map(|remote| Self {
            remote,
            path: path.to_path_buf(),
            options: options.clone(),
            policy,
            instead: OnceLock::new(),
            start_server: Mutex::new(None),
        }))
    }

    /// `call` on the server, or, if it turned the first request away, on the store
    /// opened the usual way.
    fn with<T>(&self, mut call: impl FnMut(&dyn Store) -> Result<T>) -> Result<T> {
        if let Some(store) = self.instead.get() {
            return call(&**store);
        }
        match call(&self.remote) {
            Err(_) if self.turned_away() => call(&**self.instead()?),
            result => result,
        }
    }

    fn turned_away(&self) -> bool {
        self.remote.turned_away.load(Ordering::SeqCst)
    }

    /// The store opened the usual way, once the server turned a request away.
    fn instead(&self) -> Result<&Arc<dyn Store>> {
        if let Some(store) = self.instead.get() {
            return Ok(store);
        }
        let opened = super::open(&self.path, &self.options, self.policy)?;
        *self.start_server.lock().unwrap_or_else(|p| p.into_inner()) = opened.start_server;
        Ok(self.instead.get_or_init(|| opened.store))
    }
}

impl Store for Optimistic {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        self.with(|s| s.get(namespace, key))
    }

    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>> {
        self.with(|s| s.get_revision(namespace, key, revision))
    }

    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        self.with(|s| s.history(namespace, key))
    }

    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        self.with(|s| s.list(namespace, prefix))
    }

    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        // A copy for the store opened instead: the ops of a hook's write are small.
        self.with(|s| s.commit(writer, ops.clone()))
    }

    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()> {
        // `visit` sees nothing before the welcome: a call turned away made none.
        self.with(|s| s.export(namespace, &mut *visit))
    }

    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport> {
        // No copy of a whole import: greeted first (a status costs a round trip).
        if self.instead.get().is_none() {
            match self.remote.status() {
                Ok(_) => return self.remote.import(entries),
                Err(e) if !self.turned_away() => return Err(e),
                Err(_) => {}
            }
        }
        self.instead()?.import(entries)
    }

    fn purge_expired(&self) -> Result<u64> {
        self.with(|s| s.purge_expired())
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        self.with(|s| s.search(query))
    }

    fn stats(&self) -> Result<Stats> {
        self.with(|s| s.stats())
    }
}
