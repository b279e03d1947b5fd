//! The one error every service call returns: what failed, of which kind, with hints
//! and, for a refused document, its gate report.
//!
//! The kind is the single place a failure is classified; the CLI turns it into an exit
//! code ([`ErrorKind::exit_code`]) and the MCP server into a tool error, each in one
//! function of its own.

use crate::gates::GateReport;
use crate::memory::MemoryError;

/// What kind of failure an [`Error`] is; each maps to one exit code of `baton`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum ErrorKind {
    /// Something else failed.
    Failure = 1,
    /// The input was wrong: a bad argument, key, namespace, JSON document or file.
    BadInput = 2,
    /// The key (or revision, or pointer, or stage) was not found.
    NotFound = 3,
    /// A compare-and-swap or import found another revision.
    Conflict = 4,
    /// The store failed: locked too long, I/O, corruption.
    Store = 5,
    /// A stage failed: trapped, timed out, out of memory, refused, or its own error.
    StageFailed = 6,
    /// A document failed an error-severity quality gate.
    GateFailed = 7,
}

impl ErrorKind {
    /// The process exit code of `baton` for this kind of failure.
    pub fn exit_code(self) -> u8 {
        self as u8
    }

    /// A short, stable name for scripts and tool errors, such as `gate-failed`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Failure => "failure",
            ErrorKind::BadInput => "bad-input",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Store => "store",
            ErrorKind::StageFailed => "stage-failed",
            ErrorKind::GateFailed => "gate-failed",
        }
    }
}

/// A failed service call.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    error: anyhow::Error,
    hints: Vec<String>,
    report: Option<Box<GateReport>>,
}

/// The result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind,
            error: error.into(),
            hints: Vec::new(),
            report: None,
        }
    }

    /// A bad-input failure with `message`.
    pub fn bad_input(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::BadInput, anyhow::anyhow!("{message}"))
    }

    /// A not-found failure with `message`.
    pub fn not_found(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, anyhow::anyhow!("{message}"))
    }

    /// Adds a `hint:` line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Prefixes the error with `context`.
    pub fn context(mut self, context: impl std::fmt::Display + Send + Sync + 'static) -> Self {
        self.error = self.error.context(context);
        self
    }

    /// Attaches the gate report that explains a refusal.
    pub fn with_report(mut self, report: GateReport) -> Self {
        self.report = Some(Box::new(report));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The error in one line, its causes included.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }

    /// The hints, in order.
    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    /// The gate report of a refused document.
    pub fn report(&self) -> Option<&GateReport> {
        self.report.as_deref()
    }

    /// The underlying error, for walking its causes.
    pub fn source_error(&self) -> &anyhow::Error {
        &self.error
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<MemoryError> for Error {
    fn from(e: MemoryError) -> Self {
        let kind = match &e {
            MemoryError::InvalidNamespace { .. }
            | MemoryError::InvalidKey { .. }
            | MemoryError::InvalidQuery { .. }
            | MemoryError::InvalidImport { .. }
            | MemoryError::AppendOnly { .. } => ErrorKind::BadInput,
            MemoryError::NotFound { .. } => ErrorKind::NotFound,
            MemoryError::Conflict { .. }
            | MemoryError::ImportConflict { .. }
            | MemoryError::LeaseLost { .. } => ErrorKind::Conflict,
            MemoryError::Locked { .. }
            | MemoryError::Backend { .. }
            | MemoryError::Database { .. }
            | MemoryError::Corrupt { .. } => ErrorKind::Store,
        };
        let hint = match &e {
            MemoryError::Locked { .. } => {
                Some("raise `--lock-timeout` or `BATON_LOCK_TIMEOUT` if the other process is slow")
            }
            MemoryError::Conflict { .. } => {
                Some("retrieve the key again and retry with its current `--if-revision`")
            }
            _ => None,
        };
        let mut err = Error::new(kind, e);
        if let Some(h) = hint {
            err = err.hint(h);
        }
        err
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Failure, e)
    }
}
