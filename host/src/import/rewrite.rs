//! `--rewrite-hooks`: an imported agent's memory calls become the two `baton agent`
//! calls that do the same work in one process each. Every `memory retrieve` line of
//! its hooks goes, and the first becomes `baton agent inputs NAME --format markdown`;
//! its `memory store` line becomes `baton agent output NAME VALUE`, which stores
//! through the stage's gates. Other hook lines (the `echo`s) stay. The original is
//! kept beside it as `FILE.bak` (an existing backup is never overwritten, so it
//! stays the first original).

use std::path::{Path, PathBuf};

use super::AgentDef;

/// What a rewrite did to one file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rewritten {
    /// The agent file.
    pub file: PathBuf,
    /// Its backup.
    pub backup: PathBuf,
    /// Memory calls replaced.
    pub calls: usize,
}

/// The text of `agent`'s file with its memory calls rewritten; `None` when it has none.
pub fn rewritten_text(text: &str, agent: &AgentDef, stage: &str) -> Option<String> {
    let calls = &agent.calls;
    if calls.retrieve_lines.is_empty() && calls.store_lines.is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut skip_continuation = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if skip_continuation {
            skip_continuation = line.trim_end().ends_with('\\');
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let continued = line.trim_end().ends_with('\\');
        if calls.retrieve_lines.contains(&n) {
            skip_continuation = continued;
            if calls.retrieve_lines.first() == Some(&n) {
                out.push(format!(
                    "{indent}baton agent inputs {stage} --format markdown"
                ));
            }
            continue;
        }
        if let Some((_, value)) = calls.store_lines.iter().find(|(l, _)| *l == n) {
            skip_continuation = continued;
            if calls.store_lines.first().map(|(l, _)| *l) == Some(n) {
                let value = value
                    .as_deref()
                    .map_or_else(|| "--file -".to_owned(), shell_quote);
                out.push(format!("{indent}baton agent output {stage} {value}"));
            }
            continue;
        }
        out.push((*line).to_owned());
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Some(joined)
}

/// Rewrites `agent`'s file (at `path`) in place, keeping a backup.
pub fn rewrite_file(
    path: &Path,
    agent: &AgentDef,
    stage: &str,
) -> std::io::Result<Option<Rewritten>> {
    let text = std::fs::read_to_string(path)?;
    let Some(new) = rewritten_text(&text, agent, stage) else {
        return Ok(None);
    };
    let mut backup = path.as_os_str().to_owned();
    backup.push(".bak");
    let backup = PathBuf::from(backup);
    if !backup.exists() {
        std::fs::write(&backup, &text)?;
    }
    crate::files::write_atomically(path, new.as_bytes())?;
    Ok(Some(Rewritten {
        file: path.to_owned(),
        backup,
        calls: agent.calls.retrieve_lines.len() + agent.calls.store_lines.len(),
    }))
}

/// `text` quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
