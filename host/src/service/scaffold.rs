//! Scaffolding a stage (`baton stage new`): a Rust stage crate built on `baton-sdk`,
//! a Python stage built on `baton_sdk.py` and componentize-py, or a JavaScript stage
//! built on `baton-sdk.js` and componentize-js, each with the SDK and the WIT contract
//! of this very binary vendored into it, so a stage can be started in any folder and
//! builds against the contract of the host that will run it; and the steps that
//! follow, for the front end to print.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// A stage's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// A Rust crate built for wasm32-wasip2 with the vendored `baton-sdk`.
    Rust,
    /// A Python module built with componentize-py and the vendored `baton_sdk.py`.
    Python,
    /// A JavaScript module built with componentize-js and the vendored `baton-sdk.js`.
    Js,
}

/// A stage scaffolded.
#[derive(Clone, Debug)]
pub struct Scaffolded {
    /// Its folder.
    pub dir: PathBuf,
    /// What was created, in a sentence.
    pub created: String,
    /// What to do next: build, test, run and wire it in, a line each.
    pub next: String,
}

/// Writes a new stage named `name` in `lang` into `dir` (default `./NAME`), which
/// must not exist.
pub fn scaffold(name: &str, dir: Option<PathBuf>, lang: Lang) -> Result<Scaffolded> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        return Err(Error::bad_input(format!("invalid stage name {name:?}"))
            .hint("use lower-case letters, digits and `-`, starting with a letter, such as `load-test-planner`"));
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        return Err(Error::bad_input(format!(
            "{dir:?} already exists; not overwriting it"
        )));
    }
    let files = match lang {
        Lang::Rust => files(name),
        Lang::Python => python_files(name),
        Lang::Js => js_files(name),
    };
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    let (created, next) = next_steps(name, &dir, lang);
    Ok(Scaffolded { dir, created, next })
}

/// The sentence saying what was created, and the steps after it: the language's
/// own (install, test, build), then running the component and wiring it in.
fn next_steps(name: &str, dir: &Path, lang: Lang) -> (String, String) {
    let d = dir.display();
    let wasm = format!("{}.wasm", name.replace('-', "_"));
    let (created, steps, built, stage_extra) = match lang {
        Lang::Js => (
            format!("created JavaScript stage `{name}` in {d}"),
            [
                format!("cd {d} && npm ci                                   # componentize-js, pinned by package-lock.json"),
                "npm test                                           # the stage's logic, natively".to_owned(),
                format!("node build.mjs --world stage --entry component.js --wit wit/baton.wit --out {wasm}"),
                "  (without `npm ci`, build.mjs fetches the pinned componentize-js into ~/.cache/baton/tools on first use)".to_owned(),
            ],
            wasm.clone(),
            format!("\n  build = \"node {d}/build.mjs --world stage --entry {d}/component.js --wit {d}/wit/baton.wit --out {d}/{wasm}\"\n  reads = [\"coding/architecture/system\"]"),
        ),
        Lang::Python => (
            format!("created Python stage `{name}` in {d}"),
            [
                format!("cd {d} && python3 -m pip install -r requirements.txt   # componentize-py and pytest, pinned"),
                "python3 -m pytest                                  # the stage's logic, natively".to_owned(),
                format!("python3 build.py --world stage --app component --wit wit --out {wasm} --path ."),
                "  (a Python without the pinned componentize-py gets it fetched into ~/.cache/baton/tools on first use)".to_owned(),
            ],
            wasm.clone(),
            format!("\n  build = \"python3 {d}/build.py --world stage --app component --wit {d}/wit --out {d}/{wasm} --path {d}\"\n  reads = [\"coding/architecture/system\"]"),
        ),
        Lang::Rust => (
            format!("created stage crate `{name}` in {d}"),
            [
                format!("cd {d} && cargo test                              # the stage's logic, natively"),
                "cargo build --release --target wasm32-wasip2     # the component".to_owned(),
                String::new(),
                String::new(),
            ],
            format!("target/wasm32-wasip2/release/{wasm}"),
            String::new(),
        ),
    };
    let mut out = String::from("next:\n");
    for step in steps.iter().filter(|s| !s.is_empty()) {
        let _ = writeln!(out, "  {step}");
    }
    let _ = writeln!(
        out,
        "  baton stage run {built} --reads coding/architecture/system"
    );
    let _ = writeln!(
        out,
        "    (in a baton project whose memory holds `coding/architecture/system`, such as the baton repository after `baton run`, or with `--store DIR -n NAMESPACE`, the namespace that holds it)"
    );
    let _ = writeln!(out, "then add it to pipeline.toml:");
    let _ = writeln!(
        out,
        "  [[stage]]\n  name = \"{name}\"\n  component = \"{d}/{built}\"{stage_extra}"
    );
    (created, out)
}

/// The SDK's sources and the contract, as this binary was built with them.
const SDK_FILES: [(&str, &str); 6] = [
    (
        "sdk/baton-sdk/src/lib.rs",
        include_str!("../../../guest/sdk/src/lib.rs"),
    ),
    (
        "sdk/baton-sdk/src/context.rs",
        include_str!("../../../guest/sdk/src/context.rs"),
    ),
    (
        "sdk/baton-sdk/src/error.rs",
        include_str!("../../../guest/sdk/src/error.rs"),
    ),
    (
        "sdk/baton-sdk/src/gate.rs",
        include_str!("../../../guest/sdk/src/gate.rs"),
    ),
    (
        "sdk/baton-sdk/src/render.rs",
        include_str!("../../../guest/sdk/src/render.rs"),
    ),
    // The SDK's bindings read `../../wit` from its folder: the crate's `wit/`.
    ("wit/baton.wit", include_str!("../../../wit/baton.wit")),
];

/// The vendored SDK's manifest: the guest workspace's dependencies, spelled out.
const SDK_MANIFEST: &str = r#"[package]
name = "baton-sdk"
description = "Write baton pipeline stages as WebAssembly components (vendored by `baton stage new`)"
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = { version = "1", features = ["preserve_order"] }
serde_path_to_error = "0.1"
wit-bindgen = "0.61"
"#;

/// The Python SDK, its build helper and their pinned tools, as this binary was built
/// with them.
const PYTHON_FILES: [(&str, &str); 4] = [
    (
        "baton_sdk.py",
        include_str!("../../../guest/python/baton_sdk.py"),
    ),
    ("build.py", include_str!("../../../guest/python/build.py")),
    (
        "requirements.txt",
        include_str!("../../../guest/python/requirements.txt"),
    ),
    ("wit/baton.wit", include_str!("../../../wit/baton.wit")),
];

/// A Python stage's files, as (relative path, contents).
fn python_files(name: &str) -> Vec<(&'static str, String)> {
    let app = format!(
        r#""""`{name}`: a baton stage.

It reads `coding/architecture/system` (declare it in pipeline.toml under `reads`)
and returns a summary. Replace `summarise` with the stage's own logic; `component.py`
exports the stage for the component build, and `test_app.py` tests it natively.
"""

from baton_sdk import Context, Stage


def summarise(system: dict) -> dict:
    """The stage's logic, kept free of the host so that it is tested natively."""
    names = sorted(c["name"] for c in system["components"])
    return {{"components": len(names), "names": names}}


class Summary(Stage):
    def run(self, ctx: Context) -> dict:
        summary = summarise(ctx.read("coding/architecture/system"))
        ctx.emit("systemSummarised", components=summary["components"])
        return summary
"#
    );
    let component = format!(
        r#""""The component's entry point: the stage `{name}` exported for world `stage`."""

from app import Summary
from baton_sdk import stage_world

WitWorld = stage_world(Summary())
"#
    );
    let test = r#""""Native tests of the stage: `python3 -m pytest`."""

import pytest

from app import Summary, summarise
from baton_sdk import Context, InputError, run_stage


def test_summarises_the_components_in_order():
    assert summarise({"components": [{"name": "b"}, {"name": "a"}]}) == {"components": 2, "names": ["a", "b"]}


def test_the_stage_reads_its_input_and_says_what_is_missing():
    ctx = Context.for_test({"coding/architecture/system": {"components": [{"name": "a"}]}})
    assert run_stage(Summary(), ctx) == '{"components": 1, "names": ["a"]}'
    with pytest.raises(InputError):
        run_stage(Summary(), Context.for_test({}))
"#;
    let mut files = vec![
        ("app.py", app),
        ("component.py", component),
        ("test_app.py", test.to_owned()),
        (
            ".gitignore",
            "*.wasm
__pycache__/
.pytest_cache/
"
            .to_owned(),
        ),
    ];
    files.extend(
        PYTHON_FILES
            .iter()
            .map(|(path, text)| (*path, (*text).to_owned())),
    );
    files
}

/// The JavaScript SDK, its build helper and the contract, as this binary was built
/// with them.
const JS_FILES: [(&str, &str); 6] = [
    (
        "baton-sdk.js",
        include_str!("../../../guest/js/baton-sdk.js"),
    ),
    (
        "baton-sdk.d.ts",
        include_str!("../../../guest/js/baton-sdk.d.ts"),
    ),
    ("stage.js", include_str!("../../../guest/js/stage.js")),
    ("gate.js", include_str!("../../../guest/js/gate.js")),
    ("build.mjs", include_str!("../../../guest/js/build.mjs")),
    ("wit/baton.wit", include_str!("../../../wit/baton.wit")),
];

/// A JavaScript stage's files, as (relative path, contents).
fn js_files(name: &str) -> Vec<(&'static str, String)> {
    // The SDK's own package.json, renamed: one place pins componentize-js.
    let mut package: serde_json::Value =
        serde_json::from_str(include_str!("../../../guest/js/package.json"))
            .expect("guest/js/package.json is JSON");
    package["name"] = name.into();
    package["description"] = "A baton stage in JavaScript".into();
    if let Some(fields) = package.as_object_mut() {
        fields.remove("main");
        fields.remove("types");
    }
    let package = format!(
        "{}\n",
        serde_json::to_string_pretty(&package).expect("a package.json serialises")
    );
    let app = format!(
        r#"// `{name}`: a baton stage.
//
// It reads `coding/architecture/system` (declare it in pipeline.toml under `reads`)
// and returns a summary. Replace `summarise` with the stage's own logic;
// `component.js` exports the stage for the component build, and `test/` tests it
// natively (`npm test`).
import {{ Stage }} from './baton-sdk.js';

/** The stage's logic, kept free of the host so that it is tested natively. */
export function summarise(system) {{
  const names = system.components.map((c) => c.name).sort();
  return {{ components: names.length, names }};
}}

export class Summary extends Stage {{
  run(ctx) {{
    const summary = summarise(ctx.read('coding/architecture/system'));
    ctx.emit('systemSummarised', {{ components: summary.components }});
    return summary;
  }}
}}
"#
    );
    let component = format!(
        r#"// The component's entry point: the stage `{name}` exported for world `stage`.
import {{ stageRun }} from './stage.js';
import {{ Summary }} from './app.js';

export const run = stageRun(new Summary());
"#
    );
    let test = r#"// Native tests of the stage: `npm test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Summary, summarise } from '../app.js';
import { Context, InputError, runStage } from '../baton-sdk.js';

test('summarises the components in order', () => {
  assert.deepEqual(summarise({ components: [{ name: 'b' }, { name: 'a' }] }), { components: 2, names: ['a', 'b'] });
});

test('the stage reads its input and says what is missing', () => {
  const ctx = Context.forTest({ 'coding/architecture/system': { components: [{ name: 'a' }] } });
  assert.equal(runStage(new Summary(), ctx), '{"components":1,"names":["a"]}');
  assert.throws(() => runStage(new Summary(), Context.forTest({})), InputError);
});
"#;
    // The SDK's lock, renamed: the scaffold pins the same tree of tools.
    let mut lock: serde_json::Value =
        serde_json::from_str(include_str!("../../../guest/js/package-lock.json"))
            .expect("guest/js/package-lock.json is JSON");
    lock["name"] = name.into();
    lock["packages"][""]["name"] = name.into();
    let lock = format!(
        "{}\n",
        serde_json::to_string_pretty(&lock).expect("a lock serialises")
    );
    let mut files = vec![
        ("package.json", package),
        ("package-lock.json", lock),
        ("app.js", app),
        ("component.js", component),
        ("test/app.test.js", test.to_owned()),
        (".gitignore", "*.wasm\nnode_modules/\n".to_owned()),
    ];
    files.extend(
        JS_FILES
            .iter()
            .map(|(path, text)| (*path, (*text).to_owned())),
    );
    files
}

/// The crate's files, as (relative path, contents).
fn files(name: &str) -> Vec<(&'static str, String)> {
    let lib_name = name.replace('-', "_");
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A stage is a WebAssembly component: `cargo build --release --target wasm32-wasip2`.
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
baton-sdk = {{ path = "sdk/baton-sdk" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
opt-level = "s"
lto = true
strip = "debuginfo"

# A standalone crate, even inside another workspace.
[workspace]
"#
    );
    let lib = format!(
        r##"//! `{name}`: a baton stage.
//!
//! It reads `coding/architecture/system` (declare it in pipeline.toml under `reads`)
//! and returns a summary. Replace `summarise` with the stage's own logic.

use baton_sdk::{{Context, Error, Stage, export_stage}};
use serde::{{Deserialize, Serialize}};

/// The input this stage reads.
#[derive(Debug, Deserialize)]
pub struct System {{
    /// The system's components.
    pub components: Vec<Component>,
}}

/// One component of the system.
#[derive(Debug, Deserialize)]
pub struct Component {{
    /// Its name.
    pub name: String,
}}

/// The output this stage returns.
#[derive(Debug, PartialEq, Serialize)]
pub struct Summary {{
    /// How many components the system has.
    pub components: usize,
    /// Their names, sorted.
    pub names: Vec<String>,
}}

/// The stage's logic, kept free of the host so that it is tested natively.
pub fn summarise(system: &System) -> Summary {{
    let mut names: Vec<String> = system.components.iter().map(|c| c.name.clone()).collect();
    names.sort();
    Summary {{ components: names.len(), names }}
}}

struct {type_name};

impl Stage for {type_name} {{
    type Output = Summary;

    fn run(ctx: &Context) -> Result<Summary, Error> {{
        let system: System = ctx.read("coding/architecture/system")?;
        let summary = summarise(&system);
        ctx.emit("systemSummarised", serde_json::json!({{ "components": summary.components }}));
        Ok(summary)
    }}
}}

export_stage!({type_name});

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn summarises_the_components_in_order() {{
        let system: System = serde_json::from_str(r#"{{"components": [{{"name": "b"}}, {{"name": "a"}}]}}"#).unwrap();
        assert_eq!(summarise(&system), Summary {{ components: 2, names: vec!["a".into(), "b".into()] }});
    }}
}}
"##,
        type_name = type_name(&lib_name)
    );
    let mut files = vec![
        ("Cargo.toml", cargo),
        ("src/lib.rs", lib),
        (".gitignore", "/target\n".into()),
        ("sdk/baton-sdk/Cargo.toml", SDK_MANIFEST.to_owned()),
    ];
    files.extend(
        SDK_FILES
            .iter()
            .map(|(path, text)| (*path, (*text).to_owned())),
    );
    files
}

fn type_name(lib_name: &str) -> String {
    lib_name
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
