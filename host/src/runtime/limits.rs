//! The limits a stage runs under: wall time, linear memory, output size, and a bound
//! on everything else a component hands the host (events, logs, findings, calls), so
//! that one run's host memory has a stated worst case (docs/DESIGN.md).

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
    /// What else a component may hand the host in one run.
    pub host: HostLimits,
}

/// Bounds on what a stage or gate component hands the host besides its output. A
/// run that passes one fails with [`FailureKind::HostLimit`](super::FailureKind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// Events a stage may emit in one run.
    pub events: usize,
    /// Bytes of one event's attributes (a JSON object).
    pub event_bytes: usize,
    /// Log lines in one run.
    pub log_lines: usize,
    /// Bytes of one log line.
    pub log_line_bytes: usize,
    /// Findings one gate may return.
    pub findings: usize,
    /// Bytes of each field of a finding.
    pub finding_bytes: usize,
    /// Memory calls (`get`, `list-keys`) in one run.
    pub host_calls: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            events: 1_000,
            event_bytes: 64 << 10,
            log_lines: 10_000,
            log_line_bytes: 16 << 10,
            findings: 1_000,
            finding_bytes: 4 << 10,
            host_calls: 100_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            output_bytes: 16 << 20,
            host: HostLimits::default(),
        }
    }
}

/// Parses a size: `64MiB`, `512KiB`, `1GiB`, `100MB` or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as `64MiB`"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB or GiB)"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("3 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
    }
}
