//! `baton mcp` driven by the official Python MCP client (`tests/mcp/client.py`), as an
//! agent's host drives it: seed 000's lifecycle with a gated store, seed 001's handoff,
//! hostile clients, and MCP servers writing beside CLI writers and a run on one store.
//! After each, the command line must see the same events and revisions.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Project, baton_bin, repo_root};
use crate::performance_pipeline::default_pipeline;

/// Runs scenario `args` of the Python client in `dir`; returns its JSON line.
pub(crate) fn client(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/mcp/client.py"))
        .args(args)
        .current_dir(dir)
        .env("BATON_BIN", baton_bin())
        .output()
        .expect("python3 runs (pip install -r tests/mcp/requirements.txt)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client {args:?} failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Stops the memory server an MCP session started for the project's store.
pub(crate) fn stop_server(p: &Project) {
    p.run(&["memory", "server", "stop"]).ok();
}

#[test]
fn seed_000_s_flow_through_the_real_client_is_what_the_cli_sees() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let doc = p
        .run(&[
            "memory",
            "retrieve",
            "-k",
            "coding/architecture/performance",
        ])
        .ok();
    std::fs::write(p.root().join("doc.json"), doc).unwrap();
    let workflow = "workflow-0123456789abcdef0123456789abcdef";
    let agent = "performanceArchitect-fedcba9876543210fedcba9876543210";
    let out = client(p.root(), &["seed000", workflow, agent, "doc.json"]);
    stop_server(&p);
    assert_eq!(out["event_ids"].as_array().unwrap().len(), 11, "{out}");

    let events = p.run(&["events", "--workflow", workflow, "--json"]).json();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    let mut expected = vec!["agent.performanceArchitect.started".to_owned()];
    for m in [
        "architectureAnalyzed",
        "scalabilityStrategyDesigned",
        "cachingArchitecturePlanned",
        "databaseOptimized",
        "aiMlOptimized",
        "monitoringFrameworkDesigned",
        "capacityPlanned",
        "performanceTestingPlanned",
        "documentationCreated",
        "completed",
    ] {
        expected.push(format!("agent.performanceArchitect.{m}"));
    }
    assert_eq!(names, expected, "recorded once each, in order");
    for e in events.as_array().unwrap() {
        assert_eq!(e["agent_id"], agent);
        assert_eq!(e["parent_agent_id"], "main-claude-code");
    }
    let by_agent = p.run(&["events", "--agent", agent, "--json"]).json();
    assert_eq!(by_agent.as_array().unwrap().len(), 11);

    let history = p
        .run(&[
            "memory",
            "history",
            "coding/architecture/performance",
            "--json",
        ])
        .json();
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["revision"], out["revision"]);
    assert_eq!(last["writer"], format!("agent:{agent}"));
    assert_eq!(last["provenance"]["gate_report"]["passed"], true);
    let audit = p.run(&["events", "--workflow", "cli", "--json"]).json();
    let outcomes: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "memory.store")
        .map(|e| e["attributes"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["refused", "success"],
        "the refusal is audited too"
    );
}

#[test]
fn seed_001_s_handoff_reads_five_keys_and_stores_one() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let out = client(p.root(), &["handoff", "coding-pipeline"]);
    stop_server(&p);
    let stored = p
        .run(&["memory", "retrieve", "coding/handoff/summary", "--json"])
        .json();
    assert_eq!(stored["revision"], out["stored"]);
    assert_eq!(stored["value"]["read"], out["read"]);
    assert_eq!(stored["writer"], "mcp");
    let status = out["status"].as_array().unwrap();
    assert!(
        status
            .iter()
            .all(|s| (s["state"] == "fresh" || s["state"] == "external") && s["ready"] == false),
        "after a run every stage is fresh: {status:?}"
    );
    let audit = p.run(&["events", "--workflow", "cli", "--json"]).json();
    let tagged = audit.as_array().unwrap().iter().any(|e| {
        e["attributes"]["key"] == "coding/handoff/summary"
            && e["attributes"]["tags"][0] == "phase-3"
    });
    assert!(tagged, "the tags are in the audit event: {audit}");
}

#[test]
fn partitions_are_added_and_addressed_through_mcp() {
    let p = Project::with_manifest(crate::partitions::DYNAMIC);
    let out = client(p.root(), &["partitions"]);
    stop_server(&p);
    let refused = out["refused"].as_object().unwrap();
    assert_eq!(refused.len(), 5, "{out}");
    assert!(
        refused["a/b"].as_str().unwrap().contains("contains '/'"),
        "{out}"
    );
    assert!(
        refused["kkkkkkkkkkkkkkkkkkkk"]
            .as_str()
            .unwrap()
            .contains("10000 bytes"),
        "{out}"
    );
    assert_eq!(out["stored"]["meta"]["namespace"], "reviews-eu", "{out}");
    assert_eq!(out["inputs"]["stage"], "summary");
    assert_eq!(out["matrix"]["partitions"], json!(["eu"]));
    assert_eq!(
        out["matrix"]["rows"][0]["cells"][0]["state"], "external",
        "{out}"
    );
    let listed = p.run(&["partition", "list", "--json"]).json();
    assert_eq!(
        listed["partitions"],
        json!(["eu"]),
        "the CLI sees the key MCP added"
    );
}

#[test]
fn hostile_clients_get_clear_errors_and_leave_the_store_unchanged() {
    let p = Project::new();
    let out = client(p.root(), &["hostile"]);
    assert!(
        out["unknown_tool"]
            .as_str()
            .unwrap()
            .contains("no_such_tool"),
        "{out}"
    );
    assert!(
        out["wrong_type"].as_str().unwrap().contains("`key`"),
        "{out}"
    );
    assert!(out["too_big"].as_str().unwrap().contains("16 MiB"), "{out}");
    let out = client(p.root(), &["disconnect"]);
    assert!(out["revision"].as_u64().is_some());
    stop_server(&p);
    let keys: Vec<String> = p
        .run(&["memory", "list", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_owned())
        .collect();
    // The call cut short may or may not have landed; nothing else did.
    let unexpected: Vec<&String> = keys
        .iter()
        .filter(|k| !["after/hostile", "after/disconnect", "left/mid-call"].contains(&k.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "{keys:?}");
    assert!(
        keys.contains(&"after/hostile".to_owned()) && keys.contains(&"after/disconnect".to_owned())
    );
}

#[test]
fn mcp_servers_cli_writers_and_a_run_on_one_store_lose_no_write() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    const EACH: usize = 200;
    std::thread::scope(|scope| {
        for n in 0..4 {
            let dir = p.root().to_path_buf();
            scope.spawn(move || client(&dir, &["writer", &format!("mcp-{n}"), &EACH.to_string()]));
        }
        for n in 0..4 {
            let p = &p;
            scope.spawn(move || {
                for i in 0..EACH {
                    p.baton(&[
                        "memory",
                        "store",
                        &format!("cli-{n}/{i}"),
                        &format!("{{\"i\":{i}}}"),
                    ])
                    .env("BATON_SERVER", "auto")
                    .assert()
                    .success();
                }
            });
        }
        scope.spawn(|| p.run(&["run", "--force"]).ok());
    });
    stop_server(&p);
    let listed = p.run(&["memory", "list", "--json"]).json();
    for prefix in [
        "mcp-0/", "mcp-1/", "mcp-2/", "mcp-3/", "cli-0/", "cli-1/", "cli-2/", "cli-3/",
    ] {
        let n = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["key"].as_str().unwrap().starts_with(prefix))
            .count();
        assert_eq!(n, EACH, "keys under {prefix}");
    }
}

/// Raw JSON-RPC lines that no SDK client would send: text that is not JSON is
/// ignored, well-formed JSON of the wrong shape is answered with Invalid Request, and
/// the server keeps serving the requests after them.
/// `baton mcp` driven line by line, as a client that speaks raw JSON-RPC would.
pub(crate) struct RawMcp {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl RawMcp {
    /// Starts `baton mcp` in `p` and completes the handshake.
    pub(crate) fn start(p: &Project) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(baton_bin())
            .arg("mcp")
            .current_dir(p.root())
            .env("BATON_SERVER", "never")
            .env_remove("BATON_STORE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut raw = RawMcp {
            child,
            stdin,
            lines,
        };
        raw.send(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
        );
        let init = raw.next().expect("an answer to initialize");
        assert_eq!(init["id"], 1);
        assert_eq!(init["result"]["serverInfo"]["name"], "baton");
        raw.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        raw
    }

    /// Sends one line.
    pub(crate) fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message from the server, if it has not closed its output.
    pub(crate) fn next(&mut self) -> Option<Value> {
        let line = self.lines.next()?.ok()?;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// Every message up to and including the answer to request `id`.
    pub(crate) fn until(&mut self, id: u64) -> Vec<Value> {
        let mut replies = Vec::new();
        while let Some(reply) = self.next() {
            let done = reply["id"] == id;
            replies.push(reply);
            if done {
                return replies;
            }
        }
        panic!("the server closed before answering {id}: {replies:?}");
    }

    /// Closes the server's input and asserts that it ends cleanly.
    pub(crate) fn finish(mut self) {
        drop(self.stdin.take());
        assert!(
            self.child.wait().unwrap().success(),
            "the server ends when its input closes"
        );
    }
}

#[test]
fn malformed_json_rpc_is_answered_or_ignored_and_the_server_keeps_serving() {
    let p = Project::new();
    let mut raw = RawMcp::start(&p);
    raw.send("this is not JSON {{{");
    raw.send(r#"{"jsonrpc":"2.0","id":7,"method":42}"#);
    raw.send(
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"memory_store","arguments":{"key":"raw/after","value":{"ok":true}}}}"#,
    );
    let replies = raw.until(8);
    assert!(
        replies.iter().any(|r| r["error"]["code"] == -32600),
        "the wrong shape is an Invalid Request: {replies:?}"
    );
    let stored = replies.last().unwrap();
    assert_eq!(stored["result"]["isError"], false, "{stored}");
    raw.finish();
    assert_eq!(
        p.run(&["memory", "retrieve", "raw/after"]).ok().trim(),
        r#"{"ok":true}"#
    );
}
