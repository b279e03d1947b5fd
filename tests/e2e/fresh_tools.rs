//! A fresh machine: `baton run` builds a Python and a JavaScript stage when neither
//! componentize-py nor componentize-js is installed. The `python3` first on `PATH` is
//! a new virtual environment without them, the JavaScript stage is a scaffold with no
//! `node_modules`, and the tool cache is empty: `build.py` and `build.mjs` fetch the
//! pinned tools into the cache on first use (from PyPI and npm), as cargo fetches
//! crates, and the run stores both stages' outputs.

use std::path::Path;
use std::process::Command;

use crate::harness::{baton_bin, repo_root};

fn run(dir: &Path, path: &str, cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(baton_bin())
        .current_dir(dir)
        .args(args)
        .env("PATH", path)
        .env("BATON_TOOL_CACHE", cache)
        .env("BATON_SERVER", "never")
        .env_remove("BATON_STORE")
        .output()
        .expect("baton runs")
}

#[test]
fn baton_run_fetches_the_pinned_python_and_js_tools_on_first_use() {
    if !crate::python_stages::componentize_py() || !crate::js_stages::componentize_js() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let bare = Command::new(venv.join("bin/python3"))
        .args(["-c", "import componentize_py"])
        .output()
        .unwrap();
    assert!(!bare.status.success(), "the new environment has no tools");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        crate::harness::path_with_baton()
    );
    let project = tmp.path().join("project");
    let cache = tmp.path().join("tools");
    std::fs::create_dir(&project).unwrap();
    for (name, lang) in [("py-stage", "python"), ("js-stage", "js")] {
        let out = run(
            &project,
            &path,
            &cache,
            &["stage", "new", name, "--lang", lang],
        );
        assert!(out.status.success(), "{out:?}");
    }
    assert!(!project.join("js-stage/node_modules").exists());
    let system = repo_root().join("examples/webshop/system.json");
    std::fs::write(
        project.join("pipeline.toml"),
        format!(
            r#"[pipeline]
name = "fresh"
namespace = "coding-pipeline"

[[input]]
key = "coding/architecture/system"
file = "{}"

[[stage]]
name = "py-stage"
component = "py-stage/py_stage.wasm"
build = "python3 py-stage/build.py --world stage --app component --wit py-stage/wit --out py-stage/py_stage.wasm --path py-stage"
reads = ["coding/architecture/system"]
writes = "summary/python"

[[stage]]
name = "js-stage"
component = "js-stage/js_stage.wasm"
build = "node js-stage/build.mjs --world stage --entry js-stage/component.js --wit js-stage/wit/baton.wit --out js-stage/js_stage.wasm"
reads = ["coding/architecture/system"]
writes = "summary/js"
"#,
            system.display()
        ),
    )
    .unwrap();

    let out = run(&project, &path, &cache, &["run", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The tools came from the cache, fetched by this run.
    let requirements =
        std::fs::read_to_string(repo_root().join("guest/python/requirements.txt")).unwrap();
    let pinned = requirements
        .lines()
        .find_map(|l| l.strip_prefix("componentize-py=="))
        .expect("componentize-py is pinned");
    assert!(
        cache
            .join(format!("componentize-py-{}/.complete", pinned.trim()))
            .is_file()
    );
    let js_tools: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("componentize-js-")
        })
        .collect();
    assert_eq!(js_tools.len(), 1, "{js_tools:?}");
    assert!(js_tools[0].join(".complete").is_file());
    assert!(
        js_tools[0]
            .join("node_modules/.bin/componentize-js")
            .exists()
    );
    for key in ["summary/python", "summary/js"] {
        let got = run(&project, &path, &cache, &["memory", "retrieve", key]);
        let text = String::from_utf8_lossy(&got.stdout);
        assert!(got.status.success(), "{key}: {got:?}");
        assert!(text.contains("api-gateway"), "{key}: {text}");
    }
}
