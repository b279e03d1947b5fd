//! `baton import claude-flow`: agent definitions in both hook syntaxes and both front
//! matter forms (`tests/fixtures/import/pipeline`), one of each defect
//! (`tests/fixtures/import/defects`) and the five seeds, imported by the real binary;
//! the result pinned by golden files (`tests/golden/import`, `BATON_BLESS=1` rewrites
//! them), then run the way an orchestrator would: `agent inputs`, `agent output`,
//! `status`, a hand-enforced gate, a second import, rewritten hooks.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Project, repo_root};
use crate::pipeline_golden::compare;

fn fixtures(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/import").join(name)
}

fn golden(name: &str) -> PathBuf {
    repo_root().join("tests/golden/import").join(name)
}

/// Copies folder `from` to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A project with no manifest yet and `fixture`'s agents in `.claude/agents`. The
/// import names a new pipeline after its folder: here `project`.
fn agents_project(fixture: &str) -> Project {
    let p = Project::empty_in("project");
    copy_dir(&fixtures(fixture), &p.root().join(".claude/agents"));
    p
}

fn manifest(p: &Project) -> String {
    std::fs::read_to_string(p.root().join("pipeline.toml")).unwrap()
}

/// The import's report with the project's folder made `<project>`.
fn report(p: &Project, stderr: &str) -> String {
    let root = p.root().canonicalize().unwrap();
    stderr
        .replace(&root.display().to_string(), "<project>")
        .replace(&p.root().display().to_string(), "<project>")
}

fn status(p: &Project) -> Vec<Value> {
    p.run(&["status", "--json"])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn stage<'a>(status: &'a [Value], name: &str) -> &'a Value {
    status
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {status:?}"))
}

/// Imports `fixture` into a fresh project (exit `code`) and compares the manifest and
/// the report with `tests/golden/import/<golden>.{toml,report}`; returns the report.
fn import_pinned(fixture: &str, golden_name: &str, args: &[&str], code: i32) -> (Project, String) {
    let p = agents_project(fixture);
    let out = p.run(&[&["import", "claude-flow", ".claude/agents"], args].concat());
    let err = out.stderr();
    assert_eq!(out.code(), code, "{err}");
    let mut failures = Vec::new();
    compare(
        &golden(&format!("{golden_name}.toml")),
        &manifest(&p),
        &mut failures,
    );
    compare(
        &golden(&format!("{golden_name}.report")),
        &report(&p, &err),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (p, err)
}

#[test]
fn the_fixture_pipeline_imports_as_pinned_and_checks() {
    let (p, _) = import_pinned("pipeline", "pipeline", &[], 0);
    // The check says plainly which gates are enforced: none yet, every one prose.
    let check = p.run(&["check", "--json"]).json();
    let pa = check["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "performance-architect")
        .unwrap();
    assert_eq!(pa["gate_counts"]["enforced"], 0);
    assert_eq!(pa["gate_counts"]["unchecked"].as_array().unwrap().len(), 2);
    assert_eq!(pa["phase"], 3);
    assert_eq!(pa["agent_number"], 17);
    assert_eq!(
        pa["source"],
        ".claude/agents/architecture/performance-architect.md"
    );
    let text = p.run(&["check"]);
    assert!(
        text.stdout()
            .contains("0 enforced, 2 unchecked (prose only)"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stderr().contains("is unchecked: prose only"),
        "{}",
        text.stderr()
    );
}

#[test]
fn every_planted_defect_is_reported_at_its_file_and_line() {
    let p = agents_project("defects");
    let out = p.run(&["import", "claude-flow", ".claude/agents"]);
    assert_eq!(out.code(), 2, "errors stop the import");
    assert!(
        !p.root().join("pipeline.toml").exists(),
        "nothing written without --force"
    );
    let err = out.stderr();
    let mut failures = Vec::new();
    compare(&golden("defects.report"), &report(&p, &err), &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let d = ".claude/agents/";
    for (at, what) in [
        ("02-unparsable.md:4: error", "not YAML"),
        // Issue 26: a markdown file that is no definition (a README) is skipped.
        (
            "03-no-front-matter.md:1: warning",
            "skipped: no YAML front matter",
        ),
        // Issue 30: two definitions of one agent keep the richer, said as a warning.
        (
            "05-duplicate-b.md:2: warning",
            "defined twice: kept .claude/agents/04-duplicate-a.md:2",
        ),
        (
            "07-same-key-b.md:8: error",
            "both store `coding/exploration/analysis`",
        ),
        // Issue 30: a read from an earlier phase is a warning that says how to seed it.
        (
            "08-reads-nothing-stored.md:8: warning",
            "which no agent here stores: store it before the agent runs",
        ),
        ("16-bad-call.md:8: error", "`--key` has no value"),
        (
            "09-wildcard.md:8: warning",
            "the wildcard `coding/exploration/*`",
        ),
        ("10-gate-map.md:4: warning", "is a map, not a list"),
        ("11-gates-empty.md:4: warning", "is an empty list"),
        ("12-gates-missing.md:2: warning", "has no `qualityGates`"),
        (
            "13-namespace-miss.md:8: warning",
            "claude-flow looks in `default`",
        ),
        ("14-store-default.md:10: warning", "puts it in `default`"),
        ("15-subagent.md:2: warning", "it has no hooks"),
        ("15-subagent.md:2: warning", "is not a stage name"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{d}{at}")) && l.contains(what)),
            "{at} {what}:\n{err}"
        );
    }
    // For scripts, the same defects with their level, file and line.
    let json = p
        .run(&["import", "claude-flow", ".claude/agents", "--json"])
        .json();
    let defects = json["defects"].as_array().unwrap();
    assert_eq!(defects.iter().filter(|d| d["level"] == "error").count(), 3);
    assert!(
        defects
            .iter()
            .any(|defect| defect["file"] == format!("{d}10-gate-map.md")
                && defect["line"] == 4
                && defect["level"] == "warning"),
        "{json}"
    );
    assert_eq!(json["written"], false);
    // `--force` writes it, the map's gates named by their keys.
    p.run(&["import", "claude-flow", ".claude/agents", "--force"])
        .fails(2, &["written anyway (--force)"]);
    let written = manifest(&p);
    assert!(written.contains("name = \"slos\""), "{written}");
    assert!(written.contains("\"coding/exploration/*\""), "{written}");
}

#[test]
fn the_five_seeds_import_with_what_is_wrong_with_them() {
    // Issue 30: the seeds import without `--force`. Seed 000 and 001 are both
    // `performance-architect`, 003 and 004 both (as stage names)
    // `performance-engineer`: the definition that says more of the contract is kept,
    // and the report says which and why.
    let (p, err) = import_pinned("seeds", "seeds", &[], 0);
    assert!(
        err.contains("000_73bbe2d957e36096.md:2: warning: agent `performance-architect` is defined twice: kept .claude/agents/001_afcee567a88b2c83.md:2 (stores `coding/architecture/performance`, reads 5 keys, 4 quality gates, Phase 3, Agent 17) over this one (no hooks, no gates)"),
        "{err}"
    );
    assert!(
        err.contains("agent `performance-engineer` is defined twice: kept .claude/agents/003_9d687366f681b8d6.md:2"),
        "{err}"
    );
    // The summary and the hint count what was kept: seed 001's four gates, and its
    // six memory calls (five retrieves, one store), which `--rewrite-hooks` rewrites.
    assert!(
        err.contains("3 stages from 5 agent files, 4 gates"),
        "{err}"
    );
    assert!(err.contains("turns their 6 memory calls"), "{err}");
    let written = manifest(&p);
    assert!(
        written.contains("source = \".claude/agents/001_afcee567a88b2c83.md\"\nexternal = true\nphase = 3\nagent_number = 17\n"),
        "{written}"
    );
    assert_eq!(written.matches("[[stage.gate]]").count(), 4, "{written}");
    let rewritten = p.run(&[
        "import",
        "claude-flow",
        ".claude/agents",
        "--rewrite-hooks",
        "--json",
    ]);
    assert_eq!(rewritten.code(), 0, "{}", rewritten.stderr());
    let rewritten = rewritten.json()["rewritten"].clone();
    assert_eq!(rewritten.as_array().map(Vec::len), Some(1), "{rewritten}");
    assert!(
        rewritten.to_string().contains("001_afcee567a88b2c83.md"),
        "{rewritten}"
    );

    // Seed 001 alone: one phase of a larger pipeline. Its five reads nothing here
    // stores are warnings, each at its line, with how to seed them.
    let alone = Project::empty_in("project");
    let seed = fixtures("seeds/001_afcee567a88b2c83.md");
    let out = alone.run(&["import", "claude-flow", seed.to_str().unwrap(), "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let json = out.json();
    let reads: Vec<(u64, String)> = json["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("which no agent here stores")
        })
        .map(|d| {
            assert_eq!(d["level"], "warning", "{d}");
            (
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reads.iter().map(|e| e.0).collect::<Vec<_>>(),
        [26, 27, 28, 29, 30]
    );
    assert!(
        reads
            .iter()
            .all(|(_, m)| m.contains("claude-flow looks in `default`")
                && m.contains("`baton memory store -n coding-pipeline coding/"))
    );
    assert_eq!(
        alone.run(&["check", "--json"]).code(),
        2,
        "`check` still lists reads nothing produces"
    );
}

#[test]
fn a_partial_pipeline_runs_once_its_earlier_phases_are_stored_by_hand() {
    let p = agents_project("seeds");
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    // Before: status works (no refusal), and says what the architect needs.
    let s = status(&p);
    let architect = stage(&s, "performance-architect");
    assert_eq!(architect["ready"], false);
    assert_eq!(
        architect["missing"].as_array().unwrap().len(),
        5,
        "{architect}"
    );
    assert_eq!(
        architect["missing"][0],
        "coding-pipeline:coding/understanding/requirements"
    );
    // A hook-less agent is untracked, and not "ready": there is nothing to wait on.
    let engineer = stage(&s, "performance-engineer");
    assert_eq!(
        (engineer["state"].as_str(), engineer["ready"].as_bool()),
        (Some("untracked"), Some(false))
    );
    let table = p.run(&["status"]).ok();
    assert!(
        table.contains("needs `coding-pipeline:coding/understanding/requirements` and 4 more"),
        "{table}"
    );
    // A run runs the rest and blocks the stage, naming each read the memory lacks
    // and how to seed it.
    let run = p.run(&["run"]);
    assert_eq!(run.code(), 6, "{}", run.stderr());
    assert!(
        run.stdout()
            .contains("cannot run: it reads `coding-pipeline:coding/understanding/requirements`")
            && run
                .stdout()
                .contains("`coding-pipeline:coding/architecture/integration`"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr()
            .contains("hint: store each (`baton memory store -n NAMESPACE KEY < document.json`)"),
        "{}",
        run.stderr()
    );
    for key in baton_performance::inputs::keys::ARCHITECT_READS {
        let stored = p.run(&["memory", "store", "-n", "coding-pipeline", key, "{}"]);
        stored.ok();
        assert!(
            !stored.stderr().contains("WARN"),
            "no log line on a write: {}",
            stored.stderr()
        );
    }
    let s = status(&p);
    let architect = stage(&s, "performance-architect");
    assert_eq!(
        (architect["state"].as_str(), architect["ready"].as_bool()),
        (Some("awaiting"), Some(true))
    );
    assert!(architect.get("missing").is_none(), "{architect}");
    // The run now goes through: the architect awaits its agent, and the agents that
    // write nothing are passed over with a plain reason instead of an empty key.
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let summary = run.json();
    let outcomes = crate::harness::statuses(&summary);
    assert_eq!(
        outcomes,
        [
            (
                "performance-architect".to_owned(),
                "awaiting-external".to_owned()
            ),
            (
                "planning-performance-architect".to_owned(),
                "untracked".to_owned()
            ),
            ("performance-engineer".to_owned(), "untracked".to_owned()),
        ]
    );
    let table = p.run(&["run"]);
    assert!(
        table.stdout().contains("an agent that writes nothing"),
        "{}",
        table.stdout()
    );
    assert!(
        !table.stderr().contains("key is empty"),
        "{}",
        table.stderr()
    );
}

/// The fixture pipeline imported into a fresh project.
fn imported() -> Project {
    let p = agents_project("pipeline");
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    p
}

#[test]
fn an_imported_pipeline_runs_agent_by_agent_and_status_follows() {
    let p = imported();
    let s = status(&p);
    let req = stage(&s, "requirements-extractor");
    assert_eq!(
        (req["state"].as_str(), req["ready"].as_bool()),
        (Some("awaiting"), Some(true))
    );
    let analyzer = stage(&s, "codebase-analyzer");
    assert_eq!(analyzer["ready"], false);
    assert_eq!(analyzer["waiting_on"], json!(["requirements-extractor"]));
    assert_eq!(stage(&s, "code-reviewer")["state"], "untracked");
    assert_eq!(
        stage(&s, "system-designer")["gates"],
        json!({"enforced": 0, "unchecked": ["system-architecture-name-every-component", "component-relationships-explicit"]})
    );
    // Not ready: the one call says what is missing and who writes it.
    p.run(&["agent", "inputs", "codebase-analyzer"]).fails(
        3,
        &[
            "stage `codebase-analyzer` is not ready",
            "`coding/understanding/requirements` in namespace `coding-pipeline` (stage `requirements-extractor`)",
        ],
    );
    p.run(&[
        "agent",
        "output",
        "requirements-extractor",
        r#"{"requirements": [{"id": "R1"}]}"#,
    ])
    .ok();
    let s = status(&p);
    assert_eq!(stage(&s, "requirements-extractor")["done"], true);
    assert_eq!(stage(&s, "codebase-analyzer")["ready"], true);
    assert_eq!(
        stage(&s, "system-designer")["waiting_on"],
        json!(["codebase-analyzer"])
    );
    let inputs = p.run(&["agent", "inputs", "codebase-analyzer"]).json();
    assert_eq!(
        inputs,
        json!({"coding/understanding/requirements": {"requirements": [{"id": "R1"}]}})
    );
    p.run(&[
        "agent",
        "output",
        "codebase-analyzer",
        r#"{"modules": ["api"]}"#,
    ])
    .ok();
    p.run(&[
        "agent",
        "output",
        "system-designer",
        r#"{"components": [{"name": "api"}]}"#,
    ])
    .ok();
    let context = p
        .run(&[
            "agent",
            "inputs",
            "performance-architect",
            "--format",
            "markdown",
        ])
        .ok();
    assert!(
        context.starts_with("# Inputs of stage `performance-architect`"),
        "{context}"
    );
    assert!(
        context
            .contains("## `coding/architecture/system` (namespace `coding-pipeline`, revision 1)")
    );
    assert!(context.contains("\"name\": \"api\""), "{context}");
    let text = p.run(&["status"]).ok();
    assert!(text.contains("performance-architect"), "{text}");
    assert!(text.contains("ready"), "{text}");
    assert!(
        text.contains("0 enforced, 2 unchecked (prose only)"),
        "{text}"
    );
    // The output is stored through the gates; with only prose gates it passes, and
    // the report lists them as unchecked.
    let stored = p
        .run(&[
            "agent",
            "output",
            "performance-architect",
            "{\"slos\": []}",
            "--json",
        ])
        .json();
    assert_eq!(stored["report"]["unchecked"], 2);
    assert_eq!(stored["report"]["gates"][0]["unchecked"], true);
    assert_eq!(stored["meta"]["writer"], "performanceArchitect");
    let s = status(&p);
    assert!(
        s.iter()
            .filter(|st| st["stage"] != "code-reviewer")
            .all(|st| st["done"] == true),
        "{s:?}"
    );
    // The first agent stores again: the agents that read it are stale and ready to
    // redo their work; the one after them waits for them again.
    p.run(&[
        "agent",
        "output",
        "requirements-extractor",
        r#"{"requirements": []}"#,
    ])
    .ok();
    let s = status(&p);
    let analyzer = stage(&s, "codebase-analyzer");
    assert_eq!(analyzer["state"], "stale");
    assert_eq!(
        analyzer["why"],
        "input `coding/understanding/requirements` changed since its agent stored it"
    );
    assert_eq!(
        (analyzer["ready"].as_bool(), analyzer["done"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(stage(&s, "system-designer")["state"], "stale");
    assert_eq!(
        stage(&s, "system-designer")["waiting_on"],
        json!(["codebase-analyzer"])
    );
    // A stage that writes nothing has no output to store.
    p.run(&["agent", "output", "code-reviewer", "done"])
        .fails(2, &["stage `code-reviewer` writes nothing"]);
    p.run(&["agent", "inputs", "no-such-agent"])
        .fails(2, &["no stage `no-such-agent`", "its stages are:"]);
}

/// Gives the `measurable SLOs` gate of `performance-architect` a schema, by hand.
fn enforce_slos(p: &Project) {
    std::fs::write(
        p.root().join("slos.schema.json"),
        json!({"type": "array", "minItems": 1}).to_string(),
    )
    .unwrap();
    let text = manifest(p).replace(
        "rule = \"Performance requirements must have measurable SLOs\"\n",
        "rule = \"Performance requirements must have measurable SLOs\"\n# enforced by hand\nschema = \"slos.schema.json\"\npointer = \"/slos\"\n",
    );
    std::fs::write(p.root().join("pipeline.toml"), text).unwrap();
}

#[test]
fn an_enforced_gate_refuses_and_unchecked_gates_are_listed_as_such() {
    let p = imported();
    enforce_slos(&p);
    for (stage, doc) in [
        ("requirements-extractor", "{}"),
        ("codebase-analyzer", "{}"),
        ("system-designer", "{}"),
    ] {
        p.run(&["agent", "output", stage, doc]).ok();
    }
    let s = status(&p);
    assert_eq!(
        stage(&s, "performance-architect")["gates"],
        json!({"enforced": 1, "unchecked": ["caching-strategy-invalidation-policies"]})
    );
    let refused = p.run(&["agent", "output", "performance-architect", "{\"slos\": []}"]);
    let err = refused.fails(7, &["fails the gates of stage `performance-architect`"]);
    assert!(
        err.contains("FAIL  performance-requirements-measurable-slos"),
        "{err}"
    );
    assert!(
        err.contains("----  caching-strategy-invalidation-policies")
            && err.contains("unchecked: prose only"),
        "{err}"
    );
    p.run(&["memory", "retrieve", "coding/architecture/performance"])
        .fails(3, &["not found"]);
    // `agent output` takes what `memory store` takes (issue 30): an override with its
    // reason, said once (no log line beside it), and the agent id as the writer.
    let overridden = p.run(&[
        "agent",
        "output",
        "performance-architect",
        "{\"slos\": []}",
        "--override-gates",
        "accepted by the architect",
        "--agent",
        "performanceArchitect-7",
    ]);
    overridden.ok();
    let err = overridden.stderr();
    assert_eq!(
        err.matches("storing despite failed gates").count(),
        1,
        "{err}"
    );
    assert!(
        !err.contains("WARN") && !err.contains("gates overridden"),
        "{err}"
    );
    let entry = p
        .run(&[
            "memory",
            "retrieve",
            "coding/architecture/performance",
            "--json",
        ])
        .json();
    assert_eq!(entry["writer"], "agent:performanceArchitect-7");
    assert_eq!(
        entry["provenance"]["gate_override"]["reason"],
        "accepted by the architect"
    );
    let good = p.root().join("good.json");
    std::fs::write(&good, "{\"slos\": [{\"p99_ms\": 200}]}").unwrap();
    let passed = p.run(&[
        "agent",
        "output",
        "performance-architect",
        "-f",
        good.to_str().unwrap(),
    ]);
    passed.ok();
    // The summary counts the prose gates too, not just "1 passed, 0 failed".
    assert!(
        passed
            .stderr()
            .contains("passed: 1 passed, 0 failed, 0 warnings, 1 unchecked (prose only)"),
        "{}",
        passed.stderr()
    );
}

#[test]
fn a_second_import_keeps_what_was_added_by_hand() {
    let p = imported();
    enforce_slos(&p);
    let with_limits = manifest(&p).replace(
        "name = \"system-designer\"\n",
        "name = \"system-designer\"\nlimits = { timeout = \"5s\" }\n",
    );
    std::fs::write(p.root().join("pipeline.toml"), with_limits).unwrap();
    // The definition changes: one more gate, one read fewer, a new agent.
    let agent = p
        .root()
        .join(".claude/agents/architecture/performance-architect.md");
    let text = std::fs::read_to_string(&agent).unwrap();
    let changed = text
        .replace(
            "  - \"Caching strategy must include invalidation policies\"\n",
            "  - \"Caching strategy must include invalidation policies\"\n  - \"Critical paths must have latency budgets\"\n",
        )
        .replace(
            "    npx claude-flow memory retrieve --key \"coding/understanding/requirements\" --namespace \"coding-pipeline\"\n",
            "",
        );
    assert_ne!(changed, text);
    std::fs::write(&agent, changed).unwrap();
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    let after = manifest(&p);
    for kept in [
        "# enforced by hand\nschema = \"slos.schema.json\"\npointer = \"/slos\"",
        "limits = { timeout = \"5s\" }",
    ] {
        assert!(after.contains(kept), "lost {kept:?}:\n{after}");
    }
    assert!(
        after.contains("rule = \"Critical paths must have latency budgets\""),
        "{after}"
    );
    let check = p.run(&["check", "--json"]).json();
    let pa = check["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "performance-architect")
        .unwrap()
        .clone();
    assert_eq!(
        pa["reads"],
        json!(["coding-pipeline:coding/architecture/system"])
    );
    assert_eq!(pa["gate_counts"]["enforced"], 1);
    assert_eq!(pa["gate_counts"]["unchecked"].as_array().unwrap().len(), 2);
    // A third import of unchanged definitions changes nothing.
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    assert_eq!(manifest(&p), after);
}

#[test]
fn rewritten_hooks_make_two_calls_keep_a_backup_and_import_again() {
    let p = agents_project("pipeline");
    let agent = p
        .root()
        .join(".claude/agents/architecture/performance-architect.md");
    let original = std::fs::read_to_string(&agent).unwrap();
    let out = p.run(&["import", "claude-flow", ".claude/agents", "--rewrite-hooks"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("rewrote the hooks of 4 agent files"),
        "{}",
        out.stderr()
    );
    let first = manifest(&p);
    let rewritten = std::fs::read_to_string(&agent).unwrap();
    assert_eq!(
        std::fs::read_to_string(agent.with_extension("md.bak")).unwrap(),
        original
    );
    assert!(!rewritten.contains("claude-flow memory"), "{rewritten}");
    assert!(rewritten.contains("    baton agent inputs performance-architect --format markdown\n"));
    assert!(rewritten.contains(
        "    baton agent output performance-architect '{\"agent\": \"performance-architect\", \"phase\": 3}'\n"
    ));
    assert!(rewritten.contains("echo \"[performance-architect] Phase 3 COMPLETE\""));
    // The rewritten hooks run as the hooks would, from the agent's folder.
    let hooks = |file: &Path| -> (Option<String>, String) {
        let text = std::fs::read_to_string(file).unwrap();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .map(|l| l.trim().to_owned())
        };
        (
            line("baton agent inputs"),
            line("baton agent output").unwrap(),
        )
    };
    let sh = |command: &str| {
        crate::harness::shell_ok(p.root(), command);
    };
    for name in [
        "understanding/requirements-extractor",
        "exploration/codebase-analyzer",
        "architecture/system-designer",
        "architecture/performance-architect",
    ] {
        let (inputs, output) = hooks(&p.root().join(format!(".claude/agents/{name}.md")));
        // The first agent reads nothing, so it has no inputs call.
        assert_eq!(inputs.is_none(), name.starts_with("understanding/"));
        if let Some(inputs) = inputs {
            sh(&inputs);
        }
        sh(&output);
    }
    assert_eq!(
        p.run(&["memory", "retrieve", "coding/architecture/performance"])
            .json(),
        json!({"agent": "performance-architect", "phase": 3})
    );
    // Imported again, the rewritten agents keep their reads and writes.
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    assert_eq!(manifest(&p), first);
}

#[test]
fn an_orchestrator_sees_the_same_through_mcp() {
    let p = imported();
    let seen = crate::mcp::client(p.root(), &["imported"]);
    crate::mcp::stop_server(&p);
    assert_eq!(
        seen["before"]["waiting_on"],
        json!(["codebase-analyzer", "requirements-extractor"])
    );
    assert_eq!(seen["before"]["gates"]["enforced"], 0);
    assert_eq!(
        seen["before"]["gates"]["unchecked"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(seen["after"]["ready"], true, "{seen}");
    assert_eq!(seen["report"]["unchecked"], 1, "{seen}");
    assert_eq!(
        seen["done"],
        json!(["codebase-analyzer", "requirements-extractor"])
    );
    // What MCP stored, the command line sees.
    assert_eq!(
        p.run(&["memory", "retrieve", "coding/exploration/analysis"])
            .json(),
        json!({"modules": []})
    );
}

#[test]
fn a_hand_added_stage_writing_an_agent_s_key_is_reported_by_the_check() {
    let p = imported();
    let with_hand_stage = format!(
        "{}\n[[stage]]\nname = \"hand-made\"\nexternal = true\nwrites = \"coding/architecture/system\"\n",
        manifest(&p)
    );
    std::fs::write(p.root().join("pipeline.toml"), &with_hand_stage).unwrap();
    let err = p
        .run(&["import", "claude-flow", ".claude/agents"])
        .fails(2, &["1 error", "nothing written"]);
    assert!(
        err.contains(
            "stages `system-designer` and `hand-made` both write `coding/architecture/system`"
        ),
        "{err}"
    );
    assert_eq!(manifest(&p), with_hand_stage, "nothing written");
}

#[test]
fn stdout_writes_nothing_and_a_stage_whose_agent_file_is_gone_is_kept() {
    let p = agents_project("pipeline");
    let printed = p
        .run(&["import", "claude-flow", ".claude/agents", "--stdout"])
        .ok();
    assert!(
        !p.root().join("pipeline.toml").exists(),
        "--stdout writes nothing"
    );
    p.run(&["import", "claude-flow", ".claude/agents"]).ok();
    assert_eq!(manifest(&p), printed, "what it prints is what it writes");
    std::fs::remove_file(p.root().join(".claude/agents/review/code-reviewer.md")).unwrap();
    let out = p.run(&["import", "claude-flow", ".claude/agents"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains(
            ".claude/agents/review/code-reviewer.md:1: warning: stage `code-reviewer` was imported from this file, which is not among the definitions now; it is kept"
        ),
        "{}",
        out.stderr()
    );
    assert!(manifest(&p).contains("name = \"code-reviewer\""));
}

#[test]
fn partitioned_by_runs_each_imported_agent_once_per_partition() {
    let p = agents_project("pipeline");
    p.run(&[
        "import",
        "claude-flow",
        ".claude/agents",
        "--partitioned-by",
        "eu,us",
    ])
    .ok();
    let text = manifest(&p);
    assert!(
        text.contains(
            "[partitions]\nkeys = [\"eu\", \"us\"]\nnamespace = \"coding-pipeline-{partition}\""
        ),
        "{text}"
    );
    let s = status(&p);
    let eu = stage(&s, "requirements-extractor[eu]");
    assert_eq!(eu["partition"], "eu");
    assert_eq!(eu["state"], "awaiting");
    assert_eq!(
        stage(&s, "codebase-analyzer[us]")["waiting_on"],
        json!(["requirements-extractor[us]"])
    );
    // Each partition's agent stores in its own namespace.
    p.run(&[
        "agent",
        "output",
        "requirements-extractor",
        "--partition",
        "us",
        r#"{"requirements": [{"id": "R1"}]}"#,
    ])
    .ok();
    let stored = p
        .run(&[
            "memory",
            "retrieve",
            "-n",
            "coding-pipeline-us",
            "coding/understanding/requirements",
        ])
        .json();
    assert_eq!(stored["requirements"][0]["id"], "R1");
    let s = status(&p);
    assert_eq!(stage(&s, "codebase-analyzer[us]")["ready"], true);
    assert_eq!(stage(&s, "codebase-analyzer[eu]")["ready"], false);
    // Importing again keeps the partitions as they are; a bad key is refused.
    let again = p.run(&[
        "import",
        "claude-flow",
        ".claude/agents",
        "--partitioned-by",
        "eu,us",
    ]);
    assert!(
        again
            .stderr()
            .contains("declares its `[partitions]` already"),
        "{}",
        again.stderr()
    );
    let q = agents_project("pipeline");
    let refused = q.run(&[
        "import",
        "claude-flow",
        ".claude/agents",
        "--partitioned-by",
        "eu,a/b",
    ]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused
            .stderr()
            .contains("partition key \"a/b\" contains '/'"),
        "{}",
        refused.stderr()
    );
    assert!(
        !q.root().join("pipeline.toml").exists(),
        "nothing is written"
    );
}
