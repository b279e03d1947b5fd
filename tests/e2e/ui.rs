//! `baton ui`: the real binary serving a real store. Every endpoint (status codes,
//! JSON, errors for unknown stages and keys, hostile paths and queries, refusal of
//! writes without the token, a foreign `Host`, binding beyond loopback), then the page
//! in a real headless Chromium through WebDriver: the default pipeline fresh after a
//! run, a stage turning stale when its input changes, a refused output's findings,
//! rollback from the memory view, the view changing live during a run, and a
//! 500-stage pipeline drawn.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Project, baton_bin, baton_cmd, component, repo_root};
use crate::webdriver::Browser;

/// A `baton ui` process of the binary under test.
struct Ui(crate::ui_process::Ui);

impl Ui {
    fn start(dir: &Path, args: &[&str], after: &[&str]) -> Self {
        Self(crate::ui_process::Ui::start(&baton_bin(), dir, args, after))
    }

    fn base(&self) -> String {
        self.0.base()
    }

    /// `GET path`: status and JSON (or text as a JSON string).
    fn get(&self, path: &str) -> (u16, Value) {
        reply(ureq::get(&format!("{}{path}", self.base())).call())
    }
}

impl std::ops::Deref for Ui {
    type Target = crate::ui_process::Ui;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn reply(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `baton --store STORE ARGS` in `dir`, asserted to succeed.
fn baton_ok(dir: &Path, store: &str, args: &[&str]) -> String {
    let out = baton_cmd()
        .current_dir(dir)
        .args(["--store", store])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The default pipeline run into a store of its own; the UI on it.
fn default_pipeline() -> (tempfile::TempDir, String, Ui) {
    component("echo"); // the guests are built
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    baton_ok(&repo_root(), &store, &["run"]);
    let ui = Ui::start(&repo_root(), &["--store", &store], &[]);
    (dir, store, ui)
}

/// A small project: an input, a stage reading it, and a stage whose gate refuses
/// what it writes.
fn gated_project() -> Project {
    let echo = component("echo");
    let p = Project::with_manifest(&format!(
        r#"[pipeline]
name = "gated"
namespace = "n"

[[input]]
key = "in/a"
file = "a.json"

[[stage]]
name = "first"
component = "{echo}"
reads = ["in/a"]
writes = "out/first"
config = {{ reads = ["in/a"], tag = "one" }}

[[stage]]
name = "second"
component = "{echo}"
reads = ["out/first"]
writes = "out/second"
config = {{ reads = ["out/first"] }}

[[stage.gate]]
name = "has-verdict"
rule = "Every review must carry a verdict"
schema = "verdict.schema.json"
"#,
        echo = echo.display()
    ));
    std::fs::write(p.root().join("a.json"), r#"{"v": 1}"#).unwrap();
    std::fs::write(
        p.root().join("verdict.schema.json"),
        r#"{"type": "object", "required": ["verdict"]}"#,
    )
    .unwrap();
    p
}

#[test]
fn every_endpoint_answers_json_with_the_right_status() {
    let (_dir, store, ui) = default_pipeline();
    let (status, page) = ui.get("/");
    assert_eq!(status, 200);
    let page = page.as_str().unwrap().to_owned();
    assert!(page.contains("<script src=\"/app.js\">"), "{page}");
    assert!(
        !page.contains("{{TOKEN}}"),
        "the page carries the token on loopback"
    );
    assert_eq!(ui.get("/app.js").0, 200);
    assert_eq!(ui.get("/app.css").0, 200);

    let (status, p) = ui.get("/api/pipeline");
    assert_eq!(status, 200);
    let stages = p["stages"].as_array().unwrap();
    // Three stages over the four example systems, each run named for its partition.
    assert_eq!(stages.len(), 12);
    for s in stages {
        assert_eq!(s["state"], "fresh", "{s}");
        assert!(s["last_run"]["revision"].as_u64().is_some(), "{s}");
    }
    let architect = stages
        .iter()
        .find(|s| s["name"] == "performance-architect[webshop]")
        .unwrap();
    assert_eq!(architect["declared"], "performance-architect");
    assert_eq!(architect["partition"], "webshop");
    assert_eq!(architect["enforced"], 5);
    assert_eq!(architect["renders"], true);

    // A partitioned stage is named with its partition; without one, the error says so.
    let (status, e) = ui.get("/api/stages/performance-architect");
    assert_eq!(status, 404, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("runs once per partition"),
        "{e}"
    );
    let (status, s) = ui.get("/api/stages/performance-architect%5Bwebshop%5D");
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["provenance"]["gate_report"]["passed"], true);
    assert_eq!(s["provenance"]["inputs"].as_array().unwrap().len(), 5);
    assert!(s["provenance"]["component_sha256"].as_str().unwrap().len() == 64);
    let events: Vec<&str> = s["runs"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"agent.performanceArchitect.started"));
    assert_eq!(events.last(), Some(&"agent.performanceArchitect.completed"));
    let (status, r) = ui.get("/api/stages/performance-architect%5Bwebshop%5D/render");
    assert_eq!(status, 200);
    assert!(r["text"].as_str().unwrap().contains("SLO"), "{r}");
    // The page's view of the document comes from the stage's renderer, not the host.
    let (status, v) = ui.get("/api/stages/performance-architect%5Bwebshop%5D/view");
    assert_eq!(status, 200, "{v}");
    let blocks = v["blocks"].as_array().unwrap();
    assert!(
        blocks.iter().any(|b| b["heading"]
            .as_str()
            .is_some_and(|t| t.starts_with("SLOs ("))),
        "{v}"
    );
    assert!(
        blocks.iter().any(|b| b["bar"]["segments"]
            .as_array()
            .is_some_and(|s| !s.is_empty())),
        "{v}"
    );
    assert!(
        blocks.iter().any(|b| b["lines"]["series"]
            .as_array()
            .is_some_and(|s| !s.is_empty())),
        "{v}"
    );
    // A stage whose renderer offers no view, or that has no renderer, has none.
    let (status, e) = ui.get("/api/stages/load-test-planner%5Bwebshop%5D/view");
    assert_eq!(status, 400, "{e}");

    // Unknown stages and keys, and hostile input: a JSON error naming what was wrong.
    let (status, e) = ui.get("/api/stages/no-such-stage");
    assert_eq!(status, 404);
    assert!(
        e["error"].as_str().unwrap().contains("no-such-stage"),
        "{e}"
    );
    let (status, e) = ui.get("/api/stages/..%2F..%2Fetc%2Fpasswd");
    assert_eq!(status, 404, "{e}");
    let (status, e) = ui.get("/api/memory/entry?namespace=coding-pipeline&key=no/such/key");
    assert_eq!((status, e["kind"].as_str()), (404, Some("not-found")));
    let (status, e) = ui.get("/api/memory/entry?namespace=&key=k");
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("namespace"), "{e}");
    let (status, e) = ui.get("/api/memory/entry?namespace=coding-pipeline&key=..%2F..%2Fetc");
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("`..` segment"), "{e}");
    let (status, e) = ui.get(
        "/api/memory/entry?namespace=coding-pipeline&key=coding/architecture/system&revision=abc",
    );
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("`revision`"), "{e}");
    let (status, e) = ui.get("/api/memory/entry?key=k");
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("`namespace`"), "{e}");
    let long = "x".repeat(100_000);
    let (status, _) = ui.get(&format!("/api/memory/keys?q={long}"));
    assert!(
        status == 200 || status == 400 || status == 414 || status == 431,
        "{status}"
    );
    let (status, k) = ui.get("/api/memory/keys?q=%3Cscript%3E%27%22");
    assert_eq!(status, 200);
    assert_eq!(k, json!([]));
    assert_eq!(ui.get("/api/nothing-here").0, 404);
    // Live: a stream of server-sent events, a `change` at once.
    let live = ureq::get(&format!("{}/api/live", ui.base()))
        .call()
        .unwrap();
    assert_eq!(live.content_type(), "text/event-stream");
    let mut lines = BufReader::new(live.into_reader()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "event: change");
    assert!(lines.next().unwrap().unwrap().starts_with("data: "));

    // Memory: namespaces, keys, an entry with its history, a diff.
    let (_, ns) = ui.get("/api/memory/namespaces");
    assert!(ns["coding-pipeline"].as_u64().unwrap() >= 6, "{ns}");
    assert!(ns["baton.events"].as_u64().is_some(), "{ns}");
    let (_, keys) =
        ui.get("/api/memory/keys?namespace=coding-pipeline&prefix=coding/architecture/");
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["key"] == "coding/architecture/performance")
    );
    baton_ok(
        &repo_root(),
        &store,
        &["memory", "store", "notes/x", r#"{"a": 1, "b": [1, 2]}"#],
    );
    baton_ok(
        &repo_root(),
        &store,
        &[
            "memory",
            "store",
            "notes/x",
            r#"{"a": 2, "b": [1], "c": true}"#,
        ],
    );
    let (status, d) = ui.get("/api/memory/diff?namespace=coding-pipeline&key=notes/x&from=1&to=2");
    assert_eq!(status, 200);
    assert_eq!(
        d["changes"],
        json!([
            {"pointer": "/a", "op": "changed", "before": 1, "after": 2},
            {"pointer": "/b/1", "op": "removed", "before": 2},
            {"pointer": "/c", "op": "added", "after": true}
        ])
    );
    let (_, entry) = ui.get("/api/memory/entry?namespace=coding-pipeline&key=notes/x&revision=1");
    assert_eq!(entry["value"], json!({"a": 1, "b": [1, 2]}));
    assert_eq!(entry["history"].as_array().unwrap().len(), 2);
}

#[test]
fn writes_need_the_token_and_pass_the_gates() {
    let (_dir, store, ui) = default_pipeline();
    let token = {
        let (_, page) = ui.get("/");
        let page = page.as_str().unwrap().to_owned();
        let start = page.find("name=\"baton-token\" content=\"").unwrap() + 28;
        page[start..start + 32].to_owned()
    };
    let rollback = |token: Option<&str>, body: Value| {
        let mut r = ureq::post(&format!("{}/api/memory/rollback", ui.base()));
        if let Some(t) = token {
            r = r.set("X-Baton-Token", t);
        }
        reply(r.send_json(body))
    };
    baton_ok(
        &repo_root(),
        &store,
        &["memory", "store", "notes/y", r#"{"v": 1}"#],
    );
    baton_ok(
        &repo_root(),
        &store,
        &["memory", "store", "notes/y", r#"{"v": 2}"#],
    );
    let body = json!({"namespace": "coding-pipeline", "key": "notes/y", "revision": 1});
    let (status, e) = rollback(None, body.clone());
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("token"), "{e}");
    assert_eq!(
        rollback(Some("wrong-wrong-wrong-wrong"), body.clone()).0,
        403
    );
    let (status, e) = rollback(
        Some(&token),
        json!({"namespace": "coding-pipeline", "key": "notes/y"}),
    );
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("`revision`"), "{e}");
    let (status, e) = rollback(
        Some(&token),
        json!({"namespace": "coding-pipeline", "key": "notes/y", "revision": 9}),
    );
    assert_eq!(status, 404, "{e}");
    let (status, stored) = rollback(Some(&token), body);
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["meta"]["revision"], 3);
    // A person's decision is a write too: no token, no decision; with it, a stage
    // that holds nothing says so.
    let decide = |token: Option<&str>, verdict: &str| {
        let mut r = ureq::post(&format!(
            "{}/api/stages/performance-architect%5Bwebshop%5D/{verdict}",
            ui.base()
        ));
        if let Some(t) = token {
            r = r.set("X-Baton-Token", t);
        }
        reply(r.send_json(json!({"reason": "looks right"})))
    };
    assert_eq!(decide(None, "approve").0, 403);
    assert_eq!(decide(None, "reject").0, 403);
    let (status, e) = decide(Some(&token), "approve");
    assert_eq!(status, 404, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("no output held"),
        "{e}"
    );
    assert_eq!(decide(Some(&token), "overrule").0, 404);
    let value = baton_ok(&repo_root(), &store, &["memory", "retrieve", "notes/y"]);
    assert_eq!(
        serde_json::from_str::<Value>(&value).unwrap(),
        json!({"v": 1})
    );
    // A rollback goes through the key's gates: a revision stored past them is refused.
    let key = "coding/architecture/performance";
    let out = baton_cmd()
        .current_dir(repo_root())
        .args(["--store", &store, "memory", "store", key, r#"{"slos": []}"#])
        .args(["--override-gates", "testing the UI's rollback"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, history) = ui.get(&format!(
        "/api/memory/entry?namespace=coding-pipeline&key={key}"
    ));
    let bad = history["meta"]["revision"].as_u64().unwrap();
    baton_ok(&repo_root(), &store, &["run", "--force"]);
    let (status, e) = rollback(
        Some(&token),
        json!({"namespace": "coding-pipeline", "key": key, "revision": bad}),
    );
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["kind"], "gate-failed");
    assert_eq!(e["report"]["passed"], false);
    // A page elsewhere naming this server as its host is refused.
    let (status, e) = reply(
        ureq::get(&format!("{}/api/pipeline", ui.base()))
            .set("Host", "evil.example:80")
            .call(),
    );
    assert_eq!(status, 403);
    assert!(e["error"].as_str().unwrap().contains("evil.example"), "{e}");
}

#[test]
fn a_partial_pipeline_is_shown_with_what_its_stages_need() {
    // One phase of a larger pipeline: its reads come from an earlier one. The page
    // shows it as `status` does (issue 30), not a refusal of the whole pipeline.
    let p = Project::with_manifest(
        "[pipeline]\nname = \"phase\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"reviewer\"\nexternal = true\nreads = [\"earlier/spec\"]\nwrites = \"review\"\n",
    );
    let ui = Ui::start(p.root(), &[], &[]);
    let (status, pipeline) = ui.get("/api/pipeline");
    assert_eq!(status, 200, "{pipeline}");
    let reviewer = &pipeline["stages"][0];
    assert_eq!(reviewer["missing"], json!(["n:earlier/spec"]), "{reviewer}");
    assert_eq!(reviewer["ready"], false);
    p.run(&["memory", "store", "-n", "n", "earlier/spec", "{}"])
        .ok();
    let (_, pipeline) = ui.get("/api/pipeline");
    let reviewer = &pipeline["stages"][0];
    assert_eq!(reviewer["missing"], json!([]), "{reviewer}");
    assert_eq!(reviewer["ready"], true, "{reviewer}");
}

#[test]
fn a_stage_page_shows_the_last_lines_of_its_agent_s_output() {
    // The scripted agent fails, saying why on standard error.
    let p = crate::agents::project("exit1", "");
    assert_eq!(p.run(&["run", "--json"]).code(), 6);
    let ui = Ui::start(p.root(), &[], &[]);
    let (status, page) = ui.get("/api/stages/performance-notes");
    assert_eq!(status, 200, "{page}");
    let attempt = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap())
        .find(|e| e["name"] == "agent.performanceNotes.attempt")
        .unwrap_or_else(|| panic!("no attempt in {page}"));
    assert_eq!(
        attempt["attributes"]["stderr_tail"],
        "the model is unreachable from this machine"
    );
    let Some(browser) = Browser::start() else {
        return;
    };
    browser.open(&format!("{}#/stage/performance-notes", ui.base()));
    let shown = browser.wait_for(
        "the agent's last lines",
        "const e = document.querySelector('#agent-output pre.stderr-tail'); return e && e.textContent",
        Duration::from_secs(30),
    );
    assert_eq!(shown, "the model is unreachable from this machine");
}

#[test]
fn a_running_agent_s_bar_grows_on_the_timeline() {
    let release = tempfile::tempdir().unwrap();
    let release = release.path().join("release");
    let agent = repo_root().join("examples/agents/scripted_agent.py");
    let p = crate::agents::project(
        "wait",
        &format!(
            "command = [\"python3\", \"{}\", \"wait\", \"{}\"]",
            agent.display(),
            release.display()
        ),
    );
    let ui = Ui::start(p.root(), &[], &[]);
    let mut run = std::process::Command::new(baton_bin())
        .args(["run", "--json"])
        .current_dir(p.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The agent works: its row is open, its bar ending now.
    let running = |ui: &Ui| -> Option<Value> {
        let (_, t) = ui.get("/api/timeline");
        let row = t["rows"].as_array()?.first()?.clone();
        (row["outcome"] == "running").then_some(row)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Some(row) = running(&ui) {
            break row;
        }
        assert!(std::time::Instant::now() < deadline, "no running row");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(first["stage"], "performance-notes");
    std::thread::sleep(Duration::from_millis(300));
    let later = running(&ui).expect("still running");
    let bar = |row: &Value, at: &str| row["bars"][0][at].as_u64().unwrap();
    assert_eq!(bar(&later, "start_ms"), bar(&first, "start_ms"));
    assert!(
        bar(&later, "end_ms") >= bar(&first, "end_ms") + 250,
        "the bar grows: {first} then {later}"
    );
    std::fs::write(&release, "").unwrap();
    assert!(run.wait().unwrap().success());
    let (_, t) = ui.get("/api/timeline");
    assert_eq!(t["rows"][0]["outcome"], "passed", "{t}");
    // The ended bar is the attempt's own: from the agent's start, after its launch.
    assert!(
        bar(&t["rows"][0], "start_ms") >= bar(&first, "start_ms"),
        "{t}"
    );
}

#[test]
fn beyond_loopback_every_call_needs_the_token() {
    let p = Project::new();
    let refused = p.run(&["ui", "--port", "0", "--bind", "0.0.0.0"]);
    refused.fails(2, &["give it a token", "--token"]);
    p.run(&["ui", "--port", "0", "--bind", "0.0.0.0", "--token", "short"])
        .fails(2, &["too short"]);
    let token = "0123456789abcdef0123";
    let ui = Ui::start(p.root(), &[], &["--bind", "0.0.0.0", "--token", token]);
    assert!(ui.url.ends_with(&format!("#token={token}")), "{}", ui.url);
    // Listening everywhere, it prints an address that can be opened, not 0.0.0.0.
    assert!(ui.url.starts_with("http://127.0.0.1:"), "{}", ui.url);
    let base = ui.base();
    let (status, page) = reply(ureq::get(&format!("{base}/")).call());
    assert_eq!(status, 200);
    assert!(
        !page.as_str().unwrap().contains(token),
        "the page does not carry the token"
    );
    let (status, _) = reply(ureq::get(&format!("{base}/api/pipeline")).call());
    assert_eq!(status, 403);
    let (status, p) = reply(
        ureq::get(&format!("{base}/api/pipeline"))
            .set("X-Baton-Token", token)
            .call(),
    );
    assert_eq!(status, 200, "{p}");
    let (status, _) =
        reply(ureq::get(&format!("{base}/api/memory/namespaces?token={token}")).call());
    assert_eq!(status, 200);
}

// ---- in the browser -------------------------------------------------------------

/// Where the browser tests leave their screenshots (copied into docs/ by hand).
fn screenshots() -> PathBuf {
    repo_root().join("target/ui-screenshots")
}

const NODE_STATES: &str = "return [...document.querySelectorAll('#pipeline-view g.node')].map(n => [n.dataset.stage, n.dataset.state])";

/// Each partitioned stage's strip: a cell per partition, with its state.
const CELL_STATES: &str = "return [...document.querySelectorAll('#pipeline-view g.node.partitioned rect.cell')].map(c => [c.dataset.stage, c.dataset.partition, c.dataset.state, c.getBoundingClientRect().width])";

#[test]
fn the_default_pipeline_shows_every_stage_fresh_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (_dir, _store, ui) = default_pipeline();
    browser.open(&ui.url);
    // Each stage once, its four partitions a strip of cells.
    let cells = browser.wait_for(
        "three stages of four partitions drawn",
        &format!("const c = (function(){{{CELL_STATES}}})(); return c.length === 12 ? c : null"),
        Duration::from_secs(30),
    );
    let nodes = browser.eval(NODE_STATES, json!([]));
    let nodes: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        ["performance-architect", "load-test-planner", "budget-check"]
    );
    for cell in cells.as_array().unwrap() {
        let (stage, partition) = (cell[0].as_str().unwrap(), cell[1].as_str().unwrap());
        assert!(stage.ends_with(&format!("[{partition}]")), "{cell}");
        assert_eq!(cell[2], "fresh", "{cell}");
        assert!(
            cell[3].as_f64().unwrap() > 10.0,
            "a cell has a width: {cell}"
        );
    }
    browser.screenshot(&screenshots().join("pipeline.png"));
    // The matrix: a row per partition, a cell per stage, each opening that run.
    browser.open(&format!("{}#/partitions", ui.base()));
    let matrix = browser.wait_for(
        "the partition matrix",
        "const c = [...document.querySelectorAll('#partition-matrix td[data-state]')].map(t => [t.closest('tr').dataset.partition, t.dataset.stage, t.dataset.state]);
         return c.length === 12 ? c : null",
        Duration::from_secs(30),
    );
    let rows: Vec<&str> = matrix
        .as_array()
        .unwrap()
        .iter()
        .step_by(3)
        .map(|c| c[0].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        ["freight", "ledger", "telemetry", "webshop"],
        "{matrix}"
    );
    assert!(
        matrix.as_array().unwrap().iter().all(|c| c[2] == "fresh"),
        "{matrix}"
    );
    browser.screenshot(&screenshots().join("partitions.png"));
    browser.click("#partition-matrix td[data-stage='budget-check[ledger]'] a");
    browser.wait_for(
        "the ledger's budget check",
        "return location.hash === '#/stage/' + encodeURIComponent('budget-check[ledger]') && document.querySelector('#stage-view')",
        Duration::from_secs(30),
    );
    let (status, m) = ui.get("/api/partitions");
    assert_eq!(status, 200, "{m}");
    assert_eq!(
        m["partitions"],
        json!(["freight", "ledger", "telemetry", "webshop"])
    );
    browser.open(&ui.url);
    browser.wait_for(
        "the graph again",
        &format!("const c = (function(){{{CELL_STATES}}})(); return c.length === 12 ? c : null"),
        Duration::from_secs(30),
    );
    // The stage view: gate report, provenance, the document with its charts.
    browser.click("g.node rect.cell[data-stage='performance-architect[webshop]']");
    browser.wait_for(
        "the stage view",
        "return document.querySelector('#stage-view #view svg.line-chart') && document.querySelectorAll('#stage-view .gate-report tr[data-passed=true]').length",
        Duration::from_secs(30),
    );
    // Latency budgets as stacked bars: coloured segments with widths.
    let segments = browser.eval(
        "return [...document.querySelectorAll('.bar.budget div')].map(d => [d.getBoundingClientRect().width, getComputedStyle(d).backgroundColor])",
        json!([]),
    );
    let segments = segments.as_array().unwrap();
    assert!(segments.len() >= 3, "{segments:?}");
    for seg in segments {
        assert!(
            seg[0].as_f64().unwrap() > 1.0,
            "a segment has a width: {seg}"
        );
        assert_ne!(seg[1], "rgba(0, 0, 0, 0)", "a segment has a colour: {seg}");
    }
    // The caches table: an entity decided not-cached shows its decision and reason,
    // and no layer, TTL or hit ratio (there is no cache to have them).
    let order = browser.eval(
        "const r = [...document.querySelectorAll('#view table tr')].find(r => r.cells[0] && r.cells[0].innerText === 'order' && r.cells.length === 6); return r && [...r.cells].map(c => c.innerText)",
        json!([]),
    );
    let order: Vec<&str> = order
        .as_array()
        .expect("a caches row for `order`")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        order[..5],
        ["order", "not-cached", "—", "—", "—"],
        "{order:?}"
    );
    assert!(order[5].contains("write-heavy"), "{order:?}");
    browser.screenshot(&screenshots().join("stage.png"));
    browser.eval(
        "document.getElementById('view').scrollIntoView()",
        json!([]),
    );
    browser.screenshot(&screenshots().join("document.png"));
    browser.open(&format!(
        "{}#/memory?ns=coding-pipeline&key=coding/architecture/performance",
        ui.base()
    ));
    browser.wait_for(
        "the memory view",
        "return document.querySelector('#memory-view #revisions')",
        Duration::from_secs(30),
    );
    browser.screenshot(&screenshots().join("memory.png"));
    // The search box: ranked hits, each with its similarity and its words marked.
    browser.open(&format!("{}#/memory?q=latency%20budgets", ui.base()));
    let marks = browser.wait_for(
        "search hits with their words marked",
        "const m = [...document.querySelectorAll('#keys .hit mark')].map(e => e.textContent);
         return m.length ? m : null",
        Duration::from_secs(30),
    );
    let marks: Vec<String> = serde_json::from_value(marks).unwrap();
    assert!(
        marks.iter().all(|m| {
            let m = m.to_lowercase();
            m.starts_with("latenc") || m.starts_with("budget")
        }),
        "{marks:?}"
    );
    let similarities = browser.eval(
        "return [...document.querySelectorAll('#keys .hit .similarity')].map(e => Number(e.textContent))",
        json!([]),
    );
    let similarities: Vec<f64> = serde_json::from_value(similarities).unwrap();
    assert!(
        !similarities.is_empty()
            && similarities.windows(2).all(|w| w[0] >= w[1])
            && similarities.iter().all(|s| *s > 0.0 && *s <= 1.0),
        "{similarities:?}"
    );
    browser.screenshot(&screenshots().join("search.png"));
    // The run as a timeline: a row per stage, its bar passed, the critical path
    // outlined; a bar opens its stage.
    let (status, timeline) = ui.get("/api/timeline");
    assert_eq!(status, 200, "{timeline}");
    let path: Vec<&str> = timeline["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // A chain of stages each reading from the one before, from one that reads from
    // no stage.
    let (_, pipeline) = ui.get("/api/pipeline");
    let reads = |stage: &str| -> Vec<String> {
        let found = pipeline["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == stage)
            .unwrap_or_else(|| panic!("no stage {stage} in {pipeline}"));
        serde_json::from_value(found["depends_on"].clone()).unwrap()
    };
    assert!(path.len() >= 2, "{timeline}");
    assert!(reads(path[0]).is_empty(), "{path:?}");
    for pair in path.windows(2) {
        assert!(reads(pair[1]).contains(&pair[0].to_owned()), "{path:?}");
    }
    let (status, missing) = ui.get("/api/timeline?workflow=workflow-nope");
    assert_eq!(status, 404, "{missing}");
    browser.open(&format!("{}#/timeline", ui.base()));
    let rows = browser.wait_for(
        "twelve rows on the timeline",
        "const r = [...document.querySelectorAll('svg.timeline g.row')].map(g => [g.dataset.stage, g.dataset.outcome, g.classList.contains('critical'), g.querySelector('rect.bar').getBoundingClientRect().width]);
         return r.length === 12 ? r : null",
        Duration::from_secs(30),
    );
    let rows = rows.as_array().unwrap();
    for row in rows {
        assert_eq!(row[1], "passed", "{row}");
        assert!(row[3].as_f64().unwrap() >= 2.0, "a bar has a width: {row}");
    }
    let critical: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == true)
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(critical.len(), path.len(), "{critical:?} {path:?}");
    browser.screenshot(&screenshots().join("timeline.png"));
    browser.click("svg.timeline g.row rect.bar");
    browser.wait_for(
        "the stage a bar opens",
        "return location.hash.startsWith('#/stage/') && document.querySelector('#stage-view')",
        Duration::from_secs(30),
    );
}

#[test]
fn stale_refused_rollback_and_live_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let p = gated_project();
    let store = p.root().join(".baton/store").display().to_string();
    let run = p.run(&["run"]);
    assert_eq!(
        run.code(),
        7,
        "the second stage's gate refuses: {}",
        run.stderr()
    );
    let ui = Ui::start(p.root(), &[], &[]);
    browser.open(&ui.url);
    browser.eval("window.__notReloaded = true", json!([]));
    let state_of = |stage: &str| {
        format!(
            "return (document.querySelector(\"#pipeline-view g.node[data-stage='{stage}']\") || {{dataset: {{}}}}).dataset.state"
        )
    };
    browser.wait_for(
        "`first` fresh",
        &format!("{} === 'fresh'", state_of("first")),
        Duration::from_secs(30),
    );
    browser.wait_for(
        "`second` quarantined",
        &format!("{} === 'quarantined'", state_of("second")),
        Duration::from_secs(30),
    );
    // A changed input turns the stage stale, live, without a reload.
    std::fs::write(p.root().join("a.json"), r#"{"v": 2}"#).unwrap();
    browser.wait_for(
        "`first` stale",
        &format!("{} === 'stale'", state_of("first")),
        Duration::from_secs(30),
    );
    assert_eq!(
        browser.eval("return window.__notReloaded === true", json!([])),
        json!(true)
    );
    // The refused output shows its findings.
    browser.click("g.node[data-stage='second']");
    let finding = browser.wait_for(
        "the refused output's findings",
        "const q = document.querySelector('#quarantine .gate-report tr[data-gate=has-verdict][data-passed=false] .finding'); return q && q.innerText",
        Duration::from_secs(30),
    );
    assert!(finding.as_str().unwrap().contains("verdict"), "{finding}");
    browser.screenshot(&screenshots().join("refused.png"));
    // Rollback from the memory view makes a new revision.
    baton_ok(
        p.root(),
        &store,
        &["memory", "store", "notes/r", r#"{"v": "one"}"#, "-n", "n"],
    );
    baton_ok(
        p.root(),
        &store,
        &["memory", "store", "notes/r", r#"{"v": "two"}"#, "-n", "n"],
    );
    browser.open(&format!("{}#/memory?ns=n&key=notes/r", ui.base()));
    browser.wait_for(
        "the revisions",
        "return document.querySelector(\"button.rollback[data-revision='1']\")",
        Duration::from_secs(30),
    );
    browser.click("button.rollback[data-revision='1']");
    browser.accept_dialog();
    let said = browser.wait_for(
        "the rollback",
        "const m = document.getElementById('rolled-back'); return m && m.innerText",
        Duration::from_secs(30),
    );
    assert!(said.as_str().unwrap().contains("revision 3"), "{said}");
    let value = baton_ok(
        p.root(),
        &store,
        &["memory", "retrieve", "notes/r", "-n", "n"],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&value).unwrap(),
        json!({"v": "one"})
    );
    // Live during a run: `first` turns fresh again while the page stays.
    browser.open(&format!("{}#/pipeline", ui.base()));
    browser.wait_for(
        "`first` stale",
        &format!("{} === 'stale'", state_of("first")),
        Duration::from_secs(30),
    );
    browser.eval("window.__notReloaded = true", json!([]));
    let out = baton_cmd()
        .current_dir(p.root())
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    browser.wait_for(
        "`first` fresh after the run",
        &format!("{} === 'fresh'", state_of("first")),
        Duration::from_secs(30),
    );
    assert_eq!(
        browser.eval("return window.__notReloaded === true", json!([])),
        json!(true)
    );
}

#[test]
fn five_hundred_stages_are_drawn_and_the_page_still_answers() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let manifest = crate::ui_process::five_hundred_stages();
    let p = Project::with_manifest(&manifest);
    let ui = Ui::start(p.root(), &[], &[]);
    browser.open(&ui.url);
    let n = browser.wait_for(
        "500 stages drawn",
        "const n = document.querySelectorAll('#pipeline-view g.node').length; return n === 500 ? n : null",
        Duration::from_secs(60),
    );
    assert_eq!(n, 500);
    browser.click("g.node[data-stage='s250']");
    browser.wait_for(
        "the stage view of s250",
        "const v = document.getElementById('stage-view'); return v && v.dataset.stage === 's250'",
        Duration::from_secs(30),
    );
}

#[test]
fn a_held_output_is_rejected_then_approved_from_the_page() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let p = gated_project();
    // The first stage's output waits for a person; the second's gate is dropped.
    let manifest = p.root().join("pipeline.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        "writes = \"out/first\"\nconfig = { reads = [\"in/a\"], tag = \"one\" }\n",
        "writes = \"out/first\"\nconfig = { reads = [\"in/a\"], tag = \"one\" }\n\n[[stage.gate]]\nname = \"looked-at\"\nrule = \"Someone has read it\"\napproval = true\n",
    );
    let text = &text[..text.find("[[stage.gate]]\nname = \"has-verdict\"").unwrap()];
    std::fs::write(&manifest, text).unwrap();
    let run = p.run(&["run", "--json"]);
    assert_eq!(
        run.json()["stages"][0]["outcome"]["status"],
        "awaiting-approval",
        "{}",
        run.stderr()
    );
    let ui = Ui::start(p.root(), &[], &[]);
    browser.open(&format!("{}#/stage/first", ui.base()));
    browser.wait_for(
        "the held output",
        "const c = document.querySelector('#held'); return c && c.dataset.held === 'waiting' && document.querySelector('#stage-view').dataset.state === 'held'",
        Duration::from_secs(30),
    );
    // Rejecting needs a reason: the page says so and nothing changes.
    browser.click("#held button#reject");
    let said = browser.wait_for(
        "the refusal",
        "const e = document.querySelector('#held .message.error'); return e && e.innerText",
        Duration::from_secs(30),
    );
    assert!(said.as_str().unwrap().contains("needs a reason"), "{said}");
    browser.eval(
        "const t = document.getElementById('decision-reason'); t.value = arguments[0]; t.dispatchEvent(new Event('input'));",
        json!(["tag it two"]),
    );
    browser.click("#held button#reject");
    browser.wait_for(
        "the rejection",
        "const c = document.querySelector('#held'); return c && c.dataset.held === 'rejected'",
        Duration::from_secs(30),
    );
    let held = p.run(&["held", "first", "--json"]).json();
    assert_eq!(held["rejected"]["reason"], "tag it two", "{held}");
    assert!(
        held["rejected"]["by"]
            .as_str()
            .unwrap()
            .starts_with("person:"),
        "{held}"
    );
    // Run again: held again, and the page shows it live; approve it there.
    let again = p.run(&["run", "--json"]).json();
    assert_eq!(
        again["stages"][0]["outcome"]["status"], "awaiting-approval",
        "{again}"
    );
    browser.wait_for(
        "held again",
        "const c = document.querySelector('#held'); return c && c.dataset.held === 'waiting'",
        Duration::from_secs(30),
    );
    browser.click("#held button#approve");
    browser.wait_for(
        "`first` fresh once approved",
        "const v = document.querySelector('#stage-view'); return v && v.dataset.state === 'fresh' && !document.querySelector('#held')",
        Duration::from_secs(30),
    );
    browser.screenshot(&screenshots().join("approved.png"));
    let stored = p
        .run(&["memory", "retrieve", "out/first", "-n", "n", "--json"])
        .json();
    assert!(
        stored["provenance"]["approval"]["by"]
            .as_str()
            .unwrap()
            .starts_with("person:"),
        "{stored}"
    );
    let last = p.run(&["run", "--json"]).json();
    assert_eq!(last["stages"][1]["outcome"]["status"], "passed", "{last}");
}
