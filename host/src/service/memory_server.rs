//! The memory server of a store in a folder, for the commands that manage it by hand
//! (`baton memory server start|stop|status|run`) and the long-lived front ends that
//! start one: making sure one serves, stopping it, asking how it is, and serving in
//! the foreground. Commands start a server by themselves ([`crate::server`]).

use std::time::{Duration, Instant};

use super::{Error, ErrorKind, Result, Service};
use crate::server::{Outcome, ServeOptions, ServerStatus};

impl Service {
    /// Makes sure a memory server serves the store (a folder), starting one that stops
    /// after `idle` without connections; returns its status and whether it was
    /// already running. Long-lived front ends start one, so that `baton run` and the
    /// others share the store with them instead of waiting for its lock.
    pub fn serve_store(&self, idle: Duration) -> Result<(ServerStatus, bool)> {
        let path = self.store_path()?;
        if let Some(remote) = crate::server::connect(path)? {
            return Ok((remote.status()?, true));
        }
        crate::server::spawn(path, idle).map_err(|e| {
            Error::new(
                ErrorKind::Store,
                anyhow::anyhow!("cannot start a memory server: {e}"),
            )
        })?;
        let started = std::time::Instant::now();
        loop {
            if let Some(remote) = crate::server::connect(path)? {
                return Ok((remote.status()?, false));
            }
            if started.elapsed() >= self.options.lock_timeout {
                let log = path.join(crate::server::LOG_FILE);
                return Err(Error::new(
                    ErrorKind::Store,
                    anyhow::anyhow!(
                        "the memory server for {path:?} did not answer within {}",
                        humantime::format_duration(self.options.lock_timeout)
                    ),
                )
                .hint(format!("its log is {}", log.display())));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the store's memory server once the requests in flight are answered, and
    /// waits until it has released the store; returns its last status, or `None` when
    /// none was running.
    pub fn stop_server(&self) -> Result<Option<ServerStatus>> {
        let path = self.store_path()?;
        let Some(remote) = crate::server::connect(path)? else {
            return Ok(None);
        };
        let status = remote.status()?;
        remote.stop()?;
        drop(remote);
        // Stopped when its socket is gone: it removes it after releasing the store.
        let socket = crate::server::socket_path(path);
        let started = Instant::now();
        while socket.exists() && started.elapsed() < self.options.lock_timeout {
            std::thread::sleep(Duration::from_millis(5));
        }
        if socket.exists() {
            return Err(Error::new(
                ErrorKind::Store,
                anyhow::anyhow!(
                    "the memory server (pid {}) did not stop within {}",
                    status.pid,
                    humantime::format_duration(self.options.lock_timeout)
                ),
            ));
        }
        Ok(Some(status))
    }

    /// The status of the store's memory server, or `None` when none is running.
    pub fn server_status(&self) -> Result<Option<ServerStatus>> {
        match crate::server::connect(self.store_path()?)? {
            Some(remote) => Ok(Some(remote.status()?)),
            None => Ok(None),
        }
    }

    /// Serves the store in the foreground until idle for `idle`, stopped or
    /// interrupted; a store another process holds for longer than the lock timeout
    /// is an error.
    pub fn serve_foreground(&self, idle: Duration) -> Result<String> {
        let path = self.store_path()?;
        match crate::server::serve(path, self.options.clone(), ServeOptions { idle })? {
            Outcome::Stopped(reason) => Ok(reason),
            Outcome::Busy => Err(Error::new(
                ErrorKind::Store,
                anyhow::anyhow!(
                    "another process held {path:?} for {}; not serving",
                    humantime::format_duration(self.options.lock_timeout)
                ),
            )
            .hint("`baton memory server status` shows a server already running")),
        }
    }
}
