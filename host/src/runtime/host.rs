//! The host side of a stage's imports: memory reads checked against its grants,
//! events, and logging; and the sandbox (an empty WASI context) it runs in.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::baton::stage::{events, log, memory, types};
use super::limits::{HostLimits, Limiter, Limits};
use super::{EmittedEvent, Grants, Read};
use crate::memory::{Key, Namespace, Store};
use crate::text::short;

/// Refused reads kept for the report; the rest are only logged.
const MAX_DENIALS_KEPT: usize = 100;
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
    host_limits: HostLimits,
    log_lines: usize,
    calls: usize,
    /// The host limit the component passed, which stopped it.
    pub(crate) exceeded: Option<String>,
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
            host_limits: limits.host.clone(),
            log_lines: 0,
            calls: 0,
            exceeded: None,
        }
    }

    /// Stops the run: the component passed a host limit (`what`).
    fn stop(&mut self, what: String) -> wasmtime::Error {
        tracing::warn!(stage = %self.stage, "{what}");
        let error = wasmtime::Error::msg(what.clone());
        self.exceeded = Some(what);
        error
    }

    /// Counts a memory call against the run's limit.
    fn call(&mut self) -> wasmtime::Result<()> {
        self.calls += 1;
        if self.calls > self.host_limits.host_calls {
            let limit = self.host_limits.host_calls;
            return Err(self.stop(format!("more than {limit} memory calls in one run")));
        }
        Ok(())
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
        // Kept for the report, a bounded few: the calls themselves are limited.
        if self.denials.len() < MAX_DENIALS_KEPT {
            self.denials.push(message.clone());
        }
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
        self.call()?;
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
        self.call()?;
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
        let limits = &self.host_limits;
        if self.events.len() >= limits.events {
            let limit = limits.events;
            return Err(self.stop(format!("more than {limit} events in one run")));
        }
        if !crate::memory::is_name(&name) {
            let shown = short(&name);
            return Err(self.stop(format!(
                "event name {shown:?} is not a name (letters, digits, `_` or `-`, starting with a letter)"
            )));
        }
        if attributes_json.len() > limits.event_bytes {
            let (size, limit) = (attributes_json.len(), limits.event_bytes);
            return Err(self.stop(format!(
                "event `{name}` has {size} bytes of attributes; the limit is {limit}"
            )));
        }
        let attributes = match serde_json::from_str::<serde_json::Value>(&attributes_json) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            parsed => {
                let why = match parsed {
                    Err(e) => e.to_string(),
                    Ok(_) => "JSON, but not an object".into(),
                };
                return Err(self.stop(format!(
                    "the attributes of event `{name}` are not a JSON object ({why}): {:?}",
                    short(&attributes_json)
                )));
            }
        };
        let name = format!("agent.{}.{name}", self.agent_name);
        tracing::info!(stage = %self.stage, event = %name, "stage event");
        self.events.push(EmittedEvent { name, attributes });
        Ok(())
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > self.host_limits.log_lines {
            let limit = self.host_limits.log_lines;
            return Err(self.stop(format!("more than {limit} log lines in one run")));
        }
        if message.len() > self.host_limits.log_line_bytes {
            let (size, limit) = (message.len(), self.host_limits.log_line_bytes);
            return Err(self.stop(format!("a log line of {size} bytes; the limit is {limit}")));
        }
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
