//! The memory server: started by a command, used by the commands after it, stopped when
//! idle, asked, replaced by another build, or its store removed; killed without losing
//! an acknowledged write; hostile clients and stale sockets.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::gates::{KEY, bad, gated_project, good};
use crate::harness::{Project, Run, baton_bin};
use crate::memory_concurrency::{
    assert_all_present, shell, sixteen_workers_store_a_hundred_keys_each, spawn_collecting,
};

/// Runs `baton` in `p` with servers allowed (the harness forbids them by default).
fn served(p: &Project, args: &[&str]) -> Run {
    Run(p
        .baton(args)
        .env("BATON_SERVER", "auto")
        .env("BATON_SERVER_IDLE", "60s")
        .output()
        .expect("baton runs"))
}

/// The running server's status, waiting up to 20 s for one to answer.
fn wait_for_server(p: &Project) -> Value {
    let started = Instant::now();
    loop {
        let status = p.run(&["memory", "server", "status", "--json"]);
        if status.code() == 0 {
            return status.json();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no memory server answered: {}",
            status.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u64) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the project's server when the test ends, passed or failed.
struct StopOnDrop<'a>(&'a Project);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["memory", "server", "stop"]);
    }
}

#[test]
fn a_command_starts_a_server_that_the_commands_after_it_use() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    served(
        &p,
        &[
            "memory",
            "store",
            "coding/architecture/system",
            r#"{"v":1}"#,
        ],
    )
    .ok();
    let status = wait_for_server(&p);
    assert_eq!(status["running"], true);
    assert_eq!(status["idle_timeout_ms"], 60_000);
    let pid = status["pid"].as_u64().unwrap();
    assert!(p.store().join("baton.sock").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(p.store().join("baton.sock"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the socket is private to its owner");

    // Every command works through it, and it counts their requests.
    let before = status["requests"].as_u64().unwrap();
    assert_eq!(
        served(
            &p,
            &["memory", "retrieve", "-k", "coding/architecture/system"]
        )
        .ok(),
        "{\"v\":1}\n"
    );
    served(
        &p,
        &[
            "memory",
            "store",
            "coding/architecture/system",
            r#"{"v":2}"#,
        ],
    )
    .ok();
    served(
        &p,
        &[
            "memory",
            "store",
            "coding/architecture/system",
            "x",
            "--if-revision",
            "1",
        ],
    )
    .fails(4, &["is at revision 2, not 1"]);
    served(&p, &["memory", "retrieve", "missing"]).fails(
        3,
        &["key `missing` not found in namespace `coding-pipeline`"],
    );
    let history = served(
        &p,
        &["memory", "history", "coding/architecture/system", "--json"],
    )
    .json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    let exported = served(&p, &["memory", "export"]).ok();
    assert_eq!(exported.lines().count(), 2, "{exported}");
    // An import through the server (greeted before it is sent, so it is never copied).
    let copy = exported.replace(r#""namespace":"coding-pipeline""#, r#""namespace":"copy""#);
    assert_ne!(copy, exported);
    p.run_with_stdin(&["memory", "import"], copy).ok();
    assert_eq!(
        served(
            &p,
            &[
                "memory",
                "retrieve",
                "-n",
                "copy",
                "coding/architecture/system"
            ]
        )
        .ok(),
        "{\"v\":2}\n"
    );
    let stats = served(&p, &["memory", "stats", "--json"]).json();
    assert_eq!(stats["stats"]["keys"], 2);
    let status = wait_for_server(&p);
    assert_eq!(
        status["pid"].as_u64().unwrap(),
        pid,
        "the same server throughout"
    );
    assert!(
        status["requests"].as_u64().unwrap() >= before + 10,
        "the commands went through the server: {status}"
    );

    // The table has the build column its help promises (issue 30).
    let table = p.run(&["memory", "server", "status"]).ok();
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("build"), "{table}");
    assert!(table.contains(&format!("{pid}")), "{table}");

    // Stopped by hand: the socket goes, and the store opens directly with everything in it.
    let stopped = p.run(&["memory", "server", "stop", "--json"]).json();
    assert_eq!(stopped["stopped"]["pid"].as_u64().unwrap(), pid);
    wait_until("the server exits", Duration::from_secs(10), || !alive(pid));
    assert!(!p.store().join("baton.sock").exists());
    let status = p.run(&["memory", "server", "status"]);
    status.fails(3, &["no memory server is running"]);
    assert_eq!(
        p.run(&["memory", "retrieve", "coding/architecture/system"])
            .ok(),
        "{\"v\":2}\n"
    );
}

#[test]
fn gates_hold_through_the_server() {
    let p = gated_project();
    let _stop = StopOnDrop(&p);
    p.run(&["memory", "server", "start", "--idle", "60s"]).ok();
    let pid = wait_for_server(&p)["pid"].as_u64().unwrap();
    served(&p, &["memory", "store", KEY, &good()]).ok();
    served(&p, &["memory", "store", KEY, &bad()]).fails(
        7,
        &["fails the gates of stage `performance-architect`: measurable-slos"],
    );
    let entry = served(&p, &["memory", "retrieve", KEY, "--json"]).json();
    assert_eq!(entry["revision"], 1, "the refused document was not stored");
    assert_eq!(wait_for_server(&p)["pid"].as_u64().unwrap(), pid);
}

#[test]
fn a_server_killed_with_sigkill_loses_no_acknowledged_write() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4 {
        served(&p, &["memory", "server", "start"]).ok();
        let pid = wait_for_server(&p)["pid"].as_u64().unwrap();
        // Each store is printed only after `baton` acknowledged it.
        let script = format!(
            "i=0; while :; do \"$BATON\" memory store s{round}/k$i \"$i\" 2>/dev/null && echo s{round}/k$i; i=$((i+1)); done"
        );
        let (mut child, reader) = spawn_collecting(shell(p.root(), &script, "auto"));
        std::thread::sleep(Duration::from_millis(200 + 97 * round));
        // The server dies mid-stream; the writers go on a little, then die too.
        assert!(
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        let acks = reader.join().unwrap();
        assert!(!acks.is_empty(), "round {round} acknowledged nothing");
        acknowledged.extend(acks);
        assert_all_present(&p, &acknowledged, round);
    }
}

#[test]
fn sixteen_processes_starting_servers_at_once_all_succeed() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    // No server to begin with: the first commands open the store themselves and race to
    // start one; one wins, and the rest of the burst goes through it.
    sixteen_workers_store_a_hundred_keys_each(&p, "auto");
    let status = wait_for_server(&p);
    assert!(status["requests"].as_u64().unwrap() > 0, "{status}");
    let listed = p.run(&["memory", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1600);
    // One server is left: any other started in the burst found it serving and left.
    wait_until("one server is left", Duration::from_secs(40), || {
        let out = Command::new("pgrep")
            .args(["-f", &format!("{} memory server run", p.store().display())])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count() == 1
    });
}

#[test]
fn an_idle_server_stops_and_removes_its_socket() {
    let p = Project::new();
    p.run(&["memory", "server", "start", "--idle", "1s"]).ok();
    let pid = wait_for_server(&p)["pid"].as_u64().unwrap();
    wait_until("the idle server exits", Duration::from_secs(15), || {
        !alive(pid)
    });
    assert!(!p.store().join("baton.sock").exists());
    let log = std::fs::read_to_string(p.store().join("server.log")).unwrap();
    assert!(
        log.contains("memory server stopped") && log.contains("idle for 1s"),
        "{log}"
    );
}

#[test]
fn a_server_stops_when_its_store_is_removed() {
    let p = Project::new();
    p.run(&["memory", "store", "k", "v"]).ok();
    p.run(&["memory", "server", "start"]).ok();
    let pid = wait_for_server(&p)["pid"].as_u64().unwrap();
    std::fs::remove_dir_all(p.store()).unwrap();
    wait_until("the orphaned server exits", Duration::from_secs(10), || {
        !alive(pid)
    });
}

#[test]
fn a_stale_socket_is_no_obstacle() {
    let p = Project::new();
    p.run(&["memory", "store", "k", "v"]).ok();
    // A socket file nothing listens on, as a killed server leaves it.
    drop(std::os::unix::net::UnixListener::bind(p.store().join("baton.sock")).unwrap());
    assert_eq!(p.run(&["memory", "retrieve", "k"]).ok(), "v\n");
    let _stop = StopOnDrop(&p);
    served(&p, &["memory", "retrieve", "k"]).ok();
    let status = wait_for_server(&p);
    assert!(alive(status["pid"].as_u64().unwrap()));
    assert_eq!(served(&p, &["memory", "retrieve", "k"]).ok(), "v\n");
}

#[test]
fn a_server_of_another_build_is_replaced() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    // Another build: the same program at another path.
    let other = p.root().join("baton-other");
    std::fs::copy(baton_bin(), &other).unwrap();
    // Another test's child forked while the copy was open for writing holds it so
    // until it execs: running the copy meanwhile fails with ETXTBSY (a race of any
    // threaded program that writes an executable and runs it). It passes; try again.
    let mut tries = 0;
    let started = loop {
        let run = Command::new(&other)
            .current_dir(p.root())
            .args(["memory", "server", "start", "--json"])
            .env_remove("BATON_STORE")
            .output();
        match run {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            run => break run.unwrap(),
        }
    };
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let old: Value = serde_json::from_slice(&started.stdout).unwrap();
    let old_pid = old["pid"].as_u64().unwrap();
    assert!(old["build"].as_str().unwrap().contains("baton-other"));
    // This build refuses to talk to it, has it stop, and carries on.
    p.run(&["memory", "server", "status"])
        .fails(5, &["another build of baton", "baton-other"]);
    served(&p, &["memory", "store", "k", "v"]).ok();
    wait_until(
        "the other build's server exits",
        Duration::from_secs(10),
        || !alive(old_pid),
    );
    let new = wait_for_server(&p);
    assert_ne!(new["pid"].as_u64().unwrap(), old_pid);
    assert!(!new["build"].as_str().unwrap().contains("baton-other"));
    assert_eq!(served(&p, &["memory", "retrieve", "k"]).ok(), "v\n");
}

/// A command that makes one call (a hook's) sends its request with its hello, before
/// any answer: one round trip, not two. A server that turns it away (another build)
/// has read nothing of it, and the command opens the store itself and succeeds.
#[test]
fn a_command_sends_its_request_with_its_hello_and_goes_on_when_turned_away() {
    let p = Project::new();
    p.run(&["memory", "store", "k", "v"]).ok();
    let socket = p.store().join("baton.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let child = Command::new(baton_bin())
        .current_dir(p.root())
        .args(["memory", "retrieve", "k"])
        .env("BATON_SERVER", "never")
        .env_remove("BATON_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut next_frame = || {
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        conn.read_exact(&mut body).unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let (hello, request) = (next_frame(), next_frame());
    assert!(hello["build"].is_string(), "{hello}");
    assert_eq!(request["Get"]["key"], "k", "{request}");
    // Nothing listens any more once the command is turned away.
    drop(listener);
    std::fs::remove_file(&socket).unwrap();
    conn.write_all(&frame(
        json!({"Different": {"build": "another"}})
            .to_string()
            .as_bytes(),
    ))
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v\n");
}

pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Sends `bytes` on a fresh connection and returns what comes back before it closes.
fn exchange(socket: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut conn = UnixStream::connect(socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = conn.write_all(bytes);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut back = Vec::new();
    let _ = conn.read_to_end(&mut back);
    back
}

#[test]
fn hostile_clients_do_not_bring_the_server_down() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    p.run(&["memory", "store", "k", "v"]).ok();
    p.run(&["memory", "server", "start"]).ok();
    let pid = wait_for_server(&p)["pid"].as_u64().unwrap();
    let socket = p.store().join("baton.sock");

    // Garbage, a length of 4 GiB, a truncated frame, JSON of the wrong shape: each
    // connection is dropped and nothing is answered.
    assert!(exchange(&socket, b"GET / HTTP/1.1\r\n\r\n").is_empty());
    assert!(exchange(&socket, &u32::MAX.to_be_bytes()).is_empty());
    assert!(exchange(&socket, &frame(b"{\"build\":")[..8]).is_empty());
    assert!(exchange(&socket, &frame(br#"{"Get":{}}"#)).is_empty());
    // A client of another build is told so, and the server stays unless asked to go.
    let hello = json!({"build": "someone else", "retention": 3, "replace_if_different": false});
    let back = exchange(&socket, &frame(hello.to_string().as_bytes()));
    let reply: Value = serde_json::from_slice(&back[4..]).unwrap();
    assert!(reply["Different"]["build"].is_string(), "{reply}");
    // Connections that open and go silent do not keep others waiting.
    let _idle: Vec<_> = (0..8)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();

    assert_eq!(served(&p, &["memory", "retrieve", "k"]).ok(), "v\n");
    served(&p, &["memory", "store", "k", "w"]).ok();
    assert_eq!(served(&p, &["memory", "retrieve", "k"]).ok(), "w\n");
    let status = wait_for_server(&p);
    assert_eq!(
        status["pid"].as_u64().unwrap(),
        pid,
        "the same server survived it all"
    );
    assert!(status["connections"].as_u64().unwrap() >= 9);
}

#[test]
fn a_pipeline_runs_through_the_server() {
    let p = crate::pipeline_run::project();
    let _stop = StopOnDrop(&p);
    p.run(&["memory", "server", "start"]).ok();
    let before = wait_for_server(&p);
    let summary = served(&p, &["run", "--json"]).json();
    assert_eq!(summary["passed"], true, "{summary}");
    let c = served(&p, &["memory", "retrieve", "coding/c", "--json"]).json();
    assert_eq!(c["writer"], "stage:third");
    assert_eq!(c["provenance"]["workflow_id"], summary["workflow_id"]);
    let again = served(&p, &["run", "--json"]).json();
    let skipped = again["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["outcome"]["status"] == "fresh");
    assert!(skipped, "a second run finds every stage fresh: {again}");
    let after = wait_for_server(&p);
    assert_eq!(after["pid"], before["pid"]);
    assert!(after["requests"].as_u64().unwrap() > before["requests"].as_u64().unwrap() + 10);
}

#[test]
fn a_client_that_stops_reading_cannot_hold_up_a_stop() {
    let p = Project::new();
    let _stop = StopOnDrop(&p);
    // Four 512 KiB values: an export of them is more than the socket's buffers hold.
    let big = format!("\"{}\"", "x".repeat(512 * 1024));
    for i in 0..4 {
        p.run_with_stdin(
            &["memory", "store", &format!("big/{i}"), "--json"],
            big.clone(),
        )
        .ok();
    }
    p.run(&["memory", "server", "start"]).ok();
    let build = wait_for_server(&p)["build"].as_str().unwrap().to_owned();
    let mut stalled = UnixStream::connect(p.store().join("baton.sock")).unwrap();
    let hello = json!({"build": build, "retention": 16, "replace_if_different": false});
    stalled
        .write_all(&frame(hello.to_string().as_bytes()))
        .unwrap();
    let mut welcome = [0u8; 4];
    stalled.read_exact(&mut welcome).unwrap();
    stalled
        .write_all(&frame(br#"{"Export":{"namespace":null}}"#))
        .unwrap();
    // The export fills the socket and blocks, holding the store's read lock; the stop
    // waits for it only until the server gives up on the client (30 s).
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    p.run(&["memory", "server", "stop", "--lock-timeout", "90s"])
        .ok();
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "the stop did wait for the stalled reply: {:?}",
        started.elapsed()
    );
    drop(stalled);
}

#[test]
fn a_store_whose_socket_path_is_too_long_is_served_without_a_server() {
    let p = Project::new();
    let store = p
        .root()
        .join("a".repeat(60))
        .join("b".repeat(60))
        .join("store");
    let store = store.to_str().unwrap();
    p.run(&["--store", store, "memory", "server", "start"])
        .fails(
            5,
            &["cannot start a memory server", "longer than the 107 bytes"],
        );
    // Commands still work, each opening the store itself.
    served(&p, &["--store", store, "memory", "store", "k", "v"]).ok();
    assert_eq!(
        served(&p, &["--store", store, "memory", "retrieve", "k"]).ok(),
        "v\n"
    );
    p.run(&["--store", store, "memory", "server", "status"])
        .fails(3, &["no memory server is running"]);
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn the_binary_is_linked_without_pie_for_a_fast_start() {
    // ELF e_type at offset 16: 2 is a fixed-address executable, 3 a PIE (or library).
    let mut header = [0u8; 18];
    std::fs::File::open(baton_bin())
        .unwrap()
        .read_exact(&mut header)
        .unwrap();
    assert_eq!(&header[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([header[16], header[17]]), 2, "ET_EXEC");
}
