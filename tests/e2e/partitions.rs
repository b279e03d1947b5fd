//! Partitions: one pipeline for many systems. The default pipeline's stages, declared
//! once over `examples/*/`, against the copied stages they replaced; staleness kept to
//! the partition whose input changed; partition keys added at run time, hostile ones
//! refused; a stage reading across partitions.

use serde_json::{Value, json};

use crate::harness::{Project, repo_root, statuses};
use crate::performance_pipeline::{default_pipeline, pipeline_from};

/// The three systems the copied stages served, with their namespaces.
const COPIED: [(&str, &str); 3] = [
    ("webshop", "coding-pipeline"),
    ("telemetry", "coding-pipeline-telemetry"),
    ("freight", "coding-pipeline-freight"),
];

/// The keys each system's stages write.
const OUTPUTS: [&str; 3] = [
    "coding/architecture/performance",
    "coding/testing/load-test-plan",
    "coding/testing/budget-check",
];

/// The revision stored at `key` in `ns`.
fn revision(p: &Project, ns: &str, key: &str) -> u64 {
    p.run(&["memory", "retrieve", "-n", ns, "-k", key, "--json"])
        .json()["revision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no revision of {ns}:{key}"))
}

#[test]
fn partitions_write_the_documents_the_copied_stages_wrote_and_find_their_stores_fresh() {
    let copied = pipeline_from(&repo_root().join("tests/fixtures/partitions/copied.toml"));
    let partitioned = default_pipeline();
    let old = copied.run(&["run", "--json"]);
    assert_eq!(old.code(), 0, "{}", old.stderr());
    let new = partitioned.run(&["run", "--json"]);
    assert_eq!(new.code(), 0, "{}", new.stderr());
    for (system, ns) in COPIED {
        for key in OUTPUTS {
            let read = |p: &Project| p.run(&["memory", "retrieve", "-n", ns, "-k", key]).ok();
            let (before, after) = (read(&copied), read(&partitioned));
            assert!(before.len() > 100, "{system}: {key} is a document");
            assert_eq!(before, after, "{system}: {key} differs");
        }
    }
    // The store the copied stages wrote, under the partitioned manifest: nothing to
    // run, nothing migrated.
    let manifest = std::fs::read_to_string(partitioned.root().join("pipeline.toml")).unwrap();
    std::fs::write(copied.root().join("pipeline.toml"), manifest).unwrap();
    let mut args = vec!["run", "--json"];
    for (system, _) in COPIED {
        args.extend(["--partition", system]);
    }
    let rerun = copied.run(&args);
    assert_eq!(rerun.code(), 0, "{}", rerun.stderr());
    let states = statuses(&rerun.json());
    assert_eq!(states.len(), 9, "{states:?}");
    assert!(states.iter().all(|(_, s)| s == "fresh"), "{states:?}");
}

#[test]
fn a_changed_input_makes_only_its_partition_stale_and_a_run_touches_nothing_else() {
    let p = default_pipeline();
    p.run(&["run"]).ok();
    let before: Vec<(String, u64)> = [
        "coding-pipeline",
        "coding-pipeline-telemetry",
        "coding-pipeline-ledger",
    ]
    .iter()
    .flat_map(|ns| OUTPUTS.iter().map(move |k| (ns, k)))
    .map(|(ns, k)| (format!("{ns}:{k}"), revision(&p, ns, k)))
    .collect();
    // Freight's measurements change: only its budget check reads them.
    let path = p.root().join("examples/freight/measurements.json");
    let mut measured: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    measured["endpoints"][0]["p50_ms"] =
        json!(measured["endpoints"][0]["p50_ms"].as_f64().unwrap() - 1.0);
    std::fs::write(&path, measured.to_string()).unwrap();
    let status = p.run(&["status", "--json"]).json();
    let stale: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "fresh")
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stale, ["budget-check[freight]"], "{status}");
    let matrix = p.run(&["status", "--matrix", "--json"]).json();
    let row = |stage: &str| -> Vec<(String, String)> {
        matrix["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == stage)
            .unwrap()["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["partition"].as_str().unwrap().into(),
                    c["state"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        row("budget-check"),
        [
            ("freight".into(), "stale".into()),
            ("ledger".into(), "fresh".into()),
            ("telemetry".into(), "fresh".into()),
            ("webshop".into(), "fresh".into()),
        ]
    );
    // Its requirements change too: its three stages go stale, and a run runs them alone.
    let path = p.root().join("examples/freight/requirements.json");
    let mut required: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    required["load"]["peak_duration_minutes"] = json!(45);
    std::fs::write(&path, required.to_string()).unwrap();
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let summary = run.json();
    // Its events and provenance say which partition.
    let events = p
        .run(&[
            "events",
            "--workflow",
            summary["workflow_id"].as_str().unwrap(),
            "--json",
        ])
        .json();
    let events = events.as_array().unwrap();
    assert!(events.len() >= 6, "{events:?}");
    for e in events {
        assert_eq!(e["attributes"]["partition"], "freight", "{e}");
    }
    let stored = p
        .run(&[
            "memory",
            "retrieve",
            "-n",
            "coding-pipeline-freight",
            "-k",
            OUTPUTS[0],
            "--json",
        ])
        .json();
    assert_eq!(stored["provenance"]["partition"], "freight", "{stored}");
    assert_eq!(
        stored["provenance"]["stage"],
        "performance-architect[freight]"
    );
    for (stage, status) in statuses(&summary) {
        let want = match stage.ends_with("[freight]") {
            true => "passed",
            false => "fresh",
        };
        assert_eq!(status, want, "{stage}");
    }
    for (at, revision_before) in before {
        let (ns, key) = at.split_once(':').unwrap();
        assert_eq!(revision(&p, ns, key), revision_before, "{at} was rewritten");
    }
    // A backfill of one partition with `--force` runs its stages and no others.
    let forced = p.run(&[
        "run",
        "--partition",
        "telemetry",
        "--force",
        "-j",
        "2",
        "--json",
    ]);
    assert_eq!(forced.code(), 0, "{}", forced.stderr());
    let states = statuses(&forced.json());
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(
        states
            .iter()
            .all(|(s, o)| s.ends_with("[telemetry]") && o == "passed"),
        "{states:?}"
    );
    p.run(&["run", "--partition", "atlantis"]).fails(
        2,
        &["has no partition `atlantis`; its partitions are: freight, ledger, telemetry, webshop"],
    );
}

/// A pipeline whose partitions are added at run time, with an external stage per
/// partition and one reading across them.
pub(crate) const DYNAMIC: &str = r#"
[pipeline]
name = "reviews"
namespace = "reviews"

[partitions]
dynamic = true

[[stage]]
name = "review"
external = true
writes = "coding/review"

[[stage]]
name = "summary"
partitioned = false
external = true
reads = ["{namespace}:coding/review"]
writes = "coding/summary"
"#;

#[test]
fn hostile_partition_keys_are_refused_and_nothing_is_stored() {
    let p = Project::with_manifest(DYNAMIC);
    let long = "k".repeat(10_000);
    for (key, says) in [
        ("a/b", "contains '/'"),
        ("..", "starts with `.` or holds `..`"),
        ("{partition}", "contains '{'"),
        ("eu\u{1b}[2J", "contains '\\u{1b}'"),
        (long.as_str(), "10000 bytes long"),
    ] {
        let err = p.run(&["partition", "add", key]).fails(2, &[says]);
        assert!(err.len() < 300, "a short error: {err}");
    }
    p.run(&[
        "memory",
        "retrieve",
        "-n",
        "baton.partitions",
        "-k",
        "reviews",
    ])
    .fails(3, &["not found"]);
    let listed = p.run(&["partition", "list", "--json"]).json();
    assert_eq!(listed["partitions"], json!([]));
}

#[test]
fn keys_added_at_run_time_run_each_partition_and_a_stage_reads_across_them() {
    let p = Project::with_manifest(DYNAMIC);
    let added = p.run(&["partition", "add", "eu", "--json"]).json();
    assert_eq!(added["added"], true);
    assert_eq!(added["stages"], json!(["review[eu]"]));
    p.run(&["partition", "add", "us"]).ok();
    let again = p.run(&["partition", "add", "us", "--json"]).json();
    assert_eq!(again["added"], false);
    // The stage of no partition waits on every partition's.
    let status = p.run(&["status", "--json"]).json();
    let summary = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "summary")
        .unwrap();
    assert_eq!(
        summary["waiting_on"],
        json!(["review[eu]", "review[us]"]),
        "{status}"
    );
    // Each partition's agent stores its review in its partition's namespace.
    p.run(&[
        "agent",
        "output",
        "review",
        "--partition",
        "eu",
        r#"{"verdict": "ship"}"#,
    ])
    .ok();
    p.run(&["agent", "output", "review[us]", r#"{"verdict": "hold"}"#])
        .ok();
    p.run(&["agent", "output", "review", r#"{"verdict": "?"}"#])
        .fails(
            2,
            &[
                "stage `review` runs once per partition",
                "its partitions are: eu, us",
            ],
        );
    assert_eq!(
        p.run(&[
            "memory",
            "retrieve",
            "-n",
            "reviews-us",
            "-k",
            "coding/review"
        ])
        .json(),
        json!({"verdict": "hold"})
    );
    // One partition's status: its stage and the stage of no partition.
    let eu = p.run(&["status", "--partition", "eu", "--json"]).json();
    let named: Vec<&str> = eu
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["review[eu]", "summary"], "{eu}");
    let brief = p
        .run(&["agent", "brief", "review", "--partition", "us"])
        .stdout();
    assert!(brief.contains("review[us]"), "{brief}");
    assert!(brief.contains("reviews-us"), "{brief}");
    let inputs = p.run(&["agent", "inputs", "summary"]).json();
    assert_eq!(
        inputs["reviews-eu:coding/review"],
        json!({"verdict": "ship"}),
        "{inputs}"
    );
    assert_eq!(
        inputs["reviews-us:coding/review"],
        json!({"verdict": "hold"}),
        "{inputs}"
    );
    let matrix = p.run(&["partition", "list", "--json"]).json();
    assert_eq!(matrix["partitions"], json!(["eu", "us"]));
    let review = &matrix["rows"][0];
    assert_eq!(review["stage"], "review");
    assert_eq!(review["cells"][0]["state"], "external");
    assert_eq!(matrix["rows"][1]["state"], "awaiting");
}

#[test]
fn a_partition_s_output_held_for_approval_is_approved_by_its_partition() {
    let p = Project::with_manifest(
        r#"
[pipeline]
name = "reviews"
namespace = "reviews"

[partitions]
keys = ["eu", "us"]

[[stage]]
name = "review"
external = true
writes = "coding/review"

[[stage.gate]]
name = "signed-off"
rule = "A person signs the review off"
approval = true
"#,
    );
    p.run(&[
        "agent",
        "output",
        "review",
        "-p",
        "eu",
        r#"{"verdict": "ship"}"#,
    ])
    .ok();
    let held = p.run(&["held", "--json"]).json();
    assert_eq!(held[0]["stage"], "review[eu]", "{held}");
    p.run(&[
        "memory",
        "retrieve",
        "-n",
        "reviews-eu",
        "-k",
        "coding/review",
    ])
    .fails(3, &["not found"]);
    let ruling = p
        .run(&[
            "approve",
            "review",
            "--partition",
            "eu",
            "--as",
            "alice",
            "--json",
        ])
        .json();
    assert_eq!(ruling["namespace"], "reviews-eu", "{ruling}");
    assert_eq!(
        p.run(&[
            "memory",
            "retrieve",
            "-n",
            "reviews-eu",
            "-k",
            "coding/review"
        ])
        .json(),
        json!({"verdict": "ship"})
    );
    let events = p.run(&["events", "--json"]).json();
    let approved = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "stage.review.approved")
        .unwrap_or_else(|| panic!("no approval event in {events}"));
    assert_eq!(approved["attributes"]["partition"], "eu");
    // The other partition holds nothing.
    p.run(&["approve", "review", "-p", "us", "--as", "alice"])
        .fails(3, &["no output held"]);
}
