//! The memory server: one long-lived process that holds a store open, so that the short
//! commands agents' hooks run (`baton memory store`, `retrieve`, …) need not open it.
//!
//! Opening sled 0.34 costs about 7 ms (a recovery thread pool, a log scan, a snapshot
//! written and synced), more than a hook's whole budget. A server opens it once and
//! answers on a Unix socket in the store's directory (`baton.sock`, mode 0600); a
//! command that finds it talks to it through [`RemoteStore`], a [`Store`] like any
//! other. A command that finds none opens the store itself, as before, and then (with
//! [`Policy::Auto`], the default) starts a server in the background for the commands
//! after it; the server stops after a while without connections. The server holds the
//! store's lock, so while it runs every process reaches the store through it; a server
//! of another build (a rebuilt `baton`) is told to stop and is replaced.
//!
//! [`open`] is how every command reaches its store.

mod daemon;
mod protocol;
mod remote;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub use daemon::{Outcome, ServeOptions, serve};
pub use protocol::ServerStatus;
pub use remote::RemoteStore;

use protocol::Hello;
use remote::{Connect, Optimistic};

use crate::memory::{MemoryError, Result, SledStore, Store, StoreOptions, wait_until};

/// The socket's file name inside the store's directory.
pub const SOCKET_FILE: &str = "baton.sock";
/// The log of a server started in the background, inside the store's directory.
pub const LOG_FILE: &str = "server.log";
/// Marks a server being started, so that a burst of commands starts one, not many.
const SPAWN_MARKER: &str = "baton.spawn";
/// A start marker older than this is from a start that failed, and is ignored.
const SPAWN_MARKER_STALE: Duration = Duration::from_secs(10);
/// How long a server started in the background lives without connections.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The protocol's version: part of [`build_id`].
const PROTOCOL: u32 = 2;
/// The longest socket path the kernel accepts (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Whether commands start a memory server when none is running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Use a running server; start one in the background when there is none.
    #[default]
    Auto,
    /// Use a running server, but never start one.
    Never,
}

/// Decodes `bytes` as a client's side of a connection, the way the server reads it
/// (a hello, then requests), and returns how many frames decoded before the first
/// that does not. For fuzzing the protocol without a socket.
#[doc(hidden)]
pub fn decode_client_frames(bytes: &[u8]) -> usize {
    let mut input = bytes;
    match protocol::read_frame::<Hello>(&mut input) {
        Ok(Some(_)) => {}
        _ => return 0,
    }
    let mut n = 1;
    while let Ok(Some(_)) = protocol::read_frame::<protocol::Request>(&mut input) {
        n += 1;
    }
    n
}

/// The socket of the server for the store at `store`.
pub fn socket_path(store: &Path) -> PathBuf {
    store.join(SOCKET_FILE)
}

/// This build of baton: the protocol version, the crate version and the executable's
/// path, size and modification time. A server serves only clients of its own build, so
/// a rebuilt binary never talks to a server running older code.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe().ok();
        let stamp = exe
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| {
                let modified = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .unwrap_or_default();
                format!("{}:{}", m.len(), modified.as_nanos())
            })
            .unwrap_or_default();
        let exe = exe.map(|p| p.display().to_string()).unwrap_or_default();
        format!("p{PROTOCOL}/{}/{exe}:{stamp}", env!("CARGO_PKG_VERSION"))
    })
}

/// The store at `path`, through its server when one is running, else opened here.
///
/// Waits up to `options.lock_timeout` while another process holds the store without
/// serving it (a command that opened it itself, or a server starting or stopping).
pub fn open(path: &Path, options: &StoreOptions, policy: Policy) -> Result<Opened> {
    let started = Instant::now();
    let socket = socket_path(path);
    let hello = hello(options);
    wait_until(path, started, options.lock_timeout, || {
        if path.is_dir() {
            match RemoteStore::connect(&socket, path, &hello)? {
                Connect::Serving(remote) => {
                    return Ok(Some(Opened {
                        store: Arc::new(remote),
                        served: true,
                        start_server: None,
                    }));
                }
                Connect::Different { build } => {
                    tracing::info!(other = %build, "a memory server of another build holds the store; it is stopping");
                }
                Connect::Absent => {}
            }
        }
        let Some(store) = SledStore::try_open(path, options.clone())? else {
            return Ok(None);
        };
        Ok(Some(Opened {
            store: Arc::new(store),
            served: false,
            start_server: (policy == Policy::Auto).then(|| StartServer(path.to_path_buf())),
        }))
    })
}

/// The store at `path` for a command that makes a call or two: through its server
/// when one is listening, the hello sent with the first request (one round trip per
/// call, where [`open`] spends one more on the greeting); else as [`open`] opens it.
pub fn open_briefly(path: &Path, options: &StoreOptions, policy: Policy) -> Result<Opened> {
    match Optimistic::connect(&socket_path(path), path, &hello(options), options, policy)? {
        Some(store) => Ok(Opened {
            store: Arc::new(store),
            served: true,
            start_server: None,
        }),
        None => open(path, options, policy),
    }
}

/// The hello of a command of this build: a server of another build stops for it.
fn hello(options: &StoreOptions) -> Hello {
    Hello {
        build: build_id().to_owned(),
        retention: options.retention,
        replace_if_different: true,
    }
}

/// A store opened by [`open`].
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Whether it is reached through its server (a connection a long-lived process
    /// may keep), or was opened here (to be released as soon as the work is done, so
    /// that others can have it).
    pub served: bool,
    /// With [`Policy::Auto`], for a store opened here: the server to start once the
    /// caller has released the store.
    pub start_server: Option<StartServer>,
}

/// A memory server to start for a store a command opened itself, once the command
/// has released it ([`StartServer::start`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartServer(PathBuf);

impl StartServer {
    /// Starts the server in the background. A failure to start only costs the next
    /// command its speed, so it is logged, not raised.
    pub fn start(self) {
        let idle = std::env::var("BATON_SERVER_IDLE")
            .ok()
            .and_then(|v| humantime::parse_duration(&v).ok())
            .unwrap_or(DEFAULT_IDLE);
        match spawn(&self.0, idle) {
            Ok(Some(pid)) => {
                tracing::debug!(pid, store = %self.0.display(), "started a memory server")
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "could not start a memory server"),
        }
    }
}

/// The server of the store at `path`, if one of this build is running.
pub fn connect(path: &Path) -> Result<Option<RemoteStore>> {
    let hello = Hello {
        build: build_id().to_owned(),
        retention: crate::memory::DEFAULT_RETENTION,
        replace_if_different: false,
    };
    match RemoteStore::connect(&socket_path(path), path, &hello)? {
        Connect::Serving(remote) => Ok(Some(remote)),
        Connect::Different { build } => Err(MemoryError::Backend {
            path: path.to_path_buf(),
            cause: format!(
                "the memory server holding this store is another build of baton ({build}); any command of this build replaces it"
            )
            .into(),
        }),
        Connect::Absent => Ok(None),
    }
}

/// Starts `baton memory server run` for the store at `path` in the background, its
/// output in the store's [`LOG_FILE`]. Returns its process id, or `None` when another
/// command has just started one; an error when the socket's path would be too long.
pub fn spawn(path: &Path, idle: Duration) -> std::io::Result<Option<u32>> {
    use std::os::unix::process::CommandExt;

    let path = std::path::absolute(path)?;
    let socket = socket_path(&path);
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(std::io::Error::other(format!(
            "its socket's path {socket:?} would be longer than the {MAX_SOCKET_PATH} bytes a Unix socket allows"
        )));
    }
    crate::memory::prepare_dir(&path).map_err(std::io::Error::other)?;
    if !claim_spawn(&path)? {
        return Ok(None);
    }
    let log = std::fs::File::create(path.join(LOG_FILE))?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--store")
        .arg(&path)
        .args(["memory", "server", "run", "--idle"])
        .arg(humantime::format_duration(idle).to_string())
        // Not the command's folder: a server must not keep a directory busy.
        .current_dir(&path)
        .env_remove("BATON_STORE")
        // Its start and stop, and why, in the log.
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        // Its own process group: a Ctrl-C meant for the command does not reach it.
        .process_group(0)
        .spawn();
    match child {
        Ok(child) => Ok(Some(child.id())),
        Err(e) => {
            let _ = std::fs::remove_file(path.join(SPAWN_MARKER));
            Err(e)
        }
    }
}

/// Creates the start marker; false when a fresh one exists (a start is under way).
fn claim_spawn(path: &Path) -> std::io::Result<bool> {
    let marker = path.join(SPAWN_MARKER);
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = std::fs::metadata(&marker)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                if age < SPAWN_MARKER_STALE {
                    return Ok(false);
                }
                let _ = std::fs::remove_file(&marker);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
