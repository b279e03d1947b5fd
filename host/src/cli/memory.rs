//! `baton memory …`: the memory from the command line, in the spellings agents'
//! hooks already use (positional key and value, `--key/-k`, `--namespace/-n`).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::audit::Audit;
use super::gate::Gatekeeper;
use super::{CliError, Context, Exit, GlobalArgs, output};
use crate::memory::{
    Entry, EntryMeta, Key, MemoryError, Namespace, Op, Store, Writer, is_reserved,
};

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
    key_pos: Option<String>,
    /// The key (same as the positional KEY)
    #[arg(short, long = "key", value_name = "KEY")]
    key: Option<String>,
    /// The namespace [default: the pipeline's `namespace`, else `default`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
}

impl KeyArgs {
    fn resolve(&self, ctx: &Context) -> Result<(Namespace, Key), CliError> {
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
    key: KeyArgs,
    /// The value [default: `--value`, `--file`, or standard input]
    #[arg(value_name = "VALUE")]
    value_pos: Option<String>,
    /// The value (same as the positional VALUE)
    #[arg(long, value_name = "VALUE", conflicts_with = "value_pos")]
    value: Option<String>,
    /// Read the value from a file (`-` for standard input)
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["value_pos", "value"])]
    file: Option<PathBuf>,
    /// Require the value to be JSON, and print the new revision's metadata as JSON
    #[arg(long)]
    json: bool,
    /// Expire the entry after this long, such as `90s`, `12h` or `7days` (a bare number is seconds)
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    ttl: Option<Duration>,
    /// Write only if the key is at this revision (0: only if it does not exist)
    #[arg(long, value_name = "N")]
    if_revision: Option<u64>,
    /// Record this agent id as the writer instead of `cli`
    #[arg(long, env = "BATON_AGENT_ID", value_name = "ID")]
    agent: Option<String>,
    /// Store even if a quality gate fails; the reason and the report are recorded
    #[arg(long, value_name = "REASON")]
    override_gates: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct RetrieveArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Read this revision instead of the live one
    #[arg(long, value_name = "N")]
    revision: Option<u64>,
    /// Print only the part of the value at this JSON pointer, such as `/slos/0`
    #[arg(long, value_name = "POINTER")]
    pointer: Option<String>,
    /// Print the entry with its metadata as JSON
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// How to print the value: as stored, or as a document for people (`markdown`
    /// renders a performance architecture as seed 001's Performance Architecture
    /// Document)
    #[arg(long, value_enum, default_value_t = Format::Value)]
    format: Format,
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
    /// The text to find
    #[arg(value_name = "QUERY", required_unless_present = "query")]
    query_pos: Option<String>,
    /// The text to find (same as the positional QUERY)
    #[arg(short, long, conflicts_with = "query_pos")]
    query: Option<String>,
    /// Only this namespace [default: all]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Stop after this many matches
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
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
pub(super) struct KeyArgsOnly {
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
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
    let ctx = Context::resolve(global)?;
    match cmd {
        MemoryCommand::Store(args) => store(&ctx, args),
        MemoryCommand::Retrieve(args) => retrieve(&ctx, args),
        MemoryCommand::List(args) => list(&ctx, args),
        MemoryCommand::Search(args) => search(&ctx, args),
        MemoryCommand::Delete(args) => delete(&ctx, args),
        MemoryCommand::History(args) => history(&ctx, args),
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

fn parse_value(text: String, strict: bool, ns: &Namespace, key: &Key) -> Result<Value, CliError> {
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => Ok(v),
        Err(e) if strict => Err(CliError::new(
            Exit::BadInput,
            anyhow!("value for key `{key}` in namespace `{ns}` is not valid JSON: {e}"),
        )
        .hint("drop `--json` to store the text as a JSON string")),
        Err(_) => Ok(Value::String(text)),
    }
}

fn store(ctx: &Context, args: StoreArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let text = read_value_text(&args)?;
    let value = parse_value(text, args.json, &ns, &key)?;
    let writer = writer(args.agent.as_deref());
    let store = ctx.open()?;
    let audit = Audit::start("store", &writer);
    let bytes = serde_json::to_vec(&value).map_err(std::io::Error::from)?;
    let mut what = serde_json::json!({
        "namespace": ns.as_str(),
        "key": key.as_str(),
        "bytes": bytes.len(),
        "sha256": crate::memory::sha256_hex(&bytes),
    });
    let result = (|| -> Result<EntryMeta, CliError> {
        let mut keeper = Gatekeeper::new(ctx)?;
        let provenance = super::gate::gate_write(
            &mut keeper,
            &*store,
            &ns,
            &key,
            &value,
            &writer,
            args.override_gates.as_deref(),
        )?;
        if let Some(p) = &provenance {
            what["gates_passed"] = p["gate_report"]["passed"].clone();
            what["gates_overridden"] = serde_json::json!(p.get("gate_override").is_some());
        }
        let mut op = Op::put(&ns, &key, value);
        if let Some(p) = provenance {
            op = op.provenance(p);
        }
        if let Some(ttl) = args.ttl {
            op = op.ttl(ttl);
        }
        if let Some(rev) = args.if_revision {
            op = op.if_revision(rev);
        }
        Ok(store
            .commit(&writer, vec![op, audit.success(what.clone())?])?
            .remove(0))
    })();
    let meta = result.inspect_err(|e| {
        if matches!(e.exit(), Exit::GateFailed | Exit::Conflict) {
            audit.refused(&*store, what.clone(), e);
        }
    })?;
    if args.json {
        return output::json(&meta);
    }
    eprintln!(
        "stored `{}` in namespace `{}` (revision {}, {})",
        meta.key,
        meta.namespace,
        meta.revision,
        output::bytes(meta.size)
    );
    Ok(())
}

/// The error for a key with no live value, with a hint naming the namespaces that
/// do have it: a key stored elsewhere must never look simply absent.
fn not_found(store: &dyn Store, ns: &Namespace, key: &Key) -> CliError {
    let mut err = CliError::from(MemoryError::NotFound {
        namespace: ns.to_string(),
        key: key.to_string(),
    });
    let elsewhere: Vec<String> = store
        .namespaces()
        .unwrap_or_default()
        .into_keys()
        .filter(|other| other != ns.as_str())
        .filter(|other| {
            Namespace::new(other.clone()).is_ok_and(|o| store.get(&o, key).ok().flatten().is_some())
        })
        .collect();
    for other in elsewhere {
        err = err.hint(format!(
            "key `{key}` exists in namespace `{other}`: pass `--namespace {other}`"
        ));
    }
    err
}

fn retrieve(ctx: &Context, args: RetrieveArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let store = ctx.open()?;
    let entry = match args.revision {
        None => store
            .get(&ns, &key)?
            .ok_or_else(|| not_found(&*store, &ns, &key))?,
        Some(rev) => store.get_revision(&ns, &key, rev)?.ok_or_else(|| {
            CliError::new(
                Exit::NotFound,
                anyhow!("revision {rev} of key `{key}` in namespace `{ns}` is not retained"),
            )
            .hint(format!(
                "`baton memory history {key} --namespace {ns}` lists the revisions kept"
            ))
        })?,
    };
    if args.json {
        let mut doc = serde_json::to_value(&entry.meta).map_err(std::io::Error::from)?;
        doc["value"] = select(&entry, args.pointer.as_deref())?;
        return output::json(&doc);
    }
    let mut out = std::io::stdout().lock();
    if args.format == Format::Markdown {
        let doc = select(&entry, args.pointer.as_deref())?;
        out.write_all(markdown(&doc, &ns, &key)?.as_bytes())?;
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

/// Renders a document baton knows the shape of as markdown.
fn markdown(doc: &Value, ns: &Namespace, key: &Key) -> Result<String, CliError> {
    use baton_performance::PerformanceArchitecture;
    if doc.get("agent").and_then(Value::as_str) != Some("performance-architect") {
        return Err(CliError::new(
            Exit::BadInput,
            anyhow!(
                "key `{key}` in namespace `{ns}` is not a document baton can render as markdown"
            ),
        )
        .hint("markdown renders a performance architecture (`agent: performance-architect`)"));
    }
    let arch: PerformanceArchitecture = serde_json::from_value(doc.clone()).map_err(|e| {
        CliError::new(
            Exit::BadInput,
            anyhow!("key `{key}` in namespace `{ns}` is not a whole performance architecture: {e}"),
        )
    })?;
    Ok(baton_performance::render::markdown(&arch))
}

fn select(entry: &Entry, pointer: Option<&str>) -> Result<Value, CliError> {
    let value = entry.json();
    let Some(pointer) = pointer else {
        return Ok(value);
    };
    value.pointer(pointer).cloned().ok_or_else(|| {
        CliError::new(
            Exit::NotFound,
            anyhow!(
                "JSON pointer {pointer:?} selects nothing in key `{}` in namespace `{}`",
                entry.meta.key,
                entry.meta.namespace
            ),
        )
        .hint("a pointer starts with `/` and names object keys or array indexes, such as `/slos/0/target`")
    })
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

fn list(ctx: &Context, args: ListArgs) -> Result<(), CliError> {
    let ns = args.namespace.map(Namespace::new).transpose()?;
    let mut metas = ctx.open()?.list(ns.as_ref(), &args.prefix)?;
    if ns.is_none() {
        metas.retain(|m| !is_reserved(&m.namespace));
    }
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

fn search(ctx: &Context, args: SearchArgs) -> Result<(), CliError> {
    let query = args.query_pos.or(args.query).unwrap_or_default();
    let ns = args.namespace.map(Namespace::new).transpose()?;
    let mut found = ctx.open()?.search(ns.as_ref(), &query, usize::MAX)?;
    if ns.is_none() {
        found.retain(|e| !is_reserved(&e.meta.namespace));
    }
    found.truncate(args.limit);
    if args.json {
        let docs: Vec<Value> = found
            .iter()
            .map(|e| {
                let mut doc = serde_json::to_value(&e.meta).unwrap_or_default();
                doc["value"] = e.json();
                doc
            })
            .collect();
        return output::json(&docs);
    }
    if found.is_empty() {
        eprintln!("no entries contain {query:?}");
        return Ok(());
    }
    output::table(
        &META_HEADER,
        &found.iter().map(|e| meta_row(&e.meta)).collect::<Vec<_>>(),
    )
}

fn delete(ctx: &Context, args: DeleteArgs) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let mut op = Op::delete(&ns, &key);
    if let Some(rev) = args.if_revision {
        op = op.if_revision(rev);
    }
    let store = ctx.open()?;
    let writer = writer(args.agent.as_deref());
    let audit = Audit::start("delete", &writer);
    let what = serde_json::json!({ "namespace": ns.as_str(), "key": key.as_str() });
    let meta = match store.commit(&writer, vec![op, audit.success(what.clone())?]) {
        Err(MemoryError::NotFound { .. }) => return Err(not_found(&*store, &ns, &key)),
        Err(e) => {
            let e = CliError::from(e);
            if e.exit() == Exit::Conflict {
                audit.refused(&*store, what, &e);
            }
            return Err(e);
        }
        Ok(mut metas) => metas.remove(0),
    };
    if args.json {
        return output::json(&meta);
    }
    eprintln!(
        "deleted `{key}` in namespace `{ns}` (tombstone revision {})",
        meta.revision
    );
    Ok(())
}

fn history(ctx: &Context, args: KeyArgsOnly) -> Result<(), CliError> {
    let (ns, key) = args.key.resolve(ctx)?;
    let store = ctx.open()?;
    let metas = store.history(&ns, &key)?;
    if metas.is_empty() {
        return Err(not_found(&*store, &ns, &key));
    }
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

fn namespaces(ctx: &Context, args: NamespacesArgs) -> Result<(), CliError> {
    let mut counts = ctx.open()?.namespaces()?;
    if !args.all {
        counts.retain(|ns, _| !is_reserved(ns));
    }
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

fn stats(ctx: &Context, args: JsonFlag) -> Result<(), CliError> {
    let store = ctx.open()?;
    let stats = store.stats()?;
    if args.json {
        return output::json(&serde_json::json!({ "store": ctx.store_path, "stats": stats }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "store       {}", ctx.store_path.display())?;
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
