//! `baton memory …`: the memory from the command line, in the spellings agents'
//! hooks already use (positional key and value, `--key/-k`, `--namespace/-n`).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::{CliError, Exit, GlobalArgs, output};
use crate::memory::{EntryMeta, Key, Namespace, SearchQuery, Timestamp, Writer, search};
use crate::service::{Service, Stored, Write as StoreWrite, select, value_from_text};

#[derive(Debug, Subcommand)]
pub(super) enum MemoryCommand {
    /// Store a value at a key (a new revision)
    ///
    /// The value comes from VALUE, `--value`, `--file` or standard input. A value that is
    /// not JSON is stored as a JSON string, unless `--json` is given.
    Store(StoreArgs),
    /// Print the value at a key: strings as they are, anything else as JSON
    #[command(alias = "get")]
    Retrieve(RetrieveArgs),
    /// List live keys, in one namespace or all
    #[command(alias = "ls")]
    List(ListArgs),
    /// Find live entries whose key or value contains a text, ignoring case
    Search(SearchArgs),
    /// Delete a key (writes a tombstone revision; history is kept)
    #[command(alias = "rm")]
    Delete(DeleteArgs),
    /// Show the retained revisions of a key
    History(KeyArgsOnly),
    /// Write an earlier revision's value again as a new revision, through the key's gates
    ///
    /// The revision must still be retained (`baton memory history` lists them). The
    /// rollback is a write like any other: gated, audited, and compare-and-swap checked
    /// with `--if-revision`.
    Rollback(RollbackArgs),
    /// List namespaces with their key counts
    Namespaces(NamespacesArgs),
    /// Write every retained revision as JSON Lines, with its metadata
    Export(super::transfer::ExportArgs),
    /// Restore revisions from a JSON Lines export, all or nothing
    Import(super::transfer::ImportArgs),
    /// Counts of namespaces, keys, revisions and bytes
    Stats(JsonFlag),
    /// Start, stop or inspect the server that keeps the store open between commands
    ///
    /// A command that finds no server opens the store itself (about 7 ms) and then starts
    /// one in the background, which stops after 5 minutes without connections
    /// (`BATON_SERVER_IDLE`); the commands after it take about 2 ms. `--server never` or
    /// `BATON_SERVER=never` keeps commands from starting one.
    #[command(subcommand)]
    Server(super::server::ServerCommand),
}

/// The key, given positionally or with `--key`, and its namespace.
#[derive(Debug, Args)]
pub(super) struct KeyArgs {
    /// The key, such as `coding/architecture/performance`
    #[arg(value_name = "KEY")]
    pub(super) key_pos: Option<String>,
    /// The key (same as the positional KEY)
    #[arg(short, long = "key", value_name = "KEY")]
    pub(super) key: Option<String>,
    /// The namespace [default: the pipeline's `namespace`, else `default`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    pub(super) namespace: Option<String>,
}

impl KeyArgs {
    fn resolve(&self, ctx: &Service) -> Result<(Namespace, Key), CliError> {
        let key = match (&self.key_pos, &self.key) {
            (Some(a), Some(b)) if a != b => {
                return Err(CliError::new(
                    Exit::BadInput,
                    anyhow!("two different keys given: {a:?} and `--key` {b:?}"),
                ));
            }
            (Some(k), _) | (None, Some(k)) => k.clone(),
            (None, None) => {
                return Err(CliError::new(Exit::BadInput, anyhow!("no key given"))
                    .hint("pass the key as the first argument or with `--key`"));
            }
        };
        Ok((ctx.namespace(self.namespace.as_deref())?, Key::new(key)?))
    }
}

#[derive(Debug, Args)]
pub(super) struct NamespacesArgs {
    /// Include baton's own namespaces (`baton.events`, `baton.quarantine`)
    #[arg(long)]
    all: bool,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct JsonFlag {
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct StoreArgs {
    #[command(flatten)]
    pub(super) key: KeyArgs,
    /// The value [default: `--value`, `--file`, or standard input]
    #[arg(value_name = "VALUE")]
    pub(super) value_pos: Option<String>,
    /// The value (same as the positional VALUE)
    #[arg(long, value_name = "VALUE", conflicts_with = "value_pos")]
    pub(super) value: Option<String>,
    /// Read the value from a file (`-` for standard input)
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["value_pos", "value"])]
    pub(super) file: Option<PathBuf>,
    /// Require the value to be JSON, and print the new revision's metadata as JSON
    #[arg(long)]
    pub(super) json: bool,
    /// Expire the entry after this long, such as `90s`, `12h` or `7days` (a bare number is seconds)
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(super) ttl: Option<Duration>,
    /// Write only if the key is at this revision (0: only if it does not exist)
    #[arg(long, value_name = "N")]
    pub(super) if_revision: Option<u64>,
    /// Record this agent id as the writer instead of `cli`
    #[arg(long, env = "BATON_AGENT_ID", value_name = "ID")]
    pub(super) agent: Option<String>,
    /// Store even if a quality gate fails; the reason and the report are recorded
    #[arg(long, value_name = "REASON")]
    pub(super) override_gates: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct RetrieveArgs {
    #[command(flatten)]
    pub(super) key: KeyArgs,
    /// Read this revision instead of the live one
    #[arg(long, value_name = "N")]
    pub(super) revision: Option<u64>,
    /// Print only the part of the value at this JSON pointer, such as `/slos/0`
    #[arg(long, value_name = "POINTER")]
    pub(super) pointer: Option<String>,
    /// Print the entry with its metadata as JSON
    #[arg(long, conflicts_with = "format")]
    pub(super) json: bool,
    /// How to print the value: as stored, or as a document for people (`markdown`,
    /// rendered by the renderer of the stage that writes the key; the performance
    /// architect's is its Performance Architecture Document)
    #[arg(long, value_enum, default_value_t = Format::Value)]
    pub(super) format: Format,
}

/// How `retrieve` prints a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    /// The value as stored (a string without its quotes).
    Value,
    /// A document for people.
    Markdown,
}

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    /// Only this namespace [default: all but baton's own `baton.*`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Only keys starting with this
    #[arg(short, long, default_value = "")]
    prefix: String,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct SearchArgs {
    /// Words to find, and "quoted phrases": matched as words (any case or accent,
    /// English word forms), ranked best first
    #[arg(value_name = "QUERY", required_unless_present = "query")]
    query_pos: Option<String>,
    /// The words to find (same as the positional QUERY)
    #[arg(short, long, conflicts_with = "query_pos")]
    query: Option<String>,
    /// Only this namespace [default: all but baton's own `baton.*`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Only keys starting with this
    #[arg(short, long, default_value = "")]
    prefix: String,
    /// Only documents stored with this tag (repeat: with every one)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only documents this stage wrote
    #[arg(long, value_name = "STAGE")]
    stage: Option<String>,
    /// Only documents written at or after this: a time (2026-12-03T10:00:00Z, 2026-12-03)
    /// or how long ago (2h, 3days)
    #[arg(long, value_name = "WHEN")]
    after: Option<String>,
    /// Only documents written before this (as --after)
    #[arg(long, value_name = "WHEN")]
    before: Option<String>,
    /// Only matches at least this similar, 0 to 1 (about the share of the query's words
    /// and phrases a document holds)
    #[arg(long, default_value_t = 0.0, value_parser = similarity)]
    threshold: f64,
    /// Stop after this many matches (at most 1000)
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON for scripts: each match with its similarity, the words it matched,
    /// its snippet and its value
    #[arg(long)]
    json: bool,
}

/// A similarity, 0 to 1.
fn similarity(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{text:?} is not a number from 0 to 1")),
    }
}

#[derive(Debug, Args)]
pub(super) struct DeleteArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Delete only if the key is at this revision
    #[arg(long, value_name = "N")]
    if_revision: Option<u64>,
    /// Record this agent id as the writer instead of `cli`
    #[arg(long, env = "BATON_AGENT_ID", value_name = "ID")]
    agent: Option<String>,
    /// Print the tombstone's metadata as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct RollbackArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The revision whose value to write again
    #[arg(long, value_name = "N")]
    to: u64,
    /// Roll back only if the key is at this revision
    #[arg(long, value_name = "N")]
    if_revision: Option<u64>,
    /// Record this agent id as the writer instead of `cli`
    #[arg(long, env = "BATON_AGENT_ID", value_name = "ID")]
    agent: Option<String>,
    /// Store even if a quality gate fails; the reason and the report are recorded
    #[arg(long, value_name = "REASON")]
    override_gates: Option<String>,
    /// Print the new revision's metadata as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct KeyArgsOnly {
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

pub(super) fn parse_ttl(text: &str) -> Result<Duration, String> {
    let d = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{e} (try `90s`, `12h` or `7days`)"))?,
    };
    if d.is_zero() {
        return Err("a TTL must be longer than zero".into());
    }
    Ok(d)
}

pub(super) fn run(global: &GlobalArgs, cmd: MemoryCommand) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    match cmd {
        MemoryCommand::Store(args) => store(&ctx, args),
        MemoryCommand::Retrieve(args) => retrieve(&ctx, args),
        MemoryCommand::List(args) => list(&ctx, args),
        MemoryCommand::Search(args) => search(&ctx, args),
        MemoryCommand::Delete(args) => delete(&ctx, args),
        MemoryCommand::History(args) => history(&ctx, args),
        MemoryCommand::Rollback(args) => rollback(&ctx, args),
        MemoryCommand::Namespaces(args) => namespaces(&ctx, args),
        MemoryCommand::Export(args) => super::transfer::export(&ctx, args),
        MemoryCommand::Import(args) => super::transfer::import(&ctx, args),
        MemoryCommand::Stats(args) => stats(&ctx, args),
        MemoryCommand::Server(cmd) => super::server::run(&ctx, cmd),
    }
}

fn writer(agent: Option<&str>) -> Writer {
    agent.map_or_else(Writer::cli, Writer::agent)
}

fn read_value_text(args: &StoreArgs) -> Result<String, CliError> {
    if let Some(v) = args.value_pos.as_ref().or(args.value.as_ref()) {
        return Ok(v.clone());
    }
    let from_stdin = || -> Result<String, CliError> {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| {
                CliError::new(
                    Exit::BadInput,
                    anyhow!("cannot read the value from standard input: {e}"),
                )
            })?;
        Ok(text)
    };
    match &args.file {
        Some(path) if path.as_os_str() == "-" => from_stdin(),
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                Exit::BadInput,
                anyhow!("cannot read the value from {path:?}: {e}"),
            )
        }),
        None if std::io::stdin().is_terminal() => Err(CliError::new(
            Exit::BadInput,
            anyhow!("no value given"),
        )
        .hint("pass the value as the second argument, with `--value` or `--file`, or pipe it in")),
        None => from_stdin(),
    }
}

fn store(ctx: &Service, args: StoreArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let text = read_value_text(&args)?;
    let value = value_from_text(text, args.json, &ns, &key)?;
    let stored = ctx.store_value(StoreWrite {
        ttl: args.ttl,
        if_revision: args.if_revision,
        override_gates: args.override_gates,
        ..StoreWrite::new(ns, key, value, writer(args.agent.as_deref()))
    })?;
    print_stored(&stored, args.json, "stored")
}

/// Reports a gated write: the gate report when it has something to say, then the
/// new revision.
fn print_stored(stored: &Stored, json: bool, verb: &str) -> Result<(), CliError> {
    if let Some(report) = stored
        .report
        .as_ref()
        .filter(|r| !r.passed || r.warnings > 0)
    {
        eprintln!("{report}");
    }
    if stored.overridden {
        eprintln!("warning: storing despite failed gates, as `--override-gates` asks");
    }
    if let Some(held) = &stored.held {
        if json {
            return output::json(held);
        }
        let stage = &held.held_for_approval;
        eprintln!(
            "held `{}` in namespace `{}` for a person's approval (stage `{stage}`): `baton approve {stage}` stores it, `baton reject {stage} --reason TEXT` sends it back",
            held.key, held.namespace
        );
        return Ok(());
    }
    let meta = &stored.meta;
    if json {
        return output::json(meta);
    }
    // One write: stderr is unbuffered, and a hook's store ends with this line.
    let line = format!(
        "{verb} `{}` in namespace `{}` (revision {}, {})\n",
        meta.key,
        meta.namespace,
        meta.revision,
        output::bytes(meta.size)
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    Ok(())
}

fn rollback(ctx: &Service, args: RollbackArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let stored = ctx.rollback(
        &ns,
        &key,
        args.to,
        &writer(args.agent.as_deref()),
        args.if_revision,
        args.override_gates,
    )?;
    print_stored(
        &stored,
        args.json,
        &format!("rolled back to revision {}:", args.to),
    )
}

fn retrieve(ctx: &Service, args: RetrieveArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let entry = ctx.retrieve(&ns, &key, args.revision)?;
    if args.json {
        let mut doc = serde_json::to_value(&entry.meta).map_err(std::io::Error::from)?;
        doc["value"] = select(&entry, args.pointer.as_deref())?;
        return output::json(&doc);
    }
    let mut out = std::io::stdout().lock();
    if args.format == Format::Markdown {
        let doc = select(&entry, args.pointer.as_deref())?;
        out.write_all(ctx.render(&doc, &ns, &key, "markdown")?.as_bytes())?;
        return Ok(out.flush()?);
    }
    match &args.pointer {
        None if entry.value.first() != Some(&b'"') => {
            out.write_all(&entry.value)?;
            out.write_all(b"\n")?;
        }
        _ => match select(&entry, args.pointer.as_deref())? {
            Value::String(s) => {
                out.write_all(s.as_bytes())?;
                if !s.ends_with('\n') {
                    out.write_all(b"\n")?;
                }
            }
            other => writeln!(out, "{other}")?,
        },
    }
    out.flush()?;
    Ok(())
}

fn meta_row(meta: &EntryMeta) -> Vec<String> {
    vec![
        meta.namespace.clone(),
        meta.key.clone(),
        meta.revision.to_string(),
        output::bytes(meta.size),
        meta.written_at.to_string(),
        meta.writer.to_string(),
    ]
}

const META_HEADER: [&str; 6] = ["NAMESPACE", "KEY", "REV", "SIZE", "WRITTEN", "WRITER"];

fn list(ctx: &Service, args: ListArgs) -> Result<(), CliError> {
    let ns = args.namespace.map(Namespace::new).transpose()?;
    let metas = ctx.list(ns.as_ref(), &args.prefix)?;
    if args.json {
        return output::json(&metas);
    }
    if metas.is_empty() {
        eprintln!("no keys");
        return Ok(());
    }
    output::table(
        &META_HEADER,
        &metas.iter().map(meta_row).collect::<Vec<_>>(),
    )
}

fn search(ctx: &Service, args: SearchArgs) -> Result<(), CliError> {
    let text = args.query_pos.or(args.query).unwrap_or_default();
    let now = Timestamp::now();
    let when = |flag: &str, text: Option<String>| {
        text.map(|t| search::parse_when(&t, now))
            .transpose()
            .map_err(|e| CliError::new(Exit::BadInput, anyhow!("--{flag}: {e}")))
    };
    let query = SearchQuery {
        namespace: args.namespace,
        key_prefix: args.prefix,
        tags: args.tags,
        stage: args.stage,
        after: when("after", args.after)?,
        before: when("before", args.before)?,
        limit: args.limit,
        threshold: args.threshold,
        ..SearchQuery::new(text)
    };
    let hits = ctx.search(&query)?;
    if args.json {
        return output::json(&hits.iter().map(search::Hit::view).collect::<Vec<_>>());
    }
    if hits.is_empty() {
        eprintln!("nothing matches {:?}", query.text);
        return Ok(());
    }
    output::table(
        &["SIMILARITY", "NAMESPACE", "KEY", "REV", "MATCH"],
        &hits
            .iter()
            .map(|h| {
                vec![
                    format!("{:.2}", h.similarity),
                    h.entry.meta.namespace.clone(),
                    h.entry.meta.key.clone(),
                    h.entry.meta.revision.to_string(),
                    h.snippet.clone(),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn delete(ctx: &Service, args: DeleteArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let meta = ctx.delete(&ns, &key, args.if_revision, &writer(args.agent.as_deref()))?;
    if args.json {
        return output::json(&meta);
    }
    eprintln!(
        "deleted `{key}` in namespace `{ns}` (tombstone revision {})",
        meta.revision
    );
    Ok(())
}

fn history(ctx: &Service, args: KeyArgsOnly) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let metas = ctx.history(&ns, &key)?;
    if args.json {
        return output::json(&metas);
    }
    let rows: Vec<Vec<String>> = metas
        .iter()
        .map(|m| {
            vec![
                m.revision.to_string(),
                m.written_at.to_string(),
                m.writer.to_string(),
                if m.deleted {
                    "deleted".into()
                } else {
                    output::bytes(m.size)
                },
                m.sha256[..12].to_string(),
            ]
        })
        .collect();
    output::table(&["REV", "WRITTEN", "WRITER", "SIZE", "SHA256"], &rows)
}

fn namespaces(ctx: &Service, args: NamespacesArgs) -> Result<(), CliError> {
    let counts = ctx.namespaces(args.all)?;
    if args.json {
        return output::json(&counts);
    }
    if counts.is_empty() {
        eprintln!("no namespaces");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(ns, n)| vec![ns.clone(), n.to_string()])
        .collect();
    output::table(&["NAMESPACE", "KEYS"], &rows)
}

/// `memory stats --json`.
#[derive(serde::Serialize)]
struct StoreStats<'a, T> {
    store: &'a str,
    stats: &'a T,
}

fn stats(ctx: &Service, args: JsonFlag) -> Result<(), CliError> {
    let stats = ctx.stats()?;
    let location = ctx.location().to_string();
    if args.json {
        return output::json(&StoreStats {
            store: &location,
            stats: &stats,
        });
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "store       {location}")?;
    writeln!(out, "namespaces  {}", stats.users.namespaces.len())?;
    writeln!(out, "keys        {}", stats.users.keys)?;
    writeln!(
        out,
        "revisions   {} (retention {} per key)",
        stats.users.revisions, stats.retention
    )?;
    writeln!(
        out,
        "values      {}",
        output::bytes(stats.users.value_bytes)
    )?;
    if let Some(disk) = stats.disk_bytes {
        writeln!(out, "on disk     {}", output::bytes(disk))?;
    }
    Ok(())
}
