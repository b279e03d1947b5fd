//! Partitions: one pipeline for many systems.
//!
//! A manifest with `[partitions]` declares its partition keys (a list, the folders
//! matching a pattern, keys added at run time) and each partition's namespace. Before
//! the manifest is checked, [`expand`] turns every partitioned stage and input into one
//! per partition: its unqualified keys in the partition's namespace, its templates
//! (`{partition}`, `{namespace}`) filled, a stage named `stage[partition]`. A stage that
//! is not partitioned reads across partitions with a template read, which becomes one
//! read per partition. The rest of the check then sees plain stages, each with the
//! line it was declared at, so every problem is reported where it was written.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::check::Checker;
use super::manifest::{InputSpec, Manifest, PartitionsSection, StageSpec};
use crate::memory::Namespace;

/// Longest partition key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// The placeholders a template may name.
pub const PLACEHOLDERS: [&str; 2] = ["partition", "namespace"];

/// Whether `key` is a partition key: 1 to 64 ASCII letters, digits, `-`, `_` or `.`,
/// starting with a letter or digit. A key names folders, namespaces and stages, so
/// nothing that reads as a path (`/`, `..`), a template (`{`) or a control character.
pub fn check_key(key: &str) -> Result<(), String> {
    let shown = crate::text::short(key);
    if key.is_empty() {
        return Err("a partition key is empty".into());
    }
    if key.len() > MAX_KEY_LEN {
        return Err(format!(
            "partition key {shown:?} is {} bytes long; the limit is {MAX_KEY_LEN}",
            key.len()
        ));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "partition key {shown:?} contains {bad:?}: a key is letters, digits, `-`, `_` and `.`"
        ));
    }
    if key.starts_with('.') || key.contains("..") {
        return Err(format!(
            "partition key {shown:?} starts with `.` or holds `..`: keys are names, not paths"
        ));
    }
    Ok(())
}

/// The name of partition `key`'s run of stage `stage`.
pub fn instance_name(stage: &str, key: &str) -> String {
    format!("{stage}[{key}]")
}

/// A stage's name split into the name it was declared with and its partition:
/// `("budget-check", Some("ledger"))` for `budget-check[ledger]`.
pub fn split_instance(name: &str) -> (&str, Option<&str>) {
    match name.strip_suffix(']').and_then(|n| n.split_once('[')) {
        Some((stage, key)) => (stage, Some(key)),
        None => (name, None),
    }
}

/// Whether `name` names a stage: a name (as events use them), or one partition's run
/// of one, `stage[partition]`.
pub fn is_stage_name(name: &str) -> bool {
    match split_instance(name) {
        (stage, Some(key)) => crate::memory::is_name(stage) && check_key(key).is_ok(),
        (stage, None) => crate::memory::is_name(stage),
    }
}

/// One partition, resolved.
#[derive(Clone, Debug)]
pub(super) struct Partition {
    pub key: String,
    pub namespace: String,
    /// Merged over each partitioned stage's config, still a template.
    pub config: Option<toml::Table>,
}

/// The manifest with its partitions expanded, and which partition each stage and
/// input belongs to (parallel to `manifest.stages` and `manifest.inputs`).
pub(super) struct Expanded {
    pub manifest: Manifest,
    pub stage_partitions: Vec<Option<String>>,
    /// Each stage's name as declared.
    pub declared: Vec<String>,
    pub input_partitions: Vec<Option<String>>,
    /// The partition keys, in order, with their namespaces.
    pub partitions: Vec<(String, String)>,
}

/// `template` with `vars` filled in. An unknown placeholder (or a `{` left open) is
/// an error naming it; with `lenient`, it is left as written (config strings, which
/// may hold braces of their own).
pub(super) fn render(
    template: &str,
    vars: &[(&str, &str)],
    lenient: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            if lenient {
                break;
            }
            return Err(format!(
                "{template:?} opens a placeholder with `{{` and never closes it"
            ));
        };
        let name = &after[..close];
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None if lenient => out.push_str(&rest[open..open + close + 2]),
            None => {
                let name = crate::text::short(name);
                if vars.is_empty() {
                    return Err(format!(
                        "{template:?} names the placeholder `{{{name}}}`, but the pipeline declares no `[partitions]`"
                    ));
                }
                let known: Vec<String> = vars.iter().map(|(n, _)| format!("`{{{n}}}`")).collect();
                return Err(format!(
                    "{template:?} names the unknown placeholder `{{{name}}}`; a template may name {}",
                    known.join(" and ")
                ));
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `text` names a placeholder.
fn is_template(text: &str) -> bool {
    text.contains('{')
}

/// Expands `manifest`'s partitions, `dynamic` being the keys added at run time.
/// Problems are reported to `c`; a template that cannot be filled leaves its stage
/// or input out.
pub(super) fn expand(
    c: &mut Checker<'_>,
    mut manifest: Manifest,
    root: &Path,
    dynamic: &[String],
) -> Expanded {
    let pipeline_ns = manifest.pipeline.namespace.get_ref().clone();
    let Some(section) = manifest.partitions.take() else {
        return unpartitioned(c, manifest);
    };
    let partitions = discover(c, &section, root, &pipeline_ns, dynamic);
    let stages = std::mem::take(&mut manifest.stages);
    let inputs = std::mem::take(&mut manifest.inputs);
    let mut out = Expanded {
        manifest,
        stage_partitions: Vec::new(),
        declared: Vec::new(),
        input_partitions: Vec::new(),
        partitions: partitions
            .iter()
            .map(|p| (p.key.clone(), p.namespace.clone()))
            .collect(),
    };
    for input in inputs {
        if input.partitioned == Some(false) {
            check_plain_input(c, &input, "it is seeded once (`partitioned = false`)");
            out.manifest.inputs.push(input);
            out.input_partitions.push(None);
            continue;
        }
        for p in &partitions {
            if let Some(one) = input_for(c, &input, p) {
                out.manifest.inputs.push(one);
                out.input_partitions.push(Some(p.key.clone()));
            }
        }
    }
    for stage in stages {
        let declared = stage.name.get_ref().clone();
        if stage.partitioned == Some(false) {
            if let Some(one) = across(c, stage, &partitions) {
                out.manifest.stages.push(one);
                out.stage_partitions.push(None);
                out.declared.push(declared);
            }
            continue;
        }
        for p in &partitions {
            if let Some(one) = stage_for(c, &stage, p) {
                out.manifest.stages.push(one);
                out.stage_partitions.push(Some(p.key.clone()));
                out.declared.push(declared.clone());
            }
        }
    }
    out
}

/// A manifest without partitions: a template anywhere is an unknown placeholder.
fn unpartitioned(c: &mut Checker<'_>, manifest: Manifest) -> Expanded {
    for input in &manifest.inputs {
        if let Some(p) = &input.partitioned {
            c.at(
                input.key.span(),
                format!(
                    "an input sets `partitioned = {p}`, but the pipeline declares no `[partitions]`"
                ),
            );
        }
        check_plain_input(c, input, "");
    }
    for stage in &manifest.stages {
        if let Some(p) = &stage.partitioned {
            c.at(
                stage.name.span(),
                format!(
                    "stage `{}` sets `partitioned = {p}`, but the pipeline declares no `[partitions]`",
                    stage.name.get_ref()
                ),
            );
        }
        for spanned in stage.reads.iter().chain(&stage.writes) {
            if is_template(spanned.get_ref())
                && let Err(e) = render(spanned.get_ref(), &[], false)
            {
                c.at(spanned.span(), e);
            }
        }
    }
    Expanded {
        stage_partitions: vec![None; manifest.stages.len()],
        declared: manifest
            .stages
            .iter()
            .map(|s| s.name.get_ref().clone())
            .collect(),
        input_partitions: vec![None; manifest.inputs.len()],
        partitions: Vec::new(),
        manifest,
    }
}

/// An input seeded once: no template in it. `why` says why it is seeded once when
/// the pipeline has partitions.
fn check_plain_input(c: &mut Checker<'_>, input: &InputSpec, why: &str) {
    for spanned in [&input.key, &input.file] {
        let text = spanned.get_ref();
        if !is_template(text) {
            continue;
        }
        match why.is_empty() {
            true => {
                if let Err(e) = render(text, &[], false) {
                    c.at(spanned.span(), e);
                }
            }
            false => c.at(
                spanned.span(),
                format!("{text:?} names a placeholder, but {why}"),
            ),
        }
    }
}

/// The partitions `section` declares: its keys, the folders matching its pattern and
/// the `dynamic` keys, each once, in that order.
fn discover(
    c: &mut Checker<'_>,
    section: &PartitionsSection,
    root: &Path,
    pipeline_ns: &str,
    dynamic: &[String],
) -> Vec<Partition> {
    let mut keys: Vec<String> = Vec::new();
    let mut add = |c: &mut Checker<'_>, key: String, span: Range<usize>| {
        if let Err(e) = check_key(&key) {
            c.at(span, e);
        } else if !keys.contains(&key) {
            keys.push(key);
        }
    };
    for key in &section.keys {
        add(c, key.get_ref().clone(), key.span());
    }
    if let Some(pattern) = &section.folders {
        match folders(root, pattern.get_ref()) {
            Ok(found) => {
                for key in found {
                    add(c, key, pattern.span());
                }
            }
            Err(e) => c.at(pattern.span(), e),
        }
    }
    if !dynamic.is_empty() && !section.dynamic {
        c.at(
            0..0,
            "partition keys were added at run time, but `[partitions]` does not set `dynamic = true`",
        );
    }
    for key in dynamic {
        add(c, key.clone(), 0..0);
    }
    if keys.is_empty() && !section.dynamic {
        c.at(
            section.folders.as_ref().map_or(0..0, Spanned::span),
            "`[partitions]` declares no partition: list `keys`, match `folders` or set `dynamic = true`",
        );
    }
    for (key, over) in &section.overrides {
        if !keys.contains(key) && !section.dynamic {
            let span = over.namespace.as_ref().map_or(0..0, Spanned::span);
            c.at(
                span,
                format!("`[partitions.override.{key}]` overrides a partition that is not declared"),
            );
        }
    }
    let template = section.namespace.as_ref();
    let mut by_namespace: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for key in keys {
        let over = section.overrides.get(&key);
        let (span, namespace) = match over.and_then(|o| o.namespace.as_ref()) {
            Some(ns) => (ns.span(), Ok(ns.get_ref().clone())),
            None => match template {
                Some(t) => (t.span(), render(t.get_ref(), &[("partition", &key)], false)),
                None => (0..0, Ok(format!("{pipeline_ns}-{key}"))),
            },
        };
        let namespace = match namespace.and_then(|ns| {
            Namespace::new(ns.clone())
                .map(|_| ns)
                .map_err(|e| format!("partition `{key}`: {e}"))
        }) {
            Ok(ns) => ns,
            Err(e) => {
                c.at(span, e);
                continue;
            }
        };
        if let Some(other) = by_namespace.insert(namespace.clone(), key.clone()) {
            c.at(
                span,
                format!("partitions `{other}` and `{key}` both live in namespace `{namespace}`: they would write one another's keys"),
            );
        }
        let config = match over.and_then(|o| o.config.clone()) {
            Some(own) => Some(own),
            None => section.config.clone(),
        };
        out.push(Partition {
            key,
            namespace,
            config,
        });
    }
    out
}

/// The keys matched by `pattern`: a path relative to `root` with one `*` segment.
fn folders(root: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let segments: Vec<&str> = pattern.split('/').collect();
    let stars: Vec<usize> = (0..segments.len())
        .filter(|&i| segments[i].contains('*'))
        .collect();
    let [at] = stars[..] else {
        return Err(format!(
            "`folders` {pattern:?} must have one `*`, a whole segment, such as `examples/*/system.json`"
        ));
    };
    if segments[at] != "*" {
        return Err(format!(
            "`folders` {pattern:?}: the `*` must be a whole segment, such as `examples/*/system.json`"
        ));
    }
    let parent = root.join(segments[..at].join("/"));
    let rest = segments[at + 1..].join("/");
    let entries = std::fs::read_dir(&parent).map_err(|e| {
        format!(
            "`folders` {pattern:?}: cannot list {}: {e}",
            parent.display()
        )
    })?;
    let mut keys = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        let matched = match rest.is_empty() {
            true => path.exists(),
            false => path.join(&rest).exists(),
        };
        if matched {
            keys.push(name);
        }
    }
    keys.sort();
    Ok(keys)
}

/// `spanned` filled for partition `p`, or its problem reported.
fn fill(c: &mut Checker<'_>, spanned: &Spanned<String>, p: &Partition) -> Option<Spanned<String>> {
    let vars = [
        ("partition", p.key.as_str()),
        ("namespace", p.namespace.as_str()),
    ];
    match render(spanned.get_ref(), &vars, false) {
        Ok(text) => Some(Spanned::new(spanned.span(), text)),
        Err(e) => {
            c.at(spanned.span(), e);
            None
        }
    }
}

/// A read or write of a partitioned stage: filled, and an unqualified key put in the
/// partition's namespace.
fn qualify(
    c: &mut Checker<'_>,
    spanned: &Spanned<String>,
    p: &Partition,
) -> Option<Spanned<String>> {
    let filled = fill(c, spanned, p)?;
    let text = filled.get_ref();
    let qualified =
        matches!(text.split_once(':'), Some((ns, _)) if !ns.is_empty() && !ns.contains('/'));
    Some(match qualified {
        true => filled,
        false => Spanned::new(filled.span(), format!("{}:{text}", p.namespace)),
    })
}

fn input_for(c: &mut Checker<'_>, input: &InputSpec, p: &Partition) -> Option<InputSpec> {
    let key = fill(c, &input.key, p)?;
    let file = fill(c, &input.file, p)?;
    let namespace = match &input.namespace {
        Some(ns) => {
            let vars = [
                ("partition", p.key.as_str()),
                ("namespace", p.namespace.as_str()),
            ];
            match render(ns, &vars, false) {
                Ok(ns) => ns,
                Err(e) => {
                    c.at(input.key.span(), format!("`namespace`: {e}"));
                    return None;
                }
            }
        }
        None => p.namespace.clone(),
    };
    Some(InputSpec {
        key,
        file,
        namespace: Some(namespace),
        partitioned: input.partitioned,
    })
}

fn stage_for(c: &mut Checker<'_>, stage: &StageSpec, p: &Partition) -> Option<StageSpec> {
    let mut one = stage.clone();
    one.name = Spanned::new(
        stage.name.span(),
        instance_name(stage.name.get_ref(), &p.key),
    );
    let reads: Vec<Option<Spanned<String>>> =
        stage.reads.iter().map(|r| qualify(c, r, p)).collect();
    one.reads = reads.into_iter().collect::<Option<_>>()?;
    one.writes = match &stage.writes {
        Some(w) => Some(qualify(c, w, p)?),
        None => None,
    };
    let mut config = stage.config.clone().unwrap_or_default();
    if let Some(extra) = &p.config {
        config.extend(extra.clone());
    }
    let vars = [
        ("partition", p.key.as_str()),
        ("namespace", p.namespace.as_str()),
    ];
    one.config = (!config.is_empty() || stage.config.is_some()).then(|| fill_table(config, &vars));
    Some(one)
}

/// A stage that runs once, over every partition: each template read becomes one read
/// per partition. It writes one key, so its `writes` names no placeholder.
fn across(
    c: &mut Checker<'_>,
    mut stage: StageSpec,
    partitions: &[Partition],
) -> Option<StageSpec> {
    let mut reads = Vec::new();
    for read in &stage.reads {
        if !is_template(read.get_ref()) {
            reads.push(read.clone());
            continue;
        }
        for p in partitions {
            reads.push(qualify(c, read, p)?);
        }
    }
    stage.reads = reads;
    if let Some(w) = &stage.writes
        && is_template(w.get_ref())
    {
        c.at(
            w.span(),
            format!(
                "stage `{}` is not partitioned, so it writes one key: {:?} names a placeholder",
                stage.name.get_ref(),
                w.get_ref()
            ),
        );
        return None;
    }
    Some(stage)
}

/// `table` with every string in it filled (unknown placeholders left as written).
fn fill_table(table: toml::Table, vars: &[(&str, &str)]) -> toml::Table {
    table
        .into_iter()
        .map(|(k, v)| (k, fill_value(v, vars)))
        .collect()
}

fn fill_value(value: toml::Value, vars: &[(&str, &str)]) -> toml::Value {
    match value {
        toml::Value::String(s) => toml::Value::String(render(&s, vars, true).unwrap_or(s)),
        toml::Value::Array(items) => {
            toml::Value::Array(items.into_iter().map(|v| fill_value(v, vars)).collect())
        }
        toml::Value::Table(t) => toml::Value::Table(fill_table(t, vars)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_names_and_nothing_that_reads_as_a_path_or_a_template() {
        for good in ["webshop", "freight-eu", "2026.12", "a_b"] {
            assert_eq!(check_key(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("", "empty"),
            ("a/b", "contains '/'"),
            ("..", "starts with `.`"),
            ("a..b", "holds `..`"),
            ("{x}", "contains '{'"),
            ("a\u{7}", "contains '\\u{7}'"),
            (&"k".repeat(10_000), "10000 bytes long"),
        ] {
            let err = check_key(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
            assert!(err.len() < 200, "a short error: {err}");
        }
    }

    #[test]
    fn a_stage_is_named_as_declared_or_with_its_partition() {
        assert_eq!(
            split_instance("budget-check[ledger]"),
            ("budget-check", Some("ledger"))
        );
        assert_eq!(split_instance("budget-check"), ("budget-check", None));
        assert!(is_stage_name("budget-check[ledger]"));
        assert!(is_stage_name("budget-check"));
        for bad in ["budget-check[a/b]", "[x]", "a[", "a[]", "a[b][c]", "a b"] {
            assert!(!is_stage_name(bad), "{bad}");
        }
    }

    #[test]
    fn templates_fill_known_placeholders_and_name_an_unknown_one() {
        let vars = [("partition", "freight"), ("namespace", "cp-freight")];
        assert_eq!(
            render("examples/{partition}/system.json", &vars, false).unwrap(),
            "examples/freight/system.json"
        );
        assert_eq!(
            render("{namespace}:k", &vars, false).unwrap(),
            "cp-freight:k"
        );
        let err = render("examples/{system}/x", &vars, false).unwrap_err();
        assert!(err.contains("unknown placeholder `{system}`"), "{err}");
        assert!(
            render("a{b", &vars, false)
                .unwrap_err()
                .contains("never closes")
        );
        assert_eq!(
            render("{\"json\": 1} {partition}", &vars, true).unwrap(),
            "{\"json\": 1} freight"
        );
        let none = render("{partition}", &[], false).unwrap_err();
        assert!(
            none.contains("`{partition}`, but the pipeline declares no `[partitions]`"),
            "{none}"
        );
    }
}
