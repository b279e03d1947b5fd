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

use std::fmt;
use std::path::{Path, PathBuf};

pub use build::Build;
pub use manifest::{Manifest, Severity};

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
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
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
}

/// A checked stage.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Its name.
    pub name: String,
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
    /// The namespace it writes to.
    pub writes_namespace: String,
    /// The key it writes.
    pub writes: String,
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
}

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
        /// The schema, compiled when the manifest was checked.
        validator: std::sync::Arc<jsonschema::Validator>,
        /// The pointer it applies to (empty: the whole document).
        pointer: String,
    },
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

impl Pipeline {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![Problem {
                file: path.into(),
                line: 1,
                column: 1,
                message: format!("cannot read the manifest: {e}"),
            }])
        })?;
        Self::parse(path, &text)
    }

    /// Checks manifest `text`, read from `path` (relative paths resolve against its folder).
    pub fn parse(path: &Path, text: &str) -> Result<Self, Problems> {
        check::check(path, text)
    }

    /// The stage that writes `key` in `namespace`.
    pub fn producer(&self, namespace: &str, key: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.writes_namespace == namespace && s.writes == key)
    }
}

/// The JSON Schema of `pipeline.toml`, derived from the manifest's types.
pub fn manifest_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).expect("a schema serialises")
}
