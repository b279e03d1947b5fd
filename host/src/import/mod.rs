//! Importing the pipelines teams already have: claude-flow and Claude Code agent
//! definitions (`.claude/agents/**/*.md`) become a `pipeline.toml` of external stages.
//!
//! [`import`] reads every definition under the folders given ([`agent`]: front matter,
//! hooks in both claude-flow syntaxes, `qualityGates`), connects them (who reads what
//! whom stores, in which namespace), and reports every defect at the agent file and
//! line it comes from ([`Defect`]): unparsable front matter, duplicate names, two
//! agents storing one key, reads no agent stores, wildcards, namespaces that silently
//! miss, gates written as maps or not at all. It then writes the manifest with
//! `toml_edit` ([`manifest`]), over an existing one when there is one, so what people
//! added by hand (gate schemas and components, limits, config, comments) survives a
//! second import. Prose gates become unchecked gates: recorded, reported, never
//! blocking. [`rewrite`] turns an agent's hooks into the two `baton agent` calls.
//! Nothing here touches the memory; the CLI checks the result with the pipeline check.

pub mod agent;
mod hooks;
mod manifest;
pub mod rewrite;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

pub use agent::AgentDef;

use crate::memory::Key;

/// How bad a defect is: an error stops the import (unless forced); a warning is said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The pipeline would be wrong.
    Error,
    /// Worth knowing; the pipeline is what the definitions say.
    Warning,
}

/// A defect in an agent definition, at its file and line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Defect {
    /// The agent file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Error or warning.
    pub level: Level,
    /// What is wrong.
    pub message: String,
}

impl Defect {
    /// An error at `file:line`.
    pub fn error(file: &Path, line: usize, message: String) -> Self {
        Self {
            file: file.into(),
            line,
            level: Level::Error,
            message,
        }
    }

    /// A warning at `file:line`.
    pub fn warning(file: &Path, line: usize, message: String) -> Self {
        Self {
            level: Level::Warning,
            ..Self::error(file, line, message)
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {level}: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// A stage as the import plans it, before it is written into the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStage {
    /// The stage's name.
    pub name: String,
    /// The agent file, relative to the manifest's folder.
    pub source: String,
    /// Its phase.
    pub phase: Option<u32>,
    /// Its agent number.
    pub agent_number: Option<u32>,
    /// What it reads, as the manifest writes reads (`key`, `prefix/*`, `ns:key`).
    pub reads: Vec<String>,
    /// What it writes (`key` or `ns:key`), if anything.
    pub writes: Option<String>,
    /// Its gates: a name and the rule.
    pub gates: Vec<(String, String)>,
}

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The definitions read.
    pub agents: Vec<AgentDef>,
    /// The stages planned, in pipeline order (phase, agent number, file).
    pub stages: Vec<PlannedStage>,
    /// The pipeline's namespace: the one most stores name.
    pub namespace: String,
    /// The manifest's text.
    pub manifest: String,
    /// Every defect, errors first, each in file and line order.
    pub defects: Vec<Defect>,
}

impl Imported {
    /// How many defects are errors.
    pub fn errors(&self) -> usize {
        self.defects
            .iter()
            .filter(|d| d.level == Level::Error)
            .count()
    }
}

/// What [`import`] is given.
#[derive(Clone, Debug)]
pub struct ImportRequest<'a> {
    /// Folders (searched for `*.md`) or agent files.
    pub sources: &'a [PathBuf],
    /// The manifest's folder: `source` paths are written relative to it.
    pub base: &'a Path,
    /// The existing manifest's text, to update rather than replace.
    pub existing: Option<&'a str>,
    /// The pipeline's name when a new manifest is written.
    pub name: &'a str,
    /// Partition the imported stages (`--partitioned-by`): `dynamic`, a folders
    /// pattern with a `*`, or keys separated by commas.
    pub partitioned_by: Option<&'a str>,
}

/// Reads every agent definition under `request.sources` and plans the pipeline.
/// Fails only when a source cannot be read; defects in definitions are in the result.
pub fn import(request: &ImportRequest<'_>) -> std::io::Result<Imported> {
    let mut files = Vec::new();
    for source in request.sources {
        collect(source, &mut files).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", source.display()))
        })?;
    }
    files.sort();
    files.dedup();
    let mut defects = Vec::new();
    let mut agents = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", file.display()))
        })?;
        let shown = relative(file, request.base);
        if let Some(agent) = agent::read(&shown, &text, &mut defects) {
            agents.push(agent);
        }
    }
    if let Some(existing) = request.existing {
        manifest::known_handoffs(existing, &mut agents);
    }
    let namespace = pipeline_namespace(&agents);
    let stages = plan(&agents, &namespace, &mut defects);
    let mut manifest = manifest::write(
        request.existing,
        request.name,
        &namespace,
        &stages,
        &mut defects,
    )
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if let Some(spec) = request.partitioned_by {
        manifest = manifest::partition(&manifest, spec, &mut defects)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
    defects.sort_by(|a, b| {
        (a.level, &a.file, a.line, &a.message).cmp(&(b.level, &b.file, b.line, &b.message))
    });
    Ok(Imported {
        agents,
        stages,
        namespace,
        manifest,
        defects,
    })
}

/// Every `*.md` file at or under `path`.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
    Ok(())
}

/// `file` relative to `base` when it is under it (both made absolute first).
fn relative(file: &Path, base: &Path) -> PathBuf {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (file_abs, base_abs) = (abs(file), abs(base));
    file_abs
        .strip_prefix(&base_abs)
        .map(Path::to_path_buf)
        .unwrap_or(file_abs)
}

/// claude-flow's namespace when a call names none.
const DEFAULT_NAMESPACE: &str = "default";

/// The namespace most stores name (the first such in file order on a tie), else
/// claude-flow's `default`.
fn pipeline_namespace(agents: &[AgentDef]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for ns in agents
        .iter()
        .flat_map(|a| &a.writes)
        .filter_map(|w| w.namespace.clone())
    {
        match counts.iter_mut().find(|(n, _)| *n == ns) {
            Some((_, c)) => *c += 1,
            None => counts.push((ns, 1)),
        }
    }
    let best = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, c)| *c == best)
        .map_or_else(|| DEFAULT_NAMESPACE.to_owned(), |(n, _)| n)
}

/// A stage name for an agent name: itself when it is one, else lower case with runs
/// of anything but letters and digits made `-`.
pub fn stage_name(agent: &str) -> String {
    let mut out = String::new();
    for ch in agent.trim().chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A gate name for a rule: its first words, lower case, joined by `-`.
fn gate_name(rule: &str) -> String {
    const FILLER: [&str; 12] = [
        "a", "an", "the", "must", "should", "shall", "have", "has", "be", "is", "are", "include",
    ];
    let words: Vec<String> = rule
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(&w.to_ascii_lowercase().as_str()))
        .take(5)
        .map(str::to_ascii_lowercase)
        .collect();
    let name = words.join("-");
    if name.is_empty() { "gate".into() } else { name }
}

/// How much of a pipeline's contract a definition states: what it stores, its
/// gates, what it reads, whether it has hooks, its place in the phases.
fn richness(a: &AgentDef) -> (bool, usize, usize, bool, bool) {
    (
        !a.writes.is_empty(),
        a.gates.len(),
        a.reads.len(),
        a.has_hooks,
        a.phase.is_some() || a.agent_number.is_some(),
    )
}

/// What a definition states, for the message that says which of two was kept.
fn says(a: &AgentDef) -> String {
    let mut parts = Vec::new();
    if let Some(w) = a.writes.first() {
        parts.push(format!("stores `{}`", w.key));
    }
    if !a.reads.is_empty() {
        parts.push(format!("reads {}", counted(a.reads.len(), "key")));
    }
    if !a.gates.is_empty() {
        parts.push(counted(a.gates.len(), "quality gate"));
    }
    if let (Some(p), Some(n)) = (a.phase, a.agent_number) {
        parts.push(format!("Phase {p}, Agent {n}"));
    }
    if parts.is_empty() {
        parts.push(
            if a.has_hooks {
                "hooks that store nothing"
            } else {
                "no hooks, no gates"
            }
            .to_owned(),
        );
    }
    parts.join(", ")
}

/// `n thing` or `n things`.
fn counted(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Connects the agents into stages, reporting what does not connect.
fn plan(agents: &[AgentDef], namespace: &str, defects: &mut Vec<Defect>) -> Vec<PlannedStage> {
    // Names: the agents that become stages, in file order, each with its stage name.
    let mut accepted: Vec<(String, &AgentDef)> = Vec::new();
    for agent in agents {
        let name = stage_name(&agent.name);
        if name.is_empty() {
            defects.push(Defect::error(
                &agent.path,
                agent.name_line,
                format!(
                    "agent name {:?} has no letter or digit to name a stage by",
                    agent.name
                ),
            ));
            continue;
        }
        if name != agent.name {
            defects.push(Defect::warning(
                &agent.path,
                agent.name_line,
                format!("agent name {:?} is not a stage name (letters, digits, `-`, `_`); imported as `{name}`", agent.name),
            ));
        }
        if let Some(slot) = accepted.iter_mut().find(|(n, _)| *n == name) {
            // Two definitions of one agent (a variant beside the original): the one
            // that says more of the pipeline's contract is kept, and the choice said.
            let first = slot.1;
            let (kept, dropped) = if richness(agent) > richness(first) {
                (agent, first)
            } else {
                (first, agent)
            };
            defects.push(Defect::warning(
                &dropped.path,
                dropped.name_line,
                format!(
                    "agent `{name}` is defined twice: kept {}:{} ({}) over this one ({}){}; rename one to import both",
                    kept.path.display(),
                    kept.name_line,
                    says(kept),
                    says(dropped),
                    if richness(kept) == richness(dropped) {
                        ", the first in file order as they say as much"
                    } else {
                        ""
                    }
                ),
            ));
            slot.1 = kept;
            continue;
        }
        accepted.push((name, agent));
    }

    // Writers: (namespace, key) -> (stage, file, line).
    let mut writers: BTreeMap<(String, String), (String, &Path, usize)> = BTreeMap::new();
    let mut writes_of: HashMap<String, (String, String)> = HashMap::new();
    for (name, agent) in &accepted {
        let (name, agent) = (name.clone(), *agent);
        let mut stores = agent.writes.iter();
        let Some(first) = stores.next() else {
            let what = if agent.has_hooks {
                "its hooks store nothing"
            } else {
                "it has no hooks (a subagent definition)"
            };
            defects.push(Defect::warning(
                &agent.path,
                agent.name_line,
                format!("agent `{name}`: {what}; imported as an external stage that reads and writes nothing"),
            ));
            continue;
        };
        for other in stores {
            if other.key != first.key || other.namespace != first.namespace {
                defects.push(Defect::warning(
                    &agent.path,
                    other.line,
                    format!(
                        "agent `{name}` stores a second key `{}`; a stage writes one: imported with `{}` only",
                        other.key, first.key
                    ),
                ));
            }
        }
        if !literal_key(&agent.path, first.line, &first.key, false, defects) {
            continue;
        }
        let ns = match &first.namespace {
            Some(ns) => ns.clone(),
            None => {
                defects.push(Defect::warning(
                    &agent.path,
                    first.line,
                    format!("agent `{name}` stores `{}` without `--namespace`: claude-flow puts it in `{DEFAULT_NAMESPACE}`", first.key),
                ));
                DEFAULT_NAMESPACE.to_owned()
            }
        };
        let slot = (ns.clone(), first.key.clone());
        if let Some((other, file, line)) = writers.get(&slot) {
            defects.push(Defect::error(
                &agent.path,
                first.line,
                format!(
                    "agents `{other}` ({}:{line}) and `{name}` both store `{}` in namespace `{ns}`",
                    file.display(),
                    first.key
                ),
            ));
            continue;
        }
        writers.insert(slot.clone(), (name.clone(), &agent.path, first.line));
        writes_of.insert(name, slot);
    }

    // Reads, gates, stages.
    let mut stages = Vec::new();
    for (name, agent) in accepted {
        let mut reads = Vec::new();
        for read in &agent.reads {
            let prefix = read.key.ends_with("/*") && read.key.matches('*').count() == 1;
            if prefix {
                defects.push(Defect::warning(
                    &agent.path,
                    read.line,
                    format!(
                        "agent `{name}` retrieves the wildcard `{}`: imported as a read of every key under `{}`",
                        read.key,
                        read.key.trim_end_matches('*')
                    ),
                ));
            } else if !literal_key(&agent.path, read.line, &read.key, true, defects) {
                continue;
            }
            let stem = read.key.trim_end_matches('*');
            let matches = |k: &str| {
                if prefix {
                    k.starts_with(stem)
                } else {
                    k == read.key
                }
            };
            let stored_in: Vec<&String> = writers
                .keys()
                .filter(|(_, k)| matches(k))
                .map(|(n, _)| n)
                .collect();
            let ns = match &read.namespace {
                Some(ns) => ns.clone(),
                None if stored_in.iter().any(|n| *n == DEFAULT_NAMESPACE) => {
                    DEFAULT_NAMESPACE.to_owned()
                }
                // Stored nowhere: the pipeline's namespace is what the author meant,
                // whatever claude-flow would do.
                None if stored_in.is_empty() => namespace.to_owned(),
                None => {
                    let ns = stored_in[0].clone();
                    let (writer, file, line) = writers
                        .iter()
                        .find(|((n, k), _)| *n == ns && matches(k))
                        .map(|(_, w)| w)
                        .expect("a writer in that namespace");
                    defects.push(Defect::warning(
                        &agent.path,
                        read.line,
                        format!(
                            "agent `{name}` retrieves `{}` without `--namespace`, so claude-flow looks in `{DEFAULT_NAMESPACE}`; but `{writer}` stores it in `{ns}` ({}:{line}): imported as a read from `{ns}`",
                            read.key,
                            file.display()
                        ),
                    ));
                    ns
                }
            };
            if stored_in.is_empty() {
                // One phase of a larger pipeline reads what earlier phases stored:
                // the memory can hold it, so it is said, not refused.
                defects.push(Defect::warning(
                    &agent.path,
                    read.line,
                    format!(
                        "agent `{name}` retrieves `{}` in namespace `{ns}`, which no agent here stores{}: store it before the agent runs (`baton memory store -n {ns} {}`), or import the agents that write it",
                        read.key,
                        if read.namespace.is_none() {
                            format!(" (and given no `--namespace`, claude-flow looks in `{DEFAULT_NAMESPACE}`)")
                        } else {
                            String::new()
                        },
                        read.key,
                    ),
                ));
            } else if !stored_in.contains(&&ns) {
                defects.push(Defect::error(
                    &agent.path,
                    read.line,
                    format!(
                        "agent `{name}` retrieves `{}` in namespace `{ns}`, which no agent stores there (it is stored in {})",
                        read.key,
                        stored_in
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let shown = if ns == namespace {
                read.key.clone()
            } else {
                format!("{ns}:{}", read.key)
            };
            if !reads.contains(&shown) {
                reads.push(shown);
            }
        }
        let writes = writes_of.get(&name).map(|(ns, key)| {
            if ns == namespace {
                key.clone()
            } else {
                format!("{ns}:{key}")
            }
        });
        let mut gates: Vec<(String, String)> = Vec::new();
        for g in &agent.gates {
            let base = g
                .name
                .as_deref()
                .map_or_else(|| gate_name(&g.rule), stage_name);
            let mut gname = base.clone();
            let mut n = 2;
            while gates.iter().any(|(existing, _)| *existing == gname) {
                gname = format!("{base}-{n}");
                n += 1;
            }
            gates.push((gname, g.rule.clone()));
        }
        stages.push(PlannedStage {
            source: agent.path.display().to_string(),
            name,
            phase: agent.phase,
            agent_number: agent.agent_number,
            reads,
            writes,
            gates,
        });
    }
    stages.sort_by(|a, b| {
        (
            a.phase.unwrap_or(u32::MAX),
            a.agent_number.unwrap_or(u32::MAX),
            &a.source,
        )
            .cmp(&(
                b.phase.unwrap_or(u32::MAX),
                b.agent_number.unwrap_or(u32::MAX),
                &b.source,
            ))
    });
    stages
}

/// Whether `key` is a literal key baton accepts; reports why not.
fn literal_key(file: &Path, line: usize, key: &str, read: bool, defects: &mut Vec<Defect>) -> bool {
    let what = if read { "retrieves" } else { "stores" };
    let problem = if key.contains('$') {
        Some("a shell variable, not a literal key".to_owned())
    } else if key.contains('*') {
        Some("a wildcard that is not one trailing `/*`".to_owned())
    } else {
        Key::new(key).err().map(|e| e.to_string())
    };
    match problem {
        Some(p) => {
            let shown: String = key.chars().take(64).collect();
            defects.push(Defect::error(file, line, format!("{what} {shown:?}: {p}")));
            false
        }
        None => true,
    }
}
