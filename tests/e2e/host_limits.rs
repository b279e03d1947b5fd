//! A hostile stage or gate cannot take the host down: everything a component hands
//! the host besides its output (events, their names and attributes, log lines, memory
//! calls, findings) is bounded, and passing a bound fails the run with a kind of its
//! own (`host-limit`), nothing stored.

use std::sync::Arc;
use std::time::Duration;

use baton::memory::{Key, Namespace, SledStore, Store, Writer};
use baton::runtime::{ComponentCache, FailureKind, Grants, Invocation, Runtime};
use serde_json::json;

use crate::harness::{Project, component};

const NS: &str = "coding-pipeline";
const SYSTEM: &str = "coding/architecture/system";

fn hostile(mode: &str) -> Invocation {
    let mut inv = Invocation::new("hostile", NS);
    inv.config = json!({ "mode": mode });
    inv.grants = Grants::parse(&[SYSTEM], NS);
    inv.limits.timeout = Duration::from_secs(20);
    // Room to build a 50 MB attribute or log line: the host limit must stop it, not
    // the stage's own memory.
    inv.limits.memory_bytes = 512 << 20;
    inv
}

#[test]
fn flooding_stages_stop_at_their_host_limits() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (plugin, _) = runtime.load(&component("hostile")).unwrap();
    let store = SledStore::temporary().unwrap();
    store
        .put(
            &Writer::cli(),
            &Namespace::new(NS).unwrap(),
            &Key::new(SYSTEM).unwrap(),
            json!({"components": []}),
        )
        .unwrap();
    let memory = Arc::new(store);
    for (mode, needle) in [
        ("event-flood", "more than 1000 events in one run"),
        ("bad-event-name", "is not a name"),
        ("event-not-json", "are not a JSON object"),
        ("big-event", "bytes of attributes; the limit is 65536"),
        ("log-flood", "more than 10000 log lines in one run"),
        ("long-log", "the limit is 16384"),
        ("call-flood", "more than 100000 memory calls in one run"),
    ] {
        let failure = runtime
            .run(&plugin, &hostile(mode), memory.clone())
            .unwrap_err();
        assert!(
            matches!(&failure.kind, FailureKind::HostLimit(m) if m.contains(needle)),
            "{mode}: {failure}"
        );
        assert_eq!(failure.kind.code(), "host-limit");
        let text = failure.to_string();
        assert!(
            text.starts_with("stage `hostile` passed a host limit"),
            "{text}"
        );
        assert!(
            text.len() < 400,
            "{mode}: the error quotes its input short: {}",
            text.len()
        );
    }
    // A limit set lower in the invocation (pipeline.toml's [stage.limits]) is obeyed.
    let mut tight = hostile("event-flood");
    tight.limits.host.events = 5;
    let failure = runtime.run(&plugin, &tight, memory).unwrap_err();
    assert!(
        failure.to_string().contains("more than 5 events"),
        "{failure}"
    );
}

#[test]
fn flooding_gates_fail_their_gate_with_the_limit() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (gate, _) = runtime.load_gate(&component("test_gate")).unwrap();
    let mut limits = baton::runtime::Limits {
        memory_bytes: 1 << 30,
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    for (name, needle) in [
        ("finding-flood", "1000000 findings; the limit is 1000"),
        (
            "huge-finding",
            "a finding with a field of 52428800 bytes; the limit is 4096",
        ),
    ] {
        let failure = gate
            .check("s", name, "{}", &[], &json!({}), &limits)
            .unwrap_err();
        assert!(
            matches!(&failure.kind, FailureKind::HostLimit(m) if m.contains(needle)),
            "{name}: {failure}"
        );
        assert!(
            failure
                .to_string()
                .starts_with(&format!("gate `{name}` of stage `s`"))
        );
    }
    limits.host.findings = 2_000_000;
    limits.host.finding_bytes = 64 << 20;
    assert_eq!(
        gate.check("s", "finding-flood", "{}", &[], &json!({}), &limits)
            .unwrap()
            .len(),
        1_000_000,
        "raised limits let them through"
    );
}

#[test]
fn a_flooding_stage_in_a_run_fails_alone_and_stores_nothing_but_its_lifecycle() {
    let hostile = component("hostile");
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "flood"
namespace = "coding-pipeline"

[[stage]]
name = "flood"
component = "{}"
writes = "out"
config = {{ mode = "event-flood" }}
limits = {{ events = 50 }}
"#,
        hostile.display()
    ));
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 6, "{}", run.stderr());
    let summary = run.json();
    let detail = summary["stages"][0]["outcome"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("passed a host limit: more than 50 events"),
        "{detail}"
    );
    p.run(&["memory", "retrieve", "out"])
        .fails(3, &["not found"]);
    let events = p.run(&["events", "--json"]).json();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["agent.flood.started", "agent.flood.failed"],
        "none of the flood is recorded"
    );
    assert_eq!(events[1]["attributes"]["kind"], "host-limit");
    // A bad limit is a manifest problem with its place.
    std::fs::write(
        p.root().join("pipeline.toml"),
        std::fs::read_to_string(p.root().join("pipeline.toml"))
            .unwrap()
            .replace("events = 50", "events = 0, log_line_size = \"lots\""),
    )
    .unwrap();
    p.run(&["check"]).fails(
        2,
        &[
            "events 0 is not a count of at least 1",
            "log_line_size \"lots\" is not a size",
        ],
    );
}

/// Peak resident memory of `child`, in bytes, polled from `/proc` until it exits.
fn peak_rss(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            for line in text.lines().filter(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(kib * 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The pipeline that took `baton run` to 8.3 GB before the limits: a stage emitting
/// 300,000 events, one emitting a 50 MB attribute, and gates returning a million
/// findings and a 50 MB finding. Now each stops at its bound and the run stays
/// within the worst case DESIGN.md states (about 0.5 GiB per stage at once).
#[test]
fn a_run_of_flooding_stages_and_gates_stays_within_its_stated_memory_bound() {
    let (hostile, gate) = (component("hostile"), component("test_gate"));
    let stage = |name: &str, mode: &str, extra: &str| {
        format!(
            "[[stage]]\nname = \"{name}\"\ncomponent = \"{}\"\nwrites = \"{name}\"\nconfig = {{ mode = \"{mode}\" }}\nlimits = {{ memory = \"512MiB\", timeout = \"30s\" }}\n{extra}\n",
            hostile.display()
        )
    };
    let gates = format!(
        "[[stage.gate]]\nname = \"finding-flood\"\nrule = \"floods\"\ncomponent = \"{g}\"\n\n[[stage.gate]]\nname = \"huge-finding\"\nrule = \"floods\"\ncomponent = \"{g}\"\n",
        g = gate.display()
    );
    let manifest = format!(
        "[pipeline]\nname = \"floods\"\nnamespace = \"coding-pipeline\"\n\n{}{}{}",
        stage("events", "event-flood", ""),
        stage("big", "big-event", ""),
        stage("gated", "ok", &gates),
    );
    let p = Project::with_manifest(&manifest);
    let child = std::process::Command::new(crate::harness::baton_bin())
        .args(["run", "-j", "2", "--json"])
        .current_dir(p.root())
        .env("BATON_SERVER", "never")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak) = peak_rss(child);
    assert_eq!(
        status.code(),
        Some(7),
        "the gated stage's gates fail, the others fail"
    );
    assert!(peak > 0, "the peak was read");
    eprintln!("peak resident memory of `baton run`: {} MiB", peak >> 20);
    assert!(
        peak < 1536 << 20,
        "baton run peaked at {} MiB; the stated bound for two stages at once is about 1 GiB",
        peak >> 20
    );
    let stats = p.run(&["memory", "stats", "--json"]).json();
    assert_eq!(stats["stats"]["keys"], 0, "nothing stored: {stats}");
    assert!(
        stats["stats"]["reserved"]["value_bytes"].as_u64().unwrap() < 1 << 20,
        "the event log holds the lifecycle, not the flood: {stats}"
    );
}
