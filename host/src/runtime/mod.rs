//! The stage runtime: WebAssembly components under a host that grants and limits.
//!
//! One wasmtime [`Engine`] (component model, epoch interruption) serves every stage.
//! [`Runtime::load`] turns a `.wasm` file into a [`Plugin`], through the on-disk
//! [`ComponentCache`], with its `InstancePre` built once. [`Runtime::run`] gives each
//! run a fresh `Store` with its [`Limits`] (an epoch deadline for time, a resource
//! limiter for memory, a cap on output), an empty WASI context, and a memory that
//! answers only the stage's declared reads ([`Grants`]). There is no write import: a
//! stage's only way to produce data is the document it returns. Every failure comes
//! back as a [`StageFailure`] naming the stage and its [`FailureKind`].
//!
//! Instances come from wasmtime's pooling allocator: a warm run then reuses a
//! linear-memory slot instead of mapping, faulting in and unmapping a fresh one,
//! which was most of a warm run's cost (see docs/BENCHMARKS.md). Where Linux can say
//! which pages a run dirtied (`PAGEMAP_SCAN`), those stay resident and are copied back
//! from the component's memory image, so the next run does not fault them in again.
//! Slots are sized for the largest wasm32 memory, so any per-stage memory limit is
//! enforced by the store's limiter as before. Where the pool cannot be reserved (a tight address-space
//! limit), the engine falls back to on-demand allocation.

mod cache;
mod failure;
mod gate;
mod grants;
mod host;
mod limits;
mod render;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use std::fmt::Display;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store, Trap};

pub use cache::{ComponentCache, LoadOutcome};
pub use failure::{FailureKind, StageFailure};
pub use gate::{GateInput, GatePlugin};
pub use grants::{Grant, Grants};
pub use limits::{HostLimits, Limits, parse_size};
pub use render::RendererPlugin;

use crate::memory::Store as MemoryStore;
use host::HostState;

#[allow(missing_docs)]
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "stage",
        imports: { default: trappable },
    });
}

#[allow(missing_docs)]
pub(crate) mod gate_bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "gate",
        imports: { default: trappable },
        with: {
            "baton:stage/types": super::bindings::baton::stage::types,
            "baton:stage/log": super::bindings::baton::stage::log,
        },
    });
}

#[allow(missing_docs)]
pub(crate) mod render_bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
        imports: { default: trappable },
        with: {
            "baton:stage/types": super::bindings::baton::stage::types,
            "baton:stage/log": super::bindings::baton::stage::log,
        },
    });
}

use bindings::baton::stage::types;

/// Context for wasmtime's own error type, as `anyhow::Context` gives for others.
pub(crate) trait WasmContext<T> {
    /// Prefixes the error with `message`.
    fn wasm_context(self, message: impl Display) -> anyhow::Result<T>;
}

impl<T> WasmContext<T> for wasmtime::Result<T> {
    fn wasm_context(self, message: impl Display) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{message}: {e:#}"))
    }
}

/// Bytes of each memory and table kept resident (zeroed with `memset`, not returned
/// to the kernel) between runs, where the kernel cannot say which pages a run
/// dirtied. Measured: 0 and 1 MiB both cost about a fifth more per warm run than
/// 64–256 KiB (page faults on one side, zeroing on the other).
const KEEP_RESIDENT: usize = 128 << 10;

/// Bytes kept resident where Linux's `PAGEMAP_SCAN` (6.7 and later) tells which pages
/// a run dirtied: only those are copied back from the component's memory image (or
/// zeroed), so a larger budget costs nothing for pages a run does not touch, and the
/// next run of the same component does not fault them in again. Measured: a minimal
/// JavaScript stage's warm run takes half the time it takes with [`KEEP_RESIDENT`]
/// (docs/BENCHMARKS.md). The cost is memory: each slot a stage used keeps up to this
/// much of what it dirtied (reset to the image, so no run sees another's data).
const KEEP_RESIDENT_SCANNED: usize = 16 << 20;

/// Component instances alive at once (stages and gates of a run in parallel).
const POOL_INSTANCES: u32 = 64;

/// The instance pool: slots for `POOL_INSTANCES` components, each linear memory up to
/// 4 GiB (wasm32's limit; stage limits are enforced below it), with the first
/// [`KEEP_RESIDENT`] bytes of each kept resident between runs, or up to
/// [`KEEP_RESIDENT_SCANNED`] dirtied bytes where the kernel can scan for them.
fn pool() -> wasmtime::PoolingAllocationConfig {
    let scanned = wasmtime::PoolingAllocationConfig::is_pagemap_scan_available();
    let keep = if scanned {
        KEEP_RESIDENT_SCANNED
    } else {
        KEEP_RESIDENT
    };
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 8)
        .max_memory_size(1 << 32)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep)
        // Stacks are for async fibers, which baton never runs (its WASI is sync).
        // wasmtime-wasi turns wasmtime's `async` feature on, and the default pool
        // would then reserve 1,000 of them, `mprotect`ing a guard page for each when
        // the engine is created: most of `Runtime::new` (docs/BENCHMARKS.md).
        .total_stacks(0);
    pool
}

/// How often the epoch advances; the resolution of wall-time limits.
const TICK: Duration = Duration::from_millis(5);

/// The engine, the linker with the host's imports, and the compile cache. Cloning
/// is cheap: clones share all three (and the epoch thread, which stops with the last).
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
    ticker_stop: Arc<AtomicBool>,
}

/// A loaded stage component, ready to instantiate.
pub struct Plugin {
    pre: bindings::StagePre<HostState>,
    /// SHA-256 of the `.wasm` file.
    pub sha256: String,
    /// Where it was loaded from.
    pub path: PathBuf,
}

/// Who a run is, what it may read, and under which limits.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The stage's name.
    pub stage: String,
    /// The agent name; events are `agent.<agent_name>.<event>`.
    pub agent_name: String,
    /// `<agent_name>-<32 hex>`.
    pub agent_id: String,
    /// `workflow-<32 hex>`.
    pub workflow_id: String,
    /// Who started the run.
    pub parent: String,
    /// The pipeline's default namespace.
    pub namespace: String,
    /// The key the output is bound for.
    pub output_key: String,
    /// The stage's configuration.
    pub config: serde_json::Value,
    /// What the stage may read.
    pub grants: Grants,
    /// Its limits.
    pub limits: Limits,
}

impl Invocation {
    /// A run of `stage` in `namespace` with fresh ids, no reads and default limits.
    pub fn new(stage: &str, namespace: &str) -> Self {
        let agent_name = agent_name(stage);
        Self {
            stage: stage.into(),
            agent_id: format!("{agent_name}-{}", uuid::Uuid::new_v4().simple()),
            agent_name,
            workflow_id: format!("workflow-{}", uuid::Uuid::new_v4().simple()),
            parent: "baton".into(),
            namespace: namespace.into(),
            output_key: String::new(),
            config: serde_json::json!({}),
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }
}

/// The agent name for a stage name: `performance-architect` → `performanceArchitect`.
pub fn agent_name(stage: &str) -> String {
    let mut out = String::with_capacity(stage.len());
    let mut upper = false;
    for c in stage.chars() {
        if c == '-' || c == '_' || c == ' ' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A milestone a stage emitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmittedEvent {
    /// `agent.<agent-name>.<event>`.
    pub name: String,
    /// Its attributes (a JSON object).
    pub attributes: serde_json::Value,
}

/// A read the stage made: the provenance of its output.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Read {
    /// The namespace.
    pub namespace: String,
    /// The key.
    pub key: String,
    /// The revision read, `None` if the key was absent.
    pub revision: Option<u64>,
}

/// What a successful run produced.
#[derive(Clone, Debug, Serialize)]
pub struct StageOutput {
    /// The output document.
    pub output: serde_json::Value,
    /// The stage's milestones, in order.
    pub events: Vec<EmittedEvent>,
    /// Every read, in order.
    pub reads: Vec<Read>,
    /// Reads refused (the stage went on without them).
    pub denials: Vec<String>,
    /// How long the run took.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

impl Runtime {
    /// An engine with the host's imports, caching compiled components in `cache`.
    pub fn new(cache: ComponentCache) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let mut pooled = config.clone();
        pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool()));
        let engine = match Engine::new(&pooled) {
            Ok(engine) => engine,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reserve the instance pool; allocating on demand");
                Engine::new(&config).wasm_context("failed to create the wasm engine")?
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).wasm_context("failed to link WASI")?;
        bindings::Stage::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .wasm_context("failed to link the stage imports")?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new()
            .name("baton-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })
            .context("failed to start the epoch thread")?;
        Ok(Self {
            inner: Arc::new(Shared {
                engine,
                linker,
                cache,
                ticker_stop,
            }),
        })
    }

    /// The compile cache.
    pub fn cache(&self) -> &ComponentCache {
        &self.inner.cache
    }

    /// Loads the component at `path` through the compile cache and pre-instantiates
    /// it against the host's imports as world `world` (`make` builds that world's
    /// typed pre-instance): the one loader of stages, gates and renderers. Returns
    /// the pre-instance, the component's SHA-256 and where it came from.
    fn load_as<T>(
        &self,
        path: &Path,
        world: &str,
        make: impl FnOnce(wasmtime::component::InstancePre<HostState>) -> wasmtime::Result<T>,
    ) -> anyhow::Result<(T, String, LoadOutcome)> {
        let (component, sha256, outcome) = self
            .inner
            .cache
            .load(&self.inner.engine, path)
            .with_context(|| format!("failed to load {path:?}"))?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .and_then(make)
            .wasm_context(format!(
                "{path:?} is not a baton {world} (world `baton:stage/{world}`)"
            ))?;
        Ok((pre, sha256, outcome))
    }

    /// A fresh store for one run under `limits`, its epoch deadline set.
    fn store(&self, state: HostState, limits: &Limits) -> Store<HostState> {
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(limits.timeout.as_millis().div_ceil(TICK.as_millis()) as u64 + 1);
        store.epoch_deadline_trap();
        store
    }

    /// Loads the component at `path`: from the cache when a sound entry exists.
    pub fn load(&self, path: &Path) -> anyhow::Result<(Plugin, LoadOutcome)> {
        let (pre, sha256, outcome) = self.load_as(path, "stage", bindings::StagePre::new)?;
        Ok((
            Plugin {
                pre,
                sha256,
                path: path.to_path_buf(),
            },
            outcome,
        ))
    }

    /// Instantiates `plugin` in a fresh store under default limits and drops it:
    /// what every run pays before the stage's own code starts (for benchmarks).
    pub fn instantiate(&self, plugin: &Plugin) -> anyhow::Result<()> {
        let limits = Limits::default();
        let state = HostState::new(
            "instantiate",
            "instantiate",
            Grants::default(),
            &limits,
            None,
        );
        let mut store = self.store(state, &limits);
        plugin
            .pre
            .instantiate(&mut store)
            .wasm_context(format!("failed to instantiate {:?}", plugin.path))?;
        Ok(())
    }

    /// Runs `plugin` once as `invocation`, reading from `memory`.
    #[allow(clippy::result_large_err)] // StageFailure is the cold path; see its docs.
    pub fn run(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        memory: Arc<dyn MemoryStore>,
    ) -> Result<StageOutput, StageFailure> {
        let fail = |kind| StageFailure {
            stage: invocation.stage.clone(),
            gate: None,
            kind,
        };
        let limits = &invocation.limits;
        let state = HostState::new(
            &invocation.stage,
            &invocation.agent_name,
            invocation.grants.clone(),
            limits,
            Some(memory),
        );
        let mut store = self.store(state, limits);
        let started = Instant::now();
        let ctx = types::Context {
            stage: invocation.stage.clone(),
            agent_name: invocation.agent_name.clone(),
            agent_id: invocation.agent_id.clone(),
            workflow_id: invocation.workflow_id.clone(),
            parent: invocation.parent.clone(),
            namespace: invocation.namespace.clone(),
            output_key: invocation.output_key.clone(),
            config: invocation.config.to_string(),
        };
        let result = plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(FailureKind::Load(format!("{e:#}"))))?
            .call_run(&mut store, &ctx);
        let duration = started.elapsed();
        let state = store.into_data();
        let text = match result {
            Err(trap) => return Err(fail(classify_trap(trap, &state, limits))),
            Ok(Err(error)) => return Err(fail(classify_stage_error(error, &state))),
            Ok(Ok(text)) => text,
        };
        if text.len() > limits.output_bytes {
            return Err(fail(FailureKind::OutputTooLarge {
                size: text.len(),
                limit: limits.output_bytes,
            }));
        }
        let output = serde_json::from_str(&text)
            .map_err(|e| fail(FailureKind::OutputNotJson(e.to_string())))?;
        tracing::debug!(stage = %invocation.stage, ms = duration.as_secs_f64() * 1e3, "stage ran");
        Ok(StageOutput {
            output,
            events: state.events,
            reads: state.reads,
            denials: state.denials,
            duration,
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn classify_trap(
    error: wasmtime::Error,
    state: &HostState,
    limits: &Limits,
) -> FailureKind {
    if let Some(exceeded) = &state.exceeded {
        return FailureKind::HostLimit(exceeded.clone());
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return FailureKind::TimedOut(limits.timeout);
    }
    if state.limiter.memory_refused {
        return FailureKind::OutOfMemory(limits.memory_bytes);
    }
    // A read the host refused, then a trap: the refusal is the cause (a JavaScript
    // stage's uncaught memory error traps, with no stderr to say why).
    if let Some(denied) = state.denials.first() {
        return FailureKind::CapabilityDenied(denied.clone());
    }
    let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
    // An uncaught exception of a Python stage: componentize-py prints the traceback,
    // then its runtime panics. The traceback is what the author needs.
    if let Some(at) = stderr.rfind("Traceback (most recent call last)") {
        let traceback: Vec<&str> = stderr[at..]
            .lines()
            .take_while(|l| !l.contains("panicked at"))
            .collect();
        return FailureKind::Panicked(format!(
            "uncaught exception\n{}",
            traceback.join("\n").trim_end()
        ));
    }
    if let Some(at) = stderr.find("panicked at") {
        let message: Vec<&str> = stderr[at..].lines().take(2).collect();
        return FailureKind::Panicked(message.join(" ").trim().to_owned());
    }
    let backtrace = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|b| b.to_string())
        .unwrap_or_default();
    let trap = error
        .downcast_ref::<Trap>()
        .map_or_else(|| format!("{error:#}"), |t| t.to_string());
    FailureKind::Trapped(format!("{trap}\n{backtrace}").trim_end().to_owned())
}

fn classify_stage_error(error: types::StageError, state: &HostState) -> FailureKind {
    match error {
        types::StageError::InvalidInput(e) => FailureKind::InvalidInput {
            namespace: e.namespace,
            key: e.key,
            pointer: e.pointer,
            message: e.message,
        },
        types::StageError::Memory(types::MemoryError::AccessDenied(m)) => {
            FailureKind::CapabilityDenied(m)
        }
        _ if !state.denials.is_empty() => FailureKind::CapabilityDenied(state.denials[0].clone()),
        types::StageError::Memory(
            types::MemoryError::InvalidName(m) | types::MemoryError::Unavailable(m),
        ) => FailureKind::StageError(format!("memory: {m}")),
        types::StageError::Failed(m) => FailureKind::StageError(m),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn agent_names_are_camel_case() {
        assert_eq!(
            super::agent_name("performance-architect"),
            "performanceArchitect"
        );
        assert_eq!(super::agent_name("load_test planner"), "loadTestPlanner");
        assert_eq!(super::agent_name("echo"), "echo");
    }
}
