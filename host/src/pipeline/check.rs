//! Checking a manifest: every problem found, each with its line and column.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::manifest::{GateSpec, LimitsSpec, Manifest, RunnerSpec, StageSpec};
use super::partitions::{self, Expanded};
use super::{
    Build, Gate, GateCheck, Input, Pipeline, Problem, ProblemKind, Problems, RUNNER_PLACEHOLDERS,
    Render, Runner, Schema, Severity, Stage,
};
use crate::memory::{Key, Namespace};
use crate::runtime::{Grant, Grants, Limits, agent_name};
use crate::text::short;

/// Collects problems against the manifest's text.
pub(super) struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
    /// What loads but deserves a word: unchecked gates, stages that write nothing.
    warnings: Vec<Problem>,
    /// Gate schemas read so far, by path: stages that share a schema share one, and
    /// so one compiled validator (compiling the performance schema costs about two
    /// milliseconds).
    schemas: HashMap<PathBuf, Arc<Schema>>,
    /// Whether the files the manifest names are read now, each problem reported: the
    /// input documents, and the gate schemas (compiled). Otherwise a schema is read
    /// when its gate first runs, and an input when a run seeds it.
    read_files: bool,
}

impl Checker<'_> {
    /// A problem at `span`.
    pub(super) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let problem = self.locate(span, message.into());
        self.problems.push(problem);
    }

    fn locate(&self, span: Range<usize>, message: String) -> Problem {
        let offset = span.start.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        Problem {
            file: self.file.into(),
            line,
            column,
            message,
            kind: ProblemKind::Other,
            stage: stage_at(self.text, offset),
        }
    }

    /// A warning of `kind` at `span`: the pipeline still loads.
    fn warn_of(&mut self, kind: ProblemKind, span: Range<usize>, message: impl Into<String>) {
        let mut warning = self.locate(span, message.into());
        warning.kind = kind;
        self.warnings.push(warning);
    }

    /// Validates a key, reporting a bad one at `span`.
    fn key_name(&mut self, span: Range<usize>, text: &str) -> Option<Key> {
        match Key::new(text) {
            Ok(k) => Some(k),
            Err(e) => {
                self.at(span, e.to_string());
                None
            }
        }
    }
}

/// The name of the stage whose `[[stage]]` table (or one of its sub-tables, such as
/// `[[stage.gate]]`) holds `offset` of `text`, if any.
fn stage_at(text: &str, offset: usize) -> Option<String> {
    let mut stage_start = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at > offset {
            break;
        }
        let header = line.trim_start();
        if header.starts_with('[') {
            let table = header.trim_start_matches('[').trim_start();
            stage_start = match table {
                t if t.starts_with("stage]") => Some(at + line.len()),
                t if t.starts_with("stage.") => stage_start,
                _ => None,
            };
        }
        at += line.len();
    }
    // The stage's own keys come before its first sub-table.
    text[stage_start?..]
        .lines()
        .take_while(|line| !line.trim_start().starts_with('['))
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            if k.trim() != "name" {
                return None;
            }
            let value: toml::Table = toml::from_str(&format!("v = {}", v.trim())).ok()?;
            value.get("v")?.as_str().map(str::to_owned)
        })
}

/// Checks everything, each gate schema compiled.
pub(super) fn check(file: &Path, text: &str, dynamic: &[String]) -> Result<Pipeline, Problems> {
    let (pipeline, unresolved) = check_with(file, text, true, dynamic)?;
    match unresolved.0.is_empty() {
        true => Ok(pipeline),
        false => Err(unresolved),
    }
}

/// Checks everything but whether each read has a producer and the files the manifest
/// names (input documents, gate schemas; a schema is read when its gate first runs):
/// the pipeline, and the reads that no stage writes and no input seeds (each a
/// [`ProblemKind::UnresolvedRead`]). Any other problem fails the check, with the
/// unresolved reads among the problems.
pub(super) fn check_definitions(
    file: &Path,
    text: &str,
    dynamic: &[String],
) -> Result<(Pipeline, Problems), Problems> {
    check_with(file, text, false, dynamic)
}

fn check_with(
    file: &Path,
    text: &str,
    read_files: bool,
    dynamic: &[String],
) -> Result<(Pipeline, Problems), Problems> {
    let mut c = Checker {
        file,
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
        schemas: Default::default(),
        read_files,
    };
    let manifest: Manifest = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            c.at(e.span().unwrap_or(0..0), e.message().trim().to_owned());
            return Err(Problems(c.problems));
        }
    };
    // `pipeline.toml` named bare has the current folder as its root, not an empty
    // path (which no command can be started in).
    let root = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let ns = manifest.pipeline.namespace.get_ref().clone();
    if let Err(e) = Namespace::new(ns.clone()) {
        c.at(
            manifest.pipeline.namespace.span(),
            format!("`pipeline.namespace`: {e}"),
        );
    }
    if manifest.pipeline.name.trim().is_empty() {
        c.at(0..0, "`pipeline.name` is empty");
    }
    let dynamic_partitions = manifest.partitions.as_ref().is_some_and(|p| p.dynamic);
    let Expanded {
        manifest,
        stage_partitions,
        declared,
        input_partitions,
        partitions,
    } = partitions::expand(&mut c, manifest, &root, dynamic);
    let retention = manifest.memory.as_ref().and_then(|m| m.retention.clone());
    if let Some(r) = &retention
        && *r.get_ref() == 0
    {
        c.at(r.span(), "`memory.retention` must be at least 1");
    }
    let retention = retention.map(|r| *r.get_ref());
    let default_limits = manifest
        .defaults
        .as_ref()
        .and_then(|d| d.limits.clone())
        .unwrap_or_default();
    let base_limits = limits(&mut c, &default_limits, Limits::default());

    // Inputs: seeded keys.
    let mut seeded: HashMap<(String, String), Range<usize>> = HashMap::new();
    let mut inputs = Vec::new();
    for (input, partition) in manifest.inputs.iter().zip(&input_partitions) {
        let of = partition
            .as_ref()
            .map_or_else(String::new, |p| format!(" (partition `{p}`)"));
        let namespace = input.namespace.clone().unwrap_or_else(|| ns.clone());
        let key = input.key.get_ref().clone();
        c.key_name(input.key.span(), &key);
        if seeded
            .insert((namespace.clone(), key.clone()), input.key.span())
            .is_some()
        {
            c.at(
                input.key.span(),
                format!("input key `{key}` in namespace `{namespace}` is seeded twice{of}"),
            );
        }
        let path = root.join(input.file.get_ref());
        match c.read_files.then(|| std::fs::read_to_string(&path)) {
            None => {}
            Some(Err(e)) => c.at(
                input.file.span(),
                format!("input file {:?}{of}: {e}", input.file.get_ref()),
            ),
            Some(Ok(doc)) => {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(&doc) {
                    c.at(
                        input.file.span(),
                        format!("input file {:?}{of} is not JSON: {e}", input.file.get_ref()),
                    );
                }
            }
        }
        inputs.push(Input {
            namespace,
            key,
            file: path,
            partition: partition.clone(),
        });
    }

    // Stage names and writers.
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut writers: HashMap<(String, String), String> = HashMap::new();
    let mut writer_partition: HashMap<String, (String, String)> = HashMap::new();
    for (i, stage) in manifest.stages.iter().enumerate() {
        let name = stage.name.get_ref();
        // A partition's stage is named `stage[partition]`, both names checked.
        let declared_name = &declared[i];
        let valid = !declared_name.is_empty()
            && declared_name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !valid {
            c.at(
                stage.name.span(),
                format!("stage name {declared_name:?} must be letters, digits, `-` and `_`"),
            );
        }
        if names.insert(name.clone(), stage.name.span()).is_some() {
            c.at(stage.name.span(), format!("two stages are named `{name}`"));
        }
        let Some(writes) = &stage.writes else {
            if stage.external {
                c.warn_of(
                    ProblemKind::WritesNothing,
                    stage.name.span(),
                    format!("stage `{name}` writes nothing: baton cannot tell when it is done"),
                );
            } else {
                c.at(
                    stage.name.span(),
                    format!("stage `{name}` has no `writes`: a component stage writes one key"),
                );
            }
            continue;
        };
        let target = Grant::parse(writes.get_ref(), &ns);
        if target.prefix {
            c.at(
                writes.span(),
                format!(
                    "stage `{name}` writes {:?}: a stage writes one key, not a prefix",
                    writes.get_ref()
                ),
            );
            continue;
        }
        c.key_name(writes.span(), &target.key);
        if target.namespace != ns
            && let Err(e) = Namespace::new(target.namespace.clone())
        {
            c.at(
                writes.span(),
                format!("stage `{name}` writes {:?}: {e}", writes.get_ref()),
            );
        }
        let slot = (target.namespace.clone(), target.key.clone());
        if seeded.contains_key(&slot) {
            c.at(
                writes.span(),
                format!(
                    "stage `{name}` writes `{}`, which an `[[input]]` already seeds",
                    target.key
                ),
            );
        }
        if let Some(other) = writers.insert(slot, name.clone()) {
            let message = match (&stage_partitions[i], writer_partition.get(&other)) {
                (Some(p), Some((first, q))) if *first == *declared_name => format!(
                    "partitions `{q}` and `{p}` of stage `{declared_name}` both write `{}` in namespace `{}`: name the partition's namespace (leave it out, or write `{{namespace}}:`)",
                    target.key, target.namespace
                ),
                _ => format!(
                    "stages `{other}` and `{name}` both write `{}` in namespace `{}`",
                    target.key, target.namespace
                ),
            };
            c.at(writes.span(), message);
        }
        if let Some(p) = &stage_partitions[i] {
            writer_partition.insert(name.clone(), (declared_name.clone(), p.clone()));
        }
    }

    // Stages hold their namespace validated: with the pipeline's own refused (said
    // above), there is no pipeline to build, only its problems to report.
    let Ok(pipeline_ns) = Namespace::new(ns.clone()) else {
        return Err(Problems(c.problems));
    };
    let mut stages = Vec::new();
    for (i, spec) in manifest.stages.iter().enumerate() {
        let name = spec.name.get_ref().clone();
        let partition = stage_partitions[i].clone();
        // Where its unqualified keys live, and the namespace its component is given.
        let home = partition
            .as_ref()
            .and_then(|p| partitions.iter().find(|(k, _)| k == p))
            .and_then(|(_, n)| Namespace::new(n.clone()).ok())
            .unwrap_or_else(|| pipeline_ns.clone());
        let mut depends_on = Vec::new();
        for read in &spec.reads {
            let grant = Grant::parse(read.get_ref(), &ns);
            if grant.key.is_empty() && !grant.prefix {
                c.at(read.span(), format!("stage `{name}` reads an empty key"));
                continue;
            }
            if !grant.prefix {
                c.key_name(read.span(), &grant.key);
            }
            // An exact read is looked up, so a pipeline of many partitions checks in
            // time linear in its stages; a prefix is matched against every writer.
            let producers: Vec<&String> = match grant.prefix {
                false => writers
                    .get(&(grant.namespace.clone(), grant.key.clone()))
                    .into_iter()
                    .collect(),
                true => writers
                    .iter()
                    .filter(|((n, k), _)| grant.allows(n, k))
                    .map(|(_, s)| s)
                    .collect(),
            };
            let is_seeded = match grant.prefix {
                false => seeded.contains_key(&(grant.namespace.clone(), grant.key.clone())),
                true => seeded.keys().any(|(n, k)| grant.allows(n, k)),
            };
            if producers.is_empty() && !is_seeded {
                let mut problem = c.locate(read.span(), format!("stage `{name}` reads `{}` in namespace `{}`, which no stage writes and no input seeds", read.get_ref(), grant.namespace));
                problem.kind = ProblemKind::UnresolvedRead;
                c.problems.push(problem);
            }
            for producer in producers {
                if !depends_on.contains(producer) {
                    depends_on.push(producer.clone());
                }
            }
        }
        depends_on.sort();
        let stage_limits = match &spec.limits {
            Some(l) => limits(&mut c, l, base_limits.clone()),
            None => base_limits.clone(),
        };
        let component = component(&mut c, spec, &root);
        let runner = runner(&mut c, spec, manifest.runner.as_ref(), &root);
        let gates = gates(&mut c, spec, &root);
        let render = spec.render.as_ref().map(|r| {
            let path = root.join(r.component.get_ref());
            // A component that a build command produces may not exist yet.
            if r.build.is_none() && !path.is_file() {
                c.at(
                    r.component.span(),
                    format!(
                        "renderer {:?} of stage `{name}` does not exist",
                        r.component.get_ref()
                    ),
                );
            }
            Render {
                path,
                build: r.build.clone().map(|command| Build {
                    command,
                    dir: root.clone(),
                }),
            }
        });
        // A name refused above leaves the stage writing nothing; the check fails.
        let target = spec
            .writes
            .as_ref()
            .map(|w| Grant::parse(w.get_ref(), &ns))
            .and_then(|t| Some((Namespace::new(t.namespace).ok()?, Key::new(t.key).ok()?)));
        stages.push(Stage {
            agent_name: spec
                .agent
                .clone()
                .unwrap_or_else(|| agent_name(&declared[i])),
            name,
            declared: declared[i].clone(),
            partition,
            namespace: home,
            phase: spec.phase,
            agent_number: spec.agent_number,
            component,
            build: spec.build.clone().map(|command| Build {
                command,
                dir: root.clone(),
            }),
            external: spec.external,
            reads: Grants(
                spec.reads
                    .iter()
                    .map(|r| Grant::parse(r.get_ref(), &ns))
                    .collect(),
            ),
            writes_namespace: target
                .as_ref()
                .map_or_else(|| pipeline_ns.clone(), |(n, _)| n.clone()),
            writes: target.map(|(_, k)| k),
            source: spec.source.clone(),
            config: spec
                .config
                .as_ref()
                .map_or_else(|| serde_json::json!({}), toml_to_json),
            limits: stage_limits,
            gates,
            depends_on,
            render,
            runner,
        });
    }

    let order = order(&mut c, &manifest.stages, &stages);
    c.warnings.sort_by_key(|p| (p.line, p.column));
    c.problems.sort_by_key(|p| (p.line, p.column));
    // A template is checked once per partition: its problem is said once.
    c.problems
        .dedup_by(|a, b| (a.line, a.column, &a.message) == (b.line, b.column, &b.message));
    if c.problems
        .iter()
        .any(|p| p.kind != ProblemKind::UnresolvedRead)
    {
        return Err(Problems(c.problems));
    }
    let mut by_name: BTreeMap<String, Stage> =
        stages.into_iter().map(|s| (s.name.clone(), s)).collect();
    let stages = order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .collect();
    let pipeline = Pipeline {
        path: file.into(),
        root,
        name: manifest.pipeline.name,
        namespace: ns,
        retention,
        inputs,
        stages,
        warnings: c.warnings,
        partitions: partitions.into_iter().map(|(key, _)| key).collect(),
        dynamic_partitions,
    };
    Ok((pipeline, Problems(c.problems)))
}

/// Stages in dependency order (Kahn's algorithm, ties by manifest order); each cycle
/// is reported once, at its first stage, with its path.
fn order(c: &mut Checker<'_>, specs: &[StageSpec], stages: &[Stage]) -> Vec<String> {
    let mut remaining: Vec<&Stage> = stages.iter().collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut order = Vec::new();
    loop {
        let ready: Vec<String> = remaining
            .iter()
            .filter(|s| s.depends_on.iter().all(|d| done.contains(d)))
            .map(|s| s.name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready.iter().cloned());
        remaining.retain(|s| !done.contains(&s.name));
        order.extend(ready);
    }
    let mut reported: HashSet<String> = HashSet::new();
    for stage in &remaining {
        if reported.contains(&stage.name) {
            continue;
        }
        // Walk dependencies among the remaining stages until a name repeats.
        let mut path = vec![stage.name.clone()];
        let mut current = *stage;
        let cycle = loop {
            let Some(next) = current.depends_on.iter().find(|d| !done.contains(*d)) else {
                break None;
            };
            if let Some(start) = path.iter().position(|p| p == next) {
                break Some(path[start..].to_vec());
            }
            path.push(next.clone());
            match remaining.iter().find(|s| &s.name == next) {
                Some(s) => current = s,
                None => break None,
            }
        };
        let Some(cycle) = cycle else { continue };
        if cycle.iter().any(|n| reported.contains(n)) {
            continue;
        }
        reported.extend(cycle.iter().cloned());
        let first = &cycle[0];
        let span = specs
            .iter()
            .find(|s| s.name.get_ref() == first)
            .map_or(0..0, |s| s.name.span());
        let mut shown = cycle.clone();
        shown.push(first.clone());
        let shown: Vec<String> = shown.iter().map(|n| format!("`{n}`")).collect();
        c.at(span, format!("stages form a cycle: {}", shown.join(" -> ")));
    }
    order
}

fn component(c: &mut Checker<'_>, spec: &StageSpec, root: &Path) -> Option<PathBuf> {
    let name = spec.name.get_ref();
    match (&spec.component, spec.external) {
        (Some(path), true) => {
            c.at(
                path.span(),
                format!("stage `{name}` is external; it has no component"),
            );
            None
        }
        (None, true) => {
            if spec.build.is_some() {
                c.at(
                    spec.name.span(),
                    format!("stage `{name}` is external; it has no build command"),
                );
            }
            None
        }
        (None, false) => {
            c.at(
                spec.name.span(),
                format!("stage `{name}` has no `component` (or set `external = true`)"),
            );
            None
        }
        (Some(path), false) => {
            let resolved = root.join(path.get_ref());
            // A component that a build command produces may not exist yet.
            if spec.build.is_none() && !resolved.is_file() {
                c.at(
                    path.span(),
                    format!(
                        "component {:?} of stage `{name}` does not exist",
                        path.get_ref()
                    ),
                );
            }
            Some(resolved)
        }
    }
}

fn gates(c: &mut Checker<'_>, spec: &StageSpec, root: &Path) -> Vec<Gate> {
    let stage = spec.name.get_ref();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for gate in &spec.gates {
        let name = gate.name.get_ref();
        if !seen.insert(name.clone()) {
            c.at(
                gate.name.span(),
                format!("stage `{stage}` has two gates named `{name}`"),
            );
        }
        if let Some(check) = gate_check(c, stage, gate, root) {
            out.push(Gate {
                name: name.clone(),
                rule: gate.rule.clone(),
                severity: gate.severity,
                check,
            });
        }
    }
    out
}

fn gate_check(c: &mut Checker<'_>, stage: &str, gate: &GateSpec, root: &Path) -> Option<GateCheck> {
    let name = gate.name.get_ref();
    // The fields a check needs, given to a gate that has no such check.
    let stray = |with_check: bool| {
        [
            ("schema", with_check && gate.schema.is_some()),
            ("component", with_check && gate.component.is_some()),
            ("pointer", gate.pointer.is_some()),
            ("build", gate.build.is_some()),
            ("config", gate.config.is_some()),
        ]
        .into_iter()
        .find_map(|(field, given)| given.then_some(field))
    };
    if gate.approval {
        if let Some(field) = stray(true) {
            c.at(
                gate.name.span(),
                format!("gate `{name}` of stage `{stage}` waits for a person's approval and has `{field}`; a person's gate checks nothing else (give the check its own gate)"),
            );
            return None;
        }
        if gate.severity == Severity::Warning {
            c.at(
                gate.name.span(),
                format!("gate `{name}` of stage `{stage}` waits for a person's approval, which cannot be a warning: drop `severity`"),
            );
            return None;
        }
        return Some(GateCheck::Approval);
    }
    match (&gate.schema, &gate.component) {
        (Some(_), Some(component)) => {
            c.at(component.span(), format!("gate `{name}` of stage `{stage}` has both a `schema` and a `component`; give one"));
            None
        }
        (None, None) => {
            if let Some(field) = stray(false) {
                c.at(
                    gate.name.span(),
                    format!("gate `{name}` of stage `{stage}` has `{field}` but neither a `schema` nor a `component` for it"),
                );
                return None;
            }
            c.warn_of(
                ProblemKind::UncheckedGate,
                gate.name.span(),
                format!(
                    "gate `{name}` of stage `{stage}` is unchecked: prose only ({:?}), it blocks nothing; give it a `schema` or a `component` to enforce it",
                    short(&gate.rule)
                ),
            );
            Some(GateCheck::Unchecked)
        }
        (Some(schema), None) => {
            if gate.build.is_some() {
                c.at(
                    schema.span(),
                    format!(
                        "gate `{name}` of stage `{stage}` checks a schema; `build` is only for a gate `component`"
                    ),
                );
            }
            let pointer = gate.pointer.clone().unwrap_or_default();
            if !pointer.is_empty() && !pointer.starts_with('/') {
                c.at(
                    gate.name.span(),
                    format!("gate `{name}`: pointer {pointer:?} must start with `/`"),
                );
            }
            let path = root.join(schema.get_ref());
            if let Some(known) = c.schemas.get(&path) {
                return Some(GateCheck::Schema {
                    schema: known.clone(),
                    path,
                    pointer,
                });
            }
            let compiled = Arc::new(Schema::new(path.clone()));
            if c.read_files
                && let Err(e) = compiled.validator()
            {
                c.at(
                    schema.span(),
                    format!("schema {:?} of gate `{name}`{e}", schema.get_ref()),
                );
                return None;
            }
            c.schemas.insert(path.clone(), compiled.clone());
            Some(GateCheck::Schema {
                path,
                schema: compiled,
                pointer,
            })
        }
        (None, Some(component)) => {
            let path = root.join(component.get_ref());
            // A component that a build command produces may not exist yet.
            if gate.build.is_none() && !path.is_file() {
                c.at(
                    component.span(),
                    format!(
                        "component {:?} of gate `{name}` does not exist",
                        component.get_ref()
                    ),
                );
            }
            let config = gate
                .config
                .as_ref()
                .map_or_else(|| serde_json::json!({}), toml_to_json);
            let build = gate.build.clone().map(|command| Build {
                command,
                dir: root.to_path_buf(),
            });
            Some(GateCheck::Component {
                path,
                config,
                build,
            })
        }
    }
}

/// The runner of an external stage: its `[stage.runner]` over the pipeline's
/// `[runner]`, field by field; `None` when neither names a command (an agent started
/// outside baton) or the stage is a component's.
fn runner(
    c: &mut Checker<'_>,
    spec: &StageSpec,
    default: Option<&RunnerSpec>,
    root: &Path,
) -> Option<Runner> {
    let name = spec.name.get_ref();
    let own = spec.runner.as_ref();
    if !spec.external {
        if let Some(command) = own.and_then(|r| r.command.as_ref()) {
            c.at(
                command.span(),
                format!("stage `{name}` runs a component: only an external stage has a runner"),
            );
        }
        return None;
    }
    let pick = |f: fn(&RunnerSpec) -> bool| own.filter(|r| f(r)).or(default.filter(|r| f(r)));
    let command = pick(|r| r.command.is_some())?.command.as_ref()?;
    if command.get_ref().is_empty() || command.get_ref()[0].trim().is_empty() {
        c.at(
            command.span(),
            format!("the runner of stage `{name}` has an empty command"),
        );
        return None;
    }
    let resume = pick(|r| r.resume.is_some()).and_then(|r| r.resume.as_ref());
    // `{session_id}` is known only when resuming.
    let args = command
        .get_ref()
        .iter()
        .map(|a| (a, command.span(), false))
        .chain(
            resume
                .into_iter()
                .flat_map(|r| r.get_ref().iter().map(|a| (a, r.span(), true))),
        );
    for (arg, span, resuming) in args {
        for placeholder in placeholders(arg) {
            let known = RUNNER_PLACEHOLDERS.contains(&placeholder)
                || (resuming && placeholder == "session_id");
            if !known {
                let mut filled = RUNNER_PLACEHOLDERS.map(|p| format!("`{{{p}}}`")).join(", ");
                if resuming {
                    filled.push_str(", and in `resume` `{session_id}`");
                }
                c.at(
                    span.clone(),
                    format!(
                        "the runner of stage `{name}` names `{{{}}}`, which baton does not fill; it fills {filled}",
                        short(placeholder),
                    ),
                );
            }
        }
    }
    let dir = pick(|r| r.dir.is_some())
        .and_then(|r| r.dir.as_ref())
        .map_or_else(|| root.to_path_buf(), |d| root.join(d));
    let env = pick(|r| r.env.is_some())
        .and_then(|r| r.env.clone())
        .unwrap_or_default();
    let mut timeout = std::time::Duration::from_secs(30 * 60);
    if let Some(t) = pick(|r| r.timeout.is_some()).and_then(|r| r.timeout.as_ref()) {
        match humantime::parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => timeout = d,
            _ => c.at(
                t.span(),
                format!(
                    "timeout {:?} is not a duration such as `10m` or `90s`",
                    t.get_ref()
                ),
            ),
        }
    }
    let mut attempts = 3;
    if let Some(a) = pick(|r| r.attempts.is_some()).and_then(|r| r.attempts.as_ref()) {
        match *a.get_ref() {
            0 => c.at(a.span(), "attempts must be at least 1"),
            n => attempts = n,
        }
    }
    Some(Runner {
        command: command.get_ref().clone(),
        dir,
        env,
        timeout,
        attempts,
        resume: resume.map(|r| r.get_ref().clone()).unwrap_or_default(),
    })
}

/// The `{name}` placeholders of `arg`.
pub(crate) fn placeholders(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out
}

fn limits(c: &mut Checker<'_>, spec: &LimitsSpec, base: Limits) -> Limits {
    let mut out = base;
    if let Some(t) = &spec.timeout {
        match humantime::parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => out.timeout = d,
            _ => c.at(
                t.span(),
                format!(
                    "timeout {:?} is not a duration such as `10s` or `500ms`",
                    t.get_ref()
                ),
            ),
        }
    }
    let mut size = |field: &Option<Spanned<String>>, what: &str, slot: &mut usize| {
        if let Some(s) = field {
            match crate::runtime::parse_size(s.get_ref()) {
                Ok(n) if n > 0 => *slot = n,
                _ => c.at(
                    s.span(),
                    format!("{what} {:?} is not a size such as `64MiB`", s.get_ref()),
                ),
            }
        }
    };
    size(&spec.memory, "memory", &mut out.memory_bytes);
    size(&spec.output, "output", &mut out.output_bytes);
    size(&spec.event_size, "event_size", &mut out.host.event_bytes);
    size(
        &spec.log_line_size,
        "log_line_size",
        &mut out.host.log_line_bytes,
    );
    size(
        &spec.finding_size,
        "finding_size",
        &mut out.host.finding_bytes,
    );
    let mut count = |field: &Option<Spanned<i64>>, what: &str, slot: &mut usize| {
        if let Some(n) = field {
            match usize::try_from(*n.get_ref()) {
                Ok(v) if v > 0 => *slot = v,
                _ => c.at(
                    n.span(),
                    format!("{what} {} is not a count of at least 1", n.get_ref()),
                ),
            }
        }
    };
    count(&spec.events, "events", &mut out.host.events);
    count(&spec.log_lines, "log_lines", &mut out.host.log_lines);
    count(&spec.findings, "findings", &mut out.host.findings);
    count(&spec.host_calls, "host_calls", &mut out.host.host_calls);
    out
}

fn toml_to_json(table: &toml::Table) -> serde_json::Value {
    serde_json::to_value(table).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::stage_at;

    #[test]
    fn a_place_in_a_stage_table_or_its_sub_tables_names_the_stage() {
        let text = "[pipeline]\nname = \"p\"\n\n[[stage]]\nname = \"first\"\nwrites = \"a\"\n\n[[stage.gate]]\nname = \"g\"\nrule = \"r\"\n\n[[stage]]\nname = 'second'\n[stage.limits]\ntimeout = \"1s\"\n\n[[input]]\nkey = \"k\"\n";
        let at = |needle: &str| stage_at(text, text.find(needle).unwrap());
        assert_eq!(at("name = \"p\""), None);
        assert_eq!(at("writes"), Some("first".into()));
        assert_eq!(
            at("rule"),
            Some("first".into()),
            "a gate's line is its stage's"
        );
        assert_eq!(at("timeout"), Some("second".into()));
        assert_eq!(at("key = "), None, "an input is no stage's");
    }
}

#[cfg(test)]
mod names {
    use crate::pipeline::Pipeline;

    #[test]
    fn a_stage_writing_into_a_bad_namespace_is_refused_at_its_line() {
        let text = "[pipeline]\nname = \"p\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"s\"\nexternal = true\nwrites = \" padded :k\"\n";
        let problems = Pipeline::parse(std::path::Path::new("pipeline.toml"), text)
            .expect_err("the namespace is refused");
        let p = &problems.0[0];
        assert_eq!((p.line, p.stage.as_deref()), (8, Some("s")), "{p}");
        assert!(p.message.contains("white space"), "{p}");
    }

    #[test]
    fn an_approval_gate_is_a_person_s_alone_and_blocks() {
        let base = "[pipeline]\nname = \"p\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"s\"\nexternal = true\nwrites = \"k\"\n\n[[stage.gate]]\nname = \"signed\"\nrule = \"r\"\napproval = true\n";
        let p = Pipeline::parse(std::path::Path::new("pipeline.toml"), base).expect("it checks");
        assert!(p.stages[0].awaits_approval());
        for (extra, says) in [
            ("schema = \"x.json\"\n", "has `schema`"),
            ("severity = \"warning\"\n", "cannot be a warning"),
        ] {
            let problems = Pipeline::parse(
                std::path::Path::new("pipeline.toml"),
                &format!("{base}{extra}"),
            )
            .expect_err("refused");
            let p = &problems.0[0];
            assert_eq!((p.line, p.stage.as_deref()), (11, Some("s")), "{p}");
            assert!(p.message.contains(says), "{p}");
        }
    }
}

#[cfg(test)]
mod root {
    use std::path::Path;

    use crate::pipeline::Pipeline;

    #[test]
    fn a_manifest_named_bare_has_the_current_folder_as_its_root() {
        let text = "[pipeline]\nname = \"p\"\nnamespace = \"n\"\n\n[[stage]]\nname = \"s\"\ncomponent = \"s.wasm\"\nbuild = \"true\"\nwrites = \"k\"\n";
        let p = Pipeline::parse(Path::new("pipeline.toml"), text).expect("it checks");
        assert_eq!(p.root, Path::new("."));
        let build = p.stages[0].build.as_ref().expect("a build command");
        assert_eq!(build.dir, Path::new("."), "a command can be started there");
    }
}
