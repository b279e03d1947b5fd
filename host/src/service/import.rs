//! Importing claude-flow agent definitions into `pipeline.toml` (`baton import
//! claude-flow`): choosing the manifest, importing into it (or a new one), checking
//! the result as `baton check` does, deciding whether to write it, writing it whole,
//! and rewriting the agents' hooks. Each problem and warning carries the agent file of
//! the stage it belongs to, as data.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Error, ErrorKind, Result};
use crate::import::{self, Defect, ImportRequest, Level, rewrite};
use crate::pipeline::{Pipeline, Problem, ProblemKind};

/// What to import, and how.
#[derive(Clone, Debug)]
pub struct AgentImport {
    /// Folders searched for `*.md` agent definitions, or agent files.
    pub sources: Vec<PathBuf>,
    /// The manifest to write or update [default: `pipeline.toml` in `cwd`].
    pub pipeline: Option<PathBuf>,
    /// Where relative paths start.
    pub cwd: PathBuf,
    /// Plan only: return the manifest's text, write nothing.
    pub dry_run: bool,
    /// Write the manifest even if there are errors.
    pub force: bool,
    /// Rewrite each agent's hooks to `baton agent inputs` / `baton agent output`.
    pub rewrite_hooks: bool,
    /// The pipeline's name in a new manifest [default: the manifest folder's name].
    pub name: Option<String>,
    /// Partition the imported stages: `dynamic`, a folders pattern with a `*`, or
    /// keys separated by commas.
    pub partitioned_by: Option<String>,
}

/// What an import did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportOutcome {
    /// The manifest written or planned.
    pub manifest: PathBuf,
    /// Whether it was written.
    pub written: bool,
    /// Stages planned.
    pub stages: usize,
    /// The pipeline's namespace.
    pub namespace: String,
    /// Every defect of the agent definitions, errors first.
    pub defects: Vec<Defect>,
    /// What the check of the result found wrong (reads nothing writes are among the
    /// defects, at the agent's line).
    pub problems: Vec<ImportProblem>,
    /// What the check found worth a word, except what the defects already say.
    pub warnings: Vec<ImportProblem>,
    /// The agent files whose hooks were rewritten.
    pub rewritten: Vec<rewrite::Rewritten>,
    /// The manifest's text.
    #[serde(skip)]
    pub text: String,
    /// Agent files read.
    #[serde(skip)]
    pub agent_files: usize,
    /// Gates planned.
    #[serde(skip)]
    pub gates: usize,
    /// Memory calls in the kept agents' hooks (what `rewrite_hooks` turns).
    #[serde(skip)]
    pub calls: usize,
    /// Errors: the defects' and the problems'.
    #[serde(skip)]
    pub errors: usize,
}

/// A problem of the imported manifest, with the agent file of its stage.
#[derive(Clone, Debug, Serialize)]
pub struct ImportProblem {
    /// The manifest.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The agent file the stage was imported from, if it was.
    pub agent_file: Option<String>,
}

impl ImportProblem {
    /// `file:line:column`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Imports the agent definitions `request` names. With an error nothing is written
/// unless `force`; the outcome says what was found either way.
pub fn import_agents(request: &AgentImport) -> Result<ImportOutcome> {
    let target = request
        .pipeline
        .clone()
        .unwrap_or_else(|| request.cwd.join("pipeline.toml"));
    let base = target
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| request.cwd.clone());
    let existing = match std::fs::read_to_string(&target) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::bad_input(format!(
                "cannot read {}: {e}",
                target.display()
            )));
        }
    };
    let default_name = std::path::absolute(&base)
        .ok()
        .and_then(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "imported".into());
    let imported = import::import(&ImportRequest {
        sources: &request.sources,
        base: &base,
        existing: existing.as_deref(),
        name: request.name.as_deref().unwrap_or(&default_name),
        partitioned_by: request.partitioned_by.as_deref(),
    })
    .map_err(|e| Error::new(ErrorKind::BadInput, anyhow::anyhow!(e)))?;
    let checked = Pipeline::parse(&target, &imported.manifest);
    let (mut problems, mut warnings) = match checked {
        Ok(p) => (Vec::new(), p.warnings),
        Err(problems) => (problems.0, Vec::new()),
    };
    // Said at the agent's line already, by the import: a read nothing writes, a gate
    // in prose only, an agent whose hooks store nothing.
    problems.retain(|p| p.kind != ProblemKind::UnresolvedRead);
    warnings.retain(|w| {
        !matches!(
            w.kind,
            ProblemKind::UncheckedGate | ProblemKind::WritesNothing
        )
    });
    let errors = imported.errors() + problems.len();
    let write = errors == 0 || request.force;
    if write && !request.dry_run {
        crate::files::write_atomically(&target, imported.manifest.as_bytes()).map_err(|e| {
            Error::new(
                ErrorKind::Failure,
                anyhow::anyhow!("cannot write {}: {e}", target.display()),
            )
        })?;
    }
    // The agents kept as stages (a definition dropped for another of the same name is
    // not rewritten, and its calls are not counted).
    let kept: Vec<_> = imported
        .agents
        .iter()
        .filter_map(|agent| {
            let source = agent.path.display().to_string();
            let stage = imported.stages.iter().find(|s| s.source == source)?;
            Some((agent, stage))
        })
        .collect();
    let mut rewritten = Vec::new();
    if write && request.rewrite_hooks {
        for (agent, stage) in &kept {
            let path = base.join(&agent.path);
            if let Some(done) = rewrite::rewrite_file(&path, agent, &stage.name)? {
                rewritten.push(done);
            }
        }
    }
    let agent_file = |p: &Problem| {
        let stage = p.stage.as_deref()?;
        imported
            .stages
            .iter()
            .find(|s| s.name == stage)
            .map(|s| s.source.clone())
    };
    let view = |p: &Problem| ImportProblem {
        file: p.file.clone(),
        line: p.line,
        column: p.column,
        message: p.message.clone(),
        agent_file: agent_file(p),
    };
    Ok(ImportOutcome {
        manifest: target,
        written: write && !request.dry_run,
        stages: imported.stages.len(),
        namespace: imported.namespace.clone(),
        problems: problems.iter().map(view).collect(),
        warnings: warnings.iter().map(view).collect(),
        rewritten,
        agent_files: imported.agents.len(),
        gates: imported.stages.iter().map(|s| s.gates.len()).sum(),
        calls: kept
            .iter()
            .map(|(a, _)| a.calls.retrieve_lines.len() + a.calls.store_lines.len())
            .sum(),
        errors,
        text: imported.manifest,
        defects: imported.defects,
    })
}

impl ImportOutcome {
    /// The defects that are warnings.
    pub fn warning_defects(&self) -> usize {
        self.defects
            .iter()
            .filter(|d| d.level == Level::Warning)
            .count()
    }
}
