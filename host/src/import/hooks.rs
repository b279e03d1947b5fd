//! The memory calls in an agent's hooks: `claude-flow memory retrieve|store` in both
//! of claude-flow's syntaxes (positional `memory store KEY VALUE` and flags
//! `--key/-k`, `--value`, `--namespace/-n`), quoted or not, with or without `npx`
//! (and `npx claude-flow@alpha`), several commands to a line (`&&`, `;`, `|`) and
//! lines continued with `\`.

/// What a memory call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `memory retrieve` (or `get`): the agent reads a key.
    Retrieve,
    /// `memory store` (or `set`): the agent writes a key.
    Store,
}

/// One memory call found in a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryCall {
    /// Read or write.
    pub kind: CallKind,
    /// The key, as written.
    pub key: String,
    /// The namespace, if the call names one.
    pub namespace: Option<String>,
    /// The value a store writes, as written.
    pub value: Option<String>,
    /// The 0-based index of the hook line the call starts on.
    pub line: usize,
}

/// A line of a hook that mentions `memory` but is not a call this reader understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The 0-based index of the hook line.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// Every memory call in `hook` (the text of a `pre` or `post` hook), and the lines
/// that look like one but cannot be read.
pub fn memory_calls(hook: &str) -> (Vec<MemoryCall>, Vec<Unreadable>) {
    let mut calls = Vec::new();
    let mut unreadable = Vec::new();
    let lines: Vec<&str> = hook.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut text = lines[i].trim_end().to_owned();
        while text.ends_with('\\') && i + 1 < lines.len() {
            text.pop();
            i += 1;
            text.push(' ');
            text.push_str(lines[i].trim());
        }
        i += 1;
        if !text.contains("memory") {
            continue;
        }
        let words = match shell_words::split(&text) {
            // `a; b` splits as `a;` and `b`: the `;` ends a command.
            Ok(w) => w
                .into_iter()
                .flat_map(|word| match word.strip_suffix(';') {
                    Some(stem) if !stem.is_empty() => vec![stem.to_owned(), ";".to_owned()],
                    _ => vec![word],
                })
                .collect::<Vec<_>>(),
            Err(e) => {
                unreadable.push(Unreadable {
                    line: start,
                    reason: format!("cannot split the command into words: {e}"),
                });
                continue;
            }
        };
        for command in words.split(|w| matches!(w.as_str(), "&&" | "||" | ";" | "|")) {
            match read_command(command) {
                Ok(Some((kind, key, namespace, value))) => calls.push(MemoryCall {
                    kind,
                    key,
                    namespace,
                    value,
                    line: start,
                }),
                Ok(None) => {}
                Err(reason) => unreadable.push(Unreadable {
                    line: start,
                    reason,
                }),
            }
        }
    }
    (calls, unreadable)
}

type Read = (CallKind, String, Option<String>, Option<String>);

/// One command's words: a memory call, nothing (another command), or why not.
fn read_command(words: &[String]) -> Result<Option<Read>, String> {
    // `[npx] claude-flow[@version] memory retrieve|store …`
    let Some(at) = words.iter().position(|w| is_claude_flow(w)) else {
        return Ok(None);
    };
    let rest = &words[at + 1..];
    if rest.first().map(String::as_str) != Some("memory") {
        return Ok(None);
    }
    let kind = match rest.get(1).map(String::as_str) {
        Some("retrieve" | "get") => CallKind::Retrieve,
        Some("store" | "set") => CallKind::Store,
        // `memory list`, `query`, `search`, `stats`…: no key handed over.
        _ => return Ok(None),
    };
    let mut key = None;
    let mut value = None;
    let mut namespace = None;
    let mut positional = Vec::new();
    let mut args = rest[2..].iter();
    while let Some(word) = args.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_owned())),
            _ => (word.as_str(), None),
        };
        let slot = match flag {
            "--key" | "-k" => &mut key,
            "--value" | "-v" => &mut value,
            "--namespace" | "-n" | "--ns" => &mut namespace,
            f if f.starts_with('-') => {
                // A flag of claude-flow's this reader does not need (`--ttl 3600`,
                // `--format json`): skip its value when it has one.
                if inline.is_none()
                    && !matches!(f, "--json" | "--force" | "--compress" | "--verbose")
                {
                    args.next();
                }
                continue;
            }
            _ => {
                positional.push(word.clone());
                continue;
            }
        };
        let given = match inline {
            Some(v) => v,
            None => args
                .next()
                .cloned()
                .ok_or_else(|| format!("`{flag}` has no value"))?,
        };
        *slot = Some(given);
    }
    let mut positional = positional.into_iter();
    let key = match key.or_else(|| positional.next()) {
        Some(k) => k,
        None => return Err("a memory call without a key".into()),
    };
    if kind == CallKind::Store && value.is_none() {
        value = positional.next();
    }
    Ok(Some((kind, key, namespace, value)))
}

fn is_claude_flow(word: &str) -> bool {
    let base = word.rsplit('/').next().unwrap_or(word);
    base == "claude-flow" || base.starts_with("claude-flow@")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> MemoryCall {
        let (calls, bad) = memory_calls(line);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(calls.len(), 1, "{calls:?}");
        calls.into_iter().next().unwrap()
    }

    #[test]
    fn both_syntaxes_quoted_or_not_with_or_without_npx() {
        let seed = one(
            r#"npx claude-flow memory store "coding/architecture/performance" '{"agent": "p"}' --namespace "coding-pipeline""#,
        );
        assert_eq!(seed.kind, CallKind::Store);
        assert_eq!(seed.key, "coding/architecture/performance");
        assert_eq!(seed.namespace.as_deref(), Some("coding-pipeline"));
        assert_eq!(seed.value.as_deref(), Some(r#"{"agent": "p"}"#));
        let flags =
            one("claude-flow memory store -k coding/x --value '{}' -n coding-pipeline --ttl 60");
        assert_eq!(
            (
                flags.key.as_str(),
                flags.namespace.as_deref(),
                flags.value.as_deref()
            ),
            ("coding/x", Some("coding-pipeline"), Some("{}"))
        );
        let read = one(r#"npx claude-flow@alpha memory retrieve --key="coding/a""#);
        assert_eq!(
            (read.kind, read.key.as_str()),
            (CallKind::Retrieve, "coding/a")
        );
        assert_eq!(read.namespace, None);
        let old = one("npx claude-flow memory retrieve coding/b");
        assert_eq!(old.key, "coding/b");
    }

    #[test]
    fn several_calls_a_line_continued_lines_and_other_commands() {
        let hook = "echo start && npx claude-flow memory retrieve --key a; claude-flow memory retrieve -k b\n\
                    npx claude-flow memory store \\\n  c \\\n  '1'\n\
                    npx claude-flow memory list\n\
                    echo \"memory is fine\"\n\
                    npx claude-flow hooks post-task --task-id x";
        let (calls, bad) = memory_calls(hook);
        assert!(bad.is_empty(), "{bad:?}");
        let keys: Vec<(&str, usize)> = calls.iter().map(|c| (c.key.as_str(), c.line)).collect();
        assert_eq!(keys, [("a", 0), ("b", 0), ("c", 1)]);
        assert_eq!(calls[2].value.as_deref(), Some("1"));
    }

    #[test]
    fn broken_calls_are_reported_with_their_line() {
        let (calls, bad) = memory_calls(
            "npx claude-flow memory retrieve --key\nnpx claude-flow memory store 'unclosed",
        );
        assert!(calls.is_empty());
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!((bad[0].line, bad[1].line), (0, 1));
        assert!(bad[0].reason.contains("`--key` has no value"));
        assert!(bad[1].reason.contains("cannot split"));
    }
}
