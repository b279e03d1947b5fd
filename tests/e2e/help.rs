//! Every command's `--help`, pinned by snapshots (`tests/golden/help`, `BATON_BLESS=1`
//! rewrites them), so a change to what a command says about itself is seen in review;
//! and the rules the help must keep: each default said once, store options shown only
//! on the commands they act on, and the same option named the same way everywhere.

use std::path::PathBuf;

use crate::harness::{baton_cmd, repo_root};
use crate::pipeline_golden::compare;

/// Every command, as the words after `baton`.
const COMMANDS: &[&str] = &[
    "",
    "memory",
    "memory store",
    "memory retrieve",
    "memory list",
    "memory search",
    "memory delete",
    "memory history",
    "memory rollback",
    "memory namespaces",
    "memory export",
    "memory import",
    "memory stats",
    "memory server",
    "memory server start",
    "memory server stop",
    "memory server status",
    "memory server run",
    "run",
    "cancel",
    "status",
    "events",
    "approve",
    "reject",
    "held",
    "check",
    "partition",
    "partition add",
    "partition list",
    "gate",
    "gate check",
    "pipeline-schema",
    "stage",
    "stage run",
    "stage new",
    "agent",
    "agent inputs",
    "agent output",
    "agent brief",
    "import",
    "import claude-flow",
    "mcp",
    "worker",
    "ui",
];

/// `baton WORDS --help`, with no `BATON_*` variable set (their values show in it).
fn help(words: &str) -> String {
    let mut cmd = baton_cmd();
    for var in [
        "BATON_SERVER",
        "BATON_UI_TOKEN",
        "BATON_PARTITION",
        "BATON_SERVER_IDLE",
        "COLUMNS",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(words.split_whitespace())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "baton {words} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

fn golden(words: &str) -> PathBuf {
    let name = if words.is_empty() {
        "baton".to_owned()
    } else {
        words.replace(' ', "-")
    };
    repo_root().join(format!("tests/golden/help/{name}.txt"))
}

#[test]
fn every_command_s_help_is_as_pinned() {
    std::fs::create_dir_all(repo_root().join("tests/golden/help")).unwrap();
    let mut failures = Vec::new();
    for words in COMMANDS {
        compare(&golden(words), &help(words), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn store_options_are_shown_only_where_they_act() {
    const OPTIONS: [&str; 3] = ["--retention", "--lock-timeout", "--server"];
    // Commands that only read (or do not open a folder store at all) do not list them.
    for words in [
        "status",
        "events",
        "check",
        "worker",
        "cancel",
        "import claude-flow",
    ] {
        let text = help(words);
        for option in OPTIONS {
            assert!(
                !text.contains(option),
                "`baton {words} --help` lists {option}"
            );
        }
    }
    // Commands that write through a store do.
    for words in ["memory store", "run", "agent output", "mcp", "ui"] {
        let text = help(words);
        for option in OPTIONS {
            assert!(
                text.contains(option),
                "`baton {words} --help` lacks {option}"
            );
        }
    }
}

#[test]
fn defaults_are_said_once_and_truthfully() {
    let ui = help("ui");
    assert_eq!(ui.matches("7345").count(), 1, "{ui}");
    // `memory search` leaves out baton's own namespaces, as `memory list` does.
    for words in ["memory search", "memory list"] {
        let text = help(words);
        assert!(
            text.contains("[default: all but baton's own `baton.*`]"),
            "{words}: {text}"
        );
    }
    // `memory server status` promises a build column, and prints one (tested with a
    // running server in `memory_server`).
    assert!(help("memory server status").contains("build"));
}

#[test]
fn agent_output_takes_what_memory_store_takes() {
    let store = help("memory store");
    let output = help("agent output");
    for option in [
        "-f, --file <FILE>",
        "--override-gates <REASON>",
        "--agent <ID>",
    ] {
        assert!(store.contains(option), "memory store: {option}");
        assert!(
            output.contains(option),
            "agent output lacks {option}: {output}"
        );
    }
}
