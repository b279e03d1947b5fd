//! The work queue of `baton worker`, in the memory's own database.
//!
//! | table | row |
//! |---|---|
//! | `baton_blobs` | one per file a workflow needs (components, schemas, inputs), by SHA-256 |
//! | `baton_workflows` | one per `baton run --distributed`: its manifest, rewritten to name files by content |
//! | `baton_jobs` | one per stage of a workflow: the stages it waits for, its state, its lease, its outcome |
//!
//! A worker claims a ready job (every stage it waits for is done) with `FOR UPDATE
//! SKIP LOCKED`, so that workers never wait on each other's claims, and takes a lease
//! on it: a token from a sequence and an expiry from the database's clock. It renews
//! the lease while the stage runs. A job whose lease expired (its worker was killed,
//! or cut off from the database) is claimed again by the next worker with a new
//! token. The old worker's commit is fenced: [`check_lease`] runs in the commit's
//! transaction and locks the job's row, so a token that is no longer the job's cannot
//! write. Finishing a job is fenced the same way. `NOTIFY baton_jobs` wakes idle
//! workers and waiting submitters when jobs are queued or finish; they also poll, so a
//! lost notification costs at most one poll interval.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{Client, NoTls};

use super::{Conn, PostgresStore, Tx, database};
use crate::memory::{
    Entry, EntryMeta, ImportReport, Key, MemoryError, Namespace, Op, Result, Stats, Store,
    StoreOptions, Writer,
};

/// The channel of `NOTIFY`: a job was queued or finished.
const CHANNEL: &str = "baton_jobs";

/// A worker's hold on one job: valid while the job's token is still this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The workflow.
    pub workflow: String,
    /// The stage.
    pub stage: String,
    /// The token the claim drew; a later claim of the job draws another.
    pub token: i64,
}

/// A job a worker claimed.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The lease on it.
    pub lease: Lease,
    /// How many times it was claimed, this claim included.
    pub attempts: u32,
    /// The trace its workflow's submitter started (W3C `traceparent`), if any.
    pub traceparent: Option<String>,
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker (and for the stages it reads from).
    Queued,
    /// Claimed by a worker (its lease may have expired).
    Running,
    /// Ended; its outcome is recorded.
    Done,
}

/// One job's state, as a submitter polls it.
#[derive(Clone, Debug)]
pub struct JobStatus {
    /// The stage.
    pub stage: String,
    /// Its state.
    pub state: JobState,
    /// Its agent's attempt, while an agent works on it.
    pub attempt: Option<u32>,
    /// What its agent's attempts have cost so far.
    pub cost_usd: Option<f64>,
}

/// A submitted workflow, as a worker needs it.
#[derive(Clone, Debug)]
pub struct WorkflowRow {
    /// Its id.
    pub id: String,
    /// Its manifest, naming files as `blobs/<sha256>[.ext]`.
    pub manifest: String,
    /// The files it names, `<sha256>[.ext]`.
    pub files: Vec<String>,
    /// Whether fresh stages run again.
    pub force: bool,
    /// The trace the submitter started (W3C `traceparent`), which its stages continue.
    pub traceparent: Option<String>,
}

/// What `baton run --distributed` enqueues.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The workflow.
    pub workflow: WorkflowRow,
    /// Each stage, in pipeline order, with the stages it waits for.
    pub jobs: Vec<(String, Vec<String>)>,
    /// The stages whose agent baton starts: only a worker that runs agents claims
    /// them.
    pub agents: Vec<String>,
}

/// A stage a worker runs now.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RunningJob {
    /// Its workflow.
    pub workflow: String,
    /// The stage.
    pub stage: String,
    /// The worker's slot holding the lease (`host:pid/slot` by default).
    pub worker: String,
    /// When it claimed the stage (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
}

/// What [`JobQueue::cancel`] ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cancelled {
    /// The workflow.
    pub workflow: String,
    /// Its stages no worker had claimed yet, or whose worker's lease had expired:
    /// they will not run.
    pub queued: Vec<String>,
    /// Its stages a worker had claimed, with the worker: from now on that worker's
    /// commit and outcome are refused, as if it had lost its lease.
    pub running: Vec<RunningJob>,
    /// How many of its stages had already ended.
    pub ended: usize,
}

/// Why a fenced commit was refused.
pub(super) enum Fence {
    /// The job's token is another's, or the job ended.
    Lost,
    /// The database failed.
    Db(::postgres::Error),
}

/// Checks, inside a commit's transaction, that `lease` still holds its job, and locks
/// the job's row until the transaction ends.
pub(super) fn check_lease(tx: &mut Tx<'_>, lease: &Lease) -> Result<(), Fence> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM baton_jobs
             WHERE workflow = $1 AND stage = $2 AND lease_token = $3 AND state = 'running'
             FOR UPDATE",
            &[&lease.workflow, &lease.stage, &lease.token],
        )
        .map_err(Fence::Db)?;
    row.map(|_| ()).ok_or(Fence::Lost)
}

/// The queue, on its own connections: one for claims and updates, one that listens.
pub struct JobQueue {
    url: String,
    conn: Mutex<Conn>,
    listener: Mutex<Option<Client>>,
    store: Arc<PostgresStore>,
}

impl JobQueue {
    /// Connects to the database at `url`, creating or migrating baton's tables.
    pub fn open(url: &str, options: StoreOptions) -> Result<Self> {
        let store = Arc::new(PostgresStore::open(url, options)?);
        let conn = Conn::connect(url).map_err(|e| database(&store.shown, e))?;
        Ok(Self {
            url: url.to_owned(),
            conn: Mutex::new(conn),
            listener: Mutex::new(None),
            store,
        })
    }

    /// The memory in the same database.
    pub fn store(&self) -> Arc<PostgresStore> {
        self.store.clone()
    }

    /// The memory, every commit of it fenced on `lease`.
    pub fn fenced(&self, lease: Lease) -> Arc<dyn Store> {
        Arc::new(FencedStore {
            inner: self.store.clone(),
            lease,
        })
    }

    fn err(&self, e: ::postgres::Error) -> MemoryError {
        database(&self.store.shown, e)
    }

    /// Runs `f` on the queue's connection, in one transaction if `transaction`,
    /// replacing a connection the server closed.
    fn session<T>(
        &self,
        transaction: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ::postgres::Error>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if conn.is_closed() {
            *conn = Conn::connect(&self.url).map_err(|e| self.err(e))?;
        }
        let run = |conn: &mut Conn| {
            let mut tx = if transaction {
                conn.transaction()?
            } else {
                conn.direct()
            };
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        };
        run(&mut conn).map_err(|e| self.err(e))
    }

    /// [`Self::session`] of statements run one by one.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ::postgres::Error>,
    ) -> Result<T> {
        self.session(false, f)
    }

    /// Which of `shas` the database does not hold yet.
    pub fn missing_blobs(&self, shas: &[String]) -> Result<Vec<String>> {
        let present: Vec<String> = self.with_conn(|c| {
            Ok(c.query(
                "SELECT sha256 FROM baton_blobs WHERE sha256 = ANY ($1)",
                &[&shas],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })?;
        Ok(shas
            .iter()
            .filter(|s| !present.contains(s))
            .cloned()
            .collect())
    }

    /// Stores `bytes` under `sha256` (its content hash, checked by the caller).
    pub fn put_blob(&self, sha256: &str, bytes: &[u8]) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO baton_blobs (sha256, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&sha256, &bytes],
            )
        })?;
        Ok(())
    }

    /// The bytes stored under `sha256`.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT bytes FROM baton_blobs WHERE sha256 = $1",
                &[&sha256],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// Enqueues a workflow and its jobs in one transaction, and wakes the workers.
    pub fn submit(&self, submission: &Submission) -> Result<()> {
        let w = &submission.workflow;
        self.session(true, |tx| {
            tx.execute(
                "INSERT INTO baton_workflows (id, manifest, files, force, traceparent)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&w.id, &w.manifest, &w.files, &w.force, &w.traceparent],
            )?;
            for (position, (stage, depends_on)) in submission.jobs.iter().enumerate() {
                let agent = submission.agents.contains(stage);
                tx.execute(
                    "INSERT INTO baton_jobs (workflow, stage, position, depends_on, agent)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&w.id, stage, &(position as i32), depends_on, &agent],
                )?;
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &w.id])?;
            Ok(())
        })
    }

    /// Claims the first ready job (oldest workflow first, then pipeline order) for
    /// `owner`, with a lease of `lease`; `None` when no job is ready. A job whose
    /// lease expired is ready again. An agent's job is left to workers that run
    /// agents ([`Self::claim_as`]).
    pub fn claim(&self, owner: &str, lease: Duration) -> Result<Option<Claim>> {
        self.claim_as(owner, lease, false)
    }

    /// [`Self::claim`], agents' jobs included when `agents` (the worker has the agent
    /// CLIs its pipelines name).
    pub fn claim_as(&self, owner: &str, lease: Duration, agents: bool) -> Result<Option<Claim>> {
        let row = self.with_conn(|c| {
            c.query_opt(
                "UPDATE baton_jobs j SET state = 'running', lease_owner = $1,
                     lease_token = nextval('baton_lease_tokens'),
                     claimed_at = clock_timestamp(),
                     lease_expires = clock_timestamp() + make_interval(secs => $2),
                     attempts = j.attempts + 1
                 FROM (
                     SELECT c.workflow, c.stage, w.traceparent FROM baton_jobs c
                     JOIN baton_workflows w ON w.id = c.workflow
                     WHERE c.state <> 'done'
                       AND (c.state = 'queued'
                            OR (c.state = 'running' AND c.lease_expires < clock_timestamp()))
                       AND (NOT c.agent OR $3)
                       AND NOT EXISTS (
                           SELECT 1 FROM baton_jobs d
                           WHERE d.workflow = c.workflow AND d.stage = ANY (c.depends_on)
                             AND d.state <> 'done')
                     ORDER BY w.submitted_at, c.position
                     LIMIT 1
                     FOR UPDATE OF c SKIP LOCKED
                 ) AS next
                 WHERE j.workflow = next.workflow AND j.stage = next.stage
                 RETURNING j.workflow, j.stage, j.lease_token, j.attempts, next.traceparent",
                &[&owner, &lease.as_secs_f64(), &agents],
            )
        })?;
        Ok(row.map(|r| Claim {
            lease: Lease {
                workflow: r.get(0),
                stage: r.get(1),
                token: r.get(2),
            },
            attempts: r.get::<_, i32>(3) as u32,
            traceparent: r.get(4),
        }))
    }

    /// Extends `lease` by `by` from now; `false` when it no longer holds its job.
    pub fn renew(&self, lease: &Lease, by: Duration) -> Result<bool> {
        let n = self.with_conn(|c| {
            c.execute(
                "UPDATE baton_jobs SET lease_expires = clock_timestamp() + make_interval(secs => $4)
                 WHERE workflow = $1 AND stage = $2 AND lease_token = $3 AND state = 'running'",
                &[&lease.workflow, &lease.stage, &lease.token, &by.as_secs_f64()],
            )
        })?;
        Ok(n == 1)
    }

    /// Records the job's outcome (JSON) and marks it done, if `lease` still holds it;
    /// `false` when another worker has it now.
    pub fn finish(&self, lease: &Lease, outcome: &str) -> Result<bool> {
        self.session(true, |tx| {
            let n = tx.execute(
                "UPDATE baton_jobs SET state = 'done', outcome = $4, lease_expires = NULL
                 WHERE workflow = $1 AND stage = $2 AND lease_token = $3 AND state = 'running'",
                &[&lease.workflow, &lease.stage, &lease.token, &outcome],
            )?;
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &lease.workflow])?;
            Ok(n == 1)
        })
    }

    /// Ends every stage of `workflow` that has not ended, each with the outcome (JSON)
    /// `outcome` gives for its name, in one transaction, and wakes the workers and the
    /// submitter. A stage a worker is running ends too: its lease no longer holds, so
    /// the worker's commit and outcome are refused (a commit that landed before the
    /// cancel stays). `None` when no such workflow was submitted.
    pub fn cancel(
        &self,
        workflow: &str,
        outcome: &dyn Fn(&str) -> String,
    ) -> Result<Option<Cancelled>> {
        self.session(true, |tx| {
            // A claim whose lease expired is nobody's: its worker died or was cut off.
            let jobs = tx.query(
                "SELECT stage, CASE WHEN state = 'running' AND lease_expires <= clock_timestamp()
                                    THEN 'queued' ELSE state END,
                        lease_owner
                 FROM baton_jobs WHERE workflow = $1 ORDER BY position FOR UPDATE",
                &[&workflow],
            )?;
            if jobs.is_empty() {
                return Ok(None);
            }
            let mut cancelled = Cancelled {
                workflow: workflow.to_owned(),
                queued: Vec::new(),
                running: Vec::new(),
                ended: 0,
            };
            for job in &jobs {
                let stage: String = job.get(0);
                match job.get::<_, &str>(1) {
                    "done" => {
                        cancelled.ended += 1;
                        continue;
                    }
                    "running" => cancelled.running.push(RunningJob {
                        workflow: workflow.to_owned(),
                        stage: stage.clone(),
                        worker: job.get::<_, Option<String>>(2).unwrap_or_default(),
                        since_ms: None,
                    }),
                    _ => cancelled.queued.push(stage.clone()),
                }
                tx.execute(
                    "UPDATE baton_jobs SET state = 'done', outcome = $3, lease_expires = NULL
                     WHERE workflow = $1 AND stage = $2",
                    &[&workflow, &stage, &outcome(&stage)],
                )?;
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &workflow])?;
            Ok(Some(cancelled))
        })
    }

    /// The workflow `id`, if submitted.
    pub fn workflow(&self, id: &str) -> Result<Option<WorkflowRow>> {
        self.with_conn(|c| {
            Ok(c.query_opt(
                "SELECT id, manifest, files, force, traceparent FROM baton_workflows WHERE id = $1",
                &[&id],
            )?
            .map(|r| WorkflowRow {
                id: r.get(0),
                manifest: r.get(1),
                files: r.get(2),
                force: r.get(3),
                traceparent: r.get(4),
            }))
        })
    }

    /// Each job of `workflow` with its state (and its agent's attempt and cost so
    /// far), in pipeline order: what a submitter polls (a few short columns per
    /// stage, not its outcome).
    pub fn states(&self, workflow: &str) -> Result<Vec<JobStatus>> {
        let rows = self.with_conn(|c| {
            c.query(
                "SELECT stage, state, agent_attempt, agent_cost_usd FROM baton_jobs
                 WHERE workflow = $1 ORDER BY position",
                &[&workflow],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(JobStatus {
                    state: self.state_of(workflow, r.get(0), r.get(1))?,
                    stage: r.get(0),
                    attempt: r.get::<_, Option<i32>>(2).map(|n| n.max(0) as u32),
                    cost_usd: r.get(3),
                })
            })
            .collect()
    }

    /// Records that the agent of the stage `lease` holds is on `attempt`, its
    /// attempts having cost `cost_usd` so far, if the lease still holds it.
    pub fn note_attempt(&self, lease: &Lease, attempt: u32, cost_usd: Option<f64>) -> Result<bool> {
        let n = self.with_conn(|c| {
            let n = c.execute(
                "UPDATE baton_jobs SET agent_attempt = $4, agent_cost_usd = $5
                 WHERE workflow = $1 AND stage = $2 AND lease_token = $3 AND state = 'running'",
                &[
                    &lease.workflow,
                    &lease.stage,
                    &lease.token,
                    &(attempt as i32),
                    &cost_usd,
                ],
            )?;
            // The submitter following the workflow looks again now.
            c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &lease.workflow])?;
            Ok(n)
        })?;
        Ok(n == 1)
    }

    /// The recorded outcomes (JSON) of `stages` of `workflow`.
    pub fn outcomes(
        &self,
        workflow: &str,
        stages: &[String],
    ) -> Result<Vec<(String, Option<String>)>> {
        let rows = self.with_conn(|c| {
            c.query(
                "SELECT stage, outcome FROM baton_jobs WHERE workflow = $1 AND stage = ANY ($2)",
                &[&workflow, &stages],
            )
        })?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// A job's state as the database spells it.
    fn state_of(&self, workflow: &str, stage: &str, state: &str) -> Result<JobState> {
        match state {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "done" => Ok(JobState::Done),
            other => Err(MemoryError::Corrupt {
                path: self.store.shown.clone().into(),
                what: format!("job `{stage}` of {workflow}"),
                reason: format!("unknown state {other:?}"),
            }),
        }
    }

    /// The jobs some worker runs now (claimed, lease not expired), of any workflow,
    /// oldest workflow first.
    pub fn running(&self) -> Result<Vec<RunningJob>> {
        self.with_conn(|c| {
            Ok(c.query(
                "SELECT j.workflow, j.stage, j.lease_owner,
                        (extract(epoch FROM j.claimed_at) * 1000)::bigint
                 FROM baton_jobs j
                 JOIN baton_workflows w ON w.id = j.workflow
                 WHERE j.state = 'running' AND j.lease_expires > clock_timestamp()
                 ORDER BY w.submitted_at, j.position",
                &[],
            )?
            .iter()
            .map(|r| RunningJob {
                workflow: r.get(0),
                stage: r.get(1),
                worker: r.get::<_, Option<String>>(2).unwrap_or_default(),
                since_ms: r.get::<_, Option<i64>>(3).map(|ms| ms.max(0) as u64),
            })
            .collect())
        })
    }

    /// How many jobs of any workflow are not done.
    pub fn open_jobs(&self) -> Result<u64> {
        self.with_conn(|c| {
            Ok(
                c.query_one("SELECT count(*) FROM baton_jobs WHERE state <> 'done'", &[])?
                    .get::<_, i64>(0) as u64,
            )
        })
    }

    /// Waits up to `timeout` for a job to be queued or finished anywhere. Returns early
    /// on a notification; a listening connection that failed is replaced on the next
    /// call (the wait then lasts the whole timeout, as a poll).
    pub fn wait(&self, timeout: Duration) {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if listener.as_ref().is_none_or(|c| c.is_closed()) {
            *listener = Client::connect(&self.url, NoTls)
                .and_then(|mut c| c.batch_execute(&format!("LISTEN {CHANNEL}")).map(|_| c))
                .map_err(|e| tracing::debug!(error = %self.err(e), "cannot listen; polling"))
                .ok();
        }
        let Some(client) = listener.as_mut() else {
            drop(listener);
            std::thread::sleep(timeout);
            return;
        };
        let mut notifications = client.notifications();
        let first = notifications.timeout_iter(timeout).next();
        match first {
            Ok(_) => {
                // Drain what else arrived: one wake-up is enough.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            Err(e) => tracing::debug!(error = %e, "listening failed; polling"),
        }
    }
}

/// The memory as a worker's stage sees it: reads as usual, every commit fenced on the
/// worker's lease.
struct FencedStore {
    inner: Arc<PostgresStore>,
    lease: Lease,
}

impl Store for FencedStore {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        self.inner.get(namespace, key)
    }

    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>> {
        self.inner.get_revision(namespace, key, revision)
    }

    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        self.inner.history(namespace, key)
    }

    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        self.inner.list(namespace, prefix)
    }

    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        self.inner
            .commit_fenced(writer, ops, self.inner.retention, Some(&self.lease))
    }

    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()> {
        self.inner.export(namespace, visit)
    }

    /// Not fenced: nothing run under a lease imports (a stage's host only reads, and
    /// the executor only commits).
    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport> {
        self.inner.import(entries)
    }

    fn purge_expired(&self) -> Result<u64> {
        self.inner.purge_expired()
    }

    fn stats(&self) -> Result<Stats> {
        self.inner.stats()
    }

    fn search(&self, query: &crate::memory::SearchQuery) -> Result<Vec<crate::memory::Hit>> {
        self.inner.search(query)
    }
}
