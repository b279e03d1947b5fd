//! Build commands: the shell commands in `pipeline.toml` that produce a stage's or a
//! gate's component. Each distinct command runs at most once per process (stages
//! sharing a guest workspace share one `cargo build`), and a failure names what it
//! was building and shows the tail of the command's output. A build that is still
//! running after a second says so on stderr (the first build on a fresh machine takes
//! minutes); a build with nothing to do stays silent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A build command and the folder it runs in (the manifest's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    /// The shell command.
    pub command: String,
    /// Where it runs.
    pub dir: PathBuf,
}

type Outcomes = Mutex<HashMap<(String, PathBuf), Arc<OnceLock<Result<(), String>>>>>;

impl Build {
    /// Runs the command unless it already ran in this process; `what` names what it
    /// builds (`stage `x``, `gate `y``) for the error.
    pub fn ensure(&self, what: &str) -> anyhow::Result<()> {
        static DONE: OnceLock<Outcomes> = OnceLock::new();
        let slot = DONE
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .entry((self.command.clone(), self.dir.clone()))
            .or_default()
            .clone();
        // Concurrent callers of one command wait for the first to finish it.
        slot.get_or_init(|| run(&self.command, &self.dir, what))
            .clone()
            .map_err(|e| anyhow::anyhow!("the build command of {what} failed: {e}"))
    }
}

/// How long a build runs before baton says it is building.
const QUIET_FOR: std::time::Duration = std::time::Duration::from_secs(1);

fn run(command: &str, dir: &Path, what: &str) -> Result<(), String> {
    tracing::info!(command, "building");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let notice = (done.clone(), format!("baton: building {what}: {command}"));
    std::thread::spawn(move || {
        std::thread::sleep(QUIET_FOR);
        if !notice.0.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("{}", notice.1);
        }
    });
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run `{command}`: {e}"));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let out = out?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(format!("({}) {command}\n{tail}", out.status))
}
