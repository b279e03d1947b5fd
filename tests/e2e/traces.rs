//! Traces over OTLP: a real receiver (`tests/otlp/receiver.py`, decoding with the
//! official `opentelemetry-proto` package) gets what `baton` exports when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. A default pipeline run is one trace of its
//! workflow, stages, gate checks and commits; a memory command and an MCP call
//! continue their caller's trace; an agent's own `baton` call continues its
//! invocation's; with the SDK disabled nothing is sent. The metrics of an agent's
//! stage count its attempts, its gate's refusal, its cost and tokens. (The
//! distributed run on two workers, one trace and the queue's depth, is checked in
//! `workers.rs`.)
//!
//! Without the package the tests say so and skip, except in CI (`CI` or
//! `BATON_REQUIRE_PYTHON_STAGES` set, as for the other Python tools), where they fail.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Project, baton_bin, repo_root};

/// A trace id and span id a caller hands on, as W3C `traceparent`.
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// The receiver: a Python process writing each span it gets to a file.
pub(crate) struct Receiver {
    child: Child,
    port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Starts a receiver, or `None` (after saying why) when `opentelemetry-proto` is
    /// not installed outside CI.
    pub(crate) fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spans.jsonl");
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/otlp/receiver.py"))
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(port) = line.strip_prefix("listening ") else {
            let _ = child.wait();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("BATON_REQUIRE_PYTHON_STAGES").is_some();
            assert!(
                !required,
                "the OTLP receiver did not start (pip install -r tests/otlp/requirements.txt): {err}"
            );
            eprintln!("skipped: the OTLP receiver did not start: {err}");
            return None;
        };
        Some(Self {
            port: port.trim().parse().unwrap(),
            child,
            file,
            _dir: dir,
        })
    }

    /// The variables that make a `baton` export here, quickly.
    pub(crate) fn env(&self) -> [(&'static str, String); 4] {
        [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", self.port),
            ),
            // A long-lived process (a worker) sends its spans within 100 ms.
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100".to_owned()),
            ("OTEL_SERVICE_NAME", "baton-under-test".to_owned()),
        ]
    }

    /// The spans received so far.
    pub(crate) fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The metrics' data points received so far, the last of each metric and set of
    /// attributes (they are cumulative).
    pub(crate) fn metrics(&self) -> Vec<Value> {
        let path = self.file.with_extension("jsonl.metrics");
        let mut last: Vec<Value> = Vec::new();
        for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
            let point: Value = serde_json::from_str(line).unwrap();
            last.retain(|p| p["name"] != point["name"] || p["attributes"] != point["attributes"]);
            last.push(point);
        }
        last
    }

    /// The spans, once `done` holds of them (a process that exports in the
    /// background); panics after a minute.
    pub(crate) fn spans_when(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the spans never arrived; these did: {}",
                names(&spans).join(", ")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The spans' names.
pub(crate) fn names(spans: &[Value]) -> Vec<String> {
    spans
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The span named `name`; panics unless there is exactly one.
pub(crate) fn one<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = spans.iter().filter(|s| s["name"] == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one span `{name}` among {}",
        names(spans).join(", ")
    );
    found[0]
}

/// The spans whose parent is `parent`.
pub(crate) fn children<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a Value> {
    spans
        .iter()
        .filter(|s| s["parent_span_id"] == parent["span_id"])
        .collect()
}

/// Asserts the spans are one trace: one trace id, one root, every other span's
/// parent among them.
pub(crate) fn assert_one_trace(spans: &[Value]) {
    let traces: std::collections::BTreeSet<&str> = spans
        .iter()
        .map(|s| s["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(traces.len(), 1, "one trace: {traces:?}");
    let ids: std::collections::HashSet<&str> = spans
        .iter()
        .map(|s| s["span_id"].as_str().unwrap())
        .collect();
    let roots: Vec<&str> = spans
        .iter()
        .filter(|s| !ids.contains(s["parent_span_id"].as_str().unwrap()))
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:?}");
}

fn with_env(mut cmd: assert_cmd::Command, receiver: &Receiver) -> assert_cmd::Command {
    for (name, value) in receiver.env() {
        cmd.env(name, value);
    }
    cmd
}

/// `baton run --json` in `p`, exporting to `receiver` (with `PATH` set to `path` when
/// given); panics unless it passes; its summary.
fn run_exporting(p: &Project, receiver: &Receiver, path: Option<String>) -> Value {
    let mut cmd = with_env(p.baton(&["run", "--json"]), receiver);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_default_pipeline_run_is_one_trace_of_its_stages_gates_and_commits() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let p = crate::performance_pipeline::default_pipeline();
    let summary = run_exporting(&p, &receiver, None);
    // The command has exited: its spans were sent before it did.
    let spans = receiver.spans();
    assert_one_trace(&spans);
    assert!(spans.iter().all(|s| s["service"] == "baton-under-test"));
    // Its metrics count each partition's run with its stage's: a series per stage.
    let mut labelled: Vec<String> = receiver
        .metrics()
        .iter()
        .filter(|p| p["name"] == "baton.stage.duration")
        .map(|p| p["attributes"]["baton.stage"].as_str().unwrap().to_owned())
        .collect();
    labelled.sort();
    assert_eq!(
        labelled,
        ["budget-check", "load-test-planner", "performance-architect"]
    );
    let root = one(&spans, "baton run");
    assert_eq!(root["parent_span_id"], "");
    let workflow = one(&spans, "workflow coding-phase-3-performance");
    assert_eq!(workflow["parent_span_id"], root["span_id"]);
    assert_eq!(
        workflow["attributes"]["baton.workflow.id"],
        summary["workflow_id"]
    );
    assert_eq!(workflow["attributes"]["baton.passed"], true);
    let stages = children(&spans, workflow);
    assert_eq!(stages.len(), 12, "{}", names(&spans).join(", "));
    for stage in stages {
        let name = stage["attributes"]["baton.stage"].as_str().unwrap();
        assert_eq!(stage["name"], format!("stage {name}"));
        // Each is one partition's: three stages over four systems.
        let partition = stage["attributes"]["baton.partition"].as_str().unwrap();
        assert!(name.ends_with(&format!("[{partition}]")), "{stage}");
        assert_eq!(stage["attributes"]["baton.outcome"], "passed", "{stage}");
        assert_eq!(stage["attributes"]["baton.revision"], 1, "{stage}");
        assert_eq!(
            stage["attributes"]["baton.pipeline"],
            "coding-phase-3-performance"
        );
        let inside: HashMap<String, &Value> = children(&spans, stage)
            .into_iter()
            .map(|s| (s["name"].as_str().unwrap().to_owned(), s))
            .collect();
        let gate = inside
            .get("gate check")
            .expect("a gate check in each stage");
        assert_eq!(gate["attributes"]["baton.outcome"], "passed");
        assert_eq!(gate["attributes"]["baton.gate.findings"], 0);
        assert!(gate["attributes"]["baton.gates.total"].as_i64().unwrap() >= 1);
        let commit = inside.get("memory commit").expect("a commit in each stage");
        assert_eq!(commit["attributes"]["baton.outcome"], "committed");
        assert_eq!(commit["attributes"]["baton.revision"], 1);
        assert_eq!(
            commit["attributes"]["baton.key"],
            stage["attributes"]["baton.key"]
        );
        // The gates judge before the commit.
        assert!(gate["end"].as_u64() <= commit["start"].as_u64());
    }
}

#[test]
fn a_memory_command_continues_its_caller_s_trace_and_a_disabled_sdk_sends_nothing() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let p = Project::new();
    let out = with_env(
        p.baton(&["memory", "store", "notes/a", "{\"a\":1}"]),
        &receiver,
    )
    .env("TRACEPARENT", format!("00-{TRACE}-{PARENT}-01"))
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = receiver.spans();
    let command = one(&spans, "baton memory");
    assert_eq!(command["trace_id"], TRACE);
    assert_eq!(command["parent_span_id"], PARENT);
    let commit = one(&spans, "memory commit");
    assert_eq!(commit["parent_span_id"], command["span_id"]);
    assert_eq!(commit["attributes"]["baton.key"], "notes/a");
    assert_eq!(commit["attributes"]["baton.namespace"], "coding-pipeline");
    assert_eq!(commit["attributes"]["baton.revision"], 1);

    // Disabled, or no endpoint at all: nothing arrives.
    let before = receiver.spans().len();
    with_env(p.baton(&["memory", "store", "notes/a", "2"]), &receiver)
        .env("OTEL_SDK_DISABLED", "true")
        .assert()
        .success();
    with_env(p.baton(&["memory", "store", "notes/a", "3"]), &receiver)
        .env("OTEL_TRACES_EXPORTER", "none")
        .assert()
        .success();
    p.run(&["memory", "store", "notes/a", "4"]).ok();
    assert_eq!(receiver.spans().len(), before);
}

#[test]
fn an_mcp_call_continues_the_trace_in_its_meta() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let p = Project::new();
    let mut server = Command::new(baton_bin());
    server
        .arg("mcp")
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in receiver.env() {
        server.env(name, value);
    }
    let mut server = server.spawn().unwrap();
    let mut input = server.stdin.take().unwrap();
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let mut send = |message: Value| writeln!(input, "{message}").unwrap();
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "traces-test", "version": "1"}}}),
    );
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "memory_store",
        "arguments": {"key": "notes/b", "value": "{\"b\":1}"},
        "_meta": {"traceparent": format!("00-{TRACE}-{PARENT}-01")}}}),
    );
    line.clear();
    output.read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    drop(input);
    // End of input: the server exits, sending its spans first.
    let status = server.wait().unwrap();
    assert!(status.success());
    let spans = receiver.spans();
    let call = one(&spans, "tools/call memory_store");
    assert_eq!(call["trace_id"], TRACE);
    assert_eq!(call["parent_span_id"], PARENT);
    assert_eq!(call["kind"], 2, "a server span");
    assert_eq!(call["attributes"]["mcp.method.name"], "tools/call");
    assert_eq!(call["attributes"]["gen_ai.tool.name"], "memory_store");
    let commit = one(&spans, "memory commit");
    assert_eq!(commit["parent_span_id"], call["span_id"]);
    assert_eq!(commit["attributes"]["baton.key"], "notes/b");
}

#[test]
fn an_agent_s_own_baton_call_continues_its_invocation_s_trace() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let p = crate::agents::project("self", "");
    let summary = run_exporting(&p, &receiver, Some(crate::harness::path_with_baton()));
    let spans = receiver.spans();
    assert_one_trace(&spans);
    let stage = one(&spans, "stage performance-notes");
    let invoke = one(&spans, "invoke_agent performanceNotes");
    assert_eq!(invoke["parent_span_id"], stage["span_id"]);
    assert_eq!(invoke["kind"], 3, "a client span");
    let a = &invoke["attributes"];
    assert_eq!(a["gen_ai.operation.name"], "invoke_agent");
    assert_eq!(a["gen_ai.agent.name"], "performanceNotes");
    assert_eq!(a["gen_ai.agent.id"], summary["stages"][0]["agent_id"]);
    assert_eq!(a["gen_ai.request.model"], "sonnet");
    assert_eq!(a["baton.attempt"], 1);
    // The scripted agent reports Claude Code's usage.
    assert!(
        a["gen_ai.usage.input_tokens"].as_i64().is_some(),
        "{invoke}"
    );
    assert!(
        a["gen_ai.usage.output_tokens"].as_i64().is_some(),
        "{invoke}"
    );
    // The agent stored its output itself with `baton agent output`: that process's
    // span is a child of the invocation, its commit inside it.
    let agent_call = one(&spans, "baton agent");
    assert_eq!(agent_call["parent_span_id"], invoke["span_id"]);
    let commits: Vec<&Value> = children(&spans, agent_call)
        .into_iter()
        .filter(|s| s["name"] == "memory commit")
        .collect();
    assert_eq!(commits.len(), 1, "{}", names(&spans).join(", "));
    assert_eq!(
        commits[0]["attributes"]["baton.key"],
        "coding/architecture/notes"
    );
}

/// The data point of metric `name` whose attributes include `attributes`; panics
/// unless there is one.
pub(crate) fn point<'a>(metrics: &'a [Value], name: &str, attributes: Value) -> &'a Value {
    let matching: Vec<&Value> = metrics
        .iter()
        .filter(|p| p["name"] == name)
        .filter(|p| {
            attributes
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &p["attributes"][k] == v)
        })
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one point of {name} {attributes} in {metrics:?}"
    );
    matching[0]
}

#[test]
fn an_agent_stage_s_metrics_count_its_attempts_refusals_cost_and_tokens() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    // Refused once by its gate, then passed.
    let p = crate::agents::project("fix", "");
    let summary = run_exporting(&p, &receiver, None);
    let metrics = receiver.metrics();
    let stage = json!({"baton.stage": "performance-notes"});
    assert_eq!(
        point(&metrics, "baton.agent.attempts", stage.clone())["value"],
        2
    );
    let refusals = point(
        &metrics,
        "baton.gate.refusals",
        json!({"baton.stage": "performance-notes", "baton.gate": "has-summary"}),
    );
    assert_eq!(refusals["value"], 1);
    let cost = point(&metrics, "baton.agent.cost", stage.clone());
    assert_eq!(cost["unit"], "USD");
    let reported = summary["cost_usd"].as_f64().unwrap();
    assert!(
        (cost["value"].as_f64().unwrap() - reported).abs() < 1e-9,
        "{cost} {summary}"
    );
    let duration = point(
        &metrics,
        "baton.stage.duration",
        json!({"baton.stage": "performance-notes", "baton.outcome": "passed", "baton.pipeline": "agents"}),
    );
    assert_eq!(duration["kind"], "histogram");
    assert_eq!(duration["count"], 1);
    assert!(duration["sum"].as_f64().unwrap() > 0.0);
    let tokens = point(
        &metrics,
        "gen_ai.client.token.usage",
        json!({"gen_ai.token.type": "input", "baton.stage": "performance-notes"}),
    );
    assert_eq!(tokens["count"], 2);
    let commits = point(
        &metrics,
        "baton.memory.operation.duration",
        json!({"baton.memory.operation": "commit"}),
    );
    // The agent's output, and the events of its run.
    assert!(commits["count"].as_u64().unwrap() >= 1, "{commits}");
}

#[test]
fn an_interrupted_run_sends_the_spans_of_the_stages_that_ended() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let agent = repo_root().join("examples/agents/scripted_agent.py");
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "interrupted"
namespace = "n"

[[input]]
key = "coding/architecture/system"
file = "system.json"

[[stage]]
name = "first"
external = true
reads = ["coding/architecture/system"]
writes = "coding/first"

[stage.runner]
command = ["python3", "{agent}", "good"]

[[stage]]
name = "second"
external = true
reads = ["coding/first"]
writes = "coding/second"

[stage.runner]
command = ["python3", "{agent}", "wait", "{release}"]
"#,
        agent = agent.display(),
        release = release.display()
    ));
    std::fs::write(p.root().join("system.json"), "{}").unwrap();
    let mut env = receiver.env().to_vec();
    // Nothing would be sent before the process ends: only the flush on the signal
    // sends the first stage's spans.
    env.retain(|(k, _)| *k != "OTEL_BSP_SCHEDULE_DELAY");
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned()));
    let mut run = Command::new(baton_bin())
        .arg("run")
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::harness::await_file(
        &release.with_extension("started"),
        "the second agent's start",
    );
    // SAFETY: a signal to the child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(run.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(run.wait().unwrap().code(), Some(130));
    // The first stage's spans arrive. (The second's may too: stopping its agent ends
    // its stage while the handler flushes, a race the assertion leaves alone.)
    let spans = receiver.spans_when(|s| s.iter().any(|x| x["name"] == "stage first"));
    let first = one(&spans, "stage first");
    assert_eq!(first["attributes"]["baton.outcome"], "passed", "{first}");
    let commit = one(&spans, "memory commit");
    assert_eq!(commit["parent_span_id"], first["span_id"]);
}

#[test]
fn an_agent_gets_its_caller_s_trace_and_the_collector_s_settings_but_not_its_headers() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("env.json");
    let agent = repo_root().join("examples/agents/scripted_agent.py");
    let p = crate::agents::project(
        "env",
        &format!(
            "command = [\"python3\", \"{}\", \"env\", \"{}\"]",
            agent.display(),
            seen.display()
        ),
    );
    // No endpoint: baton exports nothing, and hands its caller's trace on as it got it.
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    p.baton(&["run"])
        .env("TRACEPARENT", &traceparent)
        .env("OTEL_SERVICE_NAME", "team-pipeline")
        .env("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer secret")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .assert()
        .success();
    let env: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(env["TRACEPARENT"], traceparent.as_str(), "{env}");
    assert_eq!(env["OTEL_SERVICE_NAME"], "team-pipeline");
    assert!(env.get("OTEL_EXPORTER_OTLP_HEADERS").is_none(), "{env}");
    assert_eq!(env["BATON_STAGE"], "performance-notes");
}
