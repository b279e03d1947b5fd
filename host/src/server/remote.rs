//! [`RemoteStore`]: the [`Store`] a command uses while a memory server holds the store.
//!
//! One connection per command, one request at a time on it. Errors the store raised
//! come back as the same [`MemoryError`]s (and so the same exit codes); a connection that
//! fails is a backend error naming the server's process and the store.

use std::io::{BufReader, BufWriter};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::protocol::{Hello, Reply, Request, ServerStatus, Welcome, read_frame, write_frame};
use crate::memory::{
    Entry, EntryMeta, Hit, ImportReport, Key, MemoryError, Namespace, Op, Result, SearchQuery,
    Stats, Store, Writer,
};

/// A connection to the memory server of one store.
pub struct RemoteStore {
    conn: Mutex<Conn>,
    store: PathBuf,
    pid: u32,
}

struct Conn {
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
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
                    pid,
                }))
            }
            Some(Welcome::Different { build }) => Ok(Connect::Different { build }),
            // Accepted and closed: the server is on its way out.
            None => Ok(Connect::Absent),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
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
        write_frame(&mut conn.writer, request)
            .map_err(|e| connection_error(&self.store, Some(self.pid), "sending a request", e))
    }

    fn receive(&self, conn: &mut Conn, request: &Request) -> Result<Reply> {
        let what = "waiting for its reply (a write may or may not have landed)";
        match read_frame::<Reply>(&mut conn.reader) {
            Ok(Some(Reply::Failed(e))) => Err(e),
            Ok(Some(Reply::Stopping)) if !matches!(request, Request::Stop) => {
                Err(MemoryError::Backend {
                    path: self.store.clone(),
                    cause: format!(
                        "the memory server (pid {}) is stopping and did not carry out the request; run the command again",
                        self.pid
                    )
                    .into(),
                })
            }
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(connection_error(
                &self.store,
                Some(self.pid),
                what,
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            )),
            Err(e) => Err(connection_error(&self.store, Some(self.pid), what, e)),
        }
    }

    fn unexpected(&self, what: &str, reply: &Reply) -> MemoryError {
        MemoryError::Backend {
            path: self.store.clone(),
            cause: format!(
                "the memory server (pid {}) answered {what} with `{}`",
                self.pid,
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
