//! Stages in JavaScript, built with the pinned componentize-js (`guest/js`, `npm ci
//! --prefix guest/js`) through `guest/js/build.mjs`: hostile JavaScript stages each
//! contained with its reason, the SDK's native tests, and the JavaScript scaffold from
//! an empty folder outside the checkout to a passing `stage run`. The mixed example
//! (with a JavaScript stage) runs in `python_stages`. Without componentize-js the
//! tests say so and skip, except in CI (`CI` or `BATON_REQUIRE_JS_STAGES` set).

use std::process::Command;

use crate::harness::{repo_root, shell_ok};

/// Whether componentize-js is installed in `guest/js`.
pub(crate) fn componentize_js() -> bool {
    let found = repo_root()
        .join("guest/js/node_modules/.bin/componentize-js")
        .is_file();
    crate::harness::present_or_skip(
        found,
        "componentize-js (npm ci --prefix guest/js)",
        "BATON_REQUIRE_JS_STAGES",
    )
}

#[test]
fn hostile_js_stages_are_contained_each_with_its_reason() {
    if !componentize_js() {
        return;
    }
    let root = repo_root();
    let wasm = root.join("guest/target/js/hostile_js.wasm");
    shell_ok(
        &root,
        &format!(
            "node guest/js/build.mjs --world stage --entry guest/test-stages/hostile-js/hostile.js --wit wit/baton.wit --out {}",
            wasm.display()
        ),
    );
    crate::harness::assert_runs_start_fresh(&wasm);
    let (_p, detail) = crate::harness::run_hostile(&wasm);
    assert!(
        detail("loop").contains("timed out after 3s"),
        "{}",
        detail("loop")
    );
    let bomb = detail("memory-bomb");
    assert!(
        bomb.contains("ran out of memory") || bomb.contains("out of memory"),
        "{bomb}"
    );
    assert!(
        detail("undeclared-read").contains("secrets/api-token"),
        "{}",
        detail("undeclared-read")
    );
    // Thrown past the SDK, with no stderr (stdio is disabled): a trap, named.
    assert!(
        detail("exception").starts_with("stage `exception` trapped"),
        "{}",
        detail("exception")
    );
    // Thrown through the SDK: the message and the JavaScript stack.
    let sdk = detail("sdk-exception");
    assert!(
        sdk.contains("TypeError")
            && sdk.contains("ctx.config.missing is undefined")
            && sdk.contains("run@"),
        "{sdk}"
    );
    assert!(
        detail("not-json").contains("not JSON"),
        "{}",
        detail("not-json")
    );
}

#[test]
fn the_js_sdk_passes_its_own_native_tests() {
    if !componentize_js() {
        return;
    }
    let out = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(repo_root().join("guest/js"))
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );
}

#[test]
fn the_js_scaffold_builds_and_runs_from_an_empty_folder() {
    if !componentize_js() {
        return;
    }
    let (_outside, dir, printed) = crate::harness::scaffold("js-stage", "js");
    let step = |prefix: &str| crate::harness::printed_step(&printed, prefix);
    // `npm ci`, as printed, from npm's cache (filled by `npm ci --prefix guest/js`).
    shell_ok(
        &dir,
        &format!(
            "{} --prefer-offline --no-audit --no-fund",
            step("cd js-stage && npm ci").trim_start_matches("cd js-stage && ")
        ),
    );
    assert!(shell_ok(&dir, &step("npm test")).contains("# pass 2"));
    shell_ok(&dir, &step("node build.mjs"));
    crate::harness::run_scaffolded(&dir, &printed);
}
