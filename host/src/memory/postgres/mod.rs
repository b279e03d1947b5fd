//! The PostgreSQL backend, for teams whose agents run on several machines: the same
//! [`Store`] semantics as sled (revisions, retention, TTL, compare-and-swap, atomic
//! commits, append-only `baton.events`, export and import) in two tables.
//!
//! | table | row |
//! |---|---|
//! | `baton_heads` | one per key: its current revision's metadata, the oldest revision retained, its expiry |
//! | `baton_revisions` | one per retained revision: metadata and value bytes |
//!
//! A commit is one transaction. Commits are serialised by a transaction-scoped
//! advisory lock, as sled's are by its writer lock: a commit reads heads, checks every
//! compare-and-swap, then writes, and no other commit interleaves (readers are never
//! blocked). The time for TTLs is the database's clock (`clock_timestamp()`), read in
//! the transaction, so that machines with skewed clocks agree; a manual [`Clock`] in
//! the options replaces it for tests. The schema is created and migrated by baton
//! (`baton_schema` records the version). Keys and values are always bound as
//! parameters, never written into SQL. Names sort bytewise (`COLLATE "C"`), as sled's.
//!
//! The work queue of `baton worker` lives beside the memory, in the same database
//! ([`queue`]): a commit made under a worker's lease checks the lease in the same
//! transaction, so a worker that lost its lease cannot commit.

mod queue;

use std::collections::HashMap;
use std::sync::Mutex;

use ::postgres::types::ToSql;
use ::postgres::{Client, NoTls, Row, Statement, Transaction};

pub use queue::{
    Cancelled, Claim, JobQueue, JobState, JobStatus, Lease, RunningJob, Submission, WorkflowRow,
};

use super::search::{self, Hit, SearchQuery};
use super::{
    Clock, Entry, EntryMeta, ImportReport, Key, MemoryError, Namespace, Op, Result, Stats, Store,
    Timestamp, Writer,
};

/// The advisory lock every commit takes (an arbitrary constant: "baton").
const COMMIT_LOCK: i64 = 0x0062_6174_6f6e;

/// The migrations, in order; `baton_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: heads and revisions.
    r#"
    CREATE TABLE baton_heads (
        namespace text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        revision bigint NOT NULL,
        oldest bigint NOT NULL,
        expires_at_ms bigint,
        meta text NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    CREATE INDEX baton_heads_expiry ON baton_heads (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
    CREATE TABLE baton_revisions (
        namespace text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        revision bigint NOT NULL,
        meta text NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (namespace, key, revision)
    );
    "#,
    // 2: the work queue of `baton worker`: components and files by content, workflows
    // submitted by `baton run --distributed`, and one job per stage with its lease.
    r#"
    CREATE TABLE baton_blobs (
        sha256 text PRIMARY KEY,
        bytes bytea NOT NULL
    );
    CREATE TABLE baton_workflows (
        id text PRIMARY KEY,
        manifest text NOT NULL,
        files text[] NOT NULL,
        force boolean NOT NULL,
        submitted_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE baton_jobs (
        workflow text NOT NULL REFERENCES baton_workflows (id) ON DELETE CASCADE,
        stage text NOT NULL,
        position integer NOT NULL,
        depends_on text[] NOT NULL,
        state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
        outcome text,
        lease_owner text,
        lease_token bigint,
        lease_expires timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workflow, stage)
    );
    CREATE INDEX baton_jobs_open ON baton_jobs (workflow, position) WHERE state <> 'done';
    CREATE SEQUENCE baton_lease_tokens;
    "#,
    // 3: a job whose stage is an agent's, which only a worker that runs agents claims.
    r#"
    ALTER TABLE baton_jobs ADD COLUMN agent boolean NOT NULL DEFAULT false;
    "#,
    // 4: full-text search. Each head's words (its key's weighted A, its value's D),
    // folded by baton and stemmed by PostgreSQL, written in the commit that writes the
    // head. NULL: not yet analysed (heads from before this migration), which the
    // first search fills in.
    r#"
    ALTER TABLE baton_heads ADD COLUMN search tsvector;
    CREATE INDEX baton_heads_search ON baton_heads USING GIN (search);
    CREATE INDEX baton_heads_unsearched ON baton_heads (namespace, key) WHERE search IS NULL;
    "#,
    // 5: the trace a distributed workflow's stages continue: the submitter's W3C
    // `traceparent` (NULL when it traced nothing).
    r#"
    ALTER TABLE baton_workflows ADD COLUMN traceparent text;
    "#,
    // 6: when a job was last claimed (a stage running on a worker is drawn from
    // then), and its agent's attempt and cost so far (the submitter's progress).
    r#"
    ALTER TABLE baton_jobs ADD COLUMN claimed_at timestamptz;
    ALTER TABLE baton_jobs ADD COLUMN agent_attempt integer;
    ALTER TABLE baton_jobs ADD COLUMN agent_cost_usd double precision;
    "#,
];

/// The folded words of a key and of its live value (none for a tombstone), which
/// PostgreSQL analyses into the head's search vector: the key's words weighted A, the
/// value's D.
fn search_words(key: &str, value: Option<&[u8]>) -> (String, String) {
    match value {
        Some(v) => (search::fold(key), search::fold(&search::value_text(v))),
        None => (String::new(), String::new()),
    }
}

/// The candidates of a search, with their live values: `$1` the clauses' folded words, `$2` whether each is a
/// phrase, `$3` now (ms), `$4` the namespace (NULL: the users'), `$5` offset, `$6`
/// count. The clauses are ORed (a clause of stop words only is left out), ranked by
/// `ts_rank_cd` with weights (D, C, B, A) that count a word in the key 1.5 times one in
/// the value, as on the embedded store.
const CANDIDATES: &str = "
    SELECT h.namespace, h.key, ts_rank_cd('{0.6, 0.2, 0.4, 0.9}', h.search, q)::float8,
           h.meta, r.value
    FROM baton_heads AS h
    JOIN baton_revisions AS r
      ON r.namespace = h.namespace AND r.key = h.key AND r.revision = h.revision, (
        SELECT string_agg('(' || t::text || ')', ' | ')::tsquery FROM (
            SELECT CASE WHEN p THEN phraseto_tsquery('english', w)
                        ELSE plainto_tsquery('english', w) END
            FROM unnest($1::text[], $2::bool[]) AS c(w, p)
        ) AS parts(t) WHERE numnode(t) > 0
    ) AS query(q)
    WHERE h.search @@ q AND (h.expires_at_ms IS NULL OR h.expires_at_ms > $3)
      AND CASE WHEN $4::text IS NULL THEN NOT starts_with(h.namespace, 'baton.')
               ELSE h.namespace = $4::text END
    ORDER BY 3 DESC, h.namespace, h.key OFFSET $5 LIMIT $6";

/// The PostgreSQL-backed [`Store`].
pub struct PostgresStore {
    url: String,
    shown: String,
    conn: Mutex<Conn>,
    retention: u64,
    clock: Clock,
}

/// A connection, and the statements prepared on it so far.
pub(super) struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Conn {
    /// Connects to `url`.
    pub(super) fn connect(url: &str) -> Result<Self, ::postgres::Error> {
        Ok(Self {
            client: Client::connect(url, NoTls)?,
            prepared: HashMap::new(),
        })
    }

    /// Whether the server closed it.
    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A transaction on it.
    pub(super) fn transaction(&mut self) -> Result<Tx<'_>, ::postgres::Error> {
        Ok(Tx {
            on: On::Transaction(self.client.transaction()?),
            prepared: &mut self.prepared,
        })
    }

    /// Statements run on it one by one, each its own transaction.
    pub(super) fn direct(&mut self) -> Tx<'_> {
        Tx {
            on: On::Client(&mut self.client),
            prepared: &mut self.prepared,
        }
    }
}

/// Statements run in a transaction or one by one, each prepared once per connection
/// and kept: a query is then one round trip to the server, not two (parse, then bind
/// and run).
pub(super) struct Tx<'a> {
    on: On<'a>,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

enum On<'a> {
    Transaction(Transaction<'a>),
    Client(&'a mut Client),
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, ::postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let statement = match &mut self.on {
            On::Transaction(tx) => tx.prepare(sql)?,
            On::Client(client) => client.prepare(sql)?,
        };
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }

    pub(super) fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, ::postgres::Error> {
        let s = self.statement(sql)?;
        match &mut self.on {
            On::Transaction(tx) => tx.query(&s, params),
            On::Client(client) => client.query(&s, params),
        }
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, ::postgres::Error> {
        let s = self.statement(sql)?;
        match &mut self.on {
            On::Transaction(tx) => tx.query_opt(&s, params),
            On::Client(client) => client.query_opt(&s, params),
        }
    }

    pub(super) fn query_one(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Row, ::postgres::Error> {
        let s = self.statement(sql)?;
        match &mut self.on {
            On::Transaction(tx) => tx.query_one(&s, params),
            On::Client(client) => client.query_one(&s, params),
        }
    }

    pub(super) fn execute(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, ::postgres::Error> {
        let s = self.statement(sql)?;
        match &mut self.on {
            On::Transaction(tx) => tx.execute(&s, params),
            On::Client(client) => client.execute(&s, params),
        }
    }

    /// Commits the transaction (statements run one by one are committed already).
    pub(super) fn commit(self) -> Result<(), ::postgres::Error> {
        match self.on {
            On::Transaction(tx) => tx.commit(),
            On::Client(_) => Ok(()),
        }
    }
}

struct Head {
    meta: EntryMeta,
    oldest: u64,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`),
    /// creating or migrating baton's tables.
    pub fn open(url: &str, options: super::StoreOptions) -> Result<Self> {
        let shown = redact(url);
        let mut client = Client::connect(url, NoTls).map_err(|e| database(&shown, e))?;
        migrate(&mut client, &shown)?;
        Ok(Self {
            url: url.to_owned(),
            shown,
            conn: Mutex::new(Conn {
                client,
                prepared: HashMap::new(),
            }),
            retention: options.retention.max(1),
            clock: options.clock,
        })
    }

    /// The database, as errors name it (without a password).
    pub fn location(&self) -> &str {
        &self.shown
    }

    /// Runs `f` in a transaction, with the time it runs at. A connection the server
    /// closed (a restart, a terminated backend) is replaced first.
    fn with_tx<T>(&self, f: impl FnOnce(&mut Tx<'_>, Timestamp) -> Result<T>) -> Result<T> {
        self.transaction(false, f)
    }

    /// [`Self::with_tx`] for a write: serialised with every other commit, its time
    /// read after the lock so that commits see time move forward.
    fn with_commit<T>(&self, f: impl FnOnce(&mut Tx<'_>, Timestamp) -> Result<T>) -> Result<T> {
        self.transaction(true, f)
    }

    fn transaction<T>(
        &self,
        serialised: bool,
        f: impl FnOnce(&mut Tx<'_>, Timestamp) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if conn.is_closed() {
            *conn = Conn::connect(&self.url).map_err(|e| self.err(e))?;
        }
        let mut tx = conn.transaction().map_err(|e| self.err(e))?;
        // The lock and the clock in one round trip; the clock is read after the lock.
        let now = match (&self.clock, serialised) {
            (Clock::Manual(_), false) => self.clock.now(),
            (Clock::Manual(_), true) => {
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COMMIT_LOCK])
                    .map_err(|e| self.err(e))?;
                self.clock.now()
            }
            (Clock::System, false) => Timestamp(
                tx.query_one(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                    &[],
                )
                .map_err(|e| self.err(e))?
                .get::<_, i64>(0) as u64,
            ),
            (Clock::System, true) => Timestamp(
                tx.query_one(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                     FROM pg_advisory_xact_lock($1)",
                    &[&COMMIT_LOCK],
                )
                .map_err(|e| self.err(e))?
                .get::<_, i64>(0) as u64,
            ),
        };
        let out = f(&mut tx, now)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn err(&self, e: ::postgres::Error) -> MemoryError {
        database(&self.shown, e)
    }

    fn corrupt(&self, what: String, reason: impl ToString) -> MemoryError {
        MemoryError::Corrupt {
            path: self.shown.clone().into(),
            what,
            reason: reason.to_string(),
        }
    }

    fn decode_meta(&self, ns: &str, key: &str, text: &str) -> Result<EntryMeta> {
        serde_json::from_str(text).map_err(|e| self.corrupt(format!("{ns}/{key}"), e))
    }

    fn head(&self, tx: &mut Tx<'_>, ns: &str, key: &str) -> Result<Option<Head>> {
        let row = tx
            .query_opt(
                "SELECT oldest, meta FROM baton_heads WHERE namespace = $1 AND key = $2",
                &[&ns, &key],
            )
            .map_err(|e| self.err(e))?;
        row.map(|r| {
            Ok(Head {
                oldest: r.get::<_, i64>(0) as u64,
                meta: self.decode_meta(ns, key, r.get(1))?,
            })
        })
        .transpose()
    }

    /// Writes `head`; with `value`, the head's live value changed to it and its search
    /// vector is written too.
    fn set_head(&self, tx: &mut Tx<'_>, head: &Head, value: Option<&[u8]>) -> Result<()> {
        let meta = serde_json::to_string(&head.meta).expect("metadata serialises");
        let expires = head.meta.expires_at.map(|t| t.millis() as i64);
        let live = value.filter(|_| !head.meta.deleted);
        let (key_words, value_words) = search_words(&head.meta.key, live);
        let (ns, key, revision, oldest) = (
            &head.meta.namespace,
            &head.meta.key,
            head.meta.revision as i64,
            head.oldest as i64,
        );
        match value {
            Some(_) => tx.execute(
                "INSERT INTO baton_heads (namespace, key, revision, oldest, expires_at_ms, meta, search)
                 VALUES ($1, $2, $3, $4, $5, $6,
                     setweight(to_tsvector('english', $7), 'A') || setweight(to_tsvector('english', $8), 'D'))
                 ON CONFLICT (namespace, key) DO UPDATE SET revision = $3, oldest = $4,
                     expires_at_ms = $5, meta = $6, search = EXCLUDED.search",
                &[ns, key, &revision, &oldest, &expires, &meta, &key_words, &value_words],
            ),
            None => tx.execute(
                "INSERT INTO baton_heads (namespace, key, revision, oldest, expires_at_ms, meta)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (namespace, key) DO UPDATE SET revision = $3, oldest = $4,
                     expires_at_ms = $5, meta = $6",
                &[ns, key, &revision, &oldest, &expires, &meta],
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Analyses the heads whose search vector is missing (written before migration 4),
    /// a batch at a time, each batch its own commit.
    fn fill_search_vectors(&self) -> Result<()> {
        loop {
            let filled = self.with_commit(|tx, _| {
                let rows = tx
                    .query(
                        "SELECT namespace, key, revision, oldest <= revision AND NOT (meta::jsonb ? 'deleted')
                         FROM baton_heads WHERE search IS NULL LIMIT 500",
                        &[],
                    )
                    .map_err(|e| self.err(e))?;
                for row in &rows {
                    let (ns, key, revision, live): (&str, &str, i64, bool) =
                        (row.get(0), row.get(1), row.get(2), row.get(3));
                    let entry = match live {
                        true => self.revision(tx, ns, key, revision as u64)?,
                        false => None,
                    };
                    let (a, b) = search_words(key, entry.as_ref().map(|e| e.value.as_slice()));
                    tx.execute(
                        "UPDATE baton_heads SET search =
                             setweight(to_tsvector('english', $3), 'A') || setweight(to_tsvector('english', $4), 'D')
                         WHERE namespace = $1 AND key = $2",
                        &[&ns, &key, &a, &b],
                    )
                    .map_err(|e| self.err(e))?;
                }
                Ok(rows.len())
            })?;
            if filled < 500 {
                return Ok(());
            }
        }
    }

    /// The candidates for `parsed` in `query`'s namespace, best first by `ts_rank_cd`.
    fn candidates(
        &self,
        query: &SearchQuery,
        parsed: &search::Parsed,
        offset: usize,
        count: usize,
    ) -> Result<Vec<search::Candidate>> {
        let words: Vec<&str> = parsed.folded.iter().map(String::as_str).collect();
        let phrases: Vec<bool> = parsed.clauses.iter().map(|c| c.is_phrase()).collect();
        let now = self.clock.now().millis() as i64;
        let (offset, count) = (offset as i64, count as i64);
        self.with_tx(|tx, _| {
            let rows = tx
                .query(
                    CANDIDATES,
                    &[&words, &phrases, &now, &query.namespace, &offset, &count],
                )
                .map_err(|e| self.err(e))?;
            rows.iter()
                .map(|r| {
                    let (ns, key): (String, String) = (r.get(0), r.get(1));
                    let meta = self.decode_meta(&ns, &key, r.get(3))?;
                    Ok(search::Candidate {
                        rank: r.get(2),
                        entry: (!meta.deleted).then(|| Entry {
                            meta,
                            value: r.get(4),
                        }),
                        namespace: ns,
                        key,
                    })
                })
                .collect()
        })
    }

    fn insert_revision(&self, tx: &mut Tx<'_>, meta: &EntryMeta, value: &[u8]) -> Result<()> {
        let text = serde_json::to_string(meta).expect("metadata serialises");
        tx.execute(
            "INSERT INTO baton_revisions (namespace, key, revision, meta, value)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &meta.namespace,
                &meta.key,
                &(meta.revision as i64),
                &text,
                &value,
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn revision(
        &self,
        tx: &mut Tx<'_>,
        ns: &str,
        key: &str,
        revision: u64,
    ) -> Result<Option<Entry>> {
        let row = tx
            .query_opt(
                "SELECT meta, value FROM baton_revisions
                 WHERE namespace = $1 AND key = $2 AND revision = $3",
                &[&ns, &key, &(revision as i64)],
            )
            .map_err(|e| self.err(e))?;
        row.map(|r| {
            Ok(Entry {
                meta: self.decode_meta(ns, key, r.get(0))?,
                value: r.get(1),
            })
        })
        .transpose()
    }

    /// Reclaims every key expired at `now`: its revisions go, its head stays (so
    /// revision numbers carry on) with nothing retained.
    fn reclaim_expired(&self, tx: &mut Tx<'_>, now: Timestamp) -> Result<u64> {
        let rows = tx
            .query(
                "SELECT namespace, key, revision FROM baton_heads
                 WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1 AND oldest <= revision",
                &[&(now.millis() as i64)],
            )
            .map_err(|e| self.err(e))?;
        for row in &rows {
            let (ns, key, revision): (&str, &str, i64) = (row.get(0), row.get(1), row.get(2));
            tx.execute(
                "DELETE FROM baton_revisions WHERE namespace = $1 AND key = $2",
                &[&ns, &key],
            )
            .map_err(|e| self.err(e))?;
            tx.execute(
                "UPDATE baton_heads SET oldest = $3, search = ''::tsvector
                 WHERE namespace = $1 AND key = $2",
                &[&ns, &key, &(revision + 1)],
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(rows.len() as u64)
    }

    fn apply_op(
        &self,
        tx: &mut Tx<'_>,
        writer: &Writer,
        now: Timestamp,
        op: Op,
        retention: u64,
    ) -> Result<EntryMeta> {
        let (namespace, key) = op.target();
        let (ns, k) = (namespace.as_str().to_owned(), key.as_str().to_owned());
        let head = self.head(tx, &ns, &k)?;
        let super::op::Prepared { meta, value } =
            op.prepare(head.as_ref().map(|h| &h.meta), writer, now)?;
        let revision = meta.revision;
        let oldest = head
            .as_ref()
            .map_or(1, |h| h.oldest)
            .max((revision + 1).saturating_sub(retention));
        // The revision, the retention bound and the head (with its words) in one statement.
        let text = serde_json::to_string(&meta).expect("metadata serialises");
        let (key_words, value_words) =
            search_words(&k, (!meta.deleted).then_some(value.as_slice()));
        let expires = meta.expires_at.map(|t| t.millis() as i64);
        tx.execute(
            "WITH rev AS (
                 INSERT INTO baton_revisions (namespace, key, revision, meta, value)
                 VALUES ($1, $2, $3, $4, $5)
             ), old AS (
                 DELETE FROM baton_revisions
                 WHERE namespace = $1 AND key = $2 AND revision < $6
             )
             INSERT INTO baton_heads (namespace, key, revision, oldest, expires_at_ms, meta, search)
             VALUES ($1, $2, $3, $6, $7, $4,
                 setweight(to_tsvector('english', $8), 'A') || setweight(to_tsvector('english', $9), 'D'))
             ON CONFLICT (namespace, key) DO UPDATE SET revision = $3, oldest = $6,
                 expires_at_ms = $7, meta = $4, search = EXCLUDED.search",
            &[
                &ns,
                &k,
                &(revision as i64),
                &text,
                &value,
                &(oldest as i64),
                &expires,
                &key_words,
                &value_words,
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(meta)
    }

    /// [`Store::commit`] keeping `retention` revisions per key.
    pub fn commit_retaining(
        &self,
        writer: &Writer,
        ops: Vec<Op>,
        retention: u64,
    ) -> Result<Vec<EntryMeta>> {
        self.commit_fenced(writer, ops, retention, None)
    }

    /// [`Store::commit`], refused with [`MemoryError::LeaseLost`] unless `lease` still
    /// holds its job, checked in the commit's own transaction (the job's row stays
    /// locked until the commit ends, so the lease cannot pass to another worker
    /// between the check and the write).
    pub(crate) fn commit_fenced(
        &self,
        writer: &Writer,
        ops: Vec<Op>,
        retention: u64,
        lease: Option<&Lease>,
    ) -> Result<Vec<EntryMeta>> {
        let retention = retention.max(1);
        self.with_commit(|tx, now| {
            if let Some(lease) = lease {
                queue::check_lease(tx, lease).map_err(|e| match e {
                    queue::Fence::Lost => MemoryError::LeaseLost {
                        workflow: lease.workflow.clone(),
                        stage: lease.stage.clone(),
                    },
                    queue::Fence::Db(e) => self.err(e),
                })?;
            }
            self.reclaim_expired(tx, now)?;
            let mut metas = Vec::with_capacity(ops.len());
            for op in ops {
                metas.push(self.apply_op(tx, writer, now, op, retention)?);
            }
            Ok(metas)
        })
    }

    /// The heads in `namespace` (all if `None`), in namespace and key order.
    fn heads(
        &self,
        tx: &mut Tx<'_>,
        namespace: Option<&Namespace>,
        prefix: &str,
    ) -> Result<Vec<Head>> {
        // `starts_with` leaves a prefix's `%` and `_` literal, as sled's scan does.
        let rows = match namespace {
            Some(ns) => tx.query(
                "SELECT namespace, key, oldest, meta FROM baton_heads
                 WHERE namespace = $1 AND starts_with(key, $2) ORDER BY namespace, key",
                &[&ns.as_str(), &prefix],
            ),
            None => tx.query(
                "SELECT namespace, key, oldest, meta FROM baton_heads
                 WHERE starts_with(key, $1) ORDER BY namespace, key",
                &[&prefix],
            ),
        }
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(Head {
                    oldest: r.get::<_, i64>(2) as u64,
                    meta: self.decode_meta(r.get(0), r.get(1), r.get(3))?,
                })
            })
            .collect()
    }
}

impl Store for PostgresStore {
    fn get(&self, namespace: &Namespace, key: &Key) -> Result<Option<Entry>> {
        self.with_tx(|tx, now| {
            let (ns, k) = (namespace.as_str(), key.as_str());
            match self.head(tx, ns, k)? {
                Some(h) if h.meta.is_live(now) => self.revision(tx, ns, k, h.meta.revision),
                _ => Ok(None),
            }
        })
    }

    fn get_revision(
        &self,
        namespace: &Namespace,
        key: &Key,
        revision: u64,
    ) -> Result<Option<Entry>> {
        self.with_tx(|tx, now| {
            let (ns, k) = (namespace.as_str(), key.as_str());
            match self.head(tx, ns, k)? {
                Some(h) if !h.meta.is_expired(now) => self.revision(tx, ns, k, revision),
                _ => Ok(None),
            }
        })
    }

    fn history(&self, namespace: &Namespace, key: &Key) -> Result<Vec<EntryMeta>> {
        self.with_tx(|tx, now| {
            let (ns, k) = (namespace.as_str(), key.as_str());
            match self.head(tx, ns, k)? {
                Some(h) if !h.meta.is_expired(now) => {
                    let rows = tx
                        .query(
                            "SELECT meta FROM baton_revisions WHERE namespace = $1 AND key = $2
                             ORDER BY revision",
                            &[&ns, &k],
                        )
                        .map_err(|e| self.err(e))?;
                    rows.iter()
                        .map(|r| self.decode_meta(ns, k, r.get(0)))
                        .collect()
                }
                _ => Ok(Vec::new()),
            }
        })
    }

    fn list(&self, namespace: Option<&Namespace>, prefix: &str) -> Result<Vec<EntryMeta>> {
        self.with_tx(|tx, now| {
            Ok(self
                .heads(tx, namespace, prefix)?
                .into_iter()
                .filter(|h| h.meta.is_live(now))
                .map(|h| h.meta)
                .collect())
        })
    }

    fn commit(&self, writer: &Writer, ops: Vec<Op>) -> Result<Vec<EntryMeta>> {
        self.commit_retaining(writer, ops, self.retention)
    }

    fn export(
        &self,
        namespace: Option<&Namespace>,
        visit: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<()> {
        self.with_tx(|tx, now| {
            for head in self.heads(tx, namespace, "")? {
                if head.meta.is_expired(now) {
                    continue;
                }
                let (ns, k) = (&head.meta.namespace, &head.meta.key);
                let rows = tx
                    .query(
                        "SELECT meta, value FROM baton_revisions WHERE namespace = $1 AND key = $2
                         ORDER BY revision",
                        &[ns, k],
                    )
                    .map_err(|e| self.err(e))?;
                for r in rows {
                    let entry = Entry {
                        meta: self.decode_meta(ns, k, r.get(0))?,
                        value: r.get(1),
                    };
                    if !visit(entry) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }

    fn import(&self, entries: Vec<Entry>) -> Result<ImportReport> {
        self.with_commit(|tx, _| {
            let mut report = ImportReport::default();
            for entry in entries {
                let meta = &entry.meta;
                let (ns, k) = (
                    Namespace::new(meta.namespace.clone())?,
                    Key::new(meta.key.clone())?,
                );
                if let Some(problem) = entry.import_problem() {
                    return Err(problem);
                }
                if let Some(existing) = self.revision(tx, ns.as_str(), k.as_str(), meta.revision)? {
                    if existing.meta.sha256 == meta.sha256 {
                        report.unchanged += 1;
                        continue;
                    }
                    return Err(MemoryError::ImportConflict {
                        namespace: meta.namespace.clone(),
                        key: meta.key.clone(),
                        revision: meta.revision,
                    });
                }
                self.insert_revision(tx, meta, &entry.value)?;
                let head = match self.head(tx, ns.as_str(), k.as_str())? {
                    Some(h) if h.meta.revision >= meta.revision => (
                        Head {
                            oldest: h.oldest.min(meta.revision),
                            meta: h.meta,
                        },
                        None,
                    ),
                    previous => (
                        Head {
                            oldest: previous.map_or(meta.revision, |h| h.oldest.min(meta.revision)),
                            meta: meta.clone(),
                        },
                        Some(entry.value.as_slice()),
                    ),
                };
                self.set_head(tx, &head.0, head.1)?;
                report.imported += 1;
            }
            Ok(report)
        })
    }

    fn purge_expired(&self) -> Result<u64> {
        self.with_commit(|tx, now| self.reclaim_expired(tx, now))
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        let parsed = search::parse(&query.text)?;
        let unfilled: bool = self.with_tx(|tx, _| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM baton_heads WHERE search IS NULL)",
                &[],
            )
            .map(|r| r.get(0))
            .map_err(|e| self.err(e))
        })?;
        if unfilled {
            self.fill_search_vectors()?;
        }
        search::judge(self, query, &parsed, &mut |offset, count| {
            self.candidates(query, &parsed, offset, count)
        })
    }

    fn stats(&self) -> Result<Stats> {
        self.with_tx(|tx, now| {
            let mut stats = Stats {
                retention: self.retention,
                ..Stats::default()
            };
            for head in self.heads(tx, None, "")? {
                stats.count_head(&head.meta, head.oldest, now);
            }
            let rows = tx
                .query(
                    "SELECT namespace, sum(length(value))::bigint FROM baton_revisions GROUP BY namespace",
                    &[],
                )
                .map_err(|e| self.err(e))?;
            for r in rows {
                let ns: &str = r.get(0);
                let bytes: i64 = r.get(1);
                stats.usage_mut(ns).value_bytes += bytes as u64;
            }
            let size = tx
                .query_one(
                    "SELECT (pg_total_relation_size('baton_heads') + pg_total_relation_size('baton_revisions'))::bigint",
                    &[],
                )
                .map_err(|e| self.err(e))?;
            stats.disk_bytes = Some(size.get::<_, i64>(0) as u64);
            Ok(stats)
        })
    }
}

/// Creates or migrates baton's tables, under an advisory lock so that two processes
/// starting at once do not both migrate. A database migrated by a newer baton (a
/// schema version this one does not know) is refused, untouched: this baton would
/// misread or damage what the newer one wrote.
fn migrate(client: &mut Client, shown: &str) -> Result<()> {
    let db = |e| database(shown, e);
    let mut tx = client.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(COMMIT_LOCK + 1)])
        .map_err(db)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS baton_schema (version integer NOT NULL)")
        .map_err(db)?;
    let version: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM baton_schema",
            &[],
        )
        .map_err(db)?
        .get(0);
    if version > MIGRATIONS.len() as i64 {
        return Err(database(
            shown,
            NewerSchema {
                found: version,
                known: MIGRATIONS.len(),
            },
        ));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(migration).map_err(db)?;
        tx.execute(
            "INSERT INTO baton_schema (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )
        .map_err(db)?;
        tracing::info!(version = i + 1, "migrated baton's PostgreSQL schema");
    }
    tx.commit().map_err(db)
}

/// A database whose schema a newer baton migrated.
#[derive(Debug, thiserror::Error)]
#[error(
    "its baton schema is at version {found}, newer than this baton knows (version {known}): upgrade baton to use it"
)]
struct NewerSchema {
    found: i64,
    known: usize,
}

/// `url` without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{}{user}{hidden}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A database error at `location`, its cause given with the causes under it: the
/// `postgres` crate says only "db error" and keeps the server's reason (a failed
/// password, a missing table) as its source.
fn database(location: &str, e: impl std::error::Error + Send + Sync + 'static) -> MemoryError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        source = cause.source();
    }
    MemoryError::Database {
        location: location.to_owned(),
        cause: text.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            super::redact("postgres://baton:secret@db:5432/baton"),
            "postgres://baton:***@db:5432/baton"
        );
        assert_eq!(super::redact("postgres://db/baton"), "postgres://db/baton");
        assert_eq!(
            super::redact("postgresql:///baton?host=/tmp/s"),
            "postgresql:///baton?host=/tmp/s"
        );
    }
}
