//! `baton run`'s progress on a pseudo-terminal (`tests/support/pty_run.py`): live, a
//! running stage's line with its elapsed time and the run's line saying what waits on
//! what; with `NO_COLOR`, or off a terminal, plain lines with no terminal control. The
//! run's events keep when each thing happened.

use std::process::Command;

use crate::harness::{Project, baton_bin, repo_root};
use crate::workers::slow_project as slow_then_after;

/// `baton run` in `p` on a pseudo-terminal, with `env`: its exit code and all it
/// wrote to the terminal.
fn on_a_terminal(p: &Project, env: &[(&str, &str)]) -> (Option<i32>, String) {
    on_a_terminal_with(p, &[], env)
}

/// [`on_a_terminal`] with `args` after `run`.
fn on_a_terminal_with(p: &Project, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/support/pty_run.py"))
        .arg(baton_bin())
        .arg("run")
        .args(args)
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_run_on_a_terminal_shows_what_runs_for_how_long_and_what_waits_on_what() {
    let p = slow_then_after();
    let (code, screen) = on_a_terminal(&p, &[]);
    assert_eq!(code, Some(0), "{screen}");
    // Drawn live: the lines are redrawn in place.
    assert!(
        screen.contains("\x1b["),
        "no terminal control in: {screen:?}"
    );
    // The slow stage's line, with its elapsed time once a second passed.
    assert!(
        screen.contains("running   1s  slow"),
        "no running line with its elapsed time: {screen:?}"
    );
    // The run's line: one running, the other waiting on it.
    assert!(
        screen.contains("0/2 ended · 1 running · 1 waiting: after (on slow)"),
        "no run line: {screen:?}"
    );
    // Each ended stage leaves its line; the summary table follows.
    assert!(screen.contains("[1/2] passed    slow"), "{screen:?}");
    assert!(screen.contains("[2/2] passed    after"), "{screen:?}");
    assert!(screen.contains("STAGE"), "{screen:?}");
    // The run's events keep when each thing happened, not when they were committed
    // together: `slow` started about two seconds before it completed.
    let events = p.run(&["events", "--json"]).json();
    let at = |name: &str| {
        let event = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {events}"));
        humantime::parse_rfc3339(event["at"].as_str().unwrap()).unwrap()
    };
    let took = at("agent.slow.completed")
        .duration_since(at("agent.slow.started"))
        .unwrap();
    assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
}

#[test]
fn with_no_color_a_terminal_gets_plain_lines() {
    let p = slow_then_after();
    let (code, screen) = on_a_terminal(&p, &[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(!screen.contains('\x1b'), "terminal control in: {screen:?}");
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    for expected in [
        "  running   slow",
        "  [1/2] passed    slow",
        "  running   after",
        "  [2/2] passed    after",
    ] {
        assert!(lines.contains(&expected), "no {expected:?} in {lines:?}");
    }
    // Off a terminal: the ended stages' lines only.
    let out = p.run(&["run", "--force"]);
    let stderr = String::from_utf8_lossy(&out.0.stderr).into_owned();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(!stderr.contains("running"), "{stderr:?}");
    assert!(stderr.contains("[2/2] passed    after"), "{stderr:?}");
}

#[test]
fn an_agent_sent_back_shows_its_attempt_and_cost_so_far() {
    // The scripted agent leaves out `summary` until the findings name it: two attempts,
    // each reporting $0.0125 as Claude Code's JSON does.
    let p = crate::agents::project("fix", "");
    let (code, screen) = on_a_terminal(&p, &[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{screen}");
    assert_sent_back_once(&screen);
}

#[test]
fn a_distributed_run_shows_its_stages_as_the_workers_run_them() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_then_after();
    let _worker = crate::workers::Worker::start(&url, &["-j", "1"]);
    let (code, screen) = on_a_terminal_with(&p, &["--distributed"], &[("BATON_STORE", &url)]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("\x1b["), "drawn live: {screen:?}");
    assert!(
        screen.contains("running") && screen.contains("slow"),
        "no running line: {screen:?}"
    );
    assert!(screen.contains("[1/2] passed    slow"), "{screen:?}");
    assert!(screen.contains("[2/2] passed    after"), "{screen:?}");
}

#[test]
fn a_distributed_run_shows_the_attempt_an_agent_is_on_at_its_worker() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let agent = repo_root().join("examples/agents/scripted_agent.py");
    // Sent back once, the agent then works until released.
    let p = crate::agents::project(
        "fixwait",
        &format!(
            "command = [\"python3\", \"{}\", \"fixwait\", \"{}\"]",
            agent.display(),
            release.display()
        ),
    );
    let _worker = crate::workers::Worker::start(&url, &["-j", "1", "--agents"]);
    let run = Command::new("python3")
        .arg(repo_root().join("tests/support/pty_run.py"))
        .arg(baton_bin())
        .args(["run", "--distributed"])
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .env("BATON_STORE", &url)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::harness::await_file(
        &release.with_extension("started"),
        "the second attempt's start",
    );
    // The worker notes the attempt on its job and wakes the submitter, which polls
    // at least once a second: two seconds is ample.
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::fs::write(&release, "").unwrap();
    let out = run.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert_sent_back_once(&screen);
}

/// The plain lines of a run whose agent was sent back once: its second attempt with
/// what the attempts cost so far ($0.0125 each, as the scripted agent reports), then
/// the stage passed.
fn assert_sent_back_once(screen: &str) {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    assert!(
        lines.contains(&"  attempt 2 performance-notes · $0.0125"),
        "no second attempt's line in {lines:?}"
    );
    assert!(
        lines.contains(&"  [1/1] passed    performance-notes"),
        "{lines:?}"
    );
}
