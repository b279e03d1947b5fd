//! Import benchmark: 200 generated claude-flow agent definitions (7 phases, each agent
//! retrieving up to 4 earlier keys and storing its own, 3 quality gates) imported
//! into a manifest and checked, as `baton import claude-flow` does. Target: under a
//! second.
//!
//! Run: `cargo bench -p baton --bench import`

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

use baton::import::agent::PHASES;
use baton::import::{ImportRequest, import};
use baton::pipeline::Pipeline;
use criterion::{Criterion, criterion_group, criterion_main};

const AGENTS: usize = 200;
/// Writes the agent files under `dir/.claude/agents`, one folder per phase.
fn generate(dir: &Path) -> PathBuf {
    let agents = dir.join(".claude/agents");
    for i in 0..AGENTS {
        let phase = i * PHASES.len() / AGENTS;
        let folder = agents.join(PHASES[phase]);
        std::fs::create_dir_all(&folder).unwrap();
        let reads: String = (1..=4)
            .filter(|d| *d <= i)
            .map(|d| {
                format!(
                    "    npx claude-flow memory retrieve --key \"coding/agent-{}\" --namespace \"coding-pipeline\"\n",
                    i - d
                )
            })
            .collect();
        let text = format!(
            "---\nname: agent-{i}\ntype: {}\ndescription: \"Generated agent {i}\"\nqualityGates:\n  - \"Output {i} must have measurable SLOs\"\n  - \"Output {i} must name its inputs\"\n  - \"Output {i} must be reviewed\"\nhooks:\n  pre: |\n    echo \"[agent-{i}] Starting Phase {}, Agent {i}\"\n{reads}  post: |\n    npx claude-flow memory store \"coding/agent-{i}\" '{{\"agent\": {i}}}' --namespace \"coding-pipeline\"\n---\n\n# Agent {i}\n\nDoes step {i}.\n",
            PHASES[phase],
            phase + 1
        );
        std::fs::write(folder.join(format!("agent-{i}.md")), text).unwrap();
    }
    agents
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let agents = generate(dir.path());
    let manifest = dir.path().join("pipeline.toml");
    let sources = [agents];
    let run = || {
        let imported = import(&ImportRequest {
            sources: &sources,
            base: dir.path(),
            existing: None,
            name: "generated",
            partitioned_by: None,
        })
        .unwrap();
        assert_eq!(imported.errors(), 0, "{:?}", imported.defects);
        let pipeline = Pipeline::parse(&manifest, &imported.manifest).unwrap();
        assert_eq!(pipeline.stages.len(), AGENTS);
        imported.manifest
    };
    // Importing again over the result (the round trip) costs the same walk plus the
    // merge into the existing document.
    let first = run();
    c.bench_function("import 200 agents and check", |b| b.iter(run));
    c.bench_function("re-import 200 agents over the manifest and check", |b| {
        b.iter(|| {
            let imported = import(&ImportRequest {
                sources: &sources,
                base: dir.path(),
                existing: Some(&first),
                name: "generated",
                partitioned_by: None,
            })
            .unwrap();
            assert_eq!(imported.manifest, first);
            Pipeline::parse(&manifest, &imported.manifest).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
