//! MCP tool-call latency inside the server: `memory_retrieve` and a durable
//! `memory_store` answered by `baton mcp`'s tool table, against a store served by a
//! memory server over its socket (as every MCP server reaches the store), without
//! the client's own time. The Python client's view, the whole round trip over
//! stdio, is `tests/mcp/client.py bench` (docs/BENCHMARKS.md).
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

fn tool_calls(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[pipeline]\nname = \"bench\"\nnamespace = \"coding-pipeline\"\n",
    )
    .unwrap();
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(5));
    targets = tool_calls
}
criterion_main!(benches);
