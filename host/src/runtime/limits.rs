//! The limits a stage runs under: wall time, linear memory, output size.

use std::time::Duration;

/// Limits for one stage run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole run, enforced by an epoch deadline.
    pub timeout: Duration,
    /// Bytes of linear memory the stage may grow to.
    pub memory_bytes: usize,
    /// Bytes of output document accepted.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            output_bytes: 16 << 20,
        }
    }
}

/// A `ResourceLimiter` that remembers when it refused memory, so that the trap that
/// follows (an allocation failure aborts the guest) is reported as out of memory.
pub(crate) struct Limiter {
    inner: wasmtime::StoreLimits,
    pub(crate) memory_refused: bool,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        let inner = wasmtime::StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(16)
            .build();
        Self {
            inner,
            memory_refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
}
