//! The hook path's command line: `baton memory store` and `baton memory retrieve`
//! (agents' hooks run them on every tool call) parsed without clap.
//!
//! A served retrieve takes about 2.5 ms, most of it the process's start and exit, and
//! clap's share was about a tenth: it builds every command's arguments before it
//! parses any, touching a third of a MiB of heap and its own code page by page. This
//! parser reads the same arguments into the same structs ([`Cli`]), with the same
//! environment variables and the same checks of their values; anything it does not
//! take as clap would (help, a typo, a repeated flag, a bad value, another command)
//! it refuses, and [`Cli`]'s clap parser reads the line instead and says what was
//! wrong. Tests hold the two parsers to one result, line by line and under the
//! environment variables.

use std::ffi::OsString;
use std::path::PathBuf;

use super::memory::{Format, KeyArgs, MemoryCommand, RetrieveArgs, StoreArgs, parse_ttl};
use super::{Cli, Command, LeadingStoreOptions, StoreOptions, TopArgs};
use crate::server::Policy;

/// The environment a parse reads (`BATON_STORE`, `BATON_NAMESPACE`, …).
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// `args` (the program's name first) as [`Cli`] would parse them, if they are a
/// `memory store` or `memory retrieve` this parser takes; `None` for anything else.
pub(super) fn parse(args: &[OsString], env: Env<'_>) -> Option<Cli> {
    let args: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .collect::<Option<_>>()?;
    let mut line = Line::default();
    let mut words = args.into_iter();
    let mut level = Level::Top;
    let mut positionals: Vec<&str> = Vec::new();
    let mut rest_positional = false;
    while let Some(word) = words.next() {
        if rest_positional || word == "-" || !word.starts_with('-') {
            match level {
                Level::Top => {
                    (word == "memory" || word == "mem").then_some(())?;
                    level = Level::Memory;
                }
                Level::Memory => {
                    line.command = Some(match word {
                        "store" => Which::Store,
                        "retrieve" | "get" => Which::Retrieve,
                        _ => return None,
                    });
                    level = Level::Command;
                }
                Level::Command => positionals.push(word),
            }
            continue;
        }
        if word == "--" {
            (level == Level::Command).then_some(())?;
            rest_positional = true;
            continue;
        }
        if let Some(count) = verbosity(word) {
            // clap keeps the count of one level only when it is given on several:
            // left to clap.
            (*line.verbose_at.get_or_insert(level) == level).then_some(())?;
            line.verbose = line.verbose.checked_add(count)?;
            continue;
        }
        let (flag, inline) = split_flag(word)?;
        let switch = matches!(flag, "json");
        let value = match (switch, inline) {
            (true, None) => None,
            (true, Some(_)) => return None,
            (false, Some(v)) => Some(v),
            (false, None) => Some(words.next().filter(|v| *v == "-" || !v.starts_with('-'))?),
        };
        if value.is_some_and(str::is_empty) {
            return None;
        }
        line.set(level, flag, value)?;
    }
    (level == Level::Command).then_some(())?;
    line.into_cli(&positionals, env)
}

/// Where in the line a word is: before `memory`, between it and the command, after.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Memory,
    Command,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Store,
    Retrieve,
}

/// The flags of a line, as given (values still text).
#[derive(Default)]
struct Line<'a> {
    command: Option<Which>,
    verbose: u8,
    verbose_at: Option<Level>,
    store: Option<&'a str>,
    /// Store options before `memory` (clap's hidden leading ones), then after it.
    leading: Options<'a>,
    options: Options<'a>,
    key: Option<&'a str>,
    namespace: Option<&'a str>,
    json: bool,
    // store
    value: Option<&'a str>,
    file: Option<&'a str>,
    ttl: Option<&'a str>,
    if_revision: Option<&'a str>,
    agent: Option<&'a str>,
    override_gates: Option<&'a str>,
    // retrieve
    revision: Option<&'a str>,
    pointer: Option<&'a str>,
    format: Option<&'a str>,
}

#[derive(Default)]
struct Options<'a> {
    lock_timeout: Option<&'a str>,
    retention: Option<&'a str>,
    server: Option<&'a str>,
}

/// Sets `slot` to `value` unless already set (clap refuses a repeated flag).
fn once<'a>(slot: &mut Option<&'a str>, value: Option<&'a str>) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value?);
            Some(())
        }
    }
}

impl<'a> Line<'a> {
    /// Records `--flag value` (`value` is `None` for a switch) given at `level`.
    fn set(&mut self, level: Level, flag: &str, value: Option<&'a str>) -> Option<()> {
        let options = match level {
            Level::Top => &mut self.leading,
            _ => &mut self.options,
        };
        match flag {
            "store" => return once(&mut self.store, value),
            "lock-timeout" => return once(&mut options.lock_timeout, value),
            "retention" => return once(&mut options.retention, value),
            "server" => return once(&mut options.server, value),
            _ => {}
        }
        (level == Level::Command).then_some(())?;
        let store = self.command == Some(Which::Store);
        match flag {
            "k" | "key" => once(&mut self.key, value),
            "n" | "namespace" => once(&mut self.namespace, value),
            "json" if !self.json => {
                self.json = true;
                Some(())
            }
            "value" if store => once(&mut self.value, value),
            "f" | "file" if store => once(&mut self.file, value),
            "ttl" if store => once(&mut self.ttl, value),
            "if-revision" if store => once(&mut self.if_revision, value),
            "agent" if store => once(&mut self.agent, value),
            "override-gates" if store => once(&mut self.override_gates, value),
            "revision" if !store => once(&mut self.revision, value),
            "pointer" if !store => once(&mut self.pointer, value),
            "format" if !store => once(&mut self.format, value),
            _ => None,
        }
    }

    fn into_cli(self, positionals: &[&'a str], env: Env<'_>) -> Option<Cli> {
        let text = |given: Option<&str>, var: &str| -> Option<Option<String>> {
            match given {
                Some(v) => Some(Some(v.to_owned())),
                None => env_text(env, var),
            }
        };
        let top = TopArgs {
            store: match self.store {
                Some(s) => Some(PathBuf::from(s)),
                None => env_value(env, "BATON_STORE")?.map(PathBuf::from),
            },
            verbose: self.verbose,
            leading: {
                let o = resolve_options(&self.leading, env)?;
                LeadingStoreOptions {
                    lock_timeout: o.lock_timeout,
                    retention: o.retention,
                    server: o.server,
                }
            },
        };
        let options = resolve_options(&self.options, env)?;
        let mut positionals = positionals.iter().map(|p| p.to_string());
        let key = KeyArgs {
            key_pos: positionals.next(),
            key: self.key.map(str::to_owned),
            namespace: text(self.namespace, "BATON_NAMESPACE")?,
        };
        let command = match self.command? {
            Which::Store => {
                let value_pos = positionals.next();
                // clap: `--value` conflicts with VALUE, `--file` with both.
                (value_pos.is_none() || self.value.is_none()).then_some(())?;
                (self.file.is_none() || (value_pos.is_none() && self.value.is_none()))
                    .then_some(())?;
                MemoryCommand::Store(StoreArgs {
                    key,
                    value_pos,
                    value: self.value.map(str::to_owned),
                    file: self.file.map(PathBuf::from),
                    json: self.json,
                    ttl: parsed(self.ttl, |t| parse_ttl(t).ok())?,
                    if_revision: parsed(self.if_revision, |n| n.parse().ok())?,
                    agent: text(self.agent, "BATON_AGENT_ID")?,
                    override_gates: self.override_gates.map(str::to_owned),
                })
            }
            Which::Retrieve => {
                // clap: `--json` conflicts with `--format`.
                (!self.json || self.format.is_none()).then_some(())?;
                MemoryCommand::Retrieve(RetrieveArgs {
                    key,
                    revision: parsed(self.revision, |n| n.parse().ok())?,
                    pointer: self.pointer.map(str::to_owned),
                    json: self.json,
                    format: match self.format {
                        None | Some("value") => Format::Value,
                        Some("markdown") => Format::Markdown,
                        Some(_) => return None,
                    },
                })
            }
        };
        positionals.next().is_none().then_some(())?;
        Some(Cli {
            top,
            command: Command::Memory { options, command },
        })
    }
}

/// `--flag[=value]` or `-f[value]` as the flag's name and the value given with it.
fn split_flag(word: &str) -> Option<(&str, Option<&str>)> {
    if let Some(long) = word.strip_prefix("--") {
        return Some(match long.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (long, None),
        });
    }
    let short = word.strip_prefix('-')?;
    let flag = short.get(..1)?;
    match &short[1..] {
        "" => Some((flag, None)),
        rest if matches!(flag, "k" | "n" | "f") => {
            Some((flag, Some(rest.strip_prefix('=').unwrap_or(rest))))
        }
        _ => None,
    }
}

/// `--verbose`, `-v`, `-vv`, …: how many.
fn verbosity(word: &str) -> Option<u8> {
    if word == "--verbose" {
        return Some(1);
    }
    let vs = word.strip_prefix('-')?;
    let all_v = !vs.is_empty() && vs.bytes().all(|b| b == b'v');
    all_v.then(|| vs.len().try_into().ok())?
}

/// The store options given (else from the environment), checked as clap checks them.
fn resolve_options(given: &Options<'_>, env: Env<'_>) -> Option<StoreOptions> {
    let pick = |v: Option<&str>, var: &str| -> Option<Option<String>> {
        match v {
            Some(v) => Some(Some(v.to_owned())),
            None => env_text(env, var),
        }
    };
    let lock_timeout = pick(given.lock_timeout, "BATON_LOCK_TIMEOUT")?;
    let retention = pick(given.retention, "BATON_RETENTION")?;
    let server = pick(given.server, "BATON_SERVER")?;
    Some(StoreOptions {
        lock_timeout: parsed(lock_timeout.as_deref(), |t| {
            humantime::parse_duration(t).ok()
        })?,
        retention: parsed(retention.as_deref(), |n| {
            n.parse::<u64>().ok().filter(|n| *n >= 1)
        })?,
        server: parsed(server.as_deref(), |s| match s {
            "auto" => Some(Policy::Auto),
            "never" => Some(Policy::Never),
            _ => None,
        })?,
    })
}

/// `text` parsed by `parse`: `Some(None)` when not given, `None` (not taken here) when
/// `parse` refuses it, as clap's value parser would.
fn parsed<T>(text: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
    match text {
        Some(t) => Some(Some(parse(t)?)),
        None => Some(None),
    }
}

/// An environment variable's value: `Some(None)` when unset; `None` (not taken here)
/// when set but empty, which this parser leaves to clap's rules.
fn env_value(env: Env<'_>, var: &str) -> Option<Option<OsString>> {
    match env(var) {
        Some(v) if v.is_empty() => None,
        v => Some(v),
    }
}

/// [`env_value`] as text; `None` (not taken here) when it is not UTF-8.
fn env_text(env: Env<'_>, var: &str) -> Option<Option<String>> {
    match env_value(env, var)? {
        Some(v) => Some(Some(v.into_string().ok()?)),
        None => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        std::iter::once("baton")
            .chain(line.iter().copied())
            .map(Into::into)
            .collect()
    }

    /// A line of the corpus, its words split at spaces.
    fn words(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    fn env(var: &str) -> Option<OsString> {
        std::env::var_os(var)
    }

    /// What this parser makes of `line`, if it takes it; and what clap makes of it
    /// (the parsed command, or the error's kind). Either way, if this parser takes a
    /// line, clap must parse it to the very same command.
    fn both(line: &[&str]) -> (Option<String>, Result<String, clap::error::ErrorKind>) {
        let ours = parse(&args(line), &env).map(|cli| format!("{cli:?}"));
        let clap = Cli::try_parse_from(args(line))
            .map(|cli| format!("{cli:?}"))
            .map_err(|e| e.kind());
        if let Some(ours) = &ours {
            assert_eq!(Ok(ours), clap.as_ref(), "{line:?}");
        }
        (ours, clap)
    }

    const TAKEN: &[&str] = &[
        "memory retrieve -k coding/architecture/system",
        "memory retrieve coding/a --json",
        "mem get --key=coding/a -n ns --pointer /a/0",
        "memory retrieve -kcoding/a --namespace=ns --revision 3",
        "memory retrieve -k=coding/a -nns",
        "memory retrieve coding/a --format markdown",
        "memory retrieve coding/a --format=value",
        "--store /tmp/s memory retrieve coding/a",
        "memory retrieve coding/a --store=/tmp/s -vv",
        "memory retrieve coding/a -v --verbose",
        "--retention 3 memory store k v",
        "--lock-timeout 1s --server never memory store k v",
        "memory --server never store k v --retention 4",
        "memory store k {\"a\":1} --json --ttl 90s",
        "memory store k v --ttl 3600",
        "memory store --key k --value v --if-revision 0",
        "memory store k --file - --agent a1",
        "memory store k -f doc.json",
        "memory store k v --override-gates reason",
        "memory store k --lock-timeout 500ms -- -v",
        "memory store k --key k v",
        "memory store --value=-x k",
        "memory store k -",
        "memory store",
    ];

    const REFUSED: &[&str] = &[
        "memory store --help",
        "memory retrieve -h",
        "memory retrieve --version",
        "--version memory retrieve k",
        "memory list",
        "memory search store",
        "memory store k v --value w",
        "memory store k v --file f",
        "memory store k v --bogus",
        "memory store k v x",
        "memory store k v --json --json",
        "memory store k v --ttl 0",
        "memory store k v --ttl soon",
        "memory store k --key -x",
        "memory store k --key=",
        "memory retrieve k --json --format markdown",
        "memory retrieve k --format html",
        "memory retrieve k --revision x",
        "memory retrieve k --revision -1",
        "memory retrieve k --ttl 9s",
        "memory store k --retention 0",
        "memory store k --server sometimes",
        "memory store k --lock-timeout later",
        "--store a --store b memory retrieve k",
        "memory retrieve -vk k",
        "memory retrieve --verbose=2 k",
        "-v memory -v retrieve coding/a --verbose",
        "memory stor k",
        "--key k memory retrieve",
        "run memory",
        "import claude-flow memory",
        "memory",
        "",
    ];

    /// The corpus above, and many lines made of its words at random: this parser
    /// takes the hook's usual lines, refuses the rest, and never disagrees with clap.
    fn check_against_clap() {
        for line in TAKEN {
            assert!(both(&words(line)).0.is_some(), "{line:?} should be taken");
        }
        for line in REFUSED {
            assert!(
                both(&words(line)).0.is_none(),
                "{line:?} should be left to clap"
            );
        }
        let vocabulary: Vec<&str> = TAKEN
            .iter()
            .chain(REFUSED)
            .flat_map(|line| words(line))
            .chain(["--", "-", "-k", "--json", "--file", "-x", "é", "k=v"])
            .collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut taken, mut agreed) = (0, 0);
        for _ in 0..4_000 {
            let mut line = vec!["memory", ["store", "retrieve", "get"][next(3)]];
            for _ in 0..next(6) {
                line.insert(next(line.len() + 1), vocabulary[next(vocabulary.len())]);
            }
            let (ours, clap) = both(&line);
            taken += usize::from(ours.is_some());
            agreed += usize::from(clap.is_ok());
        }
        // The random lines must exercise the fast path, not only the fallback.
        assert!(taken > 400, "taken {taken} of 4000 ({agreed} parse)");
    }

    #[test]
    fn the_hook_parser_takes_the_hook_lines_and_means_what_clap_means() {
        check_against_clap();
    }

    /// The environment variables the hook's arguments read, and values clap refuses.
    const ENVIRONMENTS: &[&[(&str, &str)]] = &[
        &[
            ("BATON_NAMESPACE", "ns-from-env"),
            ("BATON_AGENT_ID", "agent-7"),
            ("BATON_STORE", "/tmp/store-from-env"),
            ("BATON_SERVER", "never"),
            ("BATON_RETENTION", "3"),
            ("BATON_LOCK_TIMEOUT", "2s"),
        ],
        &[("BATON_SERVER", "sometimes")],
        &[("BATON_RETENTION", "0")],
        &[("BATON_LOCK_TIMEOUT", "later")],
        &[("BATON_NAMESPACE", ""), ("BATON_STORE", "")],
    ];

    #[test]
    fn the_hook_parser_reads_the_environment_as_clap_does() {
        let exe = std::env::current_exe().unwrap();
        for vars in ENVIRONMENTS {
            let mut child = std::process::Command::new(&exe);
            child
                .args(["--ignored", "--exact", "--test-threads=1", "--nocapture"])
                .arg("cli::hook::tests::under_the_environment_it_was_given");
            for var in ENVIRONMENTS.iter().flat_map(|e| e.iter()) {
                child.env_remove(var.0);
            }
            child.envs(vars.iter().copied());
            let out = child.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "under {vars:?}:\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Run by the test above in a child process, with the environment it sets.
    #[test]
    #[ignore = "run by the_hook_parser_reads_the_environment_as_clap_does"]
    fn under_the_environment_it_was_given() {
        let valid = ["BATON_SERVER", "BATON_RETENTION", "BATON_LOCK_TIMEOUT"]
            .iter()
            .all(|v| env(v).is_none_or(|v| ["never", "3", "2s"].contains(&v.to_str().unwrap())));
        let empty = ["BATON_NAMESPACE", "BATON_STORE"]
            .iter()
            .any(|v| env(v).is_some_and(|v| v.is_empty()));
        if valid && !empty {
            check_against_clap();
        } else {
            // A value clap refuses, or one this parser leaves to clap: every line
            // goes to clap, which says what is wrong with it.
            for line in TAKEN {
                assert!(both(&words(line)).0.is_none(), "{line:?}");
            }
        }
    }
}
