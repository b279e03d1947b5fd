//! Partitions: the default pipeline's three stages over 100 and 1,000 partitions (the
//! four example systems copied round-robin into `examples/pNNNN/`), through the real
//! binary on a store on disk: `baton check`, a first `baton run -j 2` (every stage
//! runs), a second (every stage fresh) and `baton status`; and on PostgreSQL, `baton
//! run --distributed` with two `baton worker`s. Each figure is one timed command
//! (the median of three at 100 partitions), with its cost per partition: flat cost per
//! partition means the work grows linearly.
//!
//! Run: `cargo bench -p baton --bench partitions` (`-- 100` for the small size alone;
//! `BATON_BENCH_DISTRIBUTED=0` leaves out the workers).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../tests/support/bench_workers.rs"]
mod bench_workers;
#[path = "../../tests/support/guest.rs"]
mod guest;
#[path = "../../tests/support/postgres.rs"]
mod postgres;
use bench_workers::Workers;

const SYSTEMS: [&str; 4] = ["webshop", "telemetry", "freight", "ledger"];
const DOCUMENTS: [&str; 6] = [
    "requirements",
    "analysis",
    "system",
    "data",
    "integration",
    "measurements",
];

/// A project of `n` partitions: the default pipeline, its components and schemas in
/// the repository, each partition a copy of one example system.
fn project(root: &Path, n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = root.display();
    let manifest = std::fs::read_to_string(root.join("pipeline.toml"))
        .unwrap()
        .replace("\"guest/target/", &format!("\"{repo}/guest/target/"))
        .replace(
            "--manifest-path guest/",
            &format!("--manifest-path {repo}/guest/"),
        )
        .replace(
            "--target-dir guest/",
            &format!("--target-dir {repo}/guest/"),
        )
        .replace("\"schemas/", &format!("\"{repo}/schemas/"))
        // No partition keeps the web shop's namespace here: each has its own.
        .replace(
            "[partitions.override.webshop]\nnamespace = \"coding-pipeline\"\nconfig = {}\n",
            "",
        );
    std::fs::write(dir.path().join("pipeline.toml"), manifest).unwrap();
    for i in 0..n {
        let system = SYSTEMS[i % SYSTEMS.len()];
        let folder = dir.path().join(format!("examples/p{i:04}"));
        std::fs::create_dir_all(&folder).unwrap();
        for doc in DOCUMENTS {
            std::fs::copy(
                root.join(format!("examples/{system}/{doc}.json")),
                folder.join(format!("{doc}.json")),
            )
            .unwrap();
        }
    }
    dir
}

/// `baton ARGS` in `dir` on `store`, timed; it must succeed.
fn timed(dir: &Path, store: &str, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["--store", store])
        .args(args)
        .current_dir(dir)
        .env("BATON_SERVER", "never")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "baton {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn report(what: &str, n: usize, took: Duration) {
    let ms = took.as_secs_f64() * 1e3;
    println!(
        "{what:<44} {n:>5} partitions  {ms:>10.1} ms  {:>8.3} ms/partition",
        ms / n as f64
    );
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Local runs on a store on disk.
fn local(root: &Path, n: usize) {
    let repeats = if n <= 100 { 3 } else { 1 };
    let mut check = Vec::new();
    let mut first = Vec::new();
    let mut again = Vec::new();
    let mut status = Vec::new();
    for _ in 0..repeats {
        let p = project(root, n);
        let store = p.path().join("store").display().to_string();
        check.push(timed(p.path(), &store, &["check"]));
        first.push(timed(p.path(), &store, &["run", "-j", "2", "--json"]));
        again.push(timed(p.path(), &store, &["run", "-j", "2", "--json"]));
        status.push(timed(p.path(), &store, &["status", "--json"]));
    }
    report("check", n, median(check));
    report("run -j 2, every stage runs", n, median(first));
    report("run -j 2, every stage fresh", n, median(again));
    report("status", n, median(status));
}

/// A run on two workers over PostgreSQL (each (stage, partition) one job).
fn distributed(root: &Path, n: usize) {
    let Some(url) = postgres::database() else {
        return;
    };
    // The same run by one local process on PostgreSQL: the store's share of the cost.
    let local_db = postgres::database().unwrap();
    let p = project(root, n);
    let took = timed(p.path(), &local_db, &["run", "-j", "2", "--json"]);
    report("run -j 2 on PostgreSQL, every stage runs", n, took);
    let cache: PathBuf = p.path().join("worker");
    std::fs::create_dir_all(&cache).unwrap();
    let _workers = Workers::start(2, &url, &cache);
    let took = timed(p.path(), &url, &["run", "--distributed", "--json"]);
    report("run --distributed on 2 workers, every stage", n, took);
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    guest::build_guests(root);
    let sizes: Vec<usize> = match std::env::args().skip(1).find_map(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![100, 1000],
    };
    let workers = std::env::var("BATON_BENCH_DISTRIBUTED").map_or(true, |v| v != "0");
    for &n in &sizes {
        local(root, n);
        if workers {
            distributed(root, n);
        }
    }
}
