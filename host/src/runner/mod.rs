//! The runner: starting the agent that does an external stage's work, as any agent
//! CLI is started (Claude Code's `claude -p --output-format json`, Codex, Gemini
//! CLI, a script), and taking back what it printed.
//!
//! The command is an argv template from `pipeline.toml` (`[runner]`), filled here and
//! spawned directly: no shell. The agent gets its brief ([`brief`]) on standard input
//! (and as `{brief}` or `{brief_file}` where the template asks), an environment of
//! `PATH`, `HOME`, `LANG`, the OpenTelemetry configuration (`OTEL_*` but its headers,
//! so that its own `baton` calls export where baton does), the variables its runner lists and baton's
//! own (`TRACEPARENT` among them), and its own process group. At its time limit, and in any case once it exits, the whole group is
//! killed: a grandchild it left behind dies with it. What it prints is bounded: past
//! the limit the rest is read and dropped, so a flood cannot grow baton's memory, and
//! the run goes on. [`returned`] reads the document out of what it printed.

pub mod brief;
mod output;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use output::{Returned, Usage, returned};

use crate::pipeline::Runner;

/// The variables every agent sees, when baton has them.
const BASE_ENV: [&str; 3] = ["PATH", "HOME", "LANG"];

/// How much of standard error is kept: its end, where the reason usually is.
const STDERR_TAIL: usize = 8 << 10;

/// One start of an agent.
pub struct Launch<'a> {
    /// The runner.
    pub runner: &'a Runner,
    /// The values of the placeholders; `None`: unknown (an argument that is only
    /// that placeholder is left out, with the flag before it).
    pub vars: HashMap<&'static str, Option<String>>,
    /// The brief, on standard input.
    pub brief: &'a str,
    /// Variables baton sets for it.
    pub env: Vec<(String, String)>,
    /// The most of standard output kept.
    pub output_limit: usize,
    /// Set by someone else to stop the agent (its stage was cancelled, or its
    /// worker lost the stage's lease): its process group is killed within a poll.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

/// How an agent's run ended.
#[derive(Debug)]
pub struct Ran {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Whether its time limit ended it.
    pub timed_out: bool,
    /// Whether [`Launch::stop`] ended it.
    pub stopped: bool,
    /// What it printed, up to the limit.
    pub stdout: Vec<u8>,
    /// Bytes it printed past the limit (read and dropped).
    pub dropped: u64,
    /// The end of what it wrote to standard error.
    pub stderr_tail: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// The argv it was started with.
    pub argv: Vec<String>,
}

/// The argv of `template` with `vars` filled in.
pub fn argv(template: &[String], vars: &HashMap<&'static str, Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in template {
        let whole = arg
            .strip_prefix('{')
            .and_then(|a| a.strip_suffix('}'))
            .filter(|name| !name.contains(['{', '}']));
        if let Some(name) = whole
            && matches!(vars.get(name), Some(None))
        {
            // An option whose value is unknown is left out whole.
            if out.len() > 1 && out.last().is_some_and(|f| f.starts_with('-')) {
                out.pop();
            }
            continue;
        }
        let mut filled = arg.clone();
        for (name, value) in vars {
            filled = filled.replace(&format!("{{{name}}}"), value.as_deref().unwrap_or(""));
        }
        out.push(filled);
    }
    out
}

/// Starts the agent and waits for it, up to its runner's time limit.
pub fn launch(launch: Launch<'_>) -> std::io::Result<Ran> {
    let argv = argv(&launch.runner.command, &launch.vars);
    let started = Instant::now();
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(&launch.runner.dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in BASE_ENV
        .iter()
        .copied()
        .chain(launch.runner.env.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(std::env::vars_os().filter(|(name, _)| {
        name.to_str()
            // Headers may hold a collector's credentials: a runner lists them in
            // its `env` to hand them on.
            .is_some_and(|n| n.starts_with("OTEL_") && !n.contains("HEADERS"))
    }));
    command.envs(launch.env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot start `{}` in {}: {e}",
                argv[0],
                launch.runner.dir.display()
            ),
        )
    })?;
    let group = child.id() as i32;
    running().push(group);
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let limit = launch.output_limit;
    let brief = launch.brief.to_owned();
    let (status, out, err) = std::thread::scope(|scope| {
        // An agent that does not read its standard input is no error.
        scope.spawn(move || {
            let _ = stdin.write_all(brief.as_bytes());
        });
        let out = scope.spawn(move || {
            let mut kept = Vec::new();
            let mut dropped = 0u64;
            let mut buf = [0u8; 64 << 10];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = limit.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                dropped += (n - room) as u64;
            }
            (kept, dropped)
        });
        let err = scope.spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 16 << 10];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let start = tail.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&tail[start..]).into_owned()
        });
        let deadline = started + launch.runner.timeout;
        let mut timed_out = false;
        let mut stopped = false;
        let stop = launch.stop;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    kill_group(group);
                    break child.wait();
                }
                Ok(None) if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) => {
                    stopped = true;
                    kill_group(group);
                    break child.wait();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => break Err(e),
            }
        };
        // Whatever it left running in its group dies with it, and the pipes close.
        kill_group(group);
        running().retain(|g| *g != group);
        let out = out.join().expect("the reader does not panic");
        let err = err.join().expect("the reader does not panic");
        (status.map(|s| (s, timed_out, stopped)), out, err)
    });
    let (status, timed_out, stopped) = status?;
    Ok(Ran {
        code: status.code(),
        timed_out,
        stopped,
        stdout: out.0,
        dropped: out.1,
        stderr_tail: err,
        elapsed: started.elapsed(),
        argv,
    })
}

/// The process groups of the agents running now. An agent is its own process
/// group, so a Ctrl-C at the terminal does not reach it: the front end that handles
/// the signal calls [`stop_all`].
fn running() -> std::sync::MutexGuard<'static, Vec<i32>> {
    static RUNNING: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
    RUNNING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills every agent running now, each with its process group; returns how many.
pub fn stop_all() -> usize {
    let groups = running().clone();
    for group in &groups {
        kill_group(*group);
    }
    groups.len()
}

/// Kills process group `group` (the agent and everything it started).
fn kill_group(group: i32) {
    // SAFETY: kill(2) with a negative pid signals that process group; it touches no
    // memory of ours.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Where a brief is written for a runner whose command names `{brief_file}`.
pub fn brief_file(dir: &std::path::Path, agent_id: &str) -> PathBuf {
    dir.join(format!("{agent_id}.brief.md"))
}
