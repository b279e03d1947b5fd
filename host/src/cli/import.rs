//! `baton import claude-flow DIR...`: agent definitions into `pipeline.toml`.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, output};
use crate::service::{AgentImport, ImportOutcome, ImportProblem, import_agents};

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
    /// Run every imported stage once per partition, its keys in the partition's
    /// namespace (`NAMESPACE-{partition}`): `dynamic` (keys added with `baton
    /// partition add`), a folders pattern such as `systems/*/spec.json`, or keys such
    /// as `eu,us`. Without it the stages run once
    #[arg(long, value_name = "SPEC")]
    partitioned_by: Option<String>,
    /// Print the outcome (defects, problems, what was written) as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(cmd: ImportCommand) -> Result<(), CliError> {
    let ImportCommand::ClaudeFlow(args) = cmd;
    let outcome = import_agents(&AgentImport {
        sources: args.sources,
        pipeline: args.pipeline,
        cwd: super::current_dir()?,
        dry_run: args.stdout,
        force: args.force,
        rewrite_hooks: args.rewrite_hooks,
        name: args.name,
        partitioned_by: args.partitioned_by,
    })?;
    let write = outcome.errors == 0 || args.force;
    if write && args.stdout {
        print!("{}", outcome.text);
    }
    if args.json {
        output::json(&outcome)?;
    } else {
        for d in &outcome.defects {
            eprintln!("{d}");
        }
        for p in &outcome.problems {
            eprintln!("{}: error: {}{}", p.location(), p.message, from_agent(p));
        }
        for w in &outcome.warnings {
            eprintln!("{}: warning: {}{}", w.location(), w.message, from_agent(w));
        }
        summary(&outcome, args.rewrite_hooks);
    }
    if outcome.errors > 0 {
        let errors = outcome.errors;
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

fn summary(outcome: &ImportOutcome, rewrite_asked: bool) {
    let verb = if outcome.written { "wrote" } else { "planned" };
    eprintln!(
        "{verb} {}: {} from {}, {} (unchecked until given a schema or a component), {}",
        outcome.manifest.display(),
        counted(outcome.stages, "stage"),
        counted(outcome.agent_files, "agent file"),
        counted(outcome.gates, "gate"),
        counted(outcome.warning_defects(), "warning"),
    );
    if !outcome.rewritten.is_empty() {
        eprintln!(
            "rewrote the hooks of {} agent files (originals kept as *.bak)",
            outcome.rewritten.len()
        );
    } else if outcome.calls > 0 && !rewrite_asked {
        eprintln!(
            "hint: `--rewrite-hooks` turns their {} memory calls into one `baton agent inputs` and one `baton agent output` per agent",
            outcome.calls
        );
    }
}

/// `n thing` or `n things`.
fn counted(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// ` (agent file F)` when `problem`'s stage was imported from one.
fn from_agent(problem: &ImportProblem) -> String {
    problem
        .agent_file
        .as_ref()
        .map_or_else(String::new, |f| format!(" (agent file {f})"))
}
