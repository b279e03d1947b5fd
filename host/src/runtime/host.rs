//! The host side of a stage's imports: memory reads checked against its grants,
//! events, and logging; and the sandbox (an empty WASI context) it runs in.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::baton::stage::{events, log, memory, types};
use super::limits::{Limiter, Limits};
use super::{EmittedEvent, Grants, Read};
use crate::memory::{Key, Namespace, Store};

/// Bytes of a stage's stderr kept (a panic message is printed there).
const STDERR_CAPACITY: usize = 64 << 10;

/// Everything one stage run's `Store` holds.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// The memory; `None` for a gate, which imports none.
    memory: Option<Arc<dyn Store>>,
    grants: Grants,
    stage: String,
    agent_name: String,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) events: Vec<EmittedEvent>,
    pub(crate) reads: Vec<Read>,
    pub(crate) denials: Vec<String>,
}

impl HostState {
    pub(crate) fn new(
        stage: &str,
        agent_name: &str,
        grants: Grants,
        limits: &Limits,
        memory: Option<Arc<dyn Store>>,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // No preopened directories, no environment, no arguments, no network; clocks
        // stand still at the epoch and randomness is a fixed sequence, so a stage is
        // deterministic: same inputs, same output.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5a; 32]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![0xa5; 32]))
            .insecure_random_seed(0)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            memory,
            grants,
            stage: stage.into(),
            agent_name: agent_name.into(),
            stderr,
            events: Vec::new(),
            reads: Vec::new(),
            denials: Vec::new(),
        }
    }

    /// Checks a read against the grants; a refusal is recorded and returned.
    fn check(&mut self, namespace: &str, key: &str) -> Result<(), types::MemoryError> {
        if self.grants.allows(namespace, key) {
            return Ok(());
        }
        let message = format!(
            "stage `{}` may not read key `{key}` in namespace `{namespace}`; it declares: {}",
            self.stage, self.grants
        );
        tracing::warn!(stage = %self.stage, namespace, key, "read refused");
        self.denials.push(message.clone());
        Err(types::MemoryError::AccessDenied(message))
    }
}

struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

fn names(namespace: &str, key: &str) -> Result<(Namespace, Key), types::MemoryError> {
    let ns =
        Namespace::new(namespace).map_err(|e| types::MemoryError::InvalidName(e.to_string()))?;
    let key = Key::new(key).map_err(|e| types::MemoryError::InvalidName(e.to_string()))?;
    Ok((ns, key))
}

impl memory::Host for HostState {
    fn get(
        &mut self,
        namespace: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<types::Entry>, types::MemoryError>> {
        if let Err(e) = self.check(&namespace, &key) {
            return Ok(Err(e));
        }
        let (ns, k) = match names(&namespace, &key) {
            Ok(names) => names,
            Err(e) => return Ok(Err(e)),
        };
        let Some(memory) = &self.memory else {
            return Ok(Err(types::MemoryError::Unavailable(
                "no memory here".into(),
            )));
        };
        let entry = match memory.get(&ns, &k) {
            Ok(entry) => entry,
            Err(e) => return Ok(Err(types::MemoryError::Unavailable(e.to_string()))),
        };
        self.reads.push(Read {
            namespace,
            key,
            revision: entry.as_ref().map(|e| e.meta.revision),
        });
        Ok(Ok(entry.map(|e| types::Entry {
            namespace: e.meta.namespace,
            key: e.meta.key,
            revision: e.meta.revision,
            written_at: e.meta.written_at.to_string(),
            writer: e.meta.writer.0,
            value: String::from_utf8(e.value).unwrap_or_default(),
        })))
    }

    fn list_keys(
        &mut self,
        namespace: String,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, types::MemoryError>> {
        let ns = match Namespace::new(namespace.clone()) {
            Ok(ns) => ns,
            Err(e) => return Ok(Err(types::MemoryError::InvalidName(e.to_string()))),
        };
        let Some(memory) = &self.memory else {
            return Ok(Err(types::MemoryError::Unavailable(
                "no memory here".into(),
            )));
        };
        let metas = match memory.list(Some(&ns), &prefix) {
            Ok(m) => m,
            Err(e) => return Ok(Err(types::MemoryError::Unavailable(e.to_string()))),
        };
        Ok(Ok(metas
            .into_iter()
            .map(|m| m.key)
            .filter(|k| self.grants.allows(&namespace, k))
            .collect()))
    }
}

impl events::Host for HostState {
    fn emit(&mut self, name: String, attributes_json: String) -> wasmtime::Result<()> {
        let attributes = serde_json::from_str(&attributes_json)
            .unwrap_or_else(|_| serde_json::json!({ "unparsed": attributes_json }));
        let name = format!("agent.{}.{name}", self.agent_name);
        tracing::info!(stage = %self.stage, event = %name, "stage event");
        self.events.push(EmittedEvent { name, attributes });
        Ok(())
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        let stage = &self.stage;
        match level {
            types::Level::Trace => tracing::trace!(stage, "{message}"),
            types::Level::Debug => tracing::debug!(stage, "{message}"),
            types::Level::Info => tracing::info!(stage, "{message}"),
            types::Level::Warn => tracing::warn!(stage, "{message}"),
            types::Level::Error => tracing::error!(stage, "{message}"),
        }
        Ok(())
    }
}
