//! Deep and malformed JSON through every way in besides `memory store` (which
//! `memory_cli` covers): a stage's output and its event attributes, a gate check's
//! document, an import file, the memory server's frames, the MCP tools and
//! pipeline.toml. Each is refused with serde_json's reason (its one depth limit of 128
//! levels, docs/DESIGN.md), names where it came from, quotes the input briefly at
//! most, and stores nothing.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Project, component};
use crate::mcp::RawMcp;
use crate::memory_server::frame;

/// `depth` nested arrays.
fn deep(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn a_stage_whose_output_or_event_is_too_deep_fails_and_stores_nothing() {
    let hostile = component("hostile");
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "deep"
namespace = "n"

[[stage]]
name = "deep-output"
component = "{0}"
writes = "k/output"
config = {{ mode = "deep-output" }}

[[stage]]
name = "deep-event"
component = "{0}"
writes = "k/event"
config = {{ mode = "deep-event" }}
"#,
        hostile.display(),
    ));
    let out = p.run(&["run", "--json"]);
    assert_eq!(out.code(), 6, "{}", out.stderr());
    let summary = out.json();
    let detail = |stage: &str| -> String {
        let s = summary["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == stage)
            .unwrap();
        assert_eq!(s["outcome"]["status"], "failed", "{s}");
        s["outcome"]["detail"].as_str().unwrap().to_owned()
    };
    let output = detail("deep-output");
    assert!(
        output.contains("not JSON") && output.contains("recursion limit exceeded"),
        "{output}"
    );
    let event = detail("deep-event");
    assert!(
        event.contains("passed a host limit")
            && event.contains("event `deep`")
            && event.contains("recursion limit exceeded"),
        "{event}"
    );
    for detail in [&output, &event] {
        assert!(detail.len() < 400, "quoted briefly: {}", detail.len());
    }
    for key in ["k/output", "k/event"] {
        p.run(&["memory", "retrieve", key, "-n", "n"])
            .fails(3, &["not found"]);
    }
    let events = p
        .run(&["memory", "list", "-n", "baton.events", "--json"])
        .json();
    assert!(
        !events.to_string().contains("agent.deep-event.deep"),
        "the deep event is not recorded: {events}"
    );
}

#[test]
fn gate_check_of_a_deep_or_broken_document_names_the_file_and_the_reason() {
    let p = crate::gates::gated_project();
    std::fs::write(p.root().join("deep.json"), deep(100_000)).unwrap();
    let err = p
        .run(&[
            "gate",
            "check",
            "--stage",
            "performance-architect",
            "deep.json",
        ])
        .fails(2, &["deep.json", "recursion limit exceeded"]);
    assert!(err.len() < 1000, "{}", err.len());
    std::fs::write(p.root().join("broken.json"), "{\"slos\": [\n  1,\n").unwrap();
    p.run(&[
        "gate",
        "check",
        "--stage",
        "performance-architect",
        "broken.json",
    ])
    .fails(2, &["broken.json", "line 3"]);
}

#[test]
fn an_import_line_too_deep_names_its_line_and_imports_nothing() {
    let source = Project::new();
    source.run(&["memory", "store", "good", "{\"a\":1}"]).ok();
    let good = source.run(&["memory", "export"]).ok();
    let mut record: Value = serde_json::from_str(good.lines().next().unwrap()).unwrap();
    record["key"] = json!("deep");
    let deep_line = record.to_string().replace(r#"{"a":1}"#, &deep(100_000));
    let p = Project::new();
    let err = p
        .run_with_stdin(&["memory", "import"], format!("{good}{deep_line}\n"))
        .fails(2, &["line 2", "recursion limit exceeded"]);
    assert!(err.len() < 1000, "{}", err.len());
    assert!(
        p.keys().is_empty(),
        "all or nothing: the good line before it is not imported either"
    );
}

/// The frames of `bytes`, split by their length prefixes.
fn frames(mut bytes: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        out.push(serde_json::from_slice(&bytes[4..4 + len]).unwrap());
        bytes = &bytes[4 + len..];
    }
    out
}

#[test]
fn the_memory_server_drops_a_deep_frame_and_refuses_an_import_that_is_not_json() {
    let p = Project::new();
    p.run(&["memory", "server", "start"]).ok();
    let status = p.run(&["memory", "server", "status", "--json"]).json();
    let socket = p.store().join("baton.sock");
    let hello = json!({"build": status["build"], "retention": 3, "replace_if_different": false});
    let exchange = |request: &[u8]| -> Vec<Value> {
        let mut conn = UnixStream::connect(&socket).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut bytes = frame(hello.to_string().as_bytes());
        bytes.extend(frame(request));
        let _ = conn.write_all(&bytes);
        let _ = conn.shutdown(std::net::Shutdown::Write);
        let mut back = Vec::new();
        let _ = conn.read_to_end(&mut back);
        frames(&back)
    };
    // A commit whose value nests 100,000 deep: the frame does not parse, the
    // connection is dropped after the welcome, nothing is answered or stored.
    let commit = format!(
        r#"{{"Commit":{{"writer":"raw","ops":[{{"Put":{{"namespace":"default","key":"deep","value":{},"ttl":null,"if_revision":null,"provenance":null}}}}]}}}}"#,
        deep(100_000)
    );
    let back = exchange(commit.as_bytes());
    assert_eq!(back.len(), 1, "only the welcome: {back:?}");
    assert!(back[0]["Serving"].is_object(), "{:?}", back[0]);
    // An import handed over whole, whose value is not JSON (or too deep) though its
    // hash matches: refused by the store, naming the key and why.
    for (key, value) in [("text", "not json".to_owned()), ("deeper", deep(200))] {
        use baton::memory::{Entry, EntryMeta, Timestamp, Writer, sha256_hex};
        let entry = Entry {
            meta: EntryMeta {
                namespace: "default".into(),
                key: key.into(),
                revision: 1,
                written_at: Timestamp(0),
                writer: Writer("raw".into()),
                size: value.len() as u64,
                sha256: sha256_hex(value.as_bytes()),
                expires_at: None,
                deleted: false,
                provenance: None,
            },
            value: value.into_bytes(),
        };
        let import = json!({"Import": {"entries": [entry]}});
        let back = exchange(import.to_string().as_bytes());
        let reply = back.get(1).unwrap_or_else(|| panic!("no reply: {back:?}"));
        let refused = &reply["Failed"]["InvalidImport"];
        assert_eq!(refused["key"], key, "{reply}");
        let reason = refused["reason"].as_str().unwrap();
        assert!(reason.starts_with("the value is not JSON: "), "{reason}");
    }
    assert!(p.keys().is_empty(), "nothing stored");
    p.run(&["memory", "store", "after", "1"]).ok();
    assert_eq!(
        p.run(&["memory", "server", "status", "--json"]).json()["pid"],
        status["pid"],
        "the same server serves on"
    );
    p.run(&["memory", "server", "stop"]).ok();
}

#[test]
fn mcp_refuses_deep_values_and_serves_on() {
    let p = Project::new();
    let mut raw = RawMcp::start(&p);
    // Arguments nesting past the limit: the message does not parse as JSON-RPC.
    raw.send(&format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"memory_store","arguments":{{"key":"deep/args","value":{}}}}}}}"#,
        deep(100_000)
    ));
    // A value given as text that starts like JSON: parsed by the service, refused.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "memory_store", "arguments": {"key": "deep/text", "value": deep(1000)}}});
    raw.send(&call.to_string());
    let replies = raw.until(3);
    let refused = replies.last().unwrap();
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let text = refused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("deep/text") && text.contains("recursion limit exceeded"),
        "{text}"
    );
    assert!(text.len() < 1000, "quoted briefly: {}", text.len());
    raw.send(
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"memory_store","arguments":{"key":"after","value":1}}}"#,
    );
    let stored = raw.until(4);
    assert_eq!(stored.last().unwrap()["result"]["isError"], false);
    raw.finish();
    assert_eq!(p.keys(), ["after"]);
}

#[test]
fn pipeline_toml_nesting_too_deep_is_a_located_problem() {
    let p = Project::with_manifest(&format!(
        "[pipeline]\nname = \"d\"\n\n[[stage]]\nname = \"s\"\nexternal = true\nwrites = \"k\"\nconfig = {{ a = {} }}\n",
        deep(100_000)
    ));
    let err = p
        .run(&["check"])
        .fails(2, &["pipeline.toml:8:", "recursion"]);
    assert!(err.len() < 1000, "{}", err.len());
}
