//! How a failed command reports itself: the gate report that refused a document (if
//! any), one line of error chain, hints, and the exit code of the error's kind.

use std::process::ExitCode;

use crate::service::Error;

/// A failure on its way to the user: the service's error.
pub type CliError = Error;
/// The exit codes of `baton`, one per kind of failure.
pub use crate::service::ErrorKind as Exit;

/// Prints the failure to stderr and returns its exit code. A broken pipe on stdout is
/// not a failure: the reader has what it wanted.
pub fn report(error: Error) -> ExitCode {
    let broken_pipe = error.source_error().chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    if let Some(report) = error.report() {
        eprintln!("{report}");
    }
    eprintln!("baton: error: {error}");
    for hint in error.hints() {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(error.kind().exit_code())
}
