//! A workflow as a timeline: one row per stage run, each attempt a bar from its start
//! to its end coloured by outcome, its gate verdict and commit marked, and the
//! critical path (the chain of stages that decided when the workflow ended).
//!
//! Built from the workflow's recorded events, each stamped when it happened: a stage's
//! `started` (or an agent's `launched`) opens its row, an agent's `attempt` events
//! (their end and `elapsed_ms`) are its bars, and the event that ended it (`completed`,
//! `admitted`, `held`, `failed`, `refused`, `quarantined`) closes it. An agent's
//! `launched` is committed when it is launched, so an agent stage still running has
//! an open row whose bar grows to now. A component stage (milliseconds) records its
//! events with its output; on workers, the queue's running jobs without a row are
//! open rows from when they were claimed, growing to now.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Error, EventFilter, Result, Service};
use crate::pipeline::Pipeline;
use crate::records::Event;

/// A workflow's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// The workflow.
    pub workflow_id: String,
    /// When its first stage started (ms since the epoch).
    pub start_ms: u64,
    /// When its last stage ended, or now while a stage runs.
    pub end_ms: u64,
    /// Each stage run, in the order they started.
    pub rows: Vec<TimelineRow>,
    /// The stages of the critical path, first to last.
    pub critical_path: Vec<String>,
    /// The other workflows there are, newest first (id and when it started).
    pub workflows: Vec<(String, u64)>,
}

/// One stage run on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    /// The stage.
    pub stage: String,
    /// The run's agent id.
    pub agent_id: String,
    /// Its attempts, first to last.
    pub bars: Vec<Bar>,
    /// Its gate verdict and commit.
    pub marks: Vec<Mark>,
    /// How it ended (`passed`, `failed`, `gate-fail`, `held`), or `running`.
    pub outcome: String,
}

/// One attempt of a stage run.
#[derive(Clone, Debug, Serialize)]
pub struct Bar {
    /// When it started (ms since the epoch).
    pub start_ms: u64,
    /// When it ended, or now while it runs.
    pub end_ms: u64,
    /// How it ended, as its row's outcome names them.
    pub outcome: String,
    /// Its number, from 1.
    pub attempt: u32,
}

/// A moment marked on a row.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// `gates` or `commit`.
    pub kind: &'static str,
    /// What it says, such as `gates 5/5` or `revision 3`.
    pub label: String,
}

impl Service {
    /// The timeline of `workflow` of `pipeline`, or of the newest workflow when `None`.
    pub fn timeline(&self, pipeline: &Pipeline, workflow: Option<&str>) -> Result<Timeline> {
        let now = crate::memory::Timestamp::now().0;
        // The workflows, from the event log's keys (`<workflow>/<agent>/<seq>`) and
        // when they were written: no event is read but the chosen workflow's.
        let ns = crate::memory::Namespace::new(crate::records::EVENTS_NAMESPACE)?;
        let metas = self.store()?.list(Some(&ns), "workflow-")?;
        // What workers run now: a workflow whose first stages run has recorded nothing.
        let running = self.running().unwrap_or_default();
        let mut workflows: BTreeMap<&str, u64> = BTreeMap::new();
        for meta in metas.iter().filter(|m| !m.deleted) {
            let Some((id, _)) = meta.key.split_once('/') else {
                continue;
            };
            let first = workflows.entry(id).or_insert(meta.written_at.0);
            *first = (*first).min(meta.written_at.0);
        }
        for job in &running {
            let since = job.since_ms.unwrap_or(now);
            let first = workflows.entry(&job.workflow).or_insert(since);
            *first = (*first).min(since);
        }
        let mut listed: Vec<(String, u64)> = workflows
            .iter()
            .map(|(id, at)| ((*id).to_owned(), *at))
            .collect();
        listed.sort_by_key(|w| std::cmp::Reverse(w.1));
        let agent_events = |id: &str| {
            self.events(&EventFilter {
                workflow: Some(id.to_owned()),
                name_prefix: Some("agent.".into()),
                ..Default::default()
            })
        };
        let (workflow_id, all) = match workflow {
            Some(id) if !workflows.contains_key(id) => {
                return Err(Error::not_found(format!(
                    "no workflow `{}` has recorded a stage run",
                    crate::text::short(id)
                )));
            }
            Some(id) => (id.to_owned(), agent_events(id)?),
            // The newest that ran a stage (or runs one now), not one that only seeded
            // its inputs: usually the newest, so one workflow's events are read.
            None => {
                let mut chosen = None;
                for (id, _) in &listed {
                    let events = agent_events(id)?;
                    if !events.is_empty() || running.iter().any(|j| &j.workflow == id) {
                        chosen = Some((id.clone(), events));
                        break;
                    }
                }
                match chosen {
                    Some(found) => found,
                    None => {
                        return Ok(Timeline {
                            workflow_id: String::new(),
                            start_ms: 0,
                            end_ms: 0,
                            rows: Vec::new(),
                            critical_path: Vec::new(),
                            workflows: listed,
                        });
                    }
                }
            }
        };
        let mut runs: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for e in all.iter().filter(|e| e.workflow_id == workflow_id) {
            runs.entry(&e.agent_id).or_default().push(e);
        }
        let mut rows: Vec<TimelineRow> = runs
            .into_iter()
            .filter_map(|(agent_id, events)| row(agent_id, &events, now))
            .collect();
        // Stages running on workers now: open rows, from when they were claimed.
        for job in running.iter().filter(|j| j.workflow == workflow_id) {
            if rows.iter().any(|r| r.stage == job.stage) {
                continue;
            }
            rows.push(TimelineRow {
                stage: job.stage.clone(),
                agent_id: String::new(),
                bars: vec![Bar {
                    start_ms: job.since_ms.unwrap_or(now).min(now),
                    end_ms: now,
                    outcome: "running".into(),
                    attempt: 1,
                }],
                marks: Vec::new(),
                outcome: "running".into(),
            });
        }
        rows.sort_by_key(|r| r.bars.first().map_or(u64::MAX, |b| b.start_ms));
        let start_ms = rows
            .iter()
            .filter_map(|r| r.bars.first())
            .map(|b| b.start_ms)
            .min()
            .unwrap_or(now);
        let end_ms = rows
            .iter()
            .filter_map(|r| r.bars.last())
            .map(|b| b.end_ms)
            .max()
            .unwrap_or(start_ms);
        let critical_path = critical_path(pipeline, &rows);
        Ok(Timeline {
            workflow_id,
            start_ms,
            end_ms,
            rows,
            critical_path,
            workflows: listed,
        })
    }
}

/// The row of one stage run from its events (in time order), if it names its stage.
fn row(agent_id: &str, events: &[&Event], now: u64) -> Option<TimelineRow> {
    let suffix = |e: &Event| e.name.rsplit('.').next().unwrap_or_default().to_owned();
    let opened = events
        .iter()
        .find(|e| matches!(suffix(e).as_str(), "started" | "launched"))?;
    let stage = opened.attributes["stage"].as_str()?.to_owned();
    let ended = events.iter().rev().find(|e| {
        matches!(
            suffix(e).as_str(),
            "completed" | "admitted" | "held" | "failed" | "refused" | "quarantined"
        )
    });
    let outcome = match ended.map(|e| suffix(e)).as_deref() {
        Some("completed" | "admitted") => "passed",
        Some("held") => "held",
        Some("refused" | "quarantined") => "gate-fail",
        Some(_) => "failed",
        None => "running",
    }
    .to_owned();
    let end = ended.map_or(now, |e| e.at.0);
    let attempts: Vec<&&Event> = events.iter().filter(|e| suffix(e) == "attempt").collect();
    let mut bars: Vec<Bar> = attempts
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let elapsed = e.attributes["elapsed_ms"].as_f64().unwrap_or(0.0) as u64;
            let last = i + 1 == attempts.len();
            Bar {
                start_ms: e.at.0.saturating_sub(elapsed).max(opened.at.0),
                end_ms: e.at.0,
                // An attempt before the last was sent back (or failed).
                outcome: match last {
                    true => outcome.clone(),
                    false => "gate-fail".into(),
                },
                attempt: i as u32 + 1,
            }
        })
        .collect();
    match bars.last_mut() {
        // The last attempt's verdict and commit come after the agent ended.
        Some(last) => last.end_ms = last.end_ms.max(end),
        None => bars.push(Bar {
            start_ms: opened.at.0,
            end_ms: end,
            outcome: outcome.clone(),
            attempt: 1,
        }),
    }
    let mut marks = Vec::new();
    if let Some(e) = ended {
        if let Some(passed) = e.attributes["gates_passed"].as_u64() {
            marks.push(Mark {
                at_ms: e.at.0,
                kind: "gates",
                label: format!("{passed} gates passed"),
            });
        }
        if outcome == "passed" {
            marks.push(Mark {
                at_ms: e.at.0,
                kind: "commit",
                label: format!("committed `{}`", e.attributes["key"].as_str().unwrap_or("")),
            });
        }
    }
    Some(TimelineRow {
        stage,
        agent_id: agent_id.to_owned(),
        bars,
        marks,
        outcome,
    })
}

/// The chain of stages that decided the end: from the row that ended last, back
/// through the stage it read from that ended last, to a stage that read from none.
fn critical_path(pipeline: &Pipeline, rows: &[TimelineRow]) -> Vec<String> {
    let end = |stage: &str| {
        rows.iter()
            .filter(|r| r.stage == stage)
            .filter_map(|r| r.bars.last())
            .map(|b| b.end_ms)
            .max()
    };
    let mut path = Vec::new();
    let mut at = rows
        .iter()
        .filter_map(|r| r.bars.last().map(|b| (b.end_ms, &r.stage)))
        .max()
        .map(|(_, s)| s.clone());
    while let Some(stage) = at {
        if path.contains(&stage) {
            break;
        }
        at = pipeline
            .stages
            .iter()
            .find(|s| s.name == stage)
            .and_then(|s| {
                s.depends_on
                    .iter()
                    .filter_map(|d| end(d).map(|e| (e, d)))
                    .max()
                    .map(|(_, d)| d.clone())
            });
        path.push(stage);
    }
    path.reverse();
    path
}
