//! `baton stage new`: from nothing to a running stage, as a newcomer would go: in an
//! empty folder outside any checkout, run against the default pipeline's example data.

use std::process::Command;

use crate::harness::{Project, baton_cmd, guest_target};

#[test]
fn a_scaffolded_stage_tests_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("my-stage");
    let out = baton_cmd()
        .current_dir(work.path())
        .env_remove("BATON_SDK")
        .args(["stage", "new", "my-stage"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("next:") && err.contains("cargo build --release --target wasm32-wasip2"),
        "{err}"
    );
    assert!(dir.join("sdk/baton-sdk/src/lib.rs").is_file() && dir.join("wit/baton.wit").is_file());
    // Scaffolding twice never overwrites.
    let again = baton_cmd()
        .current_dir(work.path())
        .args(["stage", "new", "my-stage"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let bad = baton_cmd()
        .current_dir(work.path())
        .args(["stage", "new", "Bad Name"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid stage name \"Bad Name\""));

    // Share the guest build folder so dependencies compile once.
    let cargo = |args: &[&str]| {
        let status = Command::new(env!("CARGO"))
            .current_dir(&dir)
            .args(args)
            .env("CARGO_TARGET_DIR", guest_target())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cargo {args:?} failed in the scaffolded crate"
        );
    };
    cargo(&["test", "--quiet"]);
    cargo(&["build", "--release", "--target", "wasm32-wasip2"]);
    let wasm = guest_target().join("wasm32-wasip2/release/my_stage.wasm");

    // The default pipeline's example data, as the printed instructions say.
    let p = crate::performance_pipeline::default_pipeline();
    p.run(&["run"]).ok();
    let run = p
        .run(&[
            "stage",
            "run",
            wasm.to_str().unwrap(),
            "--reads",
            "coding/architecture/system",
            "--json",
        ])
        .json();
    assert_eq!(run["output"]["components"], 9, "{run}");
    assert_eq!(run["output"]["names"][0], "api-gateway", "{run}");
    assert_eq!(run["events"][0]["name"], "agent.myStage.systemSummarised");
    // A missing field is reported with the key and the JSON pointer of the field.
    let other = Project::new();
    other
        .run(&[
            "memory",
            "store",
            "coding/architecture/system",
            r#"{"components":[{"name":"a"},{"id":"x"}]}"#,
        ])
        .ok();
    other
        .run(&["stage", "run", wasm.to_str().unwrap(), "--reads", "coding/architecture/system"])
        .fails(
            6,
            &[
                "cannot use input `coding/architecture/system` in namespace `coding-pipeline` at /components/1/name",
                "missing field `name`",
            ],
        );
}
