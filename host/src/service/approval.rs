//! A person's decision on an output held for approval (a stage with an approval
//! gate): the outputs that wait, `approve` (the output is committed at its key, with
//! who approved in its provenance) and `reject` (it stays aside with the reason,
//! which the stage's agent hears as findings on its next run). Each decision is an
//! event in the held output's workflow, committed with it. An agent confined to its
//! stage (`BATON_STAGE`) decides nothing: a person does.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Error, ErrorKind, Result, Service};
use crate::admission::{self, Refused};
use crate::gates::GateReport;
use crate::memory::{EntryMeta, MemoryError, Namespace, Op, Timestamp, Writer};
use crate::records::{APPROVAL_NAMESPACE, Decided, Event, Held};

/// An output that waits for a person, or was rejected by one.
#[derive(Clone, Debug, Serialize)]
pub struct HeldOutput {
    /// The stage whose approval gate holds it.
    pub stage: String,
    /// The namespace it is bound for.
    pub namespace: String,
    /// The key it is bound for.
    pub key: String,
    /// Who handed it in.
    pub writer: Writer,
    /// When it was held.
    pub held_at: Timestamp,
    /// The output.
    pub output: Value,
    /// Its gates' report (the approval gates waiting).
    pub gate_report: GateReport,
    /// Once rejected: by whom, when, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Decided>,
}

/// What a person decided, and where it landed.
#[derive(Clone, Debug, Serialize)]
pub struct Ruling {
    /// The stage.
    pub stage: String,
    /// `approved` or `rejected`.
    pub decision: &'static str,
    /// Who decided.
    pub by: Writer,
    /// The namespace of the output.
    pub namespace: String,
    /// The key of the output.
    pub key: String,
    /// Approved: the revision committed at the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// The note (approved) or reason (rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Service {
    /// Every output held for a person or rejected by one, by stage.
    pub fn held_outputs(&self) -> Result<Vec<HeldOutput>> {
        let store = self.store()?;
        let ns = Namespace::new(APPROVAL_NAMESPACE)?;
        let mut out = Vec::new();
        for meta in store.list(Some(&ns), "")?.iter().filter(|m| !m.deleted) {
            if let Some((_, held)) = Held::read(&*store, &meta.key)? {
                out.push(view(&meta.key, held));
            }
        }
        Ok(out)
    }

    /// Stage `stage`'s held (or rejected) output, if any.
    pub fn held_output(&self, stage: &str) -> Result<Option<HeldOutput>> {
        super::agents::check_stage_name(stage)?;
        Ok(Held::read(&*self.store()?, stage)?.map(|(_, held)| view(stage, held)))
    }

    /// Approves stage `stage`'s held output as person `by`: it is committed at its
    /// key, `note` and who approved in its provenance.
    pub fn approve(&self, stage: &str, by: &str, note: Option<String>) -> Result<Ruling> {
        let (store, at, held, decided) = self.deciding(stage, by, note)?;
        let (namespace, key) = (held.namespace.clone(), held.key.clone());
        let event = decision_event(stage, "approved", &held, &decided)?;
        let meta = admission::approve(&*store, stage, (&at, held), decided.clone(), vec![event])
            .map_err(|e| match e {
                Refused::Memory(MemoryError::Conflict { .. }) => Error::new(
                    ErrorKind::Conflict,
                    anyhow::anyhow!(
                        "stage `{stage}`'s held output was not stored: key `{key}` in namespace `{namespace}` was written since it was held, or it was decided meanwhile"
                    ),
                )
                .hint(format!(
                    "reject it (`baton reject {stage} --reason ...`) and run the pipeline again"
                )),
                other => super::gatekeeper::refused(other),
            })?;
        Ok(Ruling {
            stage: stage.to_owned(),
            decision: "approved",
            by: decided.by,
            namespace,
            key,
            revision: Some(meta.revision),
            reason: decided.reason,
        })
    }

    /// Rejects stage `stage`'s held output as person `by`, for `reason`: it is never
    /// stored, and the stage's next run sends its agent back with the reason.
    pub fn reject(&self, stage: &str, by: &str, reason: String) -> Result<Ruling> {
        if reason.trim().is_empty() {
            return Err(Error::bad_input(format!(
                "a rejection of stage `{stage}`'s output needs a reason: the agent hears it as findings"
            )));
        }
        let (store, at, held, decided) = self.deciding(stage, by, Some(reason))?;
        let (namespace, key) = (held.namespace.clone(), held.key.clone());
        let event = decision_event(stage, "rejected", &held, &decided)?;
        admission::reject(&*store, stage, (&at, held), decided.clone(), vec![event]).map_err(
            |e| match e {
                Refused::Memory(MemoryError::Conflict { .. }) => Error::new(
                    ErrorKind::Conflict,
                    anyhow::anyhow!("stage `{stage}`'s held output was decided meanwhile"),
                ),
                other => super::gatekeeper::refused(other),
            },
        )?;
        Ok(Ruling {
            stage: stage.to_owned(),
            decision: "rejected",
            by: decided.by,
            namespace,
            key,
            revision: None,
            reason: decided.reason,
        })
    }

    /// The held output a person is about to decide on, and their decision's record.
    #[allow(clippy::type_complexity)]
    fn deciding(
        &self,
        stage: &str,
        by: &str,
        reason: Option<String>,
    ) -> Result<(
        std::sync::Arc<dyn crate::memory::Store>,
        EntryMeta,
        Held,
        Decided,
    )> {
        super::agents::check_stage_name(stage)?;
        if let Some(own) = &self.confined_to {
            return Err(Error::new(
                ErrorKind::BadInput,
                anyhow::anyhow!(
                    "an agent (confined to stage `{own}` by BATON_STAGE) cannot approve or reject outputs: a person decides"
                ),
            ));
        }
        if by.trim().is_empty() || by.chars().any(char::is_control) {
            return Err(Error::bad_input(format!(
                "who decides must be a name, not {by:?}"
            )));
        }
        let store = self.store()?;
        let Some((at, held)) = Held::read(&*store, stage)? else {
            return Err(Error::not_found(format!(
                "stage `{stage}` has no output held for approval"
            ))
            .hint("`baton status` marks the stages whose output is held"));
        };
        if let Some(r) = &held.rejected {
            return Err(Error::new(
                ErrorKind::Conflict,
                anyhow::anyhow!(
                    "stage `{stage}`'s held output was already rejected by {} ({})",
                    r.by,
                    r.at
                ),
            )
            .hint("run the pipeline again: the stage's agent hears the reason"));
        }
        let decided = Decided {
            by: Writer::person(by.trim()),
            at: Timestamp::now(),
            reason: reason.filter(|r| !r.trim().is_empty()),
        };
        Ok((store, at, held, decided))
    }
}

fn view(stage: &str, held: Held) -> HeldOutput {
    HeldOutput {
        stage: stage.to_owned(),
        namespace: held.namespace,
        key: held.key,
        writer: held.writer,
        held_at: held.held_at,
        output: held.output,
        gate_report: held.gate_report,
        rejected: held.rejected,
    }
}

/// The event of a decision, in the held output's workflow beside its agent's events
/// (`cli` for an output stored from outside a run).
fn decision_event(stage: &str, decision: &str, held: &Held, decided: &Decided) -> Result<Op> {
    let run = held.provenance.run.as_ref();
    let workflow = run.map_or(super::audit::CLI_WORKFLOW, |r| r.workflow_id.as_str());
    let agent = run.map_or(held.writer.0.as_str(), |r| r.agent_id.as_str());
    let (declared, partition) = crate::pipeline::partitions::split_instance(stage);
    let event = Event::new(
        format!("stage.{declared}.{decision}"),
        workflow,
        agent,
        json!({
            "stage": stage,
            "partition": partition,
            "namespace": held.namespace,
            "key": held.key,
            "by": decided.by,
            "reason": decided.reason,
        }),
    );
    Ok(event.op(&format!("decision-{}", uuid::Uuid::new_v4().simple()))?)
}
