//! Workers on PostgreSQL: `baton run --distributed` enqueues a pipeline and real
//! `baton worker` processes run it. Two workers share the default pipeline and run each
//! stage once; a worker killed mid-stage is replaced once its lease expires, with one
//! output and one set of events; a worker that lost its lease cannot commit; a
//! database stopped while a stage runs fails the run cleanly, stores nothing half,
//! and a rerun completes.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton::memory::{
    JobQueue, Key, MemoryError, Namespace, Op, Store, StoreOptions, Submission, WorkflowRow, Writer,
};
use serde_json::{Value, json};

use crate::harness::{Project, baton_bin, component, repo_root, statuses};

/// A `baton worker` process, its stdout (JSON lines) and stderr in files.
pub(crate) struct Worker {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _dir: tempfile::TempDir,
}

impl Worker {
    /// Starts a worker on `url` in an empty folder (no project: all it needs comes
    /// from the database), with `args` after `baton worker --json`.
    pub(crate) fn start(url: &str, args: &[&str]) -> Self {
        Self::start_sharing(None, url, args)
    }

    /// [`Self::start`], its fetched files and compiled components in `cache` (as two
    /// workers on one machine share them) when given.
    fn start_sharing(cache: Option<&Path>, url: &str, args: &[&str]) -> Self {
        Self::start_with(cache, url, args, &[])
    }

    /// [`Self::start_sharing`] with `env` set too.
    fn start_with(
        cache: Option<&Path>,
        url: &str,
        args: &[&str],
        env: &[(&'static str, String)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (out, err) = (dir.path().join("out"), dir.path().join("err"));
        let child = Command::new(baton_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir.path())
            .args(["--store", url, "worker", "--json"])
            .args(args)
            .env("BATON_SERVER", "never")
            .env("TMPDIR", cache.unwrap_or(dir.path()))
            .env_remove("RUST_LOG")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("baton worker starts");
        Self {
            child,
            out,
            err,
            _dir: dir,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until its stderr contains `needle`.
    fn wait_for(&self, needle: &str, limit: Duration) {
        await_text(&self.err, needle, limit);
    }

    /// The stages it finished, one JSON record each.
    fn finished(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to exit by itself (`--exit-when-idle`).
    fn wait_exit(&mut self, limit: Duration) {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < limit,
                "the worker did not exit within {limit:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `baton --store url run --distributed --json` started in `dir`.
fn submit(dir: &Path, url: &str) -> Child {
    submit_with(dir, url, &[])
}

/// [`submit`] with `env` set too.
fn submit_with(dir: &Path, url: &str, env: &[(&'static str, String)]) -> Child {
    Command::new(baton_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .args(["--store", url, "run", "--distributed", "--json"])
        .env("BATON_SERVER", "never")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton run starts")
}

/// Waits until the file `path` (a process's output) contains `needle`; its text.
fn await_text(path: &Path, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            start.elapsed() < limit,
            "{path:?} did not say {needle:?} within {limit:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child` to exit; its code.
fn exit_code(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("it did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a submitter; its exit code, stdout and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String, String) {
    let code = exit_code(&mut child, limit);
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, out, err)
}

/// A project of a slow stage (about two seconds of work) and a stage reading it.
pub(crate) fn slow_project() -> Project {
    let echo = component("echo");
    Project::with_manifest(&format!(
        r#"[pipeline]
name = "slow"
namespace = "n"

[[stage]]
name = "slow"
component = "{echo}"
writes = "k/slow"
config = {{ spin = 1000000000 }}
limits = {{ timeout = "60s" }}

[[stage]]
name = "after"
component = "{echo}"
reads = ["k/slow"]
writes = "k/after"
config = {{ reads = ["k/slow"] }}
"#,
        echo = echo.display()
    ))
}

#[test]
fn two_workers_run_the_default_pipeline_each_stage_once() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    component("echo"); // the guests are built (the run's build commands find them current)
    // Every process exports its spans to one receiver: the run is one trace.
    let receiver = crate::traces::Receiver::start();
    let env = receiver
        .as_ref()
        .map(|r| r.env().to_vec())
        .unwrap_or_default();
    let run = submit_with(&repo_root(), &url, &env);
    // Two workers of one machine, sharing their cache: each file is written whole.
    let cache = tempfile::tempdir().unwrap();
    let workers = [
        Worker::start_with(Some(cache.path()), &url, &["-j", "1"], &env),
        Worker::start_with(Some(cache.path()), &url, &["-j", "1"], &env),
    ];
    let (code, out, err) = finish(run, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let stages = statuses(&summary);
    // Each (stage, partition) is one job: three stages over four systems.
    assert_eq!(stages.len(), 12, "{stages:?}");
    assert!(
        stages.iter().any(|(s, _)| s == "budget-check[ledger]"),
        "{stages:?}"
    );
    assert!(
        stages.iter().all(|(_, s)| s == "passed"),
        "every stage ran and passed on a fresh database: {stages:?}"
    );
    // Each stage recorded by exactly one worker, once.
    let mut recorded: Vec<String> = workers
        .iter()
        .flat_map(|w| w.finished())
        .filter(|r| r["recorded"] == json!(true))
        .map(|r| r["summary"]["stage"].as_str().unwrap().to_owned())
        .collect();
    recorded.sort();
    let mut expected: Vec<String> = stages.iter().map(|(s, _)| s.clone()).collect();
    expected.sort();
    assert_eq!(recorded, expected);
    if let Some(receiver) = receiver {
        assert_one_distributed_trace(&receiver, &summary);
        // The workers report the queue's depth as they run.
        let depth = receiver
            .metrics()
            .into_iter()
            .filter(|p| p["name"] == "baton.queue.depth")
            .count();
        assert!(
            depth >= 1,
            "no baton.queue.depth in {:?}",
            receiver.metrics()
        );
    }
    // The outputs are where a local run looks: it finds every stage fresh.
    assert_fresh_locally(&repo_root(), &url);
}

/// The submitter's and both workers' spans are one trace: each worker's claim is a
/// child of the submitter's workflow, and its stage (with its gate check and commit)
/// is inside the claim.
fn assert_one_distributed_trace(receiver: &crate::traces::Receiver, summary: &Value) {
    use crate::traces::{assert_one_trace, children, names, one};
    let claims = |spans: &[Value]| {
        spans
            .iter()
            .filter(|s| s["name"].as_str().unwrap().starts_with("worker claim "))
            .count()
    };
    let spans = receiver.spans_when(|spans| claims(spans) >= 12);
    assert_one_trace(&spans);
    let root = one(&spans, "baton run");
    let workflow = one(&spans, "workflow coding-phase-3-performance");
    assert_eq!(workflow["parent_span_id"], root["span_id"]);
    assert_eq!(workflow["attributes"]["baton.distributed"], true);
    assert_eq!(
        workflow["attributes"]["baton.workflow.id"],
        summary["workflow_id"]
    );
    let claimed = children(&spans, workflow);
    assert_eq!(claimed.len(), 12, "{}", names(&spans).join(", "));
    let workers: std::collections::BTreeSet<&str> = claimed
        .iter()
        .map(|c| {
            let worker = c["attributes"]["baton.worker"].as_str().unwrap();
            worker.rsplit_once('/').map_or(worker, |(w, _)| w)
        })
        .collect();
    assert!(!workers.is_empty());
    for claim in claimed {
        let stage = claim["attributes"]["baton.stage"].as_str().unwrap();
        assert_eq!(claim["name"], format!("worker claim {stage}"));
        let inside = children(&spans, claim);
        assert_eq!(inside.len(), 1, "{claim}");
        assert_eq!(inside[0]["name"], format!("stage {stage}"));
        assert_eq!(inside[0]["attributes"]["baton.outcome"], "passed");
        let steps: Vec<&str> = children(&spans, inside[0])
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(steps.contains(&"gate check"), "{steps:?}");
        assert!(steps.contains(&"memory commit"), "{steps:?}");
    }
}

/// A local `baton run` in `dir` on `url` finds every stage fresh: the workers' outputs
/// are where it looks, current.
fn assert_fresh_locally(dir: &Path, url: &str) {
    let out = crate::harness::baton_cmd()
        .current_dir(dir)
        .args(["--store", url, "run", "--json"])
        .output()
        .unwrap();
    let local: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        statuses(&local).iter().all(|(_, s)| s == "fresh"),
        "{local}"
    );
}

#[test]
fn a_worker_killed_mid_stage_is_replaced_once_its_lease_expires() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let run = submit(p.root(), &url);
    let mut first = Worker::start(&url, &["-j", "1", "--lease", "2s"]);
    first.wait_for("claimed   slow", Duration::from_secs(60));
    first.kill();
    // The second worker's metrics count the lease that expired.
    let receiver = crate::traces::Receiver::start();
    let env = receiver
        .as_ref()
        .map(|r| r.env().to_vec())
        .unwrap_or_default();
    let mut second = Worker::start_with(
        None,
        &url,
        &["-j", "1", "--lease", "2s", "--exit-when-idle"],
        &env,
    );
    let (code, out, err) = finish(run, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}\n{}", second.stderr());
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        statuses(&summary),
        [
            ("slow".to_owned(), "passed".to_owned()),
            ("after".to_owned(), "passed".to_owned())
        ]
    );
    second.wait_exit(Duration::from_secs(30));
    let slow = second
        .finished()
        .into_iter()
        .find(|r| r["summary"]["stage"] == "slow")
        .expect("the second worker ran `slow`");
    assert_eq!(slow["attempt"], 2, "the second claim of `slow`: {slow}");
    if let Some(receiver) = receiver {
        let metrics = receiver.metrics();
        let expired = crate::traces::point(
            &metrics,
            "baton.queue.lease_expiries",
            json!({"baton.stage": "slow"}),
        );
        assert_eq!(expired["value"], 1, "{expired}");
    }
    assert!(
        first.finished().is_empty(),
        "the killed worker finished nothing"
    );
    // One output, one set of events.
    let store = |args: &[&str]| {
        let all = [&["--store", url.as_str()][..], args].concat();
        p.run(&all)
    };
    let history = store(&["memory", "history", "k/slow", "-n", "n", "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    let events = store(&["events", "--json"]).json();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .filter(|n| n.starts_with("agent.slow."))
        .collect();
    assert_eq!(names, ["agent.slow.started", "agent.slow.completed"]);
}

/// The queue of the database at `url`, with a workflow `id` of `jobs` (stage, the
/// stages it waits for) submitted by hand: no manifest, no files.
fn queue_with(url: &str, id: &str, jobs: Vec<(String, Vec<String>)>) -> JobQueue {
    let queue = JobQueue::open(url, StoreOptions::default()).unwrap();
    queue
        .submit(&Submission {
            workflow: WorkflowRow {
                id: id.into(),
                manifest: String::new(),
                files: Vec::new(),
                force: false,
                traceparent: None,
            },
            jobs,
            agents: Vec::new(),
        })
        .unwrap();
    queue
}

#[test]
fn a_worker_that_lost_its_lease_cannot_commit_or_finish() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let queue = queue_with(
        &url,
        "workflow-fence",
        vec![("s".into(), Vec::new()), ("t".into(), vec!["s".into()])],
    );
    // Eight workers claim at once: one gets `s`; `t` waits for it.
    let claims: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let url = &url;
                scope.spawn(move || {
                    let q = JobQueue::open(url, StoreOptions::default()).unwrap();
                    q.claim(&format!("w{i}"), Duration::from_millis(400))
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let claimed: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let a = &claimed[0];
    assert_eq!((a.lease.stage.as_str(), a.attempts), ("s", 1));
    assert!(
        queue
            .claim("other", Duration::from_secs(30))
            .unwrap()
            .is_none()
    );
    // Its lease expires; another worker claims the stage with a new token.
    std::thread::sleep(Duration::from_millis(800));
    let b = queue.claim("b", Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!((b.lease.stage.as_str(), b.attempts), ("s", 2));
    assert_ne!(a.lease.token, b.lease.token);
    let (ns, key) = (Namespace::new("n").unwrap(), Key::new("k/s").unwrap());
    let write = |store: &dyn Store, v: u64| {
        store.commit(
            &Writer::stage("s"),
            vec![Op::put(&ns, &key, json!({ "v": v }))],
        )
    };
    match write(queue.fenced(a.lease.clone()).as_ref(), 1) {
        Err(MemoryError::LeaseLost { stage, workflow }) => {
            assert_eq!((stage.as_str(), workflow.as_str()), ("s", "workflow-fence"))
        }
        other => panic!("the stale lease committed: {other:?}"),
    }
    assert!(!queue.renew(&a.lease, Duration::from_secs(30)).unwrap());
    write(queue.fenced(b.lease.clone()).as_ref(), 2).unwrap();
    assert!(
        !queue.finish(&a.lease, "{}").unwrap(),
        "the stale lease finished"
    );
    assert!(queue.finish(&b.lease, "{}").unwrap());
    // Once `s` is done, `t` is ready; a finished job's lease commits nothing more.
    let t = queue.claim("b", Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(t.lease.stage, "t");
    assert!(write(queue.fenced(b.lease.clone()).as_ref(), 3).is_err());
    let history = queue.store().history(&ns, &key).unwrap();
    assert_eq!(
        history.len(),
        1,
        "only the lease holder's commit: {history:?}"
    );
    assert_eq!(
        queue.store().get(&ns, &key).unwrap().unwrap().json(),
        json!({ "v": 2 })
    );
}

#[test]
fn a_cancel_counts_a_stage_whose_lease_expired_as_queued_not_running() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let queue = queue_with(&url, "workflow-lapsed", vec![("u".into(), Vec::new())]);
    let lapsed = queue
        .claim("gone", Duration::from_millis(100))
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Nobody runs `u` now: its worker let the lease lapse (killed, or cut off).
    let cancelled = queue
        .cancel("workflow-lapsed", &|stage| {
            format!("{{\"stage\":\"{stage}\"}}")
        })
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.queued, vec!["u".to_owned()]);
    assert!(cancelled.running.is_empty(), "{cancelled:?}");
    assert!(
        !queue.finish(&lapsed.lease, "{}").unwrap(),
        "it was cancelled"
    );
    assert!(
        queue
            .claim("next", Duration::from_secs(30))
            .unwrap()
            .is_none()
    );
    assert!(
        queue
            .cancel("workflow-none", &|_| String::new())
            .unwrap()
            .is_none()
    );
}

#[test]
fn postgres_stopped_while_a_stage_runs_fails_the_run_cleanly_and_a_rerun_completes() {
    let Some(server) = crate::postgres::private_server() else {
        return;
    };
    let url = server.new_database();
    let p = slow_project();
    let run = submit(p.root(), &url);
    let worker = Worker::start(&url, &["-j", "1", "--lease", "30s"]);
    worker.wait_for("claimed   slow", Duration::from_secs(60));
    // Into the stage's two seconds of work, past its fetch and compile.
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.stop(), "the server stops");
    let (code, _, err) = finish(run, Duration::from_secs(60));
    assert_ne!(
        code,
        Some(0),
        "the run cannot end well without its database"
    );
    assert!(
        err.contains(&format!("database {}", url)) || err.contains("database postgresql://"),
        "the error names the database: {err}"
    );
    // Down for longer than the stage runs: its commit meets no database.
    std::thread::sleep(Duration::from_secs(4));
    assert!(server.restart(), "the server starts again");
    worker.wait_for("failed    slow", Duration::from_secs(60));
    let store = |args: &[&str]| {
        let all = [&["--store", url.as_str()][..], args].concat();
        p.run(&all)
    };
    store(&["memory", "retrieve", "k/slow", "-n", "n"]).fails(3, &["not found"]);
    let events = store(&["events", "--json"]).json();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "agent.slow.started"),
        "nothing of the failed commit is stored: {events}"
    );
    // The same worker, still running, takes the rerun.
    let (code, out, err) = finish(submit(p.root(), &url), Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}\n{}", worker.stderr());
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert!(
        statuses(&summary).iter().all(|(_, s)| s == "passed"),
        "{summary}"
    );
    let history = store(&["memory", "history", "k/slow", "-n", "n", "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1);
}

#[test]
fn a_run_no_worker_takes_says_so_and_waits() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let (mut run, _, err) = submit_logged(p.root(), &url);
    let said = await_text(
        &err,
        "no worker has claimed a stage",
        Duration::from_secs(60),
    );
    assert!(run.try_wait().unwrap().is_none(), "it still waits: {said}");
    let _ = run.kill();
    let _ = run.wait();
    assert!(
        said.contains("start one: `baton worker --store URL`"),
        "{said}"
    );
}

#[test]
fn the_ui_shows_a_stage_running_on_a_worker() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let ui = crate::ui_process::Ui::start(&baton_bin(), p.root(), &["--store", &url], &[]);
    let slow = || -> Value {
        let body: Value = ureq::get(&format!("{}/api/pipeline", ui.base()))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        body["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "slow")
            .unwrap()
            .clone()
    };
    assert_eq!(slow()["running"], false);
    let run = submit(p.root(), &url);
    let worker = Worker::start(&url, &["-j", "1"]);
    worker.wait_for("claimed   slow", Duration::from_secs(60));
    let seen = slow();
    assert_eq!(seen["running"], true, "while the worker runs it: {seen}");
    // On the timeline: an open row from when the worker claimed it, growing.
    let timeline = || -> Value {
        ureq::get(&format!("{}/api/timeline", ui.base()))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    };
    let bar = |t: &Value| -> (u64, u64) {
        let row = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == "slow")
            .unwrap_or_else(|| panic!("no row of `slow` in {t}"));
        assert_eq!(row["outcome"], "running", "{t}");
        let bar = &row["bars"][0];
        (
            bar["start_ms"].as_u64().unwrap(),
            bar["end_ms"].as_u64().unwrap(),
        )
    };
    let first = bar(&timeline());
    std::thread::sleep(Duration::from_millis(300));
    let later = bar(&timeline());
    assert_eq!(later.0, first.0, "it starts when it was claimed");
    assert!(
        later.1 >= first.1 + 250,
        "it grows: {first:?} then {later:?}"
    );
    let (code, _, err) = finish(run, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    let after = slow();
    assert_eq!(
        (after["running"].clone(), after["state"].clone()),
        (json!(false), json!("fresh")),
        "{after}"
    );
}

#[test]
fn a_worker_needs_a_database() {
    let p = Project::new();
    p.run(&["worker", "--exit-when-idle"]).fails(
        2,
        &[
            "is a folder: workers share a PostgreSQL database",
            "--store postgres://",
        ],
    );
    p.run(&["run", "--distributed"])
        .fails(2, &["workers share a PostgreSQL database"]);
}

/// `baton --store url run --distributed --json` started in `dir`, its stdout and
/// stderr in files there (read while it runs).
fn submit_logged(dir: &Path, url: &str) -> (Child, PathBuf, PathBuf) {
    let (out, err) = (dir.join("submit.out"), dir.join("submit.err"));
    let child = Command::new(baton_bin())
        .current_dir(dir)
        .args(["--store", url, "run", "--distributed", "--json"])
        .env("BATON_SERVER", "never")
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("baton run starts");
    (child, out, err)
}

/// The workflow a submitter enqueued, once its stderr says so.
fn enqueued(err: &Path) -> String {
    let text = await_text(err, "enqueued workflow-", Duration::from_secs(120));
    let at = text.find("enqueued workflow-").unwrap();
    let id = text[at + "enqueued ".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(&format!("`baton cancel {id}` cancels it")),
        "{text}"
    );
    id
}

/// The summary a submitter printed (`--json`, in `out`), once it ended with both
/// stages of the slow project cancelled.
fn all_cancelled(out: &Path) -> Value {
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(
        statuses(&summary),
        vec![
            ("slow".to_owned(), "cancelled".to_owned()),
            ("after".to_owned(), "cancelled".to_owned())
        ]
    );
    assert_eq!(summary["passed"], false);
    summary
}

#[test]
fn baton_cancel_stops_a_workflow_and_the_running_stage_commits_nothing() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let (mut run, out, err) = submit_logged(p.root(), &url);
    let workflow = enqueued(&err);
    let mut worker = Worker::start(&url, &["--exit-when-idle", "--jobs", "1"]);
    worker.wait_for("claimed   slow", Duration::from_secs(60));

    let cancelled = p
        .run(&["--store", &url, "cancel", &workflow, "--json"])
        .json();
    assert_eq!(cancelled["workflow"], workflow.as_str());
    assert_eq!(cancelled["queued"], json!(["after"]), "{cancelled}");
    assert_eq!(cancelled["running"][0]["stage"], "slow", "{cancelled}");
    assert_eq!(cancelled["running"][0]["workflow"], workflow.as_str());
    assert!(
        cancelled["running"][0]["worker"]
            .as_str()
            .is_some_and(|w| w.ends_with("/0")),
        "the worker's slot is named: {cancelled}"
    );
    assert_eq!(cancelled["ended"], 0);

    // The submitter ends at once, each stage cancelled.
    assert_eq!(exit_code(&mut run, Duration::from_secs(30)), Some(6));
    all_cancelled(&out);

    // The worker finishes its stage, but its commit is refused; then nothing is left.
    worker.wait_for("lost      slow", Duration::from_secs(120));
    worker.wait_exit(Duration::from_secs(60));
    assert!(
        worker.finished().iter().all(|f| f["recorded"] == false),
        "{:?}",
        worker.finished()
    );
    for key in ["k/slow", "k/after"] {
        p.run(&["--store", &url, "memory", "get", key])
            .fails(3, &[key]);
    }

    // Again: nothing to cancel. An unknown workflow is not found.
    let again = p.run(&["--store", &url, "cancel", &workflow]);
    again.ok();
    assert!(
        again
            .stderr()
            .contains("every stage had ended (2); nothing to cancel"),
        "{}",
        again.stderr()
    );
    p.run(&["--store", &url, "cancel", "workflow-nope"])
        .fails(3, &["no workflow `workflow-nope` in the queue"]);
    // Something that is not a workflow id at all is refused as such.
    for bad in ["", "workflow-", "slow"] {
        p.run(&["--store", &url, "cancel", bad])
            .fails(2, &["is not a workflow id", "workflow-"]);
    }
}

#[test]
fn baton_status_names_the_worker_running_a_stage() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let (mut run, _, err) = submit_logged(p.root(), &url);
    let workflow = enqueued(&err);
    let worker = Worker::start(&url, &["--jobs", "1", "--name", "builder-7"]);
    worker.wait_for("claimed   slow", Duration::from_secs(60));
    let stages = p.run(&["--store", &url, "status", "--json"]).json();
    assert_eq!(stages[0]["stage"], "slow");
    let mut on = stages[0]["running_on"].clone();
    // Since when: the moment it was claimed, a time in milliseconds.
    let since = on[0]["since_ms"].take();
    assert!(
        since.as_u64().is_some_and(|ms| ms > 1_700_000_000_000),
        "{stages}"
    );
    assert_eq!(
        on,
        json!([{ "workflow": workflow, "stage": "slow", "worker": "builder-7/0", "since_ms": null }])
    );
    assert!(stages[1].get("running_on").is_none(), "{stages}");
    let table = p.run(&["--store", &url, "status"]).ok();
    assert!(
        table.contains(&format!("running on builder-7/0 ({workflow})")),
        "{table}"
    );
    let _ = run.kill();
    let _ = run.wait();
}

#[test]
fn ctrl_c_cancels_the_workflow_a_distributed_run_enqueued() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = slow_project();
    let (mut run, out, err) = submit_logged(p.root(), &url);
    enqueued(&err);
    let kill = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(exit_code(&mut run, Duration::from_secs(30)), Some(6));
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(
        said.contains("interrupted: cancelling the workflow"),
        "{said}"
    );
    // Said as it happened: cancelled, nothing failed, nothing quarantined.
    assert!(
        said.contains(
            "the run was cancelled: `slow`, `after` did not run to the end, and nothing failed"
        ),
        "{said}"
    );
    assert!(!said.contains("quarantine"), "{said}");
    let summary = all_cancelled(&out);
    assert_eq!(
        summary["stages"][0]["outcome"]["detail"],
        "cancelled: its `baton run` was interrupted"
    );
    // A worker started afterwards finds nothing to run.
    let mut worker = Worker::start(&url, &["--exit-when-idle"]);
    worker.wait_exit(Duration::from_secs(60));
    assert!(worker.finished().is_empty(), "{:?}", worker.finished());
    p.run(&["--store", &url, "memory", "get", "k/slow"])
        .fails(3, &["k/slow"]);
}

/// The agents' project of `agents::project` with a component stage beside its agent,
/// and a second agent stage reading what the first stores.
fn agents_project(mode: &str) -> Project {
    let p = crate::agents::project(mode, "");
    let echo = component("echo");
    let manifest = p.root().join("pipeline.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        r#"
[[stage]]
name = "notes-reader"
external = true
reads = ["coding/architecture/notes"]
writes = "coding/review/notes"

[[stage]]
name = "echo"
component = "{echo}"
reads = ["coding/architecture/system"]
writes = "coding/echo/system"
config = {{ reads = ["coding/architecture/system"] }}
"#,
        echo = echo.display()
    ));
    std::fs::write(&manifest, text).unwrap();
    p
}

#[test]
fn agent_stages_run_on_the_workers_that_run_agents() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = agents_project("good");
    let run = submit(p.root(), &url);
    let workers = [
        Worker::start(&url, &["-j", "1", "--agents"]),
        Worker::start(&url, &["-j", "1", "--agents"]),
    ];
    let plain = Worker::start(&url, &["-j", "1"]);
    let (code, out, err) = finish(run, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let stages = statuses(&summary);
    assert!(stages.iter().all(|(_, s)| s == "passed"), "{stages:?}");
    // Each stage once; the agents' only on the workers that run agents.
    let recorded = |w: &Worker| -> Vec<String> {
        w.finished()
            .into_iter()
            .filter(|r| r["recorded"] == json!(true))
            .map(|r| r["summary"]["stage"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut by_agents: Vec<String> = workers.iter().flat_map(recorded).collect();
    by_agents.sort();
    let mut by_plain = recorded(&plain);
    for agent in ["notes-reader", "performance-notes"] {
        assert!(!by_plain.contains(&agent.to_owned()), "{by_plain:?}");
    }
    by_plain.extend(by_agents.iter().filter(|s| *s == "echo").cloned());
    assert_eq!(
        by_agents
            .iter()
            .filter(|s| *s != "echo")
            .collect::<Vec<_>>(),
        ["notes-reader", "performance-notes"]
    );
    assert_eq!(by_plain.iter().filter(|s| *s == "echo").count(), 1);
    // The definition travelled with the workflow, and the output is current for a
    // local run.
    let stored = crate::harness::baton_cmd()
        .current_dir(p.root())
        .args([
            "--store",
            &url,
            "memory",
            "retrieve",
            "coding/architecture/notes",
            "--json",
        ])
        .output()
        .unwrap();
    let stored: Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert_eq!(stored["value"]["marker"], "from-the-definition", "{stored}");
    assert_eq!(stored["provenance"]["agent"]["runner"], "python3");
    assert_eq!(stored["value"]["workflow_id"], summary["workflow_id"]);
    assert_fresh_locally(p.root(), &url);
}

#[test]
fn baton_cancel_stops_an_agent_running_on_a_worker_with_its_process_group() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let pid_path = pid_file.path().display().to_string();
    let p = crate::agents::project(
        "hang",
        &format!(
            "command = [\"python3\", \"{}\", \"hang\", \"{pid_path}\"]",
            repo_root()
                .join("examples/agents/scripted_agent.py")
                .display()
        ),
    );
    let (mut run, _out, err) = submit_logged(p.root(), &url);
    let worker = Worker::start(&url, &["-j", "1", "--agents", "--lease", "1s"]);
    let start = Instant::now();
    let grandchild: i32 = loop {
        let text = std::fs::read_to_string(pid_file.path()).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the agent never started:\n{}",
            worker.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let alive = |pid: i32| {
        Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    };
    assert!(alive(grandchild));
    let workflow = enqueued(&err);
    let cancel = crate::harness::baton_cmd()
        .args(["--store", &url, "cancel", &workflow])
        .output()
        .unwrap();
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    // The worker notices at its next renewal and kills the agent's whole group.
    let start = Instant::now();
    while alive(grandchild) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the agent's grandchild outlived the cancel:\n{}",
            worker.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    worker.wait_for("lost      performance-notes", Duration::from_secs(30));
    assert_eq!(
        exit_code(&mut run, Duration::from_secs(60)),
        Some(6),
        "a cancelled run exits 6"
    );
}
