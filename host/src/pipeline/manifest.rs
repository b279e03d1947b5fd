//! The shape of `pipeline.toml`, as serde reads it: unknown fields are rejected, and
//! the names a check may point at keep their place in the file (`Spanned`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// The whole manifest.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The pipeline's name and default namespace.
    pub pipeline: PipelineSection,
    /// Memory settings.
    #[serde(default)]
    pub memory: Option<MemorySection>,
    /// Limits every stage gets unless it sets its own.
    #[serde(default)]
    pub defaults: Option<DefaultsSection>,
    /// Input documents seeded from files before any stage runs.
    #[serde(default, rename = "input")]
    pub inputs: Vec<InputSpec>,
    /// The stages.
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageSpec>,
    /// How external stages' agents are started, unless a stage says otherwise.
    #[serde(default)]
    pub runner: Option<RunnerSpec>,
    /// The partitions every stage and input runs over, unless it says otherwise.
    #[serde(default)]
    pub partitions: Option<PartitionsSection>,
}

/// `[partitions]`: one pipeline for many systems. Every stage (and every input) runs
/// once per partition key unless it sets `partitioned = false`; its unqualified keys
/// live in the partition's namespace, and its namespaces, files, reads, writes and
/// config strings are templates over `{partition}` and `{namespace}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionsSection {
    /// Partition keys, as listed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub keys: Vec<Spanned<String>>,
    /// A path pattern with one `*` segment, relative to the manifest, such as
    /// `examples/*/system.json`: each match is a partition, the `*` its key.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub folders: Option<Spanned<String>>,
    /// Keys may also be added at run time (`baton partition add NAME`, MCP
    /// `partition_add`); they are kept in the memory.
    #[serde(default)]
    pub dynamic: bool,
    /// Each partition's namespace, a template over `{partition}` [default:
    /// `PIPELINE-NAMESPACE-{partition}`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<Spanned<String>>,
    /// Merged over every partitioned stage's `config`, its strings templates.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub config: Option<toml::Table>,
    /// What one partition sets for itself, by key: `[partitions.override.KEY]`.
    #[serde(default, rename = "override")]
    pub overrides: BTreeMap<String, PartitionOverride>,
}

/// `[partitions.override.KEY]`: a partition that keeps a namespace or a config of its
/// own, such as a system whose keys were stored before it was a partition.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionOverride {
    /// Its namespace, instead of the template's.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<Spanned<String>>,
    /// Its config, instead of `[partitions] config` (`{}`: none).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub config: Option<toml::Table>,
}

/// `[runner]` (every external stage's) or `[stage.runner]` (one stage's, field by
/// field over the pipeline's): how baton starts the agent that does an external
/// stage's work. No shell: `command` is spawned as it is, its placeholders filled.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerSpec {
    /// The argv, such as `["claude", "-p", "--output-format", "json", "--model",
    /// "{model}"]`. Placeholders: `{brief}` (the brief as one argument; it is also on
    /// standard input), `{brief_file}`, `{model}` and `{allowed_tools}` (from the
    /// agent's definition; an argument that is only an unknown one is left out, with
    /// the flag before it), `{agent_id}`, `{workflow_id}`, `{stage}`, `{key}`,
    /// `{namespace}`, `{schema_file}`, `{partition}` (left out, with the flag
    /// before it, for a stage of no partition).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub command: Option<Spanned<Vec<String>>>,
    /// Its working folder, relative to the manifest [default: the manifest's folder].
    #[serde(default)]
    pub dir: Option<String>,
    /// Environment variables it may see besides `PATH`, `HOME`, `LANG` and the ones
    /// baton sets (`BATON_*`, `TRACEPARENT`).
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Its time limit, such as `10m` [default: 30m]; its whole process group is
    /// killed then.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Attempts at an output its gates admit [default: 3]: a refused output sends
    /// the agent back with the findings.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub attempts: Option<Spanned<u32>>,
    /// Arguments added to `command` on a later attempt when the agent's last answer
    /// named its session (Claude Code's `session_id`), such as `["--resume",
    /// "{session_id}"]`: the agent goes on in its session and is sent the findings
    /// alone. Without it, each attempt starts afresh with the whole brief.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub resume: Option<Spanned<Vec<String>>>,
}

/// `[pipeline]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// The pipeline's name.
    pub name: String,
    /// The namespace keys live in unless a read or input names another.
    #[schemars(with = "String")]
    pub namespace: Spanned<String>,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[memory]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySection {
    /// Revisions kept per key (at least 1).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub retention: Option<Spanned<u64>>,
    /// A PostgreSQL database (`postgres://…`) holding the memory instead of
    /// `.baton/store`; `--store` and `BATON_STORE` override it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
}

/// `[defaults]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSection {
    /// Default limits.
    #[serde(default)]
    pub limits: Option<LimitsSpec>,
}

/// Limits as written: durations like `10s`, sizes like `64MiB`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Wall time, such as `10s` or `500ms`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Linear memory, such as `256MiB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
    /// Output document size, such as `16MiB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub output: Option<Spanned<String>>,
    /// Events a stage may emit in one run [default: 1000].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub events: Option<Spanned<i64>>,
    /// Size of one event's attributes, such as `64KiB` [default].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub event_size: Option<Spanned<String>>,
    /// Log lines in one run [default: 10000].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub log_lines: Option<Spanned<i64>>,
    /// Size of one log line, such as `16KiB` [default].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub log_line_size: Option<Spanned<String>>,
    /// Findings one gate component may return [default: 1000].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub findings: Option<Spanned<i64>>,
    /// Size of each field of a finding, such as `4KiB` [default].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub finding_size: Option<Spanned<String>>,
    /// Memory calls (`get`, `list-keys`) in one run [default: 100000].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub host_calls: Option<Spanned<i64>>,
}

/// `[[input]]`: a document seeded from a file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The key it is stored at.
    #[schemars(with = "String")]
    pub key: Spanned<String>,
    /// The JSON file, relative to the manifest.
    #[schemars(with = "String")]
    pub file: Spanned<String>,
    /// The namespace [default: the pipeline's, or in a partitioned pipeline the
    /// partition's].
    #[serde(default)]
    pub namespace: Option<String>,
    /// In a pipeline with `[partitions]`: whether it is seeded once per partition
    /// (`key`, `file` and `namespace` templates) [default: true].
    #[serde(default)]
    pub partitioned: Option<bool>,
}

/// `[[stage]]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// The stage's name, unique in the pipeline.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The agent name for events [default: the name in camelCase].
    #[serde(default)]
    pub agent: Option<String>,
    /// The pipeline phase the agent belongs to, such as 3 for architecture.
    #[serde(default)]
    pub phase: Option<u32>,
    /// The agent's number in the pipeline, counted across phases (its order).
    #[serde(default)]
    pub agent_number: Option<u32>,
    /// The component, a `.wasm` file relative to the manifest; absent for an external stage.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub component: Option<Spanned<String>>,
    /// A command that builds the component, run from the manifest's folder.
    #[serde(default)]
    pub build: Option<String>,
    /// Produced by an agent outside baton (through `baton memory store`); baton only
    /// gates, stores and tracks it.
    #[serde(default)]
    pub external: bool,
    /// Keys the stage reads: `key`, `prefix/*` or `namespace:key`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub reads: Vec<Spanned<String>>,
    /// The one key the stage writes. Only an external stage may write nothing (an
    /// imported agent whose definition stores nothing): baton then cannot tell when it
    /// is done.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub writes: Option<Spanned<String>>,
    /// The agent definition this stage was imported from (`baton import`), relative to
    /// the manifest.
    #[serde(default)]
    pub source: Option<String>,
    /// The stage's configuration, handed to it as JSON.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub config: Option<toml::Table>,
    /// Limits overriding `[defaults.limits]`.
    #[serde(default)]
    pub limits: Option<LimitsSpec>,
    /// The quality gates its output must pass.
    #[serde(default, rename = "gate")]
    pub gates: Vec<GateSpec>,
    /// How its output reads for people: a renderer component.
    #[serde(default)]
    pub render: Option<RenderSpec>,
    /// How its agent is started (an external stage), over the pipeline's `[runner]`.
    #[serde(default)]
    pub runner: Option<RunnerSpec>,
    /// In a pipeline with `[partitions]`: whether it runs once per partition
    /// [default: true]. A stage that is not may read across partitions: a read
    /// naming `{namespace}` or `{partition}` is one read per partition, and the stage
    /// waits for every partition's writer.
    #[serde(default)]
    pub partitioned: Option<bool>,
}

/// `[stage.render]`: the stage's renderer (WIT world `renderer`), which turns its
/// output into text for people (`baton memory retrieve --format markdown`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderSpec {
    /// The renderer component, a `.wasm` file relative to the manifest.
    #[schemars(with = "String")]
    pub component: Spanned<String>,
    /// A shell command, run in the manifest's folder, that builds `component`.
    #[serde(default)]
    pub build: Option<String>,
}

/// `[[stage.gate]]`. With neither `schema` nor `component` it is an unchecked gate:
/// its rule is recorded and reported as prose only; it blocks nothing. With
/// `approval = true` a person checks it: the output is held until `baton approve`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// The gate's name, unique within its stage.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The sentence it enforces (the agent definition's qualityGates line).
    pub rule: String,
    /// `error` blocks the output; `warning` only reports.
    #[serde(default)]
    pub severity: Severity,
    /// A JSON Schema file the document (or the part at `pointer`) must satisfy.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub schema: Option<Spanned<String>>,
    /// The JSON pointer the schema applies to [default: the whole document].
    #[serde(default)]
    pub pointer: Option<String>,
    /// A gate component (WIT world `gate`), a `.wasm` file relative to the manifest.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub component: Option<Spanned<String>>,
    /// A shell command, run in the manifest's folder, that builds `component`.
    #[serde(default)]
    pub build: Option<String>,
    /// Configuration handed to the gate component.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub config: Option<toml::Table>,
    /// A person checks this rule: an output that passes the other gates is held (not
    /// stored at its key, not read by later stages) until `baton approve STAGE`;
    /// `baton reject STAGE --reason` sends an agent back with the reason.
    #[serde(default)]
    pub approval: bool,
}

/// How a failing gate is treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The output is not stored.
    #[default]
    Error,
    /// The failure is reported; the output is stored.
    Warning,
}
