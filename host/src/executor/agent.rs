//! An external stage baton runs itself: its agent started by its runner
//! ([`crate::runner`]) with its brief, what it hands back admitted like a
//! component's output, and a refused output sent back with the findings, up to the
//! runner's attempts.
//!
//! The output is current against the agent's definition and runner (their SHA-256
//! stands where a component's does) and the revisions of its inputs: a fresh agent
//! stage is not run again. An agent that stores its output itself during its run
//! (`baton agent output --agent ID`, MCP `agent_output`) has passed the same gates on
//! the way in; what it prints is then not needed. A runner with `resume` sends a
//! refused attempt's findings alone to the session the agent's CLI named (Claude
//! Code's `--resume`), instead of starting afresh with the whole brief.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::{
    Freshness, Happened, Plugins, RunOptions, admitted_outcome, freshness, refused,
    sequenced_event_ops, stamped,
};
use crate::admission::{self, Candidate, Decision, Inputs, Judge, Refusal};
use crate::gates::{GateReport, read_declared};
use crate::memory::{Store, Timestamp, Writer, sha256_hex};
use crate::pipeline::{GateCheck, Pipeline, Runner, Stage};
use crate::records::{AgentRun, Held, Provenance, StageRun};
use crate::runner::brief::{self, Context, Input};
use crate::runner::{self, Launch, Usage};
use crate::runtime::{Read, Runtime};

use super::Outcome;

/// How the agent's stage ended: its outcome, gates passed / total, the agent id, and
/// what its attempts cost (US dollars) when its CLI said.
pub(super) type Ended = (Outcome, Option<(usize, usize)>, Option<String>, Option<f64>);

/// What an agent's definition says of how to run it.
#[derive(Debug, Default, PartialEq)]
pub struct Said {
    /// `model:`.
    pub model: Option<String>,
    /// `tools:`, comma-separated or a list.
    pub tools: Vec<String>,
}

/// The `model` and `tools` of a definition's front matter.
pub fn said(definition: &str) -> Said {
    let mut out = Said::default();
    let Some(rest) = definition.strip_prefix("---") else {
        return out;
    };
    let front = rest.split("\n---").next().unwrap_or_default();
    let mut in_tools = false;
    for line in front.lines() {
        let trimmed = line.trim();
        if in_tools && let Some(item) = trimmed.strip_prefix("- ") {
            out.tools
                .push(item.trim().trim_matches(['"', '\'']).to_owned());
            continue;
        }
        in_tools = false;
        if let Some(v) = trimmed.strip_prefix("model:") {
            let v = v.trim().trim_matches(['"', '\'']);
            if !v.is_empty() {
                out.model = Some(v.to_owned());
            }
        } else if let Some(v) = trimmed.strip_prefix("tools:") {
            let v = v.trim().trim_matches(['[', ']']);
            in_tools = v.is_empty();
            out.tools.extend(
                v.split(',')
                    .map(|t| t.trim().trim_matches(['"', '\'']).to_owned())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
    out
}

/// The text of `stage`'s agent definition (its `source`), if it names one.
fn definition(pipeline: &Pipeline, stage: &Stage) -> anyhow::Result<Option<String>> {
    let Some(source) = &stage.source else {
        return Ok(None);
    };
    let path = pipeline.root.join(source);
    std::fs::read_to_string(&path).map(Some).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the definition of stage `{}`, {}: {e}",
            stage.name,
            path.display()
        )
    })
}

/// What an agent stage's output is current against, where a component's SHA-256
/// stands: its definition's body and its runner's argv.
fn fingerprint(body: Option<&str>, runner: &Runner) -> String {
    sha256_hex(
        format!(
            "{}\0{}",
            body.unwrap_or_default(),
            runner.command.join("\0")
        )
        .as_bytes(),
    )
}

/// Whether the stored output of agent stage `stage` (run by `runner`) is current.
pub fn agent_freshness(
    pipeline: &Pipeline,
    stage: &Stage,
    runner: &Runner,
    memory: &dyn Store,
) -> anyhow::Result<Freshness> {
    let definition = definition(pipeline, stage)?;
    let sha = fingerprint(definition.as_deref().map(brief::definition_body), runner);
    freshness(stage, &sha, memory)
}

/// Runs the agent of external stage `stage` with `runner`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    pipeline: &Pipeline,
    stage: &Stage,
    runner: &Runner,
    runtime: &Runtime,
    plugins: &Plugins,
    memory: Arc<dyn Store>,
    options: &RunOptions,
    workflow_id: &str,
) -> anyhow::Result<Ended> {
    let (ns, key) = stage
        .output()
        .map(|(n, k)| (n.clone(), k.clone()))
        .ok_or_else(|| anyhow::anyhow!("stage `{}` writes no key", stage.name))?;
    let definition = definition(pipeline, stage)?;
    let body = definition.as_deref().map(brief::definition_body);
    let sha = fingerprint(body, runner);
    if !options.force && freshness(stage, &sha, memory.as_ref())? == Freshness::Fresh {
        return Ok((Outcome::Fresh, None, None, None));
    }
    let mut inputs = Vec::new();
    let mut reads = Vec::new();
    let mut missing = Vec::new();
    for (namespace, key, entry) in read_declared(memory.as_ref(), stage)? {
        match entry {
            Some(e) => {
                reads.push(Read {
                    namespace: namespace.clone(),
                    key: key.clone(),
                    revision: Some(e.meta.revision),
                });
                inputs.push(Input {
                    value: e.json(),
                    revision: e.meta.revision,
                    namespace,
                    key,
                });
            }
            None => missing.push(format!("`{key}` in namespace `{namespace}`")),
        }
    }
    if !missing.is_empty() {
        return Ok((
            Outcome::Failed(format!(
                "its inputs are not all stored: {}",
                missing.join(", ")
            )),
            None,
            None,
            None,
        ));
    }
    let key_revision = memory.get(&ns, &key)?.map_or(0, |e| e.meta.revision);
    let agent_id = format!("{}-{}", stage.agent_name, uuid::Uuid::new_v4().simple());
    let context = Context {
        agent_id: agent_id.clone(),
        workflow_id: workflow_id.to_owned(),
        parent: format!("baton-{workflow_id}"),
        timestamp: Timestamp::now().to_string(),
    };
    let said = definition.as_deref().map(said).unwrap_or_default();
    let gates = plugins.gates(runtime, &pipeline.path, stage)?;
    let writer = Writer::agent(&agent_id);
    let name = &stage.agent_name;
    // The launch is committed at once: while the agent works (minutes, hours) its
    // stage shows running, its bar growing on the timeline. The run's other events
    // commit when it ends.
    let launched = stamped((
        format!("agent.{name}.launched"),
        json!({ "stage": stage.name, "runner": runner.command[0], "parent": context.parent }),
    ));
    let partition = stage.partition.as_deref();
    memory.commit(
        &writer,
        sequenced_event_ops(
            workflow_id,
            &agent_id,
            name,
            "launch-",
            partition,
            vec![launched],
        )?,
    )?;
    let mut events: Vec<Happened> = Vec::new();
    let usage = std::cell::RefCell::new(Usage::default());
    // Commits the run's events about the agent, each saying its partition.
    let record = |events: Vec<Happened>| -> anyhow::Result<()> {
        let ops = run_events(
            workflow_id,
            &agent_id,
            name,
            stage.partition.as_deref(),
            events,
        )?;
        memory.commit(&writer, ops)?;
        Ok(())
    };
    let fail = |why: String, events: Vec<Happened>| -> anyhow::Result<Ended> {
        let mut events = events;
        events.push(stamped((
            format!("agent.{name}.failed"),
            json!({ "error": why }),
        )));
        record(events)?;
        Ok((
            Outcome::Failed(why),
            None,
            Some(agent_id.clone()),
            usage.borrow().cost_usd,
        ))
    };
    // A person's rejection of the stage's last held output: the first brief carries
    // their reason as findings, as a refused gate's.
    let mut findings: Option<(String, GateReport)> = match stage.awaits_approval() {
        true => Held::read(memory.as_ref(), &stage.name)?.and_then(|(_, held)| held.findings()),
        false => None,
    };
    // The session of the last attempt, when the agent's CLI named one: a runner that
    // can resume it sends the findings alone to the agent that already has the brief.
    let mut session: Option<String> = None;
    let resumable = runner.resume.clone();
    let resumed_runner = Runner {
        command: runner.command.iter().chain(&resumable).cloned().collect(),
        ..runner.clone()
    };
    let told = |attempt: u32| {
        if let Some(hook) = &options.on_attempt {
            (hook.0)(&stage.name, attempt, usage.borrow().cost_usd);
        }
    };
    for attempt in 1..=runner.attempts {
        told(attempt);
        let resuming = match (&session, &findings) {
            (Some(_), Some(_)) if !resumable.is_empty() => session.clone(),
            _ => None,
        };
        let text = match (&resuming, &findings) {
            (Some(_), Some((why, report))) => brief::findings(why, report),
            _ => brief::brief(
                stage,
                body,
                &context,
                &inputs,
                findings.as_ref().map(|(why, r)| (why.as_str(), r)),
            ),
        };
        let brief_file = std::env::temp_dir().join(format!("baton-{agent_id}-{attempt}.md"));
        let wants_file = runner.command.iter().any(|a| a.contains("{brief_file}"));
        if wants_file {
            crate::files::write_atomically(&brief_file, text.as_bytes())?;
        }
        let schema = stage.gates.iter().find_map(|g| match &g.check {
            GateCheck::Schema { path, .. } => Some(path.display().to_string()),
            _ => None,
        });
        let vars: HashMap<&'static str, Option<String>> = HashMap::from([
            ("brief", Some(text.clone())),
            ("brief_file", Some(brief_file.display().to_string())),
            ("model", said.model.clone()),
            (
                "allowed_tools",
                (!said.tools.is_empty()).then(|| said.tools.join(",")),
            ),
            ("agent_id", Some(agent_id.clone())),
            ("workflow_id", Some(workflow_id.to_owned())),
            ("stage", Some(stage.name.clone())),
            ("key", Some(key.to_string())),
            ("namespace", Some(ns.to_string())),
            ("schema_file", schema),
            ("session_id", resuming.clone()),
            ("partition", stage.partition.clone()),
        ]);
        let mut env = options.agent_env.clone();
        env.extend([
            ("BATON_AGENT_ID".to_owned(), agent_id.clone()),
            ("BATON_WORKFLOW_ID".to_owned(), workflow_id.to_owned()),
            ("BATON_STAGE".to_owned(), stage.name.clone()),
            ("BATON_ATTEMPT".to_owned(), attempt.to_string()),
            ("BATON_NAMESPACE".to_owned(), stage.namespace.to_string()),
            // Its `baton` calls find this pipeline (and its gates) wherever it runs.
            (
                "BATON_PIPELINE".to_owned(),
                std::path::absolute(&pipeline.path)
                    .unwrap_or_else(|_| pipeline.path.clone())
                    .display()
                    .to_string(),
            ),
        ]);
        if let Some(p) = &stage.partition {
            env.push(("BATON_PARTITION".to_owned(), p.clone()));
        }
        // The attempt's span, as OpenTelemetry's GenAI conventions name an agent's
        // invocation; the agent continues its trace through `TRACEPARENT`.
        let span = tracing::info_span!(
            "invoke_agent",
            otel.name = %format!("invoke_agent {name}"),
            otel.kind = "client",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = %name,
            gen_ai.agent.id = %agent_id,
            gen_ai.request.model = said.model.as_deref(),
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            baton.stage = %stage.name,
            baton.attempt = i64::from(attempt),
            baton.cost_usd = tracing::field::Empty,
            baton.exit_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if let Some(traceparent) = crate::telemetry::traceparent(&span) {
            env.push((crate::telemetry::TRACEPARENT.to_owned(), traceparent));
        }
        let ran = span.in_scope(|| {
            runner::launch(Launch {
                runner: if resuming.is_some() {
                    &resumed_runner
                } else {
                    runner
                },
                vars,
                brief: &text,
                env,
                output_limit: stage.limits.output_bytes,
                stop: options.stop.as_deref(),
            })
        });
        if wants_file {
            let _ = std::fs::remove_file(&brief_file);
        }
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => return fail(format!("{e}"), events),
        };
        let returned = runner::returned(&ran.stdout);
        crate::telemetry::metrics::agent_attempt(
            &stage.name,
            returned.usage.cost_usd,
            returned.usage.input_tokens,
            returned.usage.output_tokens,
        );
        if let Some(tokens) = returned.usage.input_tokens {
            span.record("gen_ai.usage.input_tokens", tokens as i64);
        }
        if let Some(tokens) = returned.usage.output_tokens {
            span.record("gen_ai.usage.output_tokens", tokens as i64);
        }
        if let Some(usd) = returned.usage.cost_usd {
            span.record("baton.cost_usd", usd);
        }
        if let Some(code) = ran.code {
            span.record("baton.exit_code", code);
        }
        if ran.code != Some(0) || ran.timed_out || ran.stopped {
            span.record("otel.status_code", "ERROR");
        }
        drop(span);
        add(&mut usage.borrow_mut(), &returned.usage);
        told(attempt);
        session = returned.session.clone();
        events.push(stamped((
            format!("agent.{name}.attempt"),
            json!({
                "attempt": attempt,
                "exit": ran.code,
                "timed_out": ran.timed_out,
                "elapsed_ms": ran.elapsed.as_secs_f64() * 1e3,
                "output_bytes_dropped": ran.dropped,
                "usage": returned.usage,
                "resumed_session": resuming,
                // What a person reads of it on the stage's page: its answer's last
                // lines, and what it said on standard error.
                "output_tail": crate::text::last_lines(&returned.text, TAIL_LINES, TAIL_BYTES),
                "stderr_tail": crate::text::last_lines(&ran.stderr_tail, TAIL_LINES, TAIL_BYTES),
            }),
        )));
        if ran.stopped {
            return fail(
                "the agent was stopped with its process group: its stage was cancelled, or its worker lost the stage's lease".to_owned(),
                events,
            );
        }
        if ran.timed_out {
            return fail(
                format!(
                    "the agent did not finish within {}: it was killed with its process group",
                    humantime::format_duration(runner.timeout)
                ),
                events,
            );
        }
        if ran.code != Some(0) {
            let exit = ran
                .code
                .map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
            // The reason: its last line that says error, else the last thing it said.
            let lines: Vec<&str> = ran
                .stderr_tail
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let last = lines
                .iter()
                .rev()
                .find(|l| l.to_ascii_lowercase().contains("error"))
                .or(lines.last())
                .copied()
                .unwrap_or("it said nothing on standard error");
            return fail(
                // Bounded: an agent's line is quoted, not echoed whole.
                format!(
                    "the agent exited with {exit}: {}",
                    last.trim().chars().take(400).collect::<String>()
                ),
                events,
            );
        }
        // Handed in by the agent itself during its run and held for a person.
        if stage.awaits_approval()
            && let Some((_, held)) = Held::read(memory.as_ref(), &stage.name)?
            && held.writer == writer
            && held.waiting()
        {
            events.push(stamped((
                format!("agent.{name}.held"),
                json!({ "key": key.as_str(), "stored_by_agent": true, "attempt": attempt }),
            )));
            record(events)?;
            let gates = Some((held.gate_report.gates_passed, held.gate_report.gates.len()));
            return Ok((
                super::awaiting_approval(&stage.name),
                gates,
                Some(agent_id.clone()),
                usage.borrow().cost_usd,
            ));
        }
        // Stored by the agent itself during its run: it passed the gates on its way in.
        if let Some(entry) = memory.get(&ns, &key)?
            && entry.meta.revision != key_revision
        {
            if entry.meta.writer == writer {
                events.push(stamped((
                    format!("agent.{name}.admitted"),
                    json!({ "key": key.as_str(), "stored_by_agent": true, "attempt": attempt }),
                )));
                record(events)?;
                return Ok((
                    Outcome::Passed(entry.meta.revision),
                    None,
                    Some(agent_id.clone()),
                    usage.borrow().cost_usd,
                ));
            }
            return fail(
                format!(
                    "key `{key}` in namespace `{ns}` was written by {} during the agent's run (revision {key_revision} when it started, {} now); nothing of the agent's was stored",
                    entry.meta.writer, entry.meta.revision
                ),
                events,
            );
        }
        let Some(document) = returned.document else {
            let cut = match ran.dropped {
                0 => String::new(),
                n => format!(" (its output was cut: {n} bytes past the limit were dropped)"),
            };
            return fail(format!("the agent printed no JSON document{cut}"), events);
        };
        let judge = Judge {
            gates: &gates,
            inputs: Inputs::Read(&reads),
        };
        let refusal = Refusal::Quarantine(stage.name.clone());
        let verdict = admission::judge(memory.as_ref(), &document, Some(judge), &writer, &refusal)
            .map_err(refused)?;
        if !verdict.admits() && attempt < runner.attempts {
            let report = verdict.report.expect("a refusal has a report");
            events.push(stamped((
                format!("agent.{name}.refused"),
                json!({ "attempt": attempt, "gate_report": report }),
            )));
            findings = Some((
                format!("your output of attempt {attempt} was refused"),
                report,
            ));
            continue;
        }
        let candidate = Candidate {
            namespace: ns.clone(),
            key: key.clone(),
            value: document,
            writer: writer.clone(),
            provenance: Provenance {
                run: Some(StageRun {
                    stage: stage.name.clone(),
                    partition: stage.partition.clone(),
                    agent_id: agent_id.clone(),
                    workflow_id: workflow_id.to_owned(),
                    component_sha256: sha.clone(),
                    config: stage.config.clone(),
                    inputs: reads.clone(),
                    agent: Some(AgentRun {
                        runner: runner.command[0].clone(),
                        attempt,
                        usage: usage.borrow().clone(),
                    }),
                }),
                ..Default::default()
            },
            ttl: None,
            if_revision: Some(key_revision),
        };
        // Judged above: admitted on that verdict, the gates not run again.
        let admitted = admission::admit_judged(
            memory.as_ref(),
            candidate,
            verdict,
            &refusal,
            &mut |decision| {
                let mut all = events.clone();
                all.push(stamped(match decision {
                    Decision::Commit { report, .. } => (
                        format!("agent.{name}.admitted"),
                        json!({ "key": key.as_str(), "attempt": attempt, "gates_passed": report.map_or(0, |r| r.gates_passed) }),
                    ),
                    Decision::Quarantine { reason, report } => (
                        format!("agent.{name}.quarantined"),
                        json!({ "error": reason.unwrap_or("gates failed"), "attempt": attempt, "gate_report": report }),
                    ),
                    Decision::Hold { report } => (
                        format!("agent.{name}.held"),
                        json!({ "key": key.as_str(), "attempt": attempt, "gates_passed": report.gates_passed }),
                    ),
                }));
                run_events(workflow_id, &agent_id, name, stage.partition.as_deref(), all)
            },
        )
        .map_err(refused)?;
        let note = format!(
            " (after {attempt} attempt{})",
            if attempt == 1 { "" } else { "s" }
        );
        let (outcome, gates) = admitted_outcome(admitted, &note);
        return Ok((
            outcome,
            gates,
            Some(agent_id.clone()),
            usage.borrow().cost_usd,
        ));
    }
    unreachable!("the last attempt always ends the stage")
}

/// The run's events about an agent: `launched`, each `attempt`, each `refused`
/// output, then `admitted`, `quarantined` or `failed`, numbered `run-0000`, … beside
/// the agent's own lifecycle events (`started`, milestones, `completed`), which its
/// definition records through the MCP tools under the same ids.
/// The lines of an agent's output (and of its standard error) kept with each attempt.
const TAIL_LINES: usize = 20;
/// At most this many bytes of each.
const TAIL_BYTES: usize = 4 << 10;

fn run_events(
    workflow: &str,
    agent_id: &str,
    name: &str,
    partition: Option<&str>,
    events: Vec<Happened>,
) -> anyhow::Result<Vec<crate::memory::Op>> {
    sequenced_event_ops(workflow, agent_id, name, "run-", partition, events)
}

fn add(total: &mut Usage, more: &Usage) {
    let sum_f = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    let sum_u = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    total.cost_usd = sum_f(total.cost_usd, more.cost_usd);
    total.input_tokens = sum_u(total.input_tokens, more.input_tokens);
    total.output_tokens = sum_u(total.output_tokens, more.output_tokens);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_says_its_model_and_tools() {
        let def = "---\nname: a\nmodel: sonnet\ntools: Read, Write, Bash\n---\nbody";
        assert_eq!(
            said(def),
            Said {
                model: Some("sonnet".into()),
                tools: vec!["Read".into(), "Write".into(), "Bash".into()],
            }
        );
        let listed = "---\ntools:\n  - Read\n  - \"Grep\"\nname: b\n---\n";
        assert_eq!(said(listed).tools, vec!["Read", "Grep"]);
        assert_eq!(said("no front matter"), Said::default());
    }
}
