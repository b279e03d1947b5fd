//! `baton ui`: the page's first load (the page, its script and style, and the
//! pipeline's JSON: what the browser fetches before it draws) against the default
//! pipeline's store after a run, and the pipeline's JSON of a 500-stage pipeline.
//! Both against the release `baton ui` process, over loopback HTTP.
//!
//! Run: `cargo bench -p baton --bench ui`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../../tests/support/guest.rs"]
mod guest;
#[path = "../../tests/support/ui.rs"]
mod ui;

/// Loads the UI's pages through `ui`.
struct Client(ui::Ui);

impl Client {
    fn get(&self, path: &str) -> usize {
        let body = ureq::get(&format!("{}{path}", self.0.base()))
            .call()
            .expect("the UI answers")
            .into_string()
            .unwrap();
        assert!(!body.is_empty());
        body.len()
    }

    fn first_load(&self) -> usize {
        ["/", "/app.js", "/app.css", "/api/pipeline"]
            .iter()
            .map(|p| self.get(p))
            .sum()
    }
}

fn ui(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    guest::build_guests(root);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let ran = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(root)
        .arg("--store")
        .arg(&store)
        .arg("run")
        .env("BATON_SERVER", "never")
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_baton"));
    let store_arg = store.display().to_string();
    let server = Client(ui::Ui::start(bin, root, &["--store", &store_arg], &[]));
    server.first_load();
    c.bench_function(
        "ui/first load: page, script, style and pipeline JSON (default pipeline, 9 stages)",
        |b| b.iter(|| server.first_load()),
    );
    drop(server);

    let big = tempfile::tempdir().unwrap();
    std::fs::write(big.path().join("pipeline.toml"), ui::five_hundred_stages()).unwrap();
    let server = Client(ui::Ui::start(bin, big.path(), &[], &[]));
    server.get("/api/pipeline");
    let mut group = c.benchmark_group("ui");
    group.sample_size(20);
    group.bench_function("pipeline JSON of a 500-stage pipeline", |b| {
        b.iter(|| server.get("/api/pipeline"))
    });
    group.finish();
}

criterion_group!(benches, ui);
criterion_main!(benches);
