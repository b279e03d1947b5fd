//! The work loop of `baton worker`: claiming stages from the database's work queue
//! and running them, on any machine that reaches the database.
//!
//! A worker runs `slots` stages at once, each slot on connections of its own. A slot
//! claims the first ready stage (an agent's only if the worker runs agents), renews
//! its lease every third of the lease while the stage runs (stopping a running agent
//! once the lease is lost: its workflow was cancelled), and records the stage's
//! outcome, fenced on the lease (a slot that lost its lease records nothing and says
//! so). With nothing to claim, a slot sleeps until
//! the database notifies it of new work, or one poll interval. A worker killed
//! mid-stage holds its stages only until their leases expire; the next worker claims
//! them again. Database failures are reported and retried: a worker outlives a
//! restart of PostgreSQL. The outcome is recorded and read back by this module's
//! [`super::distributed`] sibling alone, as a [`StageSummary`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::{Bundles, POLL, RunOptions, StageSummary, execute, record_outcome};
use crate::memory::{Claim, JobQueue, MemoryError};
use crate::runtime::Runtime;

/// How a worker works.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stages run at once.
    pub slots: usize,
    /// How long a claim holds a stage without renewal.
    pub lease: Duration,
    /// Stop when no stage of any workflow is queued or running.
    pub exit_when_idle: bool,
    /// The name the worker's leases carry (host and process, by default).
    pub name: String,
    /// Whether it runs agent stages (their CLIs are installed here): only such
    /// workers claim them.
    pub agents: bool,
}

/// What a worker tells its front end.
pub enum Report<'a> {
    /// A slot claimed a stage.
    Claimed(&'a Claim),
    /// A slot ran a stage; `recorded` is false when its lease was lost first.
    Finished {
        /// The claim.
        claim: &'a Claim,
        /// How the stage ended.
        summary: &'a StageSummary,
        /// Whether the outcome was recorded.
        recorded: bool,
    },
    /// The database failed; the slot retries.
    Trouble(&'a MemoryError),
}

/// The default name of a worker: `host:pid`.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}:{}", std::process::id())
}

/// Runs a worker on `queues` (one per slot) until it is idle (with
/// `exit_when_idle`) or killed; `bundles` keeps the workflows' files, and `agent_env`
/// is what the agents it starts get besides their own variables.
pub fn work(
    runtime: &Runtime,
    bundles: &Bundles,
    queues: &[JobQueue],
    options: &Options,
    agent_env: &[(String, String)],
    report: &(dyn Fn(Report<'_>) + Sync),
) {
    std::thread::scope(|scope| {
        for (slot, queue) in queues.iter().enumerate() {
            let owner = format!("{}/{slot}", options.name);
            scope.spawn(move || {
                slot_loop(queue, runtime, bundles, options, agent_env, &owner, report)
            });
        }
    });
}

fn slot_loop(
    queue: &JobQueue,
    runtime: &Runtime,
    bundles: &Bundles,
    options: &Options,
    agent_env: &[(String, String)],
    owner: &str,
    report: &(dyn Fn(Report<'_>) + Sync),
) {
    loop {
        let claim = match queue.claim_as(owner, options.lease, options.agents) {
            Ok(claim) => claim,
            Err(e) => {
                report(Report::Trouble(&e));
                std::thread::sleep(POLL);
                continue;
            }
        };
        let Some(claim) = claim else {
            if options.exit_when_idle && queue.open_jobs().is_ok_and(|n| n == 0) {
                return;
            }
            queue.wait(POLL);
            continue;
        };
        report(Report::Claimed(&claim));
        if claim.attempts > 1 {
            crate::telemetry::metrics::lease_expired(&claim.lease.stage);
        }
        // Set when the lease is lost (the workflow was cancelled, or another worker
        // has the stage): a running agent is stopped then, not left to finish.
        let stop = Arc::new(AtomicBool::new(false));
        // Its agent's attempts go to the lease's keeper, which records them on the
        // job for the submitter's progress.
        let (tell, told) = mpsc::channel::<Tick>();
        let done = tell.clone();
        let tell = Mutex::new(tell);
        let base = RunOptions {
            agent_env: agent_env.to_vec(),
            stop: Some(stop.clone()),
            on_attempt: Some(super::AttemptHook(Arc::new(move |_, attempt, cost| {
                let _ = tell
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .send(Tick::Attempt(attempt, cost));
            }))),
            ..Default::default()
        };
        // The claim's span continues the trace of the workflow's submitter.
        let span = tracing::info_span!(
            "claim",
            otel.name = %format!("worker claim {}", claim.lease.stage),
            otel.kind = "consumer",
            baton.workflow.id = %claim.lease.workflow,
            baton.stage = %claim.lease.stage,
            baton.worker = %owner,
            baton.claim.attempt = i64::from(claim.attempts),
        );
        crate::telemetry::continue_trace(&span, claim.traceparent.as_deref());
        let keeper = (done, told);
        let summary = with_lease(queue, &claim, options.lease, &stop, report, keeper, || {
            span.in_scope(|| execute(queue, runtime, bundles, &claim, &base))
        });
        drop(span);
        // The outcome is recorded even if the database blinked: the stage's commit
        // (if any) is already durable, and a lost outcome would run the stage again.
        let recorded = loop {
            match record_outcome(queue, &claim, &summary) {
                Ok(recorded) => break recorded,
                Err(e) => {
                    report(Report::Trouble(&e));
                    std::thread::sleep(POLL);
                }
            }
        };
        report(Report::Finished {
            claim: &claim,
            summary: &summary,
            recorded,
        });
    }
}

/// Runs `work` while renewing `claim`'s lease every third of `lease`; `lost` is set
/// once the lease no longer holds.
fn with_lease<T>(
    queue: &JobQueue,
    claim: &Claim,
    lease: Duration,
    lost: &AtomicBool,
    report: &(dyn Fn(Report<'_>) + Sync),
    (done, told): (mpsc::Sender<Tick>, mpsc::Receiver<Tick>),
    work: impl FnOnce() -> T,
) -> T {
    std::thread::scope(|scope| {
        scope.spawn(move || {
            loop {
                match told.recv_timeout(lease / 3) {
                    Ok(Tick::Done) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    Ok(Tick::Attempt(attempt, cost)) => {
                        if let Err(e) = queue.note_attempt(&claim.lease, attempt, cost) {
                            report(Report::Trouble(&e));
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                match queue.renew(&claim.lease, lease) {
                    Ok(true) => {}
                    // Lost: the stage's commit will be refused, and a running agent
                    // is stopped; nothing more to renew.
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => report(Report::Trouble(&e)),
                }
            }
        });
        let out = work();
        let _ = done.send(Tick::Done);
        out
    })
}

/// What the work tells its lease's keeper.
enum Tick {
    /// Its agent is on this attempt, its attempts having cost this much so far.
    Attempt(u32, Option<f64>),
    /// The work ended: the lease needs keeping no more.
    Done,
}
