//! `baton worker` processes for the benches (included with `#[path]`): one slot each,
//! in a folder of their own, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Worker processes, killed when dropped.
pub struct Workers(Vec<Child>);

impl Workers {
    /// `n` workers of the binary under bench on `url`, each working in `cache`.
    pub fn start(n: usize, url: &str, cache: &Path) -> Self {
        Self(
            (0..n)
                .map(|_| {
                    Command::new(env!("CARGO_BIN_EXE_baton"))
                        .args(["--store", url, "worker", "-j", "1"])
                        .current_dir(cache)
                        .env("TMPDIR", cache)
                        .env("BATON_SERVER", "never")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("baton worker starts")
                })
                .collect(),
        )
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
