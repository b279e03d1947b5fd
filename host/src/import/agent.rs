//! One agent definition file: its YAML front matter (claude-flow's form with `hooks`,
//! `qualityGates`, `type`, `category`, `priority`, or Claude Code's subagent form with
//! `name`, `description`, `tools`) read into an [`AgentDef`], every defect in it
//! reported at its line.

use std::path::{Path, PathBuf};

use marked_yaml::{Node, types::MarkedMappingNode};

use super::Defect;
use super::hooks::{CallKind, memory_calls};

/// A key an agent reads or writes, where its hook says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The key.
    pub key: String,
    /// The namespace the call names (`None`: claude-flow's `default`).
    pub namespace: Option<String>,
    /// The 1-based line of the agent file.
    pub line: usize,
}

/// A quality gate as the definition states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleLine {
    /// The gate's name, when a map gave one.
    pub name: Option<String>,
    /// The sentence.
    pub rule: String,
    /// The 1-based line.
    pub line: usize,
}

/// The memory calls of one hook, with the lines they are on.
#[derive(Clone, Debug, Default)]
pub struct HookCalls {
    /// The 1-based file lines of every `memory retrieve` in the `pre` hook.
    pub retrieve_lines: Vec<usize>,
    /// The 1-based file lines of every `memory store` in the `post` hook, with the
    /// value each stores, as written.
    pub store_lines: Vec<(usize, Option<String>)>,
}

/// One agent definition, read.
#[derive(Clone, Debug)]
pub struct AgentDef {
    /// The file, as found under the folder given.
    pub path: PathBuf,
    /// `name`, as written.
    pub name: String,
    /// Its line.
    pub name_line: usize,
    /// `type` (claude-flow) or `category`.
    pub kind: Option<String>,
    /// `description`, if any.
    pub description: Option<String>,
    /// The phase, from `Phase N` in its hooks or `type`.
    pub phase: Option<u32>,
    /// The agent number, from `Agent N` in its hooks.
    pub agent_number: Option<u32>,
    /// The keys its `pre` hook retrieves.
    pub reads: Vec<KeyUse>,
    /// The keys its `post` hook stores.
    pub writes: Vec<KeyUse>,
    /// `qualityGates`.
    pub gates: Vec<RuleLine>,
    /// Whether it has `hooks` at all.
    pub has_hooks: bool,
    /// Whether its hooks call `baton agent inputs|output` (rewritten by
    /// `--rewrite-hooks`): its reads and writes are then the manifest's.
    pub baton_calls: bool,
    /// Where its memory calls are, for `--rewrite-hooks`.
    pub calls: HookCalls,
}

/// The phases of a coding pipeline, in order: `type: architecture` is phase 3.
pub const PHASES: [&str; 7] = [
    "understanding",
    "exploration",
    "architecture",
    "implementation",
    "testing",
    "optimization",
    "delivery",
];

/// Reads the agent file `path` (shown as `shown`) from `text`; `None` when its front
/// matter cannot be read at all (the defect says why).
pub fn read(shown: &Path, text: &str, defects: &mut Vec<Defect>) -> Option<AgentDef> {
    let defect = |line: usize, message: String| Defect::error(shown, line, message);
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        // A README or notes beside the agents: not a definition, so not an error.
        defects.push(Defect::warning(
            shown,
            1,
            "skipped: no YAML front matter (the file does not start with `---`), so it is not an agent definition".into(),
        ));
        return None;
    }
    let Some(end) = lines.position(|l| l.trim_end() == "---") else {
        defects.push(defect(
            1,
            "the front matter is not closed by a `---` line".into(),
        ));
        return None;
    };
    // The front matter's lines are the file's lines 2..end+2.
    let yaml: String = text
        .lines()
        .skip(1)
        .take(end)
        .collect::<Vec<_>>()
        .join("\n");
    let file_line = |yaml_line: usize| yaml_line + 1;
    let root = match marked_yaml::parse_yaml(0, &yaml) {
        Ok(node) => node,
        Err(e) => {
            let (line, what) = load_error(&e);
            defects.push(defect(
                file_line(line),
                format!("the front matter is not YAML this importer reads: {what}"),
            ));
            return None;
        }
    };
    let map = root.as_mapping()?;
    let line_of = |node: &Node| node.span().start().map_or(1, |m| file_line(m.line()));
    let text_of = |field: &str| -> Option<(String, usize)> {
        let node = map.get_node(field)?;
        Some((node.as_scalar()?.as_str().to_owned(), line_of(node)))
    };
    let Some((name, name_line)) = text_of("name") else {
        defects.push(defect(2, "the front matter has no `name`".into()));
        return None;
    };
    let kind = text_of("type").or_else(|| text_of("category")).map(|t| t.0);
    let mut agent = AgentDef {
        path: shown.to_owned(),
        name,
        name_line,
        phase: kind.as_deref().and_then(phase_of),
        kind,
        description: text_of("description").map(|t| t.0),
        agent_number: None,
        reads: Vec::new(),
        writes: Vec::new(),
        gates: Vec::new(),
        has_hooks: map.get_node("hooks").is_some(),
        baton_calls: false,
        calls: HookCalls::default(),
    };
    gates(map, &agent.name, shown, &line_of, &mut agent.gates, defects);
    if let Some(hooks) = map.get_node("hooks") {
        read_hooks(hooks, text, shown, &mut agent, defects);
    }
    Some(agent)
}

/// The line (1-based, of the YAML) and message of a front matter error.
fn load_error(e: &marked_yaml::LoadError) -> (usize, String) {
    use marked_yaml::LoadError::*;
    let marker = match e {
        TopLevelMustBeMapping(m)
        | TopLevelMustBeSequence(m)
        | UnexpectedAnchor(m)
        | MappingKeyMustBeScalar(m)
        | UnexpectedTag(m)
        | ScanError(m, _) => Some(*m),
        DuplicateKey(inner) => inner.key.span().start().copied(),
    };
    let text = e.to_string();
    // The message starts with the marker's `line:column: `; the line is given apart.
    let what = text
        .split_once(": ")
        .filter(|(at, _)| at.chars().all(|c| c.is_ascii_digit() || c == ':'))
        .map_or(text.as_str(), |(_, rest)| rest)
        .to_owned();
    (marker.map_or(1, |m| m.line()), what)
}

fn gates(
    map: &MarkedMappingNode,
    agent: &str,
    shown: &Path,
    line_of: &dyn Fn(&Node) -> usize,
    out: &mut Vec<RuleLine>,
    defects: &mut Vec<Defect>,
) {
    let Some(node) = map.get_node("qualityGates") else {
        // A subagent definition has none by design; a claude-flow one should.
        if map.get_node("hooks").is_some() {
            defects.push(Defect::warning(
                shown,
                map.get_node("name").map_or(2, line_of),
                format!("agent `{agent}` has no `qualityGates`: nothing checks its output"),
            ));
        }
        return;
    };
    // The line of the `qualityGates` key itself (a block map's node starts at its
    // first entry).
    let at = map
        .iter()
        .find(|(k, _)| k.as_str() == "qualityGates")
        .and_then(|(k, _)| k.span().start())
        .map_or_else(|| line_of(node), |m| m.line() + 1);
    match node {
        Node::Sequence(items) => {
            if items.is_empty() {
                defects.push(Defect::warning(
                    shown,
                    at,
                    format!("`qualityGates` of agent `{agent}` is an empty list: nothing checks its output"),
                ));
            }
            for item in items.iter() {
                match item.as_scalar() {
                    Some(s) if !s.as_str().trim().is_empty() => out.push(RuleLine {
                        name: None,
                        rule: s.as_str().trim().to_owned(),
                        line: line_of(item),
                    }),
                    _ => defects.push(Defect::error(
                        shown,
                        line_of(item),
                        "a quality gate that is not a sentence (a map, a list or empty)".into(),
                    )),
                }
            }
        }
        Node::Mapping(entries) => {
            defects.push(Defect::warning(
                shown,
                at,
                format!(
                    "`qualityGates` of agent `{agent}` is a map, not a list: its {} entries are imported as gates named by their keys",
                    entries.len()
                ),
            ));
            for (name, rule) in entries.iter() {
                match rule.as_scalar() {
                    Some(s) if !s.as_str().trim().is_empty() => out.push(RuleLine {
                        name: Some(name.as_str().to_owned()),
                        rule: s.as_str().trim().to_owned(),
                        line: line_of(rule),
                    }),
                    _ => defects.push(Defect::error(
                        shown,
                        line_of(rule),
                        format!("quality gate `{}` is not a sentence", name.as_str()),
                    )),
                }
            }
        }
        Node::Scalar(s) => {
            if s.as_str().trim().is_empty() {
                defects.push(Defect::warning(
                    shown,
                    at,
                    format!(
                        "`qualityGates` of agent `{agent}` is empty: nothing checks its output"
                    ),
                ));
            } else {
                defects.push(Defect::warning(
                    shown,
                    at,
                    "`qualityGates` is one sentence, not a list: imported as one gate".into(),
                ));
                out.push(RuleLine {
                    name: None,
                    rule: s.as_str().trim().to_owned(),
                    line: at,
                });
            }
        }
    }
}

fn read_hooks(
    hooks: &Node,
    text: &str,
    shown: &Path,
    agent: &mut AgentDef,
    defects: &mut Vec<Defect>,
) {
    let Some(hooks) = hooks.as_mapping() else {
        defects.push(Defect::error(
            shown,
            hooks.span().start().map_or(1, |m| m.line() + 1),
            "`hooks` is not a map of `pre` and `post`".into(),
        ));
        return;
    };
    let file_lines: Vec<&str> = text.lines().collect();
    for (which, node) in hooks.iter() {
        let Some(body) = node.as_scalar().map(|s| s.as_str().to_owned()) else {
            continue;
        };
        let start = node.span().start().map_or(1, |m| m.line() + 1);
        // Where each hook line is in the file: the first file line at or after the
        // hook's start holding it (a block scalar's lines are the file's, indented).
        let mut cursor = start - 1;
        let mut located = Vec::new();
        for line in body.lines() {
            let wanted = line.trim();
            let found = (cursor..file_lines.len())
                .find(|&i| !wanted.is_empty() && file_lines[i].trim() == wanted);
            if let Some(i) = found {
                cursor = i + 1;
            }
            located.push(found.map_or(start, |i| i + 1));
        }
        for line in body.lines() {
            if line.contains("baton agent inputs") || line.contains("baton agent output") {
                agent.baton_calls = true;
            }
            if let Some(n) = number_after(line, "Phase ") {
                agent.phase = Some(n);
            }
            if let Some(n) = number_after(line, "Agent ") {
                agent.agent_number = Some(n);
            }
        }
        let (calls, unreadable) = memory_calls(&body);
        for bad in unreadable {
            defects.push(Defect::error(
                shown,
                located[bad.line],
                format!(
                    "a memory call in the `{}` hook: {}",
                    which.as_str(),
                    bad.reason
                ),
            ));
        }
        for call in calls {
            let line = located[call.line];
            let usage = KeyUse {
                key: call.key.clone(),
                namespace: call.namespace.clone(),
                line,
            };
            match call.kind {
                CallKind::Retrieve => {
                    agent.calls.retrieve_lines.push(line);
                    agent.reads.push(usage);
                }
                CallKind::Store => {
                    agent.calls.store_lines.push((line, call.value.clone()));
                    agent.writes.push(usage);
                }
            }
        }
    }
}

/// The number after `word` in `line` (`Agent 17` gives 17).
fn number_after(line: &str, word: &str) -> Option<u32> {
    let at = line.find(word)? + word.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The phase a definition's `type` names, counted from 1.
fn phase_of(kind: &str) -> Option<u32> {
    let kind = kind.to_ascii_lowercase();
    PHASES.iter().position(|p| *p == kind).map(|i| i as u32 + 1)
}
