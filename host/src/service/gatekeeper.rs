//! The gates every document bound for a gated key goes through, whoever sends it:
//! the pipeline is loaded when first needed (and again when `pipeline.toml` changes,
//! for long-lived front ends), and each stage's gates are compiled once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::Value;

use super::{Error, ErrorKind, Result, Service};
use crate::admission::{
    self, Admitted, Candidate, Decision, Inputs, Judge, Refusal, Refused, Verdict,
};
use crate::gates::{GateReport, StageGates, inputs_declared};
use crate::memory::{Key, Namespace, Op, Store, Writer};
use crate::pipeline::{Pipeline, Stage};
use crate::runtime::GateInput;

/// The project's pipeline and its stages' compiled gates.
pub(super) struct Gatekeeper {
    manifest: Option<PathBuf>,
    loaded: Option<(Option<SystemTime>, Pipeline)>,
    compiled: HashMap<String, std::sync::Arc<StageGates>>,
}

impl Gatekeeper {
    pub(super) fn new(manifest: Option<PathBuf>) -> Self {
        Self {
            manifest,
            loaded: None,
            compiled: HashMap::new(),
        }
    }

    /// The pipeline, loaded now or again if its file changed since.
    fn pipeline(&mut self) -> Result<Option<&Pipeline>> {
        let Some(path) = &self.manifest else {
            return Ok(None);
        };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let current = matches!(&self.loaded, Some((m, _)) if *m == modified && modified.is_some());
        if !current {
            let pipeline = super::load_definitions(path)?;
            self.loaded = Some((modified, pipeline));
            self.compiled.clear();
        }
        Ok(self.loaded.as_ref().map(|(_, p)| p))
    }
}

impl Service {
    /// Where stage `name` of the project's pipeline writes, if it does.
    pub(super) fn output_of(&self, name: &str) -> Result<Option<(Namespace, Key)>> {
        let mut keeper = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        Ok(keeper
            .pipeline()?
            .and_then(|p| p.stages.iter().find(|s| s.name == name))
            .and_then(|s| s.output())
            .map(|(n, k)| (n.clone(), k.clone())))
    }

    /// The stage of the project's pipeline that writes `key` in `namespace`, if any.
    pub fn producer(&self, namespace: &str, key: &str) -> Result<Option<Stage>> {
        let mut keeper = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        Ok(keeper
            .pipeline()?
            .and_then(|p| p.producer(namespace, key))
            .cloned())
    }

    /// The stage that writes `key` in `namespace` and its compiled gates, if the key is
    /// gated.
    fn gates_for(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(Stage, std::sync::Arc<StageGates>)>> {
        let mut keeper = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stage) = keeper
            .pipeline()?
            .and_then(|p| p.producer(namespace, key))
            .cloned()
        else {
            return Ok(None);
        };
        if !keeper.compiled.contains_key(&stage.name) {
            let gates = std::sync::Arc::new(self.compile_gates(&stage)?);
            keeper.compiled.insert(stage.name.clone(), gates);
        }
        Ok(keeper
            .compiled
            .get(&stage.name)
            .filter(|g| !g.is_empty())
            .cloned()
            .map(|g| (stage, g)))
    }

    /// Compiles `stage`'s gates, starting the runtime if a gate component needs it.
    pub(super) fn compile_gates(&self, stage: &Stage) -> Result<StageGates> {
        let runtime = match StageGates::need_runtime(stage) {
            true => Some(self.runtime()?),
            false => None,
        };
        StageGates::compile(stage, runtime.as_deref())
            .map_err(|e| Error::new(ErrorKind::BadInput, e))
    }

    /// Admits `candidate` through the gates of the stage that writes its key, if any,
    /// with the stage's declared inputs as `store` holds them: the one admission of
    /// [`crate::admission`], for a document from outside a run. A failed error gate
    /// refuses it unless `override_reason` is given; `events` builds the events
    /// committed with it.
    pub(super) fn admit(
        &self,
        store: &dyn Store,
        candidate: Candidate,
        override_reason: Option<&str>,
        events: &mut dyn FnMut(&Decision<'_>) -> anyhow::Result<Vec<Op>>,
    ) -> Result<Admitted> {
        let gated = self.gates_for(candidate.namespace.as_str(), candidate.key.as_str())?;
        let judge = gated.as_ref().map(|(stage, gates)| Judge {
            gates,
            inputs: Inputs::Declared(stage),
        });
        admission::admit(store, candidate, judge, &refusal(override_reason), events)
            .map_err(refused)
    }

    /// What the gates of the stage that writes `key`, if any, say of `value` (with
    /// the stage's declared inputs as `store` holds them), without storing it; a
    /// failed error gate is an error unless `override_reason` is given.
    pub(super) fn judge(
        &self,
        store: &dyn Store,
        ns: &Namespace,
        key: &Key,
        value: &Value,
        writer: &Writer,
        override_reason: Option<&str>,
    ) -> Result<Verdict> {
        let gated = self.gates_for(ns.as_str(), key.as_str())?;
        let judge = gated.as_ref().map(|(stage, gates)| Judge {
            gates,
            inputs: Inputs::Declared(stage),
        });
        admission::judge(store, value, judge, writer, &refusal(override_reason)).map_err(refused)
    }

    /// Checks `document` against the gates of stage `stage` without storing it. The
    /// report says whether it would be accepted; the stage's declared inputs are read
    /// live.
    pub fn gate_check(
        &self,
        pipeline: &Pipeline,
        stage: &str,
        document: &Value,
    ) -> Result<GateReport> {
        let stage = find_stage(pipeline, stage)?;
        let gates = self.compile_gates(stage)?;
        let inputs = match gates.needs_inputs() {
            true => declared_inputs(&*self.store()?, stage, &gates)?,
            false => Vec::new(),
        };
        Ok(gates.check(document, &inputs))
    }
}

/// Stage `name` of `pipeline` (one partition's as `stage[partition]`), or an error
/// listing its stages; a partitioned stage named without its partition is an error
/// listing its partitions.
pub fn find_stage<'p>(pipeline: &'p Pipeline, name: &str) -> Result<&'p Stage> {
    if let Some(stage) = pipeline.stages.iter().find(|s| s.name == name) {
        return Ok(stage);
    }
    let shown = crate::text::short(name);
    let of: Vec<&str> = pipeline
        .stages
        .iter()
        .filter(|s| s.declared == name)
        .filter_map(|s| s.partition.as_deref())
        .collect();
    if !of.is_empty() {
        return Err(Error::new(
            ErrorKind::BadInput,
            anyhow::anyhow!("stage `{shown}` runs once per partition: name one"),
        )
        .hint(format!(
            "add `--partition P` (or name `{shown}[P]`); its partitions are: {}",
            listed(&of)
        )));
    }
    let mut names: Vec<&str> = pipeline
        .stages
        .iter()
        .map(|s| s.declared.as_str())
        .collect();
    names.dedup();
    Err(Error::new(
        ErrorKind::BadInput,
        anyhow::anyhow!("no stage `{shown}` in {}", pipeline.path.display()),
    )
    .hint(format!("its stages are: {}", listed(&names))))
}

/// The first twenty of `names`, and how many more.
fn listed(names: &[&str]) -> String {
    let mut text = names
        .iter()
        .take(20)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 20 {
        text.push_str(&format!(" and {} more", names.len() - 20));
    }
    text
}

/// Stage `name` of partition `partition` (if given) of `pipeline`.
pub fn find_stage_of<'p>(
    pipeline: &'p Pipeline,
    name: &str,
    partition: Option<&str>,
) -> Result<&'p Stage> {
    match partition {
        None => find_stage(pipeline, name),
        Some(p) => {
            if let Some(unknown) = pipeline.unknown_partition(&[p.to_owned()]) {
                return Err(Error::new(ErrorKind::BadInput, anyhow::anyhow!(unknown)));
            }
            // Named in full (`stage[p]`, as `BATON_STAGE` names it) or as declared.
            match pipeline
                .stages
                .iter()
                .find(|s| s.name == name && s.partition.as_deref() == Some(p))
            {
                Some(stage) => Ok(stage),
                None => find_stage(
                    pipeline,
                    &crate::pipeline::partitions::instance_name(name, p),
                ),
            }
        }
    }
}

/// What becomes of a document from outside a run that an error gate refuses.
fn refusal(override_reason: Option<&str>) -> Refusal {
    match override_reason {
        Some(reason) => {
            // The audit trail records it and the front end says it: a log line would
            // say it a second time, in another format.
            tracing::info!(reason, "gates overridden");
            Refusal::Override(reason.to_owned())
        }
        None => Refusal::Refuse,
    }
}

/// The service's error for what admission refused.
pub(super) fn refused(refused: Refused) -> Error {
    match refused {
        Refused::Gates(report) => blocked(&report)
            .hint("fix the document, check it with `baton gate check`, or pass `--override-gates REASON` to record an override")
            .with_report(*report),
        Refused::Memory(e) => e.into(),
        Refused::Other(e) => Error::new(ErrorKind::Store, e),
    }
}

/// The stage's declared inputs as `store` holds them now, when a gate component will
/// see them: what gates see for a document that comes from outside a run.
fn declared_inputs(store: &dyn Store, stage: &Stage, gates: &StageGates) -> Result<Vec<GateInput>> {
    if !gates.needs_inputs() {
        return Ok(Vec::new());
    }
    inputs_declared(store, stage).map_err(|e| Error::new(ErrorKind::Store, e))
}

/// The error for a document an error-severity gate blocks.
pub fn blocked(report: &GateReport) -> Error {
    Error::new(
        ErrorKind::GateFailed,
        anyhow::anyhow!(
            "the document for `{}` fails the gates of stage `{}`: {}",
            report.key,
            report.stage,
            report.failed().join(", ")
        ),
    )
}
