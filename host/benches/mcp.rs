//! MCP tool-call latency inside the server: `memory_retrieve` and a durable
//! `memory_store` answered by `baton mcp`'s tool table, against a store served by a
//! memory server over its socket (as every MCP server reaches the store), without
//! the client's own time. The Python client's view, the whole round trip over
//! stdio, is `tests/mcp/client.py bench` (docs/BENCHMARKS.md).
//!
//! Then the whole round trip through a plain client: the real `baton mcp` process,
//! JSON-RPC lines written to its standard input and read from its output by this
//! bench, nothing else in between (`mcp-stdio/…`).
//!
//! Last, when `BATON_BENCH_CLAUDE_FLOW` names a claude-flow executable, the same
//! client and the same two calls against claude-flow's own MCP server
//! (`claude-flow-stdio/…`), for the side-by-side figure in docs/BENCHMARKS.md.
//!
//! Run: `cargo bench -p baton --bench mcp`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use baton::server::{Policy, ServeOptions};
use baton::service::{Service, Settings};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn arguments(value: Value) -> rmcp::model::JsonObject {
    match value {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// A project of three lines, in a temporary folder.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[pipeline]\nname = \"bench\"\nnamespace = \"coding-pipeline\"\n",
    )
    .unwrap();
    dir
}

fn tool_calls(c: &mut Criterion) {
    let dir = project();
    let store = dir.path().join(".baton/store");
    let served = store.clone();
    let server = std::thread::spawn(move || {
        baton::server::serve(
            &served,
            Default::default(),
            ServeOptions {
                idle: Duration::from_secs(600),
            },
        )
    });
    while !baton::server::socket_path(&store).exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let service = Service::resolve(Settings {
        store: None,
        lock_timeout: Duration::from_secs(30),
        retention: None,
        server: Policy::Never,
        cwd: dir.path().to_path_buf(),
        manifest: None,
        confined_to: None,
    })
    .unwrap()
    .keep_connection();
    let doc = json!({ "components": (0..8).map(|i| json!({"id": format!("service-{i}"), "capacity_rps": 800})).collect::<Vec<_>>() });
    let store_args = arguments(json!({ "key": "coding/architecture/system", "value": doc }));
    let call = |tool: &str, args: &rmcp::model::JsonObject| {
        let result = baton::mcp::call(&service, tool, args.clone()).unwrap();
        assert_eq!(result.is_error, Some(false), "{result:?}");
        result
    };
    call("memory_store", &store_args);
    let retrieve_args = arguments(json!({ "key": "coding/architecture/system" }));
    c.bench_function("mcp/memory_retrieve (1 KiB, in the server)", |b| {
        b.iter(|| black_box(call("memory_retrieve", &retrieve_args)))
    });
    c.bench_function("mcp/memory_store durable (1 KiB, in the server)", |b| {
        b.iter(|| black_box(call("memory_store", &store_args)))
    });
    baton::server::connect(&store)
        .unwrap()
        .unwrap()
        .stop()
        .unwrap();
    let _ = server.join();
}

/// An MCP server process and its pipes, spoken to a line at a time.
struct Stdio {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    line: String,
}

impl Stdio {
    /// Starts `command` with piped standard input and output, and initializes it.
    fn start(mut command: std::process::Command) -> Self {
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut mcp = Stdio {
            input: child.stdin.take().unwrap(),
            output: std::io::BufReader::new(child.stdout.take().unwrap()),
            child,
            line: String::new(),
        };
        mcp.call(concat!(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","#,
            r#""capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#,
            "\n"
        ));
        use std::io::Write;
        mcp.input
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
            .unwrap();
        mcp
    }

    /// Sends `request` (one line) and reads lines up to its answer, skipping any
    /// notification a server sends meanwhile.
    fn call(&mut self, request: &str) -> &str {
        use std::io::{BufRead, Write};
        self.input.write_all(request.as_bytes()).unwrap();
        self.input.flush().unwrap();
        loop {
            self.line.clear();
            let read = self.output.read_line(&mut self.line).unwrap();
            assert!(read > 0, "the MCP server closed its output");
            if self.line.contains("\"id\":") {
                break;
            }
        }
        assert!(
            !self.line.contains("\"isError\":true") && !self.line.contains("\"error\":{"),
            "{}",
            self.line
        );
        &self.line
    }

    fn stop(self) {
        drop(self.input);
        let mut child = self.child;
        let _ = child.wait();
    }
}

/// The two tool calls every server is measured on: a durable `memory_store` of a
/// 1 KiB document and its `memory_retrieve`, as JSON-RPC lines.
fn requests() -> (String, String) {
    let doc = json!({ "components": (0..8).map(|i| json!({"id": format!("service-{i}"), "capacity_rps": 800})).collect::<Vec<_>>() });
    let request = |tool: &str, arguments: Value| {
        let mut line = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}})
        .to_string();
        line.push('\n');
        line
    };
    (
        request(
            "memory_store",
            json!({"key": "coding/architecture/system", "namespace": "coding-pipeline", "value": doc}),
        ),
        request(
            "memory_retrieve",
            json!({"key": "coding/architecture/system", "namespace": "coding-pipeline"}),
        ),
    )
}

/// Both calls through `mcp`, a server already started, under `name`.
fn bench_calls(c: &mut Criterion, name: &str, mcp: &mut Stdio) {
    let (store, retrieve) = requests();
    mcp.call(&store);
    // baton's first store started a memory server; the calls after it go through it.
    mcp.call(&store);
    c.bench_function(
        &format!("{name}/memory_retrieve (1 KiB, plain client, whole round trip)"),
        |b| b.iter(|| black_box(mcp.call(&retrieve).len())),
    );
    c.bench_function(
        &format!("{name}/memory_store durable (1 KiB, plain client, whole round trip)"),
        |b| b.iter(|| black_box(mcp.call(&store).len())),
    );
}

fn over_stdio(c: &mut Criterion) {
    let dir = project();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .arg("mcp")
        .current_dir(dir.path())
        .env("BATON_SERVER", "auto")
        .env_remove("BATON_STORE");
    let mut mcp = Stdio::start(command);
    bench_calls(c, "mcp-stdio", &mut mcp);
    mcp.stop();
    let _ = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["memory", "server", "stop"])
        .current_dir(dir.path())
        .output();
}

/// The same client and calls against claude-flow's MCP server (`claude-flow mcp
/// start`, stdio), when `BATON_BENCH_CLAUDE_FLOW` names its executable; left out,
/// with a line saying so, when it does not.
fn claude_flow_over_stdio(c: &mut Criterion) {
    let Some(program) = std::env::var_os("BATON_BENCH_CLAUDE_FLOW") else {
        eprintln!(
            "claude-flow-stdio: left out (set BATON_BENCH_CLAUDE_FLOW to a claude-flow executable)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let init = std::process::Command::new(&program)
        .args(["memory", "init"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(init.status.success(), "claude-flow memory init failed");
    let mut command = std::process::Command::new(&program);
    command.args(["mcp", "start"]).current_dir(dir.path());
    let mut mcp = Stdio::start(command);
    bench_calls(c, "claude-flow-stdio", &mut mcp);
    mcp.stop();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(5));
    targets = tool_calls, over_stdio, claude_flow_over_stdio
}
criterion_main!(benches);
