//! The default pipeline (`pipeline.toml` at the top of the repository) on real
//! components and a real store: the performance architect, the load-test planner and
//! the budget check pass end to end on both example systems, and hand-broken inputs
//! make the right stage or gate fail with a finding that points at the cause.

use serde_json::{Value, json};

use crate::harness::{Project, component, repo_root};
use crate::performance_schemas::{DOCUMENTS, SYSTEMS, example};

/// A copy of the default pipeline in a temporary project: the manifest with its
/// components, build commands and schemas pointing into the repository, and its
/// example inputs copied so that a test may break them.
pub(crate) fn default_pipeline() -> Project {
    pipeline_from(&repo_root().join("pipeline.toml"))
}

/// [`default_pipeline`] with the manifest at `manifest` (such as the copied stages
/// the partitions replaced).
pub(crate) fn pipeline_from(manifest: &std::path::Path) -> Project {
    component("performance_architect"); // builds the guest components once
    let root = repo_root();
    let root = root.display();
    let manifest = std::fs::read_to_string(manifest)
        .unwrap()
        .replace("\"guest/target/", &format!("\"{root}/guest/target/"))
        .replace(
            "--manifest-path guest/",
            &format!("--manifest-path {root}/guest/"),
        )
        .replace(
            "--target-dir guest/",
            &format!("--target-dir {root}/guest/"),
        )
        .replace("\"schemas/", &format!("\"{root}/schemas/"));
    let p = Project::with_manifest(&manifest);
    for system in SYSTEMS {
        let dir = p.root().join("examples").join(system);
        std::fs::create_dir_all(&dir).unwrap();
        for name in DOCUMENTS {
            std::fs::copy(
                repo_root().join(format!("examples/{system}/{name}.json")),
                dir.join(format!("{name}.json")),
            )
            .unwrap();
        }
    }
    p
}

fn write(p: &Project, system: &str, name: &str, doc: &Value) {
    std::fs::write(
        p.root().join(format!("examples/{system}/{name}.json")),
        serde_json::to_string_pretty(doc).unwrap(),
    )
    .unwrap();
}

/// The live entry (with metadata) at `coding/architecture/performance`.
fn stored_architecture(p: &Project) -> Value {
    p.run(&[
        "memory",
        "retrieve",
        "-k",
        "coding/architecture/performance",
        "--json",
    ])
    .json()
}

fn outcome<'a>(summary: &'a Value, stage: &str) -> &'a Value {
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage} in {summary}"))
}

#[test]
fn the_default_pipeline_passes_end_to_end_on_every_system() {
    let p = default_pipeline();
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    let summary = run.json();
    assert_eq!(
        summary["stages"].as_array().unwrap().len(),
        3 * SYSTEMS.len()
    );
    for system in SYSTEMS {
        for stage in ["performance-architect", "load-test-planner", "budget-check"] {
            let stage = format!("{stage}[{system}]");
            assert_eq!(
                outcome(&summary, &stage)["outcome"]["status"],
                "passed",
                "{stage}: {summary}"
            );
        }
    }
    assert_eq!(
        outcome(&summary, "performance-architect[webshop]")["gates"],
        json!([5, 5])
    );
    for (ns, system) in [
        ("coding-pipeline", "webshop"),
        ("coding-pipeline-telemetry", "telemetry-ingest"),
        ("coding-pipeline-freight", "freight"),
        ("coding-pipeline-ledger", "ledger"),
    ] {
        let arch = p
            .run(&[
                "memory",
                "retrieve",
                "-n",
                ns,
                "-k",
                "coding/architecture/performance",
            ])
            .json();
        assert_eq!(arch["system"], system);
        assert_eq!(arch["quality_metrics"]["monitoring_ready"], true);
        let plan = p
            .run(&[
                "memory",
                "retrieve",
                "-n",
                ns,
                "-k",
                "coding/testing/load-test-plan",
            ])
            .json();
        let names: Vec<&str> = plan["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["baseline", "stress", "spike", "soak"]);
        let report = p
            .run(&[
                "memory",
                "retrieve",
                "-n",
                ns,
                "-k",
                "coding/testing/budget-check",
            ])
            .json();
        assert_eq!(report["passed"], true, "{report}");
    }
    // The stored document is exactly what the rules derive from the same inputs.
    let arch = stored_architecture(&p);
    let derived =
        baton_performance::derive(&crate::performance_schemas::inputs("webshop")).unwrap();
    assert_eq!(arch["value"], serde_json::to_value(&derived).unwrap());
    assert_eq!(arch["provenance"]["inputs"].as_array().unwrap().len(), 5);
    // Seed 000's lifecycle, with the stage's own milestones.
    let events = p.run(&["events", "--json"]).json();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .filter(|n| n.starts_with("agent.performanceArchitect."))
        .collect();
    for milestone in [
        "started",
        "architectureAnalyzed",
        "slosDerived",
        "budgetsAllocated",
        "capacityPlanned",
        "cachingDesigned",
        "optimizationPlanned",
        "completed",
    ] {
        assert!(
            names.contains(&format!("agent.performanceArchitect.{milestone}").as_str()),
            "{milestone} not in {names:?}"
        );
    }
    // A second run finds everything fresh.
    let again = p.run(&["run", "--json"]).json();
    assert!(
        again["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"]["status"] == "fresh"),
        "{again}"
    );
}

#[test]
fn the_performance_architecture_renders_as_seed_001_s_document() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let md = p
        .run(&[
            "memory",
            "retrieve",
            "-k",
            "coding/architecture/performance",
            "--format",
            "markdown",
        ])
        .ok();
    for heading in [
        "## Performance Architecture Document: webshop",
        "### Summary",
        "- SLOs defined: 6",
        "- Latency budgets: 3 critical paths",
        "| SLO-1 | NFR-1 | latency (p95) | GET /products | < 200 ms |",
        "checkout (POST /orders): 800 ms (p95), from SLO-2",
        "├── payment-provider: 250 ms (baseline 250 ms)",
        "### Scalability Design",
        "### Caching Strategy",
        "event-driven on product.updated, product.deleted",
        "### Optimization Plan",
        "| Metric | Warning | Critical | Action |",
        "**For Code Generator (Agent 018):**",
        "**For Performance Optimizer (Agent 036):**",
        "- SLO coverage: 85.7 %",
    ] {
        assert!(md.contains(heading), "{heading:?} missing from:\n{md}");
    }
    // A document whose stage offers no renderer is shown as `agent inputs --format
    // markdown` shows one (issue 30): a heading and its JSON.
    let plan = p
        .run(&[
            "memory",
            "retrieve",
            "-k",
            "coding/testing/load-test-plan",
            "--format",
            "markdown",
        ])
        .ok();
    assert!(
        plan.starts_with(
            "## `coding/testing/load-test-plan` (namespace `coding-pipeline`)\n\n```json\n{"
        ),
        "{plan}"
    );
    assert!(plan.contains("\"scenarios\""), "{plan}");
}

#[test]
fn the_freight_platform_renders_its_tight_paths_matched_events_and_burn_rate_alerts() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let md = p
        .run(&[
            "memory",
            "retrieve",
            "-n",
            "coding-pipeline-freight",
            "-k",
            "coding/architecture/performance",
            "--format",
            "markdown",
        ])
        .ok();
    for line in [
        "## Performance Architecture Document: freight",
        "quote (GET /quote): 18 ms (p95), from SLO-1 — TIGHT: the baselines (17 ms) leave 1 ms of headroom, under the 2 ms minimum",
        "├── api-gateway: 1 ms (baseline 1 ms)",
        "├── pricing-service: 15 ms (baseline 15 ms)",
        "`tariff.updated` (topic `tariff-events`, `tariff` is the first word of `tariff_rules`)",
        "`order` is the singular or plural of `orders`",
        "the topic declares entity `carriers`",
        "- vehicle_positions: it changes in real time",
        "#### Error-Budget Burn-Rate Alerts",
        "| SLO-4 | 0.05 % over 30 days | 14.4x | 1h and 5m | 0.72 % errors | page |",
        "| SLO-5 | 0.5 % over 30 days | 1x | 3d and 6h | 0.5 % errors | ticket |",
        "| p95 latency GET /quote | > 14.4 ms | > 18 ms |",
        "cut the latency of its largest hop `pricing-service` (15 of the path's 17 ms)",
    ] {
        assert!(md.contains(line), "{line:?} missing from:\n{md}");
    }
}

#[test]
fn measurements_that_miss_fail_the_budget_gate_naming_endpoint_and_figure() {
    let p = default_pipeline();
    let mut measured = example("webshop", "measurements");
    measured["endpoints"][1]["p95_ms"] = json!(950);
    write(&p, "webshop", "measurements", &measured);
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 7, "{}", run.stderr());
    let summary = run.json();
    assert_eq!(
        outcome(&summary, "budget-check[webshop]")["outcome"]["status"],
        "gate-failed"
    );
    assert_eq!(
        outcome(&summary, "budget-check[telemetry]")["outcome"]["status"],
        "passed"
    );
    assert_eq!(
        outcome(&summary, "load-test-planner[webshop]")["outcome"]["status"],
        "passed"
    );
    let quarantined = p
        .run(&[
            "memory",
            "retrieve",
            "-n",
            "baton.quarantine",
            "-k",
            "budget-check[webshop]",
        ])
        .json();
    let findings = &quarantined["gate_report"]["gates"][0]["findings"];
    let messages: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("POST /orders misses SLO-2 on p95_ms (950 ms misses <= 800 ms)"),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("POST /orders misses budget:checkout on p95_ms"),
        "{messages:?}"
    );
    assert!(
        findings[0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/checks/")
    );
}

#[test]
fn a_missing_required_field_fails_the_stage_naming_key_and_pointer() {
    let p = default_pipeline();
    let mut requirements = example("webshop", "requirements");
    requirements["load"]
        .as_object_mut()
        .unwrap()
        .remove("requests_per_second");
    write(&p, "webshop", "requirements", &requirements);
    let summary = p.run(&["run", "--json"]).json();
    let failed = outcome(&summary, "performance-architect[webshop]")["outcome"]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    for needle in [
        "coding/understanding/requirements",
        "/load/requests_per_second",
        "coding-pipeline",
    ] {
        assert!(failed.contains(needle), "{needle:?} not in {failed}");
    }
    assert_eq!(
        outcome(&summary, "load-test-planner[webshop]")["outcome"]["status"],
        "blocked"
    );
    assert_eq!(
        outcome(&summary, "performance-architect[telemetry]")["outcome"]["status"],
        "passed"
    );
}

#[test]
fn a_hand_written_architecture_is_gated_like_the_stage_s_own() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let mut doc = p
        .run(&[
            "memory",
            "retrieve",
            "-k",
            "coding/architecture/performance",
        ])
        .json();
    // A person (or a language model) invents an event and forgets a budget.
    doc["caching_strategy"]["caches"][0]["invalidation"]["events"][1] = json!("product.changed");
    doc["performance_requirements"]["latency_budgets"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    std::fs::write(p.root().join("hand.json"), doc.to_string()).unwrap();
    let out = p.run(&[
        "gate",
        "check",
        "--stage",
        "performance-architect[webshop]",
        "hand.json",
        "--json",
    ]);
    assert_eq!(out.code(), 7, "{}", out.stderr());
    let report = out.json();
    let gate = |name: &str| {
        report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(gate("document-shape")["passed"], true);
    assert_eq!(gate("measurable-slos")["passed"], true);
    assert_eq!(gate("growth-capacity")["passed"], true);
    assert_eq!(
        gate("cache-invalidation")["findings"][0]["pointer"],
        "/caching_strategy/caches/0/invalidation/events/1"
    );
    assert!(
        gate("latency-budgets")["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`search` (GET /search) has no latency budget")
    );
    let stored = p.run(&[
        "memory",
        "store",
        "coding/architecture/performance",
        "--file",
        "hand.json",
    ]);
    stored.fails(
        7,
        &["cache-invalidation", "latency-budgets", "product.changed"],
    );
    let live = stored_architecture(&p);
    assert_eq!(
        live["revision"], 1,
        "the refused document left the stage's output in place"
    );
}

#[test]
fn absent_optional_inputs_are_taken_as_empty_and_said_so() {
    // Only the two required inputs exist; analysis, data and integration do not.
    let p = Project::new();
    let requirements = example("webshop", "requirements").to_string();
    let system = example("webshop", "system").to_string();
    p.run(&[
        "memory",
        "store",
        "coding/understanding/requirements",
        &requirements,
        "--json",
    ])
    .ok();
    p.run(&[
        "memory",
        "store",
        "coding/architecture/system",
        &system,
        "--json",
    ])
    .ok();
    let architect = component("performance_architect");
    let mut args = vec!["stage", "run", architect.to_str().unwrap(), "--json"];
    for key in baton_performance::inputs::keys::ARCHITECT_READS {
        args.extend(["--reads", key]);
    }
    let out = p.run(&args).json();
    let arch = &out["output"];
    assert_eq!(arch["caching_strategy"]["caches"], json!([]));
    let assumptions: Vec<&str> = arch["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for key in [
        "coding/exploration/analysis",
        "coding/architecture/data",
        "coding/architecture/integration",
    ] {
        assert!(
            assumptions
                .iter()
                .any(|a| a.contains(key) && a.contains("taken as empty")),
            "{key} not in {assumptions:?}"
        );
    }
    // Without the integration's contract latency the payment provider costs its default.
    let checkout = &arch["performance_requirements"]["latency_budgets"][1];
    assert_eq!(checkout["segments"][3]["baseline_ms"], 100.0);
}
