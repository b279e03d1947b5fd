//! Partitions as the front ends see them: loading a pipeline with the keys added at
//! run time, adding one, and the matrix of stages by partitions.
//!
//! Keys added at run time (`baton partition add`, MCP `partition_add`) are kept in the
//! memory, in [`PARTITIONS_NAMESPACE`] under the pipeline's name, so every front end
//! and every worker of a shared store sees the same partitions. A pipeline is loaded
//! through [`Service::load_definitions`] or [`Service::load_pipeline`], which add them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Error, Result, Service, StageStatus};
use crate::memory::{Key, MemoryError, Namespace, Op, Writer};
use crate::pipeline::Pipeline;
use crate::pipeline::partitions::check_key;

/// Where the partition keys added at run time are kept, keyed by pipeline name.
pub const PARTITIONS_NAMESPACE: &str = "baton.partitions";

/// The record kept per pipeline.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Added {
    keys: Vec<String>,
}

/// A partition added at run time.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionAdded {
    /// The pipeline.
    pub pipeline: String,
    /// The key.
    pub partition: String,
    /// False when it was already there (nothing was written).
    pub added: bool,
    /// The stages it adds (one per partitioned stage).
    pub stages: Vec<String>,
}

/// One cell of the matrix: a stage's run for a partition.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The partition.
    pub partition: String,
    /// The stage's name for it (`stage[partition]`), what its page is named by.
    pub stage: String,
    /// Where it stands; `running` when a worker runs it now.
    pub state: String,
    /// Why, in a sentence.
    pub why: String,
}

/// One declared stage and its partitions' states.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixRow {
    /// The stage as declared.
    pub stage: String,
    /// One cell per partition, in the pipeline's order; empty for a stage of no
    /// partition.
    pub cells: Vec<Cell>,
    /// For a stage of no partition: where it stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Stages by partitions.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// The partition keys, in order.
    pub partitions: Vec<String>,
    /// One row per declared stage, in the pipeline's order.
    pub rows: Vec<MatrixRow>,
}

/// A stage's state as a cell shows it.
fn cell_state(status: &StageStatus) -> String {
    match status.running_on.is_empty() {
        true => status.state.as_str().to_owned(),
        false => "running".to_owned(),
    }
}

/// The matrix of `statuses` (of `pipeline`'s stages, in its order).
pub fn matrix(pipeline: &Pipeline, statuses: &[StageStatus]) -> Matrix {
    let mut rows: Vec<MatrixRow> = Vec::new();
    for (stage, status) in pipeline.stages.iter().zip(statuses) {
        let at = match rows.iter().position(|r| r.stage == stage.declared) {
            Some(at) => at,
            None => {
                rows.push(MatrixRow {
                    stage: stage.declared.clone(),
                    cells: Vec::new(),
                    state: None,
                });
                rows.len() - 1
            }
        };
        match &stage.partition {
            Some(p) => rows[at].cells.push(Cell {
                partition: p.clone(),
                stage: stage.name.clone(),
                state: cell_state(status),
                why: status.why.clone(),
            }),
            None => rows[at].state = Some(cell_state(status)),
        }
    }
    let order = |p: &str| pipeline.partitions.iter().position(|k| k == p);
    for row in &mut rows {
        row.cells.sort_by_key(|c| order(&c.partition));
    }
    Matrix {
        partitions: pipeline.partitions.clone(),
        rows,
    }
}

impl Service {
    /// The keys added at run time to pipeline `name`.
    pub fn added_partitions(&self, name: &str) -> Result<Vec<String>> {
        let store = self.store()?;
        let Some(entry) = store.get(&partitions_ns()?, &Key::new(name)?)? else {
            return Ok(Vec::new());
        };
        let added: Added = serde_json::from_slice(&entry.value).map_err(|e| {
            Error::from(MemoryError::Corrupt {
                path: PARTITIONS_NAMESPACE.into(),
                what: format!("key `{name}`"),
                reason: e.to_string(),
            })
        })?;
        Ok(added.keys)
    }

    /// The pipeline at `path` for a command on its stages' definitions
    /// ([`super::load_definitions`]), with the partition keys added at run time.
    pub fn load_definitions(&self, path: &Path) -> Result<Pipeline> {
        let pipeline = super::load_definitions(path)?;
        if !pipeline.dynamic_partitions {
            return Ok(pipeline);
        }
        let added = self.added_partitions(&pipeline.name)?;
        match added.is_empty() {
            true => Ok(pipeline),
            false => super::load_definitions_with(path, &added),
        }
    }

    /// The pipeline at `path`, checked for a run ([`super::load_pipeline`]), with the
    /// partition keys added at run time.
    pub fn load_pipeline(&self, path: &Path) -> Result<Pipeline> {
        let pipeline = super::load_pipeline(path)?;
        if !pipeline.dynamic_partitions {
            return Ok(pipeline);
        }
        let added = self.added_partitions(&pipeline.name)?;
        match added.is_empty() {
            true => Ok(pipeline),
            false => Pipeline::load_with(path, &added)
                .map_err(|problems| super::does_not_check(path, problems)),
        }
    }

    /// Adds partition `key` to the pipeline at `path`, which must set `dynamic =
    /// true`. A bad key is refused, and nothing is stored.
    pub fn add_partition(&self, path: &Path, key: &str) -> Result<PartitionAdded> {
        check_key(key).map_err(Error::bad_input)?;
        let pipeline = self.load_definitions(path)?;
        if !pipeline.dynamic_partitions {
            return Err(Error::bad_input(format!(
                "pipeline `{}` does not take partitions at run time",
                pipeline.name
            ))
            .hint("set `dynamic = true` in its `[partitions]` table"));
        }
        let stages_of = |p: &Pipeline| -> Vec<String> {
            p.stages
                .iter()
                .filter(|s| s.partition.as_deref() == Some(key))
                .map(|s| s.name.clone())
                .collect()
        };
        if pipeline.partitions.iter().any(|k| k == key) {
            return Ok(PartitionAdded {
                pipeline: pipeline.name.clone(),
                partition: key.to_owned(),
                added: false,
                stages: stages_of(&pipeline),
            });
        }
        // The pipeline must still check with the key (its input files, its
        // namespace) before anything is stored.
        let mut added = self.added_partitions(&pipeline.name)?;
        added.push(key.to_owned());
        let (with, _) = Pipeline::load_definitions_with(path, &added)
            .map_err(|problems| super::does_not_check(path, problems))?;
        let ns = partitions_ns()?;
        let name = Key::new(pipeline.name.as_str())?;
        let store = self.store()?;
        let revision = store.get(&ns, &name)?.map_or(0, |e| e.meta.revision);
        let value = json!(Added { keys: added });
        store.commit(
            &Writer::cli(),
            vec![Op::put(&ns, &name, value).if_revision(revision)],
        )?;
        Ok(PartitionAdded {
            pipeline: pipeline.name.clone(),
            partition: key.to_owned(),
            added: true,
            stages: stages_of(&with),
        })
    }

    /// The matrix of `pipeline`'s stages by its partitions.
    pub fn matrix(&self, pipeline: &Pipeline) -> Result<Matrix> {
        let statuses = self.status(pipeline)?;
        Ok(matrix(pipeline, &statuses))
    }
}

fn partitions_ns() -> Result<Namespace> {
    Ok(Namespace::new(PARTITIONS_NAMESPACE)?)
}
