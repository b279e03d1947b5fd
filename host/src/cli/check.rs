//! `baton check`: read and check `pipeline.toml` without running anything.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::json;

use super::{CliError, Exit, output};
use crate::pipeline::{GateCheck, Pipeline};

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the checked pipeline (or the problems) as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: CheckArgs) -> Result<(), CliError> {
    let path = crate::service::manifest_path(args.pipeline, &super::current_dir()?)?;
    let pipeline = match Pipeline::load(&path) {
        Ok(p) => p,
        Err(problems) => {
            if args.json {
                let list: Vec<_> = problems
                    .0
                    .iter()
                    .map(|p| json!({"file": p.file, "line": p.line, "column": p.column, "message": p.message}))
                    .collect();
                output::json(&json!({ "ok": false, "problems": list }))?;
            } else {
                eprintln!("{problems}");
            }
            let n = problems.0.len();
            return Err(CliError::new(
                Exit::BadInput,
                anyhow!(
                    "{} has {n} problem{}",
                    path.display(),
                    if n == 1 { "" } else { "s" }
                ),
            ));
        }
    };
    if args.json {
        return output::json(&summary(&pipeline));
    }
    let rows: Vec<Vec<String>> = pipeline
        .stages
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.writes.clone().unwrap_or_else(|| "(nothing)".into()),
                if s.external {
                    "external".into()
                } else {
                    "component".into()
                },
                s.gate_counts().to_string(),
                s.depends_on.join(", "),
            ]
        })
        .collect();
    output::table(&["STAGE", "WRITES", "KIND", "GATES", "AFTER"], &rows)?;
    for warning in &pipeline.warnings {
        eprintln!("{}: warning: {}", warning.location(), warning.message);
    }
    eprintln!(
        "{}: ok, {} stages, {} inputs",
        path.display(),
        pipeline.stages.len(),
        pipeline.inputs.len()
    );
    Ok(())
}

/// The checked pipeline as JSON, with paths relative to the manifest's folder.
fn summary(p: &Pipeline) -> serde_json::Value {
    let rel = |path: &std::path::Path| {
        path.strip_prefix(&p.root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    json!({
        "ok": true,
        "name": p.name,
        "namespace": p.namespace,
        "retention": p.retention,
        "inputs": p.inputs.iter().map(|i| json!({"namespace": i.namespace, "key": i.key, "file": rel(&i.file)})).collect::<Vec<_>>(),
        "warnings": p.warnings.iter().map(|w| json!({"file": w.file, "line": w.line, "column": w.column, "message": w.message})).collect::<Vec<_>>(),
        "stages": p.stages.iter().map(|s| json!({
            "name": s.name,
            "agent": s.agent_name,
            "phase": s.phase,
            "agent_number": s.agent_number,
            "external": s.external,
            "component": s.component.as_deref().map(rel),
            "reads": s.reads.0.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            "writes": s.writes.as_ref().map(|w| format!("{}:{w}", s.writes_namespace)),
            "after": s.depends_on,
            "config": s.config,
            "limits": {
                "timeout_ms": s.limits.timeout.as_millis() as u64,
                "memory_bytes": s.limits.memory_bytes,
                "output_bytes": s.limits.output_bytes,
            },
            "source": s.source,
            "gate_counts": s.gate_counts(),
            "gates": s.gates.iter().map(|g| json!({
                "name": g.name,
                "rule": g.rule,
                "severity": g.severity,
                "check": match &g.check {
                    GateCheck::Schema { path, pointer, .. } => json!({"schema": rel(path), "pointer": pointer}),
                    GateCheck::Component { path, config, .. } => json!({"component": rel(path), "config": config}),
                    GateCheck::Unchecked => json!({"unchecked": true}),
                },
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
