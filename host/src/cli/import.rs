//! `baton import claude-flow DIR...`: agent definitions into `pipeline.toml`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliError, Exit, output};
use crate::import::{self, ImportRequest, Imported, Level, rewrite};
use crate::pipeline::{Pipeline, Problem, ProblemKind};

#[derive(Debug, Subcommand)]
pub(super) enum ImportCommand {
    /// Import claude-flow / Claude Code agent definitions (`.claude/agents/**/*.md`)
    ///
    /// Each agent becomes an external stage: its `pre` hook's `memory retrieve`s its
    /// reads, its `post` hook's `memory store` the key it writes, its `qualityGates`
    /// its gates (unchecked until given a schema or a component), its `type` and
    /// `Phase N, Agent M` its phase and number. Every defect is printed at the agent
    /// file and line it comes from, then the result is checked as `baton check` does.
    /// With an error nothing is written unless `--force`. Importing again updates the
    /// stages and keeps what was added by hand: gate schemas and components, limits,
    /// config, comments, other stages.
    #[command(name = "claude-flow")]
    ClaudeFlow(ClaudeFlowArgs),
}

#[derive(Debug, Args)]
pub(super) struct ClaudeFlowArgs {
    /// Folders searched for `*.md` agent definitions, or agent files
    #[arg(required = true, value_name = "DIR")]
    sources: Vec<PathBuf>,
    /// The manifest to write or update [default: `pipeline.toml` here]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the manifest instead of writing it
    #[arg(long)]
    stdout: bool,
    /// Write the manifest even if there are errors
    #[arg(long)]
    force: bool,
    /// Rewrite each agent's hooks to `baton agent inputs` / `baton agent output`,
    /// keeping the original as `FILE.bak`
    #[arg(long)]
    rewrite_hooks: bool,
    /// The pipeline's name in a new manifest [default: the manifest folder's name]
    #[arg(long)]
    name: Option<String>,
    /// Print the outcome (defects, problems, what was written) as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(cmd: ImportCommand) -> Result<(), CliError> {
    let ImportCommand::ClaudeFlow(args) = cmd;
    let cwd = super::current_dir()?;
    let target = args
        .pipeline
        .clone()
        .unwrap_or_else(|| cwd.join("pipeline.toml"));
    let base = target
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| cwd.clone());
    let existing = match std::fs::read_to_string(&target) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(CliError::new(
                Exit::BadInput,
                anyhow!("cannot read {}: {e}", target.display()),
            ));
        }
    };
    let default_name = std::path::absolute(&base)
        .ok()
        .and_then(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "imported".into());
    let imported = import::import(&ImportRequest {
        sources: &args.sources,
        base: &base,
        existing: existing.as_deref(),
        name: args.name.as_deref().unwrap_or(&default_name),
    })
    .map_err(|e| CliError::new(Exit::BadInput, anyhow!(e)))?;
    let checked = Pipeline::parse(&target, &imported.manifest);
    let (mut problems, warnings) = match &checked {
        Ok(p) => (Vec::new(), p.warnings.clone()),
        Err(problems) => (problems.0.clone(), Vec::new()),
    };
    // A read nothing writes: the import said so at the agent's line already.
    problems.retain(|p| p.kind != ProblemKind::UnresolvedRead);
    let errors = imported.errors() + problems.len();
    let write = errors == 0 || args.force;
    if write && args.stdout {
        print!("{}", imported.manifest);
    } else if write {
        write_atomically(&target, &imported.manifest)?;
    }
    let mut rewritten = Vec::new();
    if write && args.rewrite_hooks {
        for agent in &imported.agents {
            let source = agent.path.display().to_string();
            let Some(stage) = imported.stages.iter().find(|s| s.source == source) else {
                continue;
            };
            let path = base.join(&agent.path);
            if let Some(done) = rewrite::rewrite_file(&path, agent, &stage.name)? {
                rewritten.push(done);
            }
        }
    }
    // The memory calls `--rewrite-hooks` would turn: those of the agents kept as
    // stages (a definition dropped for another of the same name is not rewritten).
    let calls: usize = imported
        .agents
        .iter()
        .filter(|a| {
            let source = a.path.display().to_string();
            imported.stages.iter().any(|s| s.source == source)
        })
        .map(|a| a.calls.retrieve_lines.len() + a.calls.store_lines.len())
        .sum();
    if args.json {
        output::json(&json!({
            "manifest": target,
            "written": write && !args.stdout,
            "stages": imported.stages.len(),
            "namespace": imported.namespace,
            "defects": imported.defects,
            "problems": problems.iter().map(|p| problem_json(p, &imported)).collect::<Vec<_>>(),
            "warnings": warnings.iter().map(|p| problem_json(p, &imported)).collect::<Vec<_>>(),
            "rewritten": rewritten,
        }))?;
    } else {
        for d in &imported.defects {
            eprintln!("{d}");
        }
        for p in &problems {
            eprintln!(
                "{}: error: {}{}",
                p.location(),
                p.message,
                from_agent(p, &imported)
            );
        }
        for w in &warnings {
            // The import already said these at the agent's line.
            if !w.message.contains("is unchecked") && !w.message.contains("writes nothing") {
                eprintln!(
                    "{}: warning: {}{}",
                    w.location(),
                    w.message,
                    from_agent(w, &imported)
                );
            }
        }
        summary(
            &imported,
            &target,
            write && !args.stdout,
            &rewritten,
            calls,
            args.rewrite_hooks,
        );
    }
    if errors > 0 {
        let what = if write {
            "written anyway (--force)"
        } else {
            "nothing written; `--force` writes it anyway"
        };
        return Err(CliError::new(
            Exit::BadInput,
            anyhow!(
                "the import found {errors} error{}; {what}",
                if errors == 1 { "" } else { "s" }
            ),
        ));
    }
    Ok(())
}

fn summary(
    imported: &Imported,
    target: &Path,
    written: bool,
    rewritten: &[rewrite::Rewritten],
    calls: usize,
    rewrite_asked: bool,
) {
    let gates: usize = imported.stages.iter().map(|s| s.gates.len()).sum();
    let warnings = imported
        .defects
        .iter()
        .filter(|d| d.level == Level::Warning)
        .count();
    let verb = if written { "wrote" } else { "planned" };
    eprintln!(
        "{verb} {}: {} from {}, {} (unchecked until given a schema or a component), {}",
        target.display(),
        counted(imported.stages.len(), "stage"),
        counted(imported.agents.len(), "agent file"),
        counted(gates, "gate"),
        counted(warnings, "warning"),
    );
    if !rewritten.is_empty() {
        eprintln!(
            "rewrote the hooks of {} agent files (originals kept as *.bak)",
            rewritten.len()
        );
    } else if calls > 0 && !rewrite_asked {
        eprintln!(
            "hint: `--rewrite-hooks` turns their {calls} memory calls into one `baton agent inputs` and one `baton agent output` per agent"
        );
    }
}

/// `n thing` or `n things`.
fn counted(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// ` (from agent file F)` when `problem` names a stage imported from one.
fn from_agent(problem: &Problem, imported: &Imported) -> String {
    imported
        .stages
        .iter()
        .find(|s| problem.message.contains(&format!("`{}`", s.name)))
        .map_or_else(String::new, |s| format!(" (agent file {})", s.source))
}

fn problem_json(p: &Problem, imported: &Imported) -> serde_json::Value {
    json!({
        "file": p.file, "line": p.line, "column": p.column, "message": p.message,
        "agent_file": imported.stages.iter()
            .find(|s| p.message.contains(&format!("`{}`", s.name)))
            .map(|s| &s.source),
    })
}

/// Writes `text` to `path` whole (a temporary name unique to this import, renamed).
fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    crate::files::write_atomically(path, text.as_bytes()).map_err(|e| {
        CliError::new(
            Exit::Failure,
            anyhow!("cannot write {}: {e}", path.display()),
        )
    })
}
