//! The errors a stage returns, each naming what failed.

use std::fmt;

use crate::bindings::baton::stage::types as wit;

/// Why a stage could not produce its output.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// An input is missing or malformed.
    InvalidInput {
        /// The input's namespace.
        namespace: String,
        /// The input's key.
        key: String,
        /// The JSON pointer of the offending field (empty: the whole document).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The memory refused a read (outside the declared reads) or failed.
    AccessDenied(String),
    /// The memory failed on the host's side, or a name was malformed.
    Memory(String),
    /// Anything else.
    Failed(String),
}

impl Error {
    /// A failure in the stage's own words.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    pub(crate) fn into_wit(self) -> wit::StageError {
        match self {
            Error::InvalidInput {
                namespace,
                key,
                pointer,
                message,
            } => wit::StageError::InvalidInput(wit::InputError {
                namespace,
                key,
                pointer,
                message,
            }),
            Error::AccessDenied(m) => wit::StageError::Memory(wit::MemoryError::AccessDenied(m)),
            Error::Memory(m) => wit::StageError::Memory(wit::MemoryError::Unavailable(m)),
            Error::Failed(m) => wit::StageError::Failed(m),
        }
    }

    pub(crate) fn from_memory(e: wit::MemoryError) -> Self {
        match e {
            wit::MemoryError::AccessDenied(m) => Error::AccessDenied(m),
            wit::MemoryError::InvalidName(m) | wit::MemoryError::Unavailable(m) => Error::Memory(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput {
                namespace,
                key,
                pointer,
                message,
            } => {
                write!(f, "input `{key}` in namespace `{namespace}`")?;
                if !pointer.is_empty() {
                    write!(f, " at {pointer}")?;
                }
                write!(f, ": {message}")
            }
            Error::AccessDenied(m) => write!(f, "access denied: {m}"),
            Error::Memory(m) => write!(f, "memory: {m}"),
            Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
