//! How a stage run fails: the two channels of the plugin boundary, sorted by kind.
//!
//! Traps (time, memory, a panic, any other trap) are the host stopping the guest; a
//! returned `stage-error` is the stage's own report. Both reach the user as a
//! [`StageFailure`] that names the stage and the kind.

use std::fmt;
use std::time::Duration;

/// What went wrong in a stage run.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureKind {
    /// The component could not be read, compiled or instantiated.
    Load(String),
    /// The run passed its wall-time limit.
    TimedOut(Duration),
    /// The stage tried to grow its memory past the limit.
    OutOfMemory(usize),
    /// The stage panicked; the panic message as it printed it.
    Panicked(String),
    /// Any other trap, with the wasm backtrace.
    Trapped(String),
    /// The stage read outside its declared reads and failed on the refusal.
    CapabilityDenied(String),
    /// An input is missing or malformed.
    InvalidInput {
        /// The input's namespace.
        namespace: String,
        /// The input's key.
        key: String,
        /// The JSON pointer of the field.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The stage returned an error of its own.
    StageError(String),
    /// The output is not a JSON document.
    OutputNotJson(String),
    /// The component handed the host more than a host limit allows (events, event
    /// attributes, logs, findings, calls) or an event that is malformed; what.
    HostLimit(String),
    /// The output is larger than the limit.
    OutputTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl FailureKind {
    /// A short, stable name for scripts: `timed-out`, `out-of-memory`, ….
    pub fn code(&self) -> &'static str {
        match self {
            FailureKind::Load(_) => "load-failed",
            FailureKind::TimedOut(_) => "timed-out",
            FailureKind::OutOfMemory(_) => "out-of-memory",
            FailureKind::Panicked(_) => "panicked",
            FailureKind::Trapped(_) => "trapped",
            FailureKind::CapabilityDenied(_) => "capability-denied",
            FailureKind::InvalidInput { .. } => "invalid-input",
            FailureKind::StageError(_) => "stage-error",
            FailureKind::OutputNotJson(_) => "output-not-json",
            FailureKind::OutputTooLarge { .. } => "output-too-large",
            FailureKind::HostLimit(_) => "host-limit",
        }
    }
}

/// A failed stage run, or a failed run of one of its gate components. It is large
/// (an input error carries four strings) but only ever on the cold path: one per
/// failed run, so it is returned unboxed.
#[derive(Clone, Debug, PartialEq)]
pub struct StageFailure {
    /// The stage's name.
    pub stage: String,
    /// The gate's name, when it was a gate component that failed.
    pub gate: Option<String>,
    /// What went wrong.
    pub kind: FailureKind,
}

impl fmt::Display for StageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.gate {
            Some(gate) => format!("gate `{gate}` of stage `{}`", self.stage),
            None => format!("stage `{}`", self.stage),
        };
        match &self.kind {
            FailureKind::Load(e) => write!(f, "{stage} failed to load: {e}"),
            FailureKind::TimedOut(limit) => write!(f, "{stage} timed out after {limit:?}"),
            FailureKind::OutOfMemory(limit) => {
                write!(f, "{stage} ran out of memory (limit {} MiB)", limit >> 20)
            }
            FailureKind::Panicked(m) => write!(f, "{stage} panicked: {m}"),
            FailureKind::Trapped(m) => write!(f, "{stage} trapped: {m}"),
            FailureKind::CapabilityDenied(m) => {
                write!(f, "{stage} was refused a capability: {m}")
            }
            FailureKind::InvalidInput {
                namespace,
                key,
                pointer,
                message,
            } => {
                write!(
                    f,
                    "{stage} cannot use input `{key}` in namespace `{namespace}`"
                )?;
                if !pointer.is_empty() {
                    write!(f, " at {pointer}")?;
                }
                write!(f, ": {message}")
            }
            FailureKind::StageError(m) => write!(f, "{stage} returned an error: {m}"),
            FailureKind::OutputNotJson(e) => {
                write!(f, "{stage} returned output that is not JSON: {e}")
            }
            FailureKind::HostLimit(m) => write!(f, "{stage} passed a host limit: {m}"),
            FailureKind::OutputTooLarge { size, limit } => {
                write!(
                    f,
                    "{stage} returned {size} bytes of output; the limit is {limit}"
                )
            }
        }
    }
}

impl std::error::Error for StageFailure {}
