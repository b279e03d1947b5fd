//! Many processes on one store at once, and a writer killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Project, baton_bin};

/// A shell command line running `baton` (as `$BATON`) in `root`, for loops of real
/// processes; `server` is the memory server policy (`never`, `auto`).
pub(crate) fn shell(root: &std::path::Path, script: &str, server: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.current_dir(root)
        .arg("-c")
        .arg(script)
        .env("BATON", baton_bin())
        .env("BATON_SERVER", server)
        .env_remove("BATON_STORE")
        .env_remove("BATON_NAMESPACE");
    cmd
}

/// Sixteen shell loops at once, each storing `w<N>/k0` … `w<N>/k99` one command at a
/// time with the memory server policy `server`; asserts that no command failed.
pub(crate) fn sixteen_workers_store_a_hundred_keys_each(p: &Project, server: &str) {
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let script = format!(
                "i=0; while [ $i -lt 100 ]; do \"$BATON\" memory store w{w}/k$i \"$i\" 2>/dev/null || {{ echo \"w{w} k$i failed\"; exit 1; }}; i=$((i+1)); done"
            );
            shell(p.root(), &script, server)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    for (w, child) in workers.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {w}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn sixteen_processes_storing_a_hundred_keys_each_all_succeed() {
    let p = Project::new();
    sixteen_workers_store_a_hundred_keys_each(&p, "never");
    let listed = p.run(&["memory", "list", "--json"]).json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1600);
    for w in 0..16 {
        for i in [0, 57, 99] {
            assert_eq!(
                p.run(&["memory", "retrieve", &format!("w{w}/k{i}")]).ok(),
                format!("{i}\n")
            );
        }
    }
}

/// A small deterministic generator, seeded from the clock and printed, for kill timings.
struct Lcg(u64);

impl Lcg {
    fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("crash test seed: {seed}");
        Self(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Asserts that the store opens cleanly and holds every key in `acknowledged`.
#[track_caller]
pub(crate) fn assert_all_present(p: &Project, acknowledged: &[String], round: u64) {
    let listing = p.run(&["memory", "list", "--json"]);
    listing.ok();
    let listed = listing.json();
    let present: std::collections::HashSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    for key in acknowledged {
        assert!(
            present.contains(key.as_str()),
            "acknowledged {key} lost after round {round}"
        );
    }
}

/// Starts `cmd` in its own process group (so a kill of the group takes the shell and
/// its `baton` at once) and collects its stdout lines until it ends.
pub(crate) fn spawn_collecting(
    cmd: Command,
) -> (std::process::Child, std::thread::JoinHandle<Vec<String>>) {
    let (child, reader, _) = spawn_collecting_told(cmd);
    (child, reader)
}

/// [`spawn_collecting`], and a channel that hears of the first line.
fn spawn_collecting_told(
    mut cmd: Command,
) -> (
    std::process::Child,
    std::thread::JoinHandle<Vec<String>>,
    std::sync::mpsc::Receiver<()>,
) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn the shell");
    let stdout = child.stdout.take().unwrap();
    let (first, told) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.is_empty() {
                let _ = first.send(());
            }
            lines.push(line);
        }
        lines
    });
    (child, reader, told)
}

#[test]
fn a_writer_killed_with_sigkill_loses_no_acknowledged_write() {
    writers_killed_with_sigkill_lose_no_acknowledged_write(&Project::new());
}

/// Six rounds of a shell loop storing keys one command at a time in `p`'s store, each
/// killed with SIGKILL at a random moment; asserts that every store acknowledged
/// before the kill is present and whole.
pub(crate) fn writers_killed_with_sigkill_lose_no_acknowledged_write(p: &Project) {
    let mut rng = Lcg::from_clock();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..6 {
        // Each acknowledged store is printed only after `baton` exited successfully.
        let script = format!(
            "i=0; while :; do \"$BATON\" memory store r{round}/k$i \"{{\\\"round\\\":{round},\\\"i\\\":$i}}\" 2>/dev/null && echo r{round}/k$i; i=$((i+1)); done"
        );
        let (mut child, reader, first) = spawn_collecting_told(shell(p.root(), &script, "never"));
        // Killed at a random moment after its first acknowledged store (on a loaded
        // machine the first store can take longer than the random wait).
        first
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("round {round}: no store acknowledged within a minute"));
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        // Kill the whole group (the shell and the `baton` it is running) at once.
        let killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        let _ = child.wait();
        let acks = reader.join().unwrap();
        assert!(!acks.is_empty(), "round {round} acknowledged nothing");
        acknowledged.extend(acks);
        assert_all_present(p, &acknowledged, round);
    }
    // Values are whole, not torn.
    for key in acknowledged.iter().step_by(7) {
        let value = p.run(&["memory", "retrieve", key, "--json"]).json();
        let (round, i) = key[1..].split_once("/k").unwrap();
        assert_eq!(value["value"]["round"].to_string(), round);
        assert_eq!(value["value"]["i"].to_string(), i);
    }
}

#[test]
fn a_partial_snapshot_left_by_a_killed_process_does_not_break_the_store() {
    // sled 0.34 writes snapshots to `snap.<lsn>.generating` and renames them; a kill
    // in between leaves a partial file that sled alone would refuse as corrupt.
    let p = Project::new();
    p.run(&["memory", "store", "k", "kept"]).ok();
    std::fs::write(
        p.store().join("snap.FFFFFFFFFFFFFFFF.generating"),
        b"partial",
    )
    .unwrap();
    assert_eq!(p.run(&["memory", "retrieve", "k"]).ok().trim(), "kept");
    assert!(!p.store().join("snap.FFFFFFFFFFFFFFFF.generating").exists());
}
