//! How a failed command reports itself: one line of error chain, hints, an exit code.

use std::process::ExitCode;

use crate::memory::MemoryError;

/// The exit codes of `baton`, one per kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Something else failed.
    Failure = 1,
    /// The input was wrong: a bad argument, key, namespace, JSON document or file.
    BadInput = 2,
    /// The key (or revision, or pointer) was not found.
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

/// A failure on its way to the user.
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    error: anyhow::Error,
    hints: Vec<String>,
}

impl CliError {
    /// A failure of kind `exit`.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
            hints: Vec::new(),
        }
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

    /// The error in one line, its causes included.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }

    /// The exit code this failure maps to.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Prints the failure to stderr and returns its exit code. A broken pipe on
    /// stdout is not a failure: the reader has what it wanted.
    pub fn report(self) -> ExitCode {
        let broken_pipe = self.error.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if broken_pipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("baton: error: {:#}", self.error);
        for hint in &self.hints {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.exit as u8)
    }
}

impl From<MemoryError> for CliError {
    fn from(e: MemoryError) -> Self {
        let exit = match &e {
            MemoryError::InvalidNamespace { .. }
            | MemoryError::InvalidKey { .. }
            | MemoryError::InvalidImport { .. } => Exit::BadInput,
            MemoryError::NotFound { .. } => Exit::NotFound,
            MemoryError::Conflict { .. } | MemoryError::ImportConflict { .. } => Exit::Conflict,
            MemoryError::Locked { .. }
            | MemoryError::Backend { .. }
            | MemoryError::Corrupt { .. } => Exit::Store,
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
        let mut err = CliError::new(exit, e);
        if let Some(h) = hint {
            err = err.hint(h);
        }
        err
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(Exit::Failure, e)
    }
}
