//! The pipeline: `pipeline.toml` parsed into a checked DAG of stages.
//!
//! [`Pipeline::load`] reads the manifest with unknown fields rejected, then checks
//! everything that can be checked before a stage runs: names and keys, two stages
//! writing one key, reads that nothing produces or seeds, cycles, missing components,
//! schema and input files, schemas that do not compile, limits that do not parse. Every
//! problem is reported at once, each with its file, line and column ([`Problem`]).
//! A loaded [`Pipeline`] lists its stages in an order where each comes after the
//! stages it reads from.

pub mod build;
mod check;
mod manifest;
pub mod partitions;

use std::fmt;
use std::path::{Path, PathBuf};

pub use build::Build;
pub use manifest::{Manifest, Severity};

use crate::memory::{Key, Namespace};
use crate::runtime::{Grants, Limits};

/// One problem found in a manifest, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The manifest, as it was named.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What kind of problem, where a caller needs to tell (`baton import` reports
    /// unresolved reads at the agent's line itself).
    pub kind: ProblemKind,
    /// The stage it belongs to: the `[[stage]]` table it is in, by name.
    pub stage: Option<String>,
}

/// The kinds of [`Problem`] callers tell apart; the rest are `Other`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProblemKind {
    /// A stage reads a key that no stage writes and no input seeds.
    UnresolvedRead,
    /// A warning: a gate is prose only.
    UncheckedGate,
    /// A warning: an external stage writes nothing.
    WritesNothing,
    /// Anything else.
    #[default]
    Other,
}

impl Problem {
    /// `file:line:column`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// Every problem found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// A checked pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The manifest's path.
    pub path: PathBuf,
    /// The folder relative paths are resolved against.
    pub root: PathBuf,
    /// The pipeline's name.
    pub name: String,
    /// The default namespace.
    pub namespace: String,
    /// Revisions kept per key, if set.
    pub retention: Option<u64>,
    /// Documents seeded from files.
    pub inputs: Vec<Input>,
    /// The stages, each after the stages it reads from.
    pub stages: Vec<Stage>,
    /// What loads but deserves a word (unchecked gates, stages that write nothing),
    /// each with its line.
    pub warnings: Vec<Problem>,
    /// Its partition keys, in order (none: the pipeline is not partitioned).
    pub partitions: Vec<String>,
    /// Whether keys may be added at run time (`baton partition add`).
    pub dynamic_partitions: bool,
}

/// A document seeded from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
    /// The file, resolved.
    pub file: PathBuf,
    /// The partition it is seeded for, if it is one partition's.
    pub partition: Option<String>,
}

/// A checked stage.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Its name: as declared, or `stage[partition]` for one partition's run.
    pub name: String,
    /// Its name as the manifest declares it.
    pub declared: String,
    /// The partition it runs for, if it is one partition's.
    pub partition: Option<String>,
    /// Where its unqualified keys live: its partition's namespace, or the pipeline's.
    /// Its component is handed this namespace.
    pub namespace: Namespace,
    /// The agent name for events.
    pub agent_name: String,
    /// Its phase, if given.
    pub phase: Option<u32>,
    /// Its agent number, if given.
    pub agent_number: Option<u32>,
    /// The component, resolved; `None` for an external stage.
    pub component: Option<PathBuf>,
    /// The command that builds the component.
    pub build: Option<Build>,
    /// Produced outside baton.
    pub external: bool,
    /// What it may read.
    pub reads: Grants,
    /// The namespace it writes to (the pipeline's, when it writes nothing).
    pub writes_namespace: Namespace,
    /// The key it writes; `None` only for an external stage that writes nothing.
    pub writes: Option<Key>,
    /// The agent definition it was imported from, as the manifest names it.
    pub source: Option<String>,
    /// Its configuration.
    pub config: serde_json::Value,
    /// Its limits.
    pub limits: Limits,
    /// Its gates.
    pub gates: Vec<Gate>,
    /// The stages whose outputs it reads.
    pub depends_on: Vec<String>,
    /// Its renderer, if it offers one.
    pub render: Option<Render>,
    /// How its agent is started, for an external stage baton runs itself.
    pub runner: Option<Runner>,
}

/// How baton starts an external stage's agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runner {
    /// The argv template.
    pub command: Vec<String>,
    /// The working folder, resolved.
    pub dir: PathBuf,
    /// Variables passed through from baton's environment.
    pub env: Vec<String>,
    /// The time limit of one attempt.
    pub timeout: std::time::Duration,
    /// Attempts at an admitted output.
    pub attempts: u32,
    /// Arguments added on a later attempt to resume the agent's session (empty:
    /// every attempt starts afresh); they may name `{session_id}`.
    pub resume: Vec<String>,
}

/// The placeholders a runner's command may use.
pub const RUNNER_PLACEHOLDERS: [&str; 11] = [
    "brief",
    "brief_file",
    "model",
    "allowed_tools",
    "agent_id",
    "workflow_id",
    "stage",
    "key",
    "namespace",
    "schema_file",
    "partition",
];

/// A stage's renderer component.
#[derive(Clone, Debug)]
pub struct Render {
    /// The `.wasm` file, resolved.
    pub path: PathBuf,
    /// The command that builds it, if any.
    pub build: Option<Build>,
}

/// A checked gate.
#[derive(Clone, Debug)]
pub struct Gate {
    /// Its name.
    pub name: String,
    /// The sentence it enforces.
    pub rule: String,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// How it checks.
    pub check: GateCheck,
}

/// How a gate checks a document.
#[derive(Clone, Debug)]
pub enum GateCheck {
    /// A JSON Schema applied at a pointer.
    Schema {
        /// The schema file, resolved.
        path: PathBuf,
        /// The schema, read when the manifest was checked.
        schema: std::sync::Arc<Schema>,
        /// The pointer it applies to (empty: the whole document).
        pointer: String,
    },
    /// Prose only: recorded and reported, never checked, never blocking.
    Unchecked,
    /// A person checks it: an output that passes the other gates is held until a
    /// person approves or rejects it.
    Approval,
    /// A gate component.
    Component {
        /// The `.wasm` file, resolved.
        path: PathBuf,
        /// Its configuration.
        config: serde_json::Value,
        /// The command that builds it, if any.
        build: Option<Build>,
    },
}

/// A gate's JSON Schema, read, parsed and compiled once, when first needed.
/// [`Pipeline::load`] (`baton check`, `baton run`) compiles every schema and reports
/// one that cannot be read, is not JSON or is not a JSON Schema as a problem of the
/// manifest; [`Pipeline::load_definitions`] leaves them to the gates that run, so a
/// write to one key pays for no other stage's schemas.
#[derive(Debug)]
pub struct Schema {
    path: PathBuf,
    compiled: std::sync::OnceLock<Result<jsonschema::Validator, String>>,
}

impl Schema {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// The compiled validator, read and compiled on the first call. The error
    /// completes a sentence naming the schema: `": No such file…"`, `" is not JSON:
    /// …"` or `" is not a valid JSON Schema: …"`.
    pub fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.compiled
            .get_or_init(|| {
                let text = std::fs::read_to_string(&self.path).map_err(|e| format!(": {e}"))?;
                let document: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!(" is not JSON: {e}"))?;
                jsonschema::validator_for(&document)
                    .map_err(|e| format!(" is not a valid JSON Schema: {e}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

impl Pipeline {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, Problems> {
        Self::parse(path, &read_manifest(path)?)
    }

    /// Reads and checks the manifest at `path`, with the partition keys added at run
    /// time (`dynamic`).
    pub fn load_with(path: &Path, dynamic: &[String]) -> Result<Self, Problems> {
        check::check(path, &read_manifest(path)?, dynamic)
    }

    /// Checks manifest `text`, read from `path` (relative paths resolve against its folder).
    pub fn parse(path: &Path, text: &str) -> Result<Self, Problems> {
        check::check(path, text, &[])
    }

    /// Reads and checks the manifest at `path` for the commands that work on its
    /// stages' definitions rather than run them: storing into memory through the
    /// gates, `gate check`, an agent's inputs and output. A read that no stage writes
    /// and no input seeds stops a run, but it does not change which stage writes a key
    /// or what its gates are, so such reads come back beside the pipeline instead of
    /// failing the load. Every other problem fails it, as [`Pipeline::load`] does.
    pub fn load_definitions(path: &Path) -> Result<(Self, Problems), Problems> {
        Self::load_definitions_with(path, &[])
    }

    /// [`Pipeline::load_definitions`] with the partition keys added at run time.
    pub fn load_definitions_with(
        path: &Path,
        dynamic: &[String],
    ) -> Result<(Self, Problems), Problems> {
        let text = read_manifest(path)?;
        check::check_definitions(path, &text, dynamic)
    }

    /// Keeps only the stages and inputs of partitions `keys` (and those of no
    /// partition). An unknown key is an error naming the known ones.
    pub fn restrict(&mut self, keys: &[String]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        if let Some(unknown) = self.unknown_partition(keys) {
            return Err(unknown);
        }
        let kept = |p: &Option<String>| p.as_ref().is_none_or(|p| keys.contains(p));
        self.stages.retain(|s| kept(&s.partition));
        self.inputs.retain(|i| kept(&i.partition));
        self.partitions.retain(|p| keys.contains(p));
        Ok(())
    }

    /// The error for the first of `keys` that is not one of the pipeline's partitions.
    pub fn unknown_partition(&self, keys: &[String]) -> Option<String> {
        if self.partitions.is_empty() && !keys.is_empty() {
            return Some(format!(
                "pipeline `{}` has no partitions; leave out `--partition`",
                self.name
            ));
        }
        let unknown = keys.iter().find(|k| !self.partitions.contains(k))?;
        let mut known = self
            .partitions
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.partitions.len() > 10 {
            known.push_str(&format!(" and {} more", self.partitions.len() - 10));
        }
        Some(format!(
            "pipeline `{}` has no partition `{}`; its partitions are: {known}",
            self.name,
            crate::text::short(unknown),
        ))
    }

    /// The stage that writes `key` in `namespace`.
    pub fn producer(&self, namespace: &str, key: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| {
            s.writes_namespace.as_str() == namespace
                && s.writes.as_ref().is_some_and(|k| k.as_str() == key)
        })
    }
}

/// The manifest's text, or the problem of reading it.
fn read_manifest(path: &Path) -> Result<String, Problems> {
    std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: path.into(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
            kind: ProblemKind::Other,
            stage: None,
        }])
    })
}

impl Stage {
    /// The key it writes, for the code that needs one: a component stage always has
    /// one (the check refuses it otherwise); empty for an external stage that writes
    /// nothing.
    pub fn key(&self) -> &str {
        self.writes.as_ref().map_or("", Key::as_str)
    }

    /// Where its output goes: its namespace and key, when it writes one.
    pub fn output(&self) -> Option<(&Namespace, &Key)> {
        self.writes.as_ref().map(|k| (&self.writes_namespace, k))
    }

    /// How many of its gates are enforced (a schema or a component), and the names of
    /// those that are prose only.
    pub fn gate_counts(&self) -> GateCounts {
        let unchecked: Vec<String> = self
            .gates
            .iter()
            .filter(|g| matches!(g.check, GateCheck::Unchecked))
            .map(|g| g.name.clone())
            .collect();
        GateCounts {
            enforced: self.gates.len() - unchecked.len(),
            unchecked,
        }
    }

    /// Whether a person approves its output before it is stored (an approval gate).
    pub fn awaits_approval(&self) -> bool {
        self.gates
            .iter()
            .any(|g| matches!(g.check, GateCheck::Approval))
    }
}

/// A stage's gates as `check`, `status` and the MCP tools state them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateCounts {
    /// Gates with a schema or a component.
    pub enforced: usize,
    /// Gates written only in prose: listed, never checked.
    pub unchecked: Vec<String>,
}

impl fmt::Display for GateCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} enforced", self.enforced)?;
        if !self.unchecked.is_empty() {
            write!(f, ", {} unchecked (prose only)", self.unchecked.len())?;
        }
        Ok(())
    }
}

/// The JSON Schema of `pipeline.toml`, derived from the manifest's types.
pub fn manifest_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).expect("a schema serialises")
}
