//! The service layer: every operation baton offers, written once for every front end.
//!
//! The CLI (its `baton worker` included), the MCP server and the UI translate their
//! arguments into calls on a [`Service`] and its typed results back into their own
//! form; none of them holds a store, queue or runtime handle. A service is resolved
//! once from [`Settings`] (the store, the project and its pipeline), opens its store
//! per call (through the memory server when one runs, so that many front ends share
//! one store), and returns typed results (the views of [`views`]) or
//! one typed [`Error`] whose [`ErrorKind`] each front end maps in one place.
//!
//! What lives here: the audited writes (store, delete, rollback, import), each
//! admitted by [`crate::admission`] through its key's gates, the gate check, stage
//! status, the events query and the agent lifecycle, an external agent's handoff (its
//! inputs in one answer, its output through its gates), history, export, rendering a
//! document the way its stage renders it, importing agent definitions, scaffolding a
//! stage, running one component, the memory server's management, and a worker's
//! loop. Nothing here prints.

mod agents;
mod approval;
mod audit;
mod component;
mod error;
mod gatekeeper;
mod handoff;
mod import;
mod memory;
mod memory_server;
mod partitions;
mod pipeline;
mod render;
pub mod scaffold;
mod timeline;
mod transfer;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use agents::{AgentEvent, EventAck, EventFilter};
pub use approval::{HeldOutput, Ruling};
pub use component::ComponentRun;
pub use timeline::{Bar, Mark, Timeline, TimelineRow};
// The results of a run and of a worker, as the executor returns them.
pub use crate::executor::worker::{Options as WorkerOptions, Report as WorkerReport, default_name};
pub use crate::executor::{AttemptHook, Outcome, RunOptions, RunSummary, StageSummary};
pub use crate::pipeline::partitions::instance_name;
pub use crate::runner::brief;
/// Kills every agent this process runs now, with its process group (for a front
/// end's Ctrl-C handler); returns how many.
pub use crate::runner::stop_all as stop_agents;
pub use error::{Error, ErrorKind, Result};
pub use gatekeeper::{blocked, find_stage, find_stage_of};
pub use handoff::{OutputOptions, StageInput};
pub use import::{AgentImport, ImportOutcome, ImportProblem, import_agents};
pub use memory::{HeldFor, Stored, Write};
pub use memory::{select, value_from_text};
pub use partitions::{Cell, Matrix, MatrixRow, PARTITIONS_NAMESPACE, PartitionAdded, matrix};
pub use pipeline::{StageState, StageStatus};
pub use render::json_block;
pub use transfer::{ExportScope, read_record};
pub use views::{
    Change, Changes, CheckView, CheckedGate, CheckedPipeline, CheckedStage, DocumentView,
    EntryView, FailedCheck, GateView, InputFile, InputKey, LastRun, LimitsView, OutputView,
    PipelineView, ProblemView, QuarantineView, RunEvents, StagePage, StageView, ViewBlock,
};

use crate::memory::{
    JobQueue, Location, Namespace, RunningJob, Store, StoreOptions, open_database,
};
use crate::pipeline::Pipeline;
use crate::project::{FALLBACK_NAMESPACE, Project};
use crate::runtime::{ComponentCache, Runtime};
use crate::server::Policy;

/// How a front end asks for its service: the flags and environment every command
/// shares.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The store: a folder or a `postgres://` URL; `None`: `[memory] url` of the
    /// nearest `pipeline.toml`, else `.baton/store` beside it.
    pub store: Option<PathBuf>,
    /// How long to wait for another process using the store.
    pub lock_timeout: Duration,
    /// Revisions kept per key; `None`: the manifest's `memory.retention`, else 16.
    pub retention: Option<u64>,
    /// Whether a call that finds no memory server starts one.
    pub server: Policy,
    /// Where the project is looked for.
    pub cwd: PathBuf,
    /// The manifest, when given rather than looked for (`BATON_PIPELINE`, which
    /// `baton run` sets for the agents it starts).
    pub manifest: Option<PathBuf>,
    /// The stage an agent run by baton works for (`BATON_STAGE` in its
    /// environment): the writes of this service are confined to that stage's key.
    pub confined_to: Option<String>,
}

/// The operations of baton on one store and one project.
pub struct Service {
    manifest: Option<PathBuf>,
    location: Location,
    /// The folder holding `cache/` (compiled components).
    cache_root: PathBuf,
    default_namespace: String,
    options: StoreOptions,
    server: Policy,
    runtime: OnceLock<Arc<Runtime>>,
    gates: Mutex<gatekeeper::Gatekeeper>,
    /// A connection to the memory server kept between calls (long-lived front ends),
    /// or to the database (always kept).
    kept: Mutex<Option<Arc<dyn Store>>>,
    keep_connection: bool,
    /// The work queue's connection for looking (which stages run where), opened on
    /// first use and kept.
    watching: Mutex<Option<JobQueue>>,
    /// The memory server to start once the store a call opened itself is released.
    start_server: Mutex<Option<crate::server::StartServer>>,
    /// The stage whose key alone this service may write, for an agent run by baton.
    confined_to: Option<String>,
}

impl Drop for Service {
    /// A command's service is dropped when the command is done with the store: a
    /// server may take it now.
    fn drop(&mut self) {
        self.start_server_if_opened_here();
    }
}

impl Service {
    /// Finds the project above `settings.cwd` and the store it uses.
    pub fn resolve(settings: Settings) -> Result<Self> {
        let project = match &settings.manifest {
            Some(manifest) => Some(Project::at(manifest)),
            None => Project::discover(&settings.cwd),
        };
        let memory = match &project {
            Some(p) => p
                .memory_settings()
                .map_err(|e| Error::new(ErrorKind::BadInput, e))?,
            None => Default::default(),
        };
        let location = match (&settings.store, &memory.url, &project) {
            (Some(given), _, _) => Location::parse(given.as_os_str()),
            (None, Some(url), _) => Location::Postgres(url.clone()),
            (None, None, Some(p)) => Location::Dir(p.store_path()),
            (None, None, None) => {
                return Err(Error::bad_input(format!(
                    "no store: no `pipeline.toml` in {:?} or any folder above it",
                    settings.cwd
                ))
                .hint("run inside a baton project, or pass `--store DIR|postgres://…` or set `BATON_STORE`"));
            }
        };
        let options = StoreOptions {
            retention: settings
                .retention
                .or(memory.retention)
                .unwrap_or(crate::memory::DEFAULT_RETENTION),
            lock_timeout: settings.lock_timeout,
            clock: Default::default(),
        };
        let manifest = project.as_ref().map(|p| p.manifest.clone());
        Ok(Self {
            gates: Mutex::new(gatekeeper::Gatekeeper::new(manifest.clone())),
            cache_root: match (&location, &project) {
                (Location::Dir(dir), _) => dir.parent().unwrap_or(Path::new(".")).to_owned(),
                (Location::Postgres(_), Some(p)) => {
                    p.store_path().parent().unwrap_or(Path::new(".")).to_owned()
                }
                (Location::Postgres(_), None) => std::env::temp_dir().join("baton"),
            },
            manifest,
            location,
            default_namespace: memory
                .namespace
                .unwrap_or_else(|| FALLBACK_NAMESPACE.to_owned()),
            options,
            server: settings.server,
            runtime: OnceLock::new(),
            kept: Mutex::new(None),
            keep_connection: false,
            watching: Mutex::new(None),
            start_server: Mutex::new(None),
            confined_to: settings.confined_to.clone(),
        })
    }

    /// Where the store lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The store's folder, for what only a sled store has (its memory server); an
    /// error naming the database otherwise.
    pub fn store_path(&self) -> Result<&Path> {
        match &self.location {
            Location::Dir(path) => Ok(path),
            Location::Postgres(_) => Err(Error::bad_input(format!(
                "the store is the database {}: the memory server serves a store in a folder",
                self.location
            ))
            .hint("a database needs no memory server: every command connects to it")),
        }
    }

    /// The options the store is opened with.
    pub fn store_options(&self) -> &StoreOptions {
        &self.options
    }

    /// The project's `pipeline.toml`, if the service runs in a project.
    pub fn manifest(&self) -> Option<&Path> {
        self.manifest.as_deref()
    }

    /// Keeps the connection to the store's memory server between calls, for a
    /// long-lived front end (the MCP server): a call then costs one round trip, not a
    /// connection and a greeting too. A store opened here (no server running) is
    /// never kept: it is released after each call so that other processes can have it.
    pub fn keep_connection(mut self) -> Self {
        self.keep_connection = true;
        self
    }

    /// Forgets a kept connection, after a call failed in the store: the next call
    /// connects again (to a new server, if the old one was replaced or stopped).
    pub fn forget_connection(&self) {
        *self.kept.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The store: the database, or a folder through its memory server when one is
    /// running.
    pub(crate) fn store(&self) -> Result<Arc<dyn Store>> {
        let path = match &self.location {
            Location::Dir(path) => path,
            Location::Postgres(url) => {
                let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(store) = kept.as_ref() {
                    return Ok(store.clone());
                }
                let store: Arc<dyn Store> = open_database(url, self.options.clone())?;
                *kept = Some(store.clone());
                return Ok(store);
            }
        };
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = kept.as_ref() {
            return Ok(store.clone());
        }
        let opened = match self.keep_connection {
            true => crate::server::open(path, &self.options, self.server)?,
            false => crate::server::open_briefly(path, &self.options, self.server)?,
        };
        if opened.served && self.keep_connection {
            *kept = Some(opened.store.clone());
        }
        if let Some(start) = opened.start_server {
            *self.start_server.lock().unwrap_or_else(|p| p.into_inner()) = Some(start);
        }
        Ok(opened.store)
    }

    /// Starts a memory server for the store if a call opened it itself (no server
    /// was running, and the policy allows one), so that the calls after it, and other
    /// processes, share the store through it. Call it once the store is released:
    /// long-lived front ends after each request; a dropped service does it too.
    pub fn start_server_if_opened_here(&self) {
        let start = self
            .start_server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(start) = start {
            start.start();
        }
    }

    /// The work queue of the store's database, on connections of its own (each worker
    /// slot opens one); an error for a store in a folder, which no worker shares.
    pub(crate) fn queue(&self) -> Result<JobQueue> {
        match &self.location {
            Location::Postgres(url) => Ok(JobQueue::open(url, self.options.clone())?),
            Location::Dir(_) => Err(Error::bad_input(format!(
                "the store {} is a folder: workers share a PostgreSQL database",
                self.location
            ))
            .hint("pass `--store postgres://…` (or set `BATON_STORE`, or `[memory] url` in pipeline.toml)")),
        }
    }

    /// The stages workers run now, of any workflow: none for a store in a folder (no
    /// worker shares one; a local run's stages show when they commit). The queue's
    /// connection is kept for the next call.
    pub fn running(&self) -> Result<Vec<RunningJob>> {
        if !matches!(self.location, Location::Postgres(_)) {
            return Ok(Vec::new());
        }
        let mut queue = self.watching.lock().unwrap_or_else(|p| p.into_inner());
        if queue.is_none() {
            *queue = Some(self.queue()?);
        }
        Ok(queue.as_ref().expect("opened above").running()?)
    }

    /// Where a worker keeps the files of the workflows it runs.
    pub(crate) fn bundle_dir(&self) -> PathBuf {
        self.cache_root.join("cache").join("bundles")
    }

    /// The namespace `given`, else the pipeline's default.
    pub fn namespace(&self, given: Option<&str>) -> Result<Namespace> {
        Ok(Namespace::new(given.unwrap_or(&self.default_namespace))?)
    }

    /// Where compiled components are cached: `$BATON_COMPONENT_CACHE` when set (a
    /// folder several projects may share: entries are keyed by the component's
    /// SHA-256 and the engine, and written whole), else beside the store (for a
    /// database, in the project's `.baton`).
    pub fn cache_dir(&self) -> PathBuf {
        match std::env::var_os("BATON_COMPONENT_CACHE") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => self.cache_root.join("cache").join("components"),
        }
    }

    /// The component runtime, started on first use, its compile cache beside the store.
    pub(crate) fn runtime(&self) -> Result<Arc<Runtime>> {
        if let Some(r) = self.runtime.get() {
            return Ok(r.clone());
        }
        let runtime = Runtime::new(ComponentCache::new(self.cache_dir()))
            .map_err(|e| Error::new(ErrorKind::Failure, e))?;
        Ok(self.runtime.get_or_init(|| Arc::new(runtime)).clone())
    }
}

/// Refuses a change from outside baton to one of baton's own namespaces (`baton.*`:
/// the event log, quarantine, agents): baton alone writes them; reading is allowed.
pub fn writable(ns: &Namespace) -> Result<()> {
    if !crate::memory::is_reserved(ns.as_str()) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "namespace `{ns}` belongs to baton: only baton writes it (reading it is allowed)"
    ))
    .hint("store documents in a namespace of your own, one that does not start with `baton.`"))
}

impl Service {
    /// Refuses a write to `key` in `ns` that this service may not make: a `baton.*`
    /// namespace (only baton writes those), or, for an agent run by baton, any key but
    /// its own stage's, whatever its brief or its inputs told it.
    pub(crate) fn may_write(&self, ns: &Namespace, key: &crate::memory::Key) -> Result<()> {
        writable(ns)?;
        let Some(stage) = &self.confined_to else {
            return Ok(());
        };
        let own = self.output_of(stage)?;
        match own {
            Some((own_ns, own_key)) if own_ns == *ns && own_key == *key => Ok(()),
            Some((own_ns, own_key)) => Err(Error::bad_input(format!(
                "an agent run by baton for stage `{stage}` writes only its own key `{own_key}` in namespace `{own_ns}`; refused `{}` in namespace `{ns}`",
                crate::text::short(key.as_str())
            ))
            .hint("hand back your output with `baton agent output` (or print it); other stages' keys are theirs")),
            None => Err(Error::bad_input(format!(
                "an agent run by baton for stage `{}` may write nothing: no such stage writes a key in this project",
                crate::text::short(stage)
            ))),
        }
    }
}

/// The manifest a call works on: `given`, else `BATON_PIPELINE` (set by `baton run`
/// for the agents it starts, wherever they work), else the nearest `pipeline.toml`
/// above `cwd`.
pub fn manifest_path(given: Option<PathBuf>, cwd: &Path) -> Result<PathBuf> {
    if let Some(path) = given.or_else(|| {
        std::env::var_os(PIPELINE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) {
        return Ok(path);
    }
    Project::discover(cwd).map(|p| p.manifest).ok_or_else(|| {
        Error::bad_input(format!(
            "no `pipeline.toml` in {cwd:?} or any folder above it"
        ))
        .hint("pass `--pipeline FILE`")
    })
}

/// The variable naming the manifest of the agent's pipeline.
pub const PIPELINE_VAR: &str = "BATON_PIPELINE";

/// Loads and checks the manifest at `path`, its problems as one error.
pub fn load_pipeline(path: &Path) -> Result<Pipeline> {
    Pipeline::load(path).map_err(|problems| does_not_check(path, problems))
}

/// Loads the manifest at `path` for a command on its stages' definitions rather than
/// a run of them (storing through the gates, `gate check`, an agent's inputs and
/// output). Reads that no stage writes and no input seeds stop only a run: they are
/// one warning here, so that a project can still store the very documents it lacks.
pub fn load_definitions(path: &Path) -> Result<Pipeline> {
    load_definitions_with(path, &[])
}

/// [`load_definitions`] with the partition keys added at run time.
fn load_definitions_with(path: &Path, dynamic: &[String]) -> Result<Pipeline> {
    let (pipeline, unresolved) = Pipeline::load_definitions_with(path, dynamic)
        .map_err(|problems| does_not_check(path, problems))?;
    if let Some(first) = unresolved.0.first() {
        tracing::debug!(
            "{}: {} read(s) that no stage writes and no input seeds, the first at {}; \
             `baton run` refuses the pipeline until each has a producer, storing does not \
             (`baton check` lists them)",
            path.display(),
            unresolved.0.len(),
            first.location(),
        );
    }
    Ok(pipeline)
}

fn does_not_check(path: &Path, problems: crate::pipeline::Problems) -> Error {
    Error::bad_input(format!("{} does not check:\n{problems}", path.display()))
        .hint("`baton check` lists the problems")
}
