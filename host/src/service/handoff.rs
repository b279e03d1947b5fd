//! The handoff of an agent that works outside baton (an external stage, such as an
//! imported agent definition): everything it reads in one answer, and its output
//! stored through its gates in one call. These are the two calls its hooks make
//! (`baton agent inputs`, `baton agent output`) in place of one `memory retrieve` per
//! key and an ungated `memory store`.

use serde::Serialize;
use serde_json::Value;

use super::gatekeeper::find_stage;
use super::{Error, ErrorKind, Result, Service, Stored, Write, value_from_text};
use crate::memory::{Key, Namespace, Writer};
use crate::pipeline::{Pipeline, Stage};
use crate::runner::brief;
use crate::runtime::Read;

/// One document a stage reads.
#[derive(Clone, Debug, Serialize)]
pub struct StageInput {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
    /// The live revision.
    pub revision: u64,
    /// The document.
    pub value: Value,
}

impl Service {
    /// Every document stage `stage` of `pipeline` reads, as stored now. A key it
    /// reads that is absent is an error naming every such key and who writes it: the
    /// agent is not ready.
    pub fn stage_inputs(&self, pipeline: &Pipeline, stage: &str) -> Result<Vec<StageInput>> {
        let stage = find_stage(pipeline, stage)?;
        let store = self.store()?;
        let declared = crate::gates::read_declared(&*store, stage)
            .map_err(|e| Error::new(ErrorKind::Store, e))?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (namespace, key, entry) in declared {
            match entry {
                Some(e) => found.push(StageInput {
                    value: e.json(),
                    revision: e.meta.revision,
                    namespace,
                    key,
                }),
                None => {
                    let by = pipeline
                        .producer(&namespace, &key)
                        .map_or_else(String::new, |p| format!(" (stage `{}`)", p.name));
                    missing.push(format!("`{key}` in namespace `{namespace}`{by}"));
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                anyhow::anyhow!(
                    "stage `{}` is not ready: it reads {} not stored yet",
                    stage.name,
                    missing.join(", ")
                ),
            )
            .hint("`baton status` says which stages are ready and what each waits on"));
        }
        Ok(found)
    }

    /// Stores `value` as stage `stage`'s output, at the key it writes, through its
    /// gates, written by its agent.
    /// The revision of every key the stage reads is recorded with it (provenance
    /// `inputs_seen`): `status` calls the output stale once one of them changes.
    /// `output` says who writes it (default: the stage's agent) and whether to store
    /// it although a gate fails (with the reason, recorded).
    pub fn stage_output(
        &self,
        pipeline: &Pipeline,
        stage: &str,
        value: Value,
        output: &OutputOptions,
    ) -> Result<Stored> {
        let (stage, ns, key) = output_slot(pipeline, stage)?;
        self.may_write(&ns, &key)?;
        // One store for the inputs' revisions and the gated write.
        let store = self.store()?;
        let seen = crate::gates::read_declared(&*store, stage)
            .map_err(|e| Error::new(ErrorKind::Store, e))?
            .into_iter()
            .map(|(namespace, key, entry)| Read {
                namespace,
                key,
                revision: entry.map(|e| e.meta.revision),
            })
            .collect();
        let writer = output
            .agent
            .as_deref()
            .map_or_else(|| Writer(stage.agent_name.clone()), Writer::agent);
        let mut write = Write::new(ns, key, value, writer);
        write.inputs_seen = Some(seen);
        write.override_gates = output.override_gates.clone();
        self.gated_put(&*store, write, "store", None)
    }

    /// [`Service::stage_output`] of `text`: JSON when `must_be_json` or when it starts
    /// like a JSON object or array, else a JSON string (the rule of `memory store`).
    pub fn stage_output_text(
        &self,
        pipeline: &Pipeline,
        stage: &str,
        text: String,
        must_be_json: bool,
        output: &OutputOptions,
    ) -> Result<Stored> {
        let (_, ns, key) = output_slot(pipeline, stage)?;
        let value = value_from_text(text, must_be_json, &ns, &key)?;
        self.stage_output(pipeline, stage, value, output)
    }
}

impl Service {
    /// The brief `baton run` would hand stage `stage`'s agent now: its definition,
    /// a context block with ids generated for it, its inputs as stored (a stage that
    /// is not ready is an error naming what it lacks), its output's contract.
    pub fn agent_brief(&self, pipeline: &Pipeline, stage: &str) -> Result<String> {
        let inputs = self.stage_inputs(pipeline, stage)?;
        let stage = find_stage(pipeline, stage)?;
        let definition = match &stage.source {
            Some(source) => {
                let path = pipeline.root.join(source);
                Some(std::fs::read_to_string(&path).map_err(|e| {
                    Error::bad_input(format!(
                        "cannot read the definition of stage `{}`, {}: {e}",
                        stage.name,
                        path.display()
                    ))
                })?)
            }
            None => None,
        };
        let workflow_id = format!("workflow-{}", uuid::Uuid::new_v4().simple());
        let context = brief::Context {
            agent_id: format!("{}-{}", stage.agent_name, uuid::Uuid::new_v4().simple()),
            parent: format!("baton-{workflow_id}"),
            workflow_id,
            timestamp: crate::memory::Timestamp::now().to_string(),
        };
        let inputs: Vec<brief::Input> = inputs
            .into_iter()
            .map(|i| brief::Input {
                namespace: i.namespace,
                key: i.key,
                revision: i.revision,
                value: i.value,
            })
            .collect();
        let rejected = crate::records::Held::read(&*self.store()?, &stage.name)?
            .and_then(|(_, held)| held.findings());
        Ok(brief::brief(
            stage,
            definition.as_deref().map(brief::definition_body),
            &context,
            &inputs,
            rejected.as_ref().map(|(why, r)| (why.as_str(), r)),
        ))
    }
}

/// How a stage's output is stored, beyond the document itself.
#[derive(Clone, Debug, Default)]
pub struct OutputOptions {
    /// The writer recorded, such as the agent's id [default: the stage's agent name].
    pub agent: Option<String>,
    /// Store although a gate fails, recording this reason.
    pub override_gates: Option<String>,
}

/// Stage `name`, and where its output goes.
fn output_slot<'p>(pipeline: &'p Pipeline, name: &str) -> Result<(&'p Stage, Namespace, Key)> {
    let stage = find_stage(pipeline, name)?;
    let Some(key) = &stage.writes else {
        return Err(Error::bad_input(format!(
            "stage `{}` writes nothing: there is no key to store its output at",
            stage.name
        ))
        .hint("give it `writes = \"KEY\"` in pipeline.toml"));
    };
    Ok((stage, stage.writes_namespace.clone(), key.clone()))
}
