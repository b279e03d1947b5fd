//! Waiting for a store that another process holds: one bounded retry loop with
//! jittered backoff, used by every path that opens a store (baton's lock, sled's lock,
//! a command looking for the memory server, a server taking the store).

use std::path::Path;
use std::time::{Duration, Instant};

use super::{MemoryError, Result};

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// Calls `attempt` until it returns `Some`, pausing between tries (1 ms, doubling up to
/// 20 ms, plus jitter so that waiting processes do not retry in step). Once `timeout`
/// has passed since `started`, gives up with [`MemoryError::Locked`] naming `path`.
/// An error from `attempt` ends the wait at once.
pub(crate) fn until<T>(
    path: &Path,
    started: Instant,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
        if started.elapsed() >= timeout {
            return Err(MemoryError::Locked {
                path: path.to_path_buf(),
                waited: started.elapsed(),
            });
        }
        tracing::debug!(path = %path.display(), "store is held by another process; waiting");
        std::thread::sleep(pause + jitter(pause));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let mixed = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) as u64;
    Duration::from_nanos(mixed % (base.as_nanos() as u64 + 1))
}
