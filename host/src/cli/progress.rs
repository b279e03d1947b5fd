//! `baton run`'s progress on stderr while the pipeline runs.
//!
//! On a terminal it is live (indicatif): one line per running stage with its elapsed
//! time, and a line for the whole run with the stages ended, how many run, which wait
//! and on what, how many failed, and what the agents have cost so far; each stage
//! that ends leaves its `[n/total] status stage` line above them. Off a terminal,
//! with `--json`, `NO_COLOR` or `TERM=dumb` it is plain lines, as a log wants them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::Pipeline;
use crate::service::{Outcome, StageSummary};

/// How often the running stages' lines redraw (their elapsed time and spinner).
const TICK: Duration = Duration::from_millis(120);

/// The progress of one run.
pub(super) struct RunProgress {
    /// Each stage with the stages it reads from, in pipeline order.
    stages: Vec<(String, Vec<String>)>,
    state: Mutex<State>,
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    overall: ProgressBar,
}

#[derive(Default)]
struct State {
    running: BTreeMap<String, Option<ProgressBar>>,
    ended: HashSet<String>,
    failed: usize,
    cost_usd: Option<f64>,
    /// What the running agent stages' attempts have cost so far.
    running_cost: BTreeMap<String, f64>,
}

impl RunProgress {
    /// The progress of a run of `pipeline`; live when `live` (the caller checked the
    /// terminal and the flags).
    pub(super) fn new(pipeline: &Pipeline, live: bool) -> Self {
        let stages: Vec<(String, Vec<String>)> = pipeline
            .stages
            .iter()
            .map(|s| (s.name.clone(), s.depends_on.clone()))
            .collect();
        let live = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(stages.len() as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed:>4} [{bar:24}] {pos}/{len} ended · {wide_msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            overall.enable_steady_tick(TICK);
            Live { multi, overall }
        });
        let progress = Self {
            stages,
            state: Mutex::new(State::default()),
            live,
        };
        progress.redraw(&progress.state.lock().unwrap());
        progress
    }

    /// Stage `stage` started (`ended` is `None`) or ended.
    pub(super) fn update(&self, stage: &str, ended: Option<&StageSummary>) {
        let mut state = self.state.lock().unwrap();
        match ended {
            None => {
                let bar = self.live.as_ref().map(|live| {
                    let bar = live
                        .multi
                        .insert_before(&live.overall, ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} running {elapsed:>4}  {prefix}")
                            .expect("a valid template"),
                    );
                    bar.set_prefix(stage.to_owned());
                    bar.enable_steady_tick(TICK);
                    bar
                });
                if bar.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!("  running   {stage}");
                }
                state.running.insert(stage.to_owned(), bar);
            }
            Some(summary) => {
                if let Some(Some(bar)) = state.running.remove(stage) {
                    bar.finish_and_clear();
                }
                state.ended.insert(stage.to_owned());
                if matches!(
                    summary.outcome,
                    Outcome::Failed(_) | Outcome::GateFailed(_) | Outcome::Cancelled(_)
                ) {
                    state.failed += 1;
                }
                state.running_cost.remove(stage);
                if let Some(usd) = summary.cost_usd {
                    state.cost_usd = Some(state.cost_usd.unwrap_or(0.0) + usd);
                }
                let line = format!(
                    "  [{}/{}] {:<9} {stage}",
                    state.ended.len(),
                    self.stages.len(),
                    summary.outcome.label()
                );
                match &self.live {
                    Some(live) => {
                        live.overall.inc(1);
                        let _ = live.multi.println(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
        }
        self.redraw(&state);
    }

    /// An agent of stage `stage` is on attempt `attempt`, its attempts having cost
    /// `cost_usd` so far: its line says so, and the run's cost counts it.
    pub(super) fn attempt(&self, stage: &str, attempt: u32, cost_usd: Option<f64>) {
        let mut state = self.state.lock().unwrap();
        if let Some(usd) = cost_usd {
            state.running_cost.insert(stage.to_owned(), usd);
        }
        let cost = cost_usd.map_or_else(String::new, |usd| format!(" · ${usd:.4}"));
        match state.running.get(stage) {
            Some(Some(bar)) => bar.set_prefix(format!("{stage} · attempt {attempt}{cost}")),
            _ if self.live.is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr())
                && attempt > 1 =>
            {
                eprintln!("  attempt {attempt} {stage}{cost}");
            }
            _ => {}
        }
        self.redraw(&state);
    }

    /// Runs `print` with the live lines cleared, then draws them again.
    pub(super) fn suspend(&self, print: impl FnOnce()) {
        match &self.live {
            Some(live) => live.multi.suspend(print),
            None => print(),
        }
    }

    /// Clears the live lines (before the summary is printed).
    pub(super) fn finish(&self) {
        if let Some(live) = &self.live {
            for bar in self.state.lock().unwrap().running.values().flatten() {
                bar.finish_and_clear();
            }
            live.overall.finish_and_clear();
        }
    }

    /// The run line's message: running, waiting (on what), failed, cost.
    fn redraw(&self, state: &State) {
        let Some(live) = &self.live else {
            return;
        };
        let waiting: Vec<String> = self
            .stages
            .iter()
            .filter(|(s, _)| !state.ended.contains(s) && !state.running.contains_key(s))
            .map(|(s, reads)| {
                let on: Vec<&str> = reads
                    .iter()
                    .filter(|r| !state.ended.contains(*r))
                    .map(String::as_str)
                    .collect();
                match on.is_empty() {
                    true => s.clone(),
                    false => format!("{s} (on {})", on.join(", ")),
                }
            })
            .collect();
        let mut parts = vec![format!("{} running", state.running.len())];
        if !waiting.is_empty() {
            // The first few by name: a run of thousands of stages (partitions) fits.
            let mut named = waiting
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if waiting.len() > 5 {
                named.push_str(&format!(" and {} more", waiting.len() - 5));
            }
            parts.push(format!("{} waiting: {named}", waiting.len()));
        }
        if state.failed > 0 {
            parts.push(format!("{} failed", state.failed));
        }
        let running: f64 = state.running_cost.values().sum();
        if state.cost_usd.is_some() || !state.running_cost.is_empty() {
            parts.push(format!(
                "agents ${:.4}",
                state.cost_usd.unwrap_or(0.0) + running
            ));
        }
        live.overall.set_message(parts.join(" · "));
    }
}

impl Drop for RunProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Whether `baton run` draws its progress live: stderr is a terminal, not `--json`,
/// and neither `NO_COLOR` nor `TERM=dumb` asks for plain output.
pub(super) fn wanted(json: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !json && !no_color && !dumb && std::io::IsTerminal::is_terminal(&std::io::stderr())
}
