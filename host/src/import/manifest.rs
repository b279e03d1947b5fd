//! Writing the planned stages into `pipeline.toml` with `toml_edit`, over the
//! existing manifest when there is one. The import owns a stage's `source`, `phase`,
//! `agent_number`, `reads`, `writes` and its gates' `rule`s; everything else in the
//! file (gate schemas and components, severities, limits, config, renderers, stages
//! added by hand, comments) is left as it is. A stage is matched by its `source`, then
//! its name; a gate by its name, then its rule.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value, value};

use super::agent::KeyUse;
use super::{AgentDef, Defect, PlannedStage, stage_name};

/// `text` with its stages partitioned by `spec` (`dynamic`, a folders pattern with a
/// `*`, or keys separated by commas): a `[partitions]` table, each partition's keys in
/// the namespace `PIPELINE-NAMESPACE-{partition}`. A manifest that declares its
/// partitions already keeps them, and says so.
pub(super) fn partition(
    text: &str,
    spec: &str,
    defects: &mut Vec<Defect>,
) -> Result<String, toml_edit::TomlError> {
    let mut doc: DocumentMut = text.parse()?;
    let here = std::path::Path::new("pipeline.toml");
    if doc.contains_key("partitions") {
        defects.push(Defect::warning(
            here,
            1,
            "the manifest declares its `[partitions]` already: `--partitioned-by` leaves them as they are".into(),
        ));
        return Ok(doc.to_string());
    }
    let namespace = doc
        .get("pipeline")
        .and_then(|p| p.get("namespace"))
        .and_then(Item::as_str)
        .unwrap_or("default")
        .to_owned();
    let mut table = Table::new();
    table.decor_mut().set_prefix(
        "\n# Every stage runs once per partition, its keys in the partition's namespace\n# (`--partitioned-by`); `partitioned = false` on a stage runs it once.\n",
    );
    match spec.trim() {
        "dynamic" => table["dynamic"] = value(true),
        pattern if pattern.contains('*') => table["folders"] = value(pattern),
        list => {
            let mut keys = Array::new();
            for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if let Err(e) = crate::pipeline::partitions::check_key(key) {
                    defects.push(Defect::error(here, 1, format!("`--partitioned-by`: {e}")));
                }
                keys.push(key);
            }
            if keys.is_empty() {
                defects.push(Defect::error(
                    here,
                    1,
                    "`--partitioned-by` names no partition: give `dynamic`, a folders pattern such as `systems/*/` or keys such as `eu,us`".into(),
                ));
            }
            table["keys"] = value(keys);
        }
    }
    table["namespace"] = value(format!("{namespace}-{{partition}}"));
    doc.insert("partitions", Item::Table(table));
    Ok(doc.to_string())
}

/// The manifest's text: `existing` updated with `stages`, or a new one.
pub(super) fn write(
    existing: Option<&str>,
    name: &str,
    namespace: &str,
    stages: &[PlannedStage],
    defects: &mut Vec<Defect>,
) -> Result<String, toml_edit::TomlError> {
    let mut doc: DocumentMut = match existing {
        Some(text) => text.parse()?,
        None => DocumentMut::new(),
    };
    let pipeline = doc
        .entry("pipeline")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut();
    if let Some(table) = pipeline {
        if !table.contains_key("name") {
            table["name"] = value(name);
        }
        if !table.contains_key("namespace") {
            table["namespace"] = value(namespace);
        }
        if !table.contains_key("description") {
            table["description"] = value("Imported from agent definitions by `baton import`");
        }
    }
    let list = doc
        .entry("stage")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(list) = list.as_array_of_tables_mut() else {
        defects.push(Defect::error(
            std::path::Path::new("pipeline.toml"),
            1,
            "`stage` in the existing manifest is not an array of `[[stage]]` tables".into(),
        ));
        return Ok(doc.to_string());
    };
    for planned in stages {
        let found = list
            .iter()
            .position(|t| str_of(t, "source") == Some(&planned.source))
            .or_else(|| {
                list.iter()
                    .position(|t| str_of(t, "name") == Some(&planned.name))
            });
        let table = match found {
            Some(i) => list.get_mut(i).expect("found"),
            None => {
                list.push(Table::new());
                list.get_mut(list.len() - 1).expect("pushed")
            }
        };
        update_stage(table, planned);
    }
    // Stages imported before whose definition is gone: kept, and said.
    for table in list.iter() {
        let Some(source) = str_of(table, "source") else {
            continue;
        };
        if !stages.iter().any(|s| s.source == source) {
            defects.push(Defect::warning(
                std::path::Path::new(source),
                1,
                format!(
                    "stage `{}` was imported from this file, which is not among the definitions now; it is kept",
                    str_of(table, "name").unwrap_or("?")
                ),
            ));
        }
    }
    Ok(doc.to_string())
}

/// An agent whose hooks were rewritten to `baton agent inputs|output` (and make no
/// memory call of their own) reads and writes what its stage in the `existing`
/// manifest says: those are filled in, at the line of its name.
pub(super) fn known_handoffs(existing: &str, agents: &mut [AgentDef]) {
    let Ok(doc) = existing.parse::<DocumentMut>() else {
        return;
    };
    let namespace = doc
        .get("pipeline")
        .and_then(|p| p.get("namespace"))
        .and_then(Item::as_str)
        .unwrap_or(super::DEFAULT_NAMESPACE)
        .to_owned();
    let Some(stages) = doc.get("stage").and_then(Item::as_array_of_tables) else {
        return;
    };
    let key_use = |text: &str, line: usize| {
        let (ns, key) = text.split_once(':').unwrap_or((&namespace, text));
        KeyUse {
            key: key.to_owned(),
            namespace: Some(ns.to_owned()),
            line,
        }
    };
    for agent in agents.iter_mut() {
        if !agent.baton_calls || !agent.reads.is_empty() || !agent.writes.is_empty() {
            continue;
        }
        let name = stage_name(&agent.name);
        let Some(stage) = stages.iter().find(|t| str_of(t, "name") == Some(&name)) else {
            continue;
        };
        let line = agent.name_line;
        if let Some(reads) = stage.get("reads").and_then(Item::as_array) {
            agent.reads = reads
                .iter()
                .filter_map(Value::as_str)
                .map(|r| key_use(r, line))
                .collect();
        }
        if let Some(writes) = str_of(stage, "writes") {
            agent.writes = vec![key_use(writes, line)];
        }
    }
}

fn str_of<'t>(table: &'t Table, field: &str) -> Option<&'t str> {
    table.get(field).and_then(Item::as_str)
}

/// Sets `field` to `new` unless it already holds that value (so that an unchanged
/// field keeps its formatting and comments).
fn set(table: &mut Table, field: &str, new: Value) {
    let same = table
        .get(field)
        .and_then(Item::as_value)
        .is_some_and(|old| old.to_string().trim() == new.to_string().trim());
    if !same {
        table[field] = Item::Value(new);
    }
}

fn strings(items: &[String]) -> Value {
    let mut array: Array = items.iter().map(String::as_str).collect();
    if items.len() > 2 {
        for v in array.iter_mut() {
            v.decor_mut().set_prefix("\n    ");
        }
        array.set_trailing_comma(true);
        array.set_trailing("\n");
    }
    Value::Array(array)
}

fn update_stage(table: &mut Table, planned: &PlannedStage) {
    set(table, "name", planned.name.as_str().into());
    set(table, "source", planned.source.as_str().into());
    // A stage given a component by hand stays a component stage.
    if !table.contains_key("component") {
        set(table, "external", true.into());
    }
    match planned.phase {
        Some(p) => set(table, "phase", i64::from(p).into()),
        None => {
            table.remove("phase");
        }
    }
    match planned.agent_number {
        Some(n) => set(table, "agent_number", i64::from(n).into()),
        None => {
            table.remove("agent_number");
        }
    }
    let reads_now: Vec<String> = table
        .get("reads")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if reads_now != planned.reads {
        if planned.reads.is_empty() {
            table.remove("reads");
        } else {
            table["reads"] = Item::Value(strings(&planned.reads));
        }
    }
    match &planned.writes {
        Some(w) => set(table, "writes", w.as_str().into()),
        None => {
            table.remove("writes");
        }
    }
    let gates = table
        .entry("gate")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(gates) = gates.as_array_of_tables_mut() else {
        return;
    };
    for (name, rule) in &planned.gates {
        let found = gates
            .iter()
            .position(|g| str_of(g, "name") == Some(name))
            .or_else(|| gates.iter().position(|g| str_of(g, "rule") == Some(rule)));
        let gate = match found {
            Some(i) => gates.get_mut(i).expect("found"),
            None => {
                gates.push(Table::new());
                gates.get_mut(gates.len() - 1).expect("pushed")
            }
        };
        if !gate.contains_key("name") {
            gate["name"] = value(name.as_str());
        }
        set(gate, "rule", rule.as_str().into());
    }
    // A prose gate whose rule left the definition goes; a gate someone enforced by
    // hand (a schema or a component) stays.
    gates.retain(|g| {
        let enforced = g.contains_key("schema") || g.contains_key("component");
        let planned_here = planned
            .gates
            .iter()
            .any(|(n, r)| str_of(g, "name") == Some(n) || str_of(g, "rule") == Some(r));
        enforced || planned_here
    });
    if gates.is_empty() {
        table.remove("gate");
    }
}
