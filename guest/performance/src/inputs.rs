//! The five documents the performance architect reads, as earlier stages (or people,
//! or language models) write them. Optional fields have defaults; required ones are
//! few, and a missing one is an error naming the key and the JSON pointer.

use serde::{Deserialize, Serialize};

/// Where each input lives in the memory.
pub mod keys {
    /// Requirements (Phase 1, Agent 2).
    pub const REQUIREMENTS: &str = "coding/understanding/requirements";
    /// Codebase analysis (Phase 2, Agent 8).
    pub const ANALYSIS: &str = "coding/exploration/analysis";
    /// System architecture (Phase 3, Agent 11).
    pub const SYSTEM: &str = "coding/architecture/system";
    /// Data architecture (Phase 3, Agent 14).
    pub const DATA: &str = "coding/architecture/data";
    /// Integration architecture (Phase 3, Agent 16).
    pub const INTEGRATION: &str = "coding/architecture/integration";
    /// The performance architecture this stage writes.
    pub const PERFORMANCE: &str = "coding/architecture/performance";
    /// Measured results of a load test, per endpoint.
    pub const MEASUREMENTS: &str = "coding/testing/measurements";
    /// The load-test plan.
    pub const LOAD_TEST_PLAN: &str = "coding/testing/load-test-plan";
    /// The budget check's report.
    pub const BUDGET_CHECK: &str = "coding/testing/budget-check";
    /// The five inputs the performance architect reads, in the order it reads them.
    pub const ARCHITECT_READS: [&str; 5] = [REQUIREMENTS, ANALYSIS, SYSTEM, DATA, INTEGRATION];
}

/// `coding/understanding/requirements`: the requirements, functional and not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Requirements {
    /// The system's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Non-functional requirements. Performance ones carry a metric and a target.
    #[serde(default)]
    pub non_functional: Vec<Nfr>,
    /// The expected load.
    pub load: Load,
    /// Growth horizons, nearest first.
    #[serde(default)]
    pub growth: Vec<Growth>,
}

/// A non-functional requirement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Nfr {
    /// Its id, such as `NFR-3`; SLOs trace back to it.
    pub id: String,
    /// `performance` (the default), `security`, …; only performance NFRs become SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The requirement in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `latency`, `throughput`, `availability` or `error_rate`; anything else cannot be
    /// measured and is reported as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The numeric target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// Its unit: `ms` or `s` for latency, `rps` or `rpm` for throughput, `%` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// For latency: `p50`, `p90`, `p95`, `p99` or `p99.9` [default: `p95`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<String>,
    /// An endpoint such as `GET /products`, or `api` for the whole API [default].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `P0` (highest) to `P3` [default: `P1`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// The expected load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Load {
    /// Concurrent users at normal load.
    pub concurrent_users: f64,
    /// Requests per second at normal load.
    pub requests_per_second: f64,
    /// Share of requests that read, 0 to 1 [default: 0.8].
    #[serde(default = "default_read_ratio")]
    pub read_ratio: f64,
    /// Peak load as a multiple of normal [default: 3].
    #[serde(default = "default_peak_factor")]
    pub peak_factor: f64,
    /// How long a peak lasts, in minutes [default: 120].
    #[serde(default = "default_peak_minutes")]
    pub peak_duration_minutes: f64,
    /// Stress load as a multiple of peak [default: 2].
    #[serde(default = "default_stress_factor")]
    pub stress_factor: f64,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            concurrent_users: 0.0,
            requests_per_second: 0.0,
            read_ratio: default_read_ratio(),
            peak_factor: default_peak_factor(),
            peak_duration_minutes: default_peak_minutes(),
            stress_factor: default_stress_factor(),
        }
    }
}

fn default_read_ratio() -> f64 {
    0.8
}
fn default_peak_factor() -> f64 {
    3.0
}
fn default_peak_minutes() -> f64 {
    120.0
}
fn default_stress_factor() -> f64 {
    2.0
}

/// A growth horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Growth {
    /// Its name, such as `12 months`.
    pub horizon: String,
    /// Traffic at the horizon as a multiple of today's.
    pub traffic_multiplier: f64,
    /// Data volume at the horizon as a multiple of today's [default: 1].
    #[serde(default = "one")]
    pub data_multiplier: f64,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

/// `coding/exploration/analysis`: what the codebase analysis found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Analysis {
    /// Measured hotspots.
    #[serde(default)]
    pub hotspots: Vec<Hotspot>,
    /// Known bottlenecks.
    #[serde(default)]
    pub bottlenecks: Vec<Bottleneck>,
    /// Endpoints' measured latency: a path measured over its SLO puts the items that
    /// explain the gap first in the optimization plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measured: Vec<EndpointLatency>,
}

/// A hotspot: code that costs the most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Hotspot {
    /// The component it is in.
    pub component: String,
    /// File or function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its measured p95 latency, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// Its share of the component's CPU, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
}

/// A known bottleneck.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Bottleneck {
    /// `n_plus_one`, `synchronous_call`, `missing_index`, `unbounded_query` or another word.
    pub kind: String,
    /// The component it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The entity it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An endpoint's latency as measured today (by tracing or a load test).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointLatency {
    /// The endpoint, such as `GET /products`, as a critical path names it.
    pub endpoint: String,
    /// Its measured p95 latency, in milliseconds.
    pub p95_ms: f64,
}

/// `coding/architecture/system`: components, calls and critical paths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct System {
    /// The system's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its components.
    pub components: Vec<Component>,
    /// Calls between components.
    #[serde(default)]
    pub calls: Vec<Call>,
    /// The paths requests take that matter most.
    #[serde(default)]
    pub critical_paths: Vec<CriticalPath>,
}

/// The kinds of component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// An API gateway or load balancer.
    Gateway,
    /// A request-serving service.
    Service,
    /// A background worker or consumer.
    Worker,
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// A queue or log (Kafka, SQS, …).
    Queue,
    /// A service outside the system (payment provider, …).
    External,
}

impl ComponentKind {
    /// Stateless unless said otherwise: gateways, services and workers.
    pub fn stateless_by_default(self) -> bool {
        matches!(self, Self::Gateway | Self::Service | Self::Worker)
    }

    /// A baseline latency per call when none is given, in milliseconds.
    pub fn default_latency_ms(self) -> f64 {
        match self {
            Self::Gateway => 5.0,
            Self::Service => 20.0,
            Self::Worker => 50.0,
            Self::Database => 10.0,
            Self::Cache => 1.0,
            Self::Queue => 5.0,
            Self::External => 100.0,
        }
    }

    /// Requests per second one instance serves when none is given.
    pub fn default_capacity_rps(self) -> f64 {
        match self {
            Self::Gateway => 5000.0,
            Self::Service => 500.0,
            Self::Worker => 200.0,
            Self::Database => 2000.0,
            Self::Cache => 50000.0,
            Self::Queue => 10000.0,
            Self::External => 100.0,
        }
    }

    /// Its name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Service => "service",
            Self::Worker => "worker",
            Self::Database => "database",
            Self::Cache => "cache",
            Self::Queue => "queue",
            Self::External => "external",
        }
    }
}

/// A component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Component {
    /// Its name, unique in the system.
    pub name: String,
    /// What it is.
    pub kind: ComponentKind,
    /// Whether it keeps no state between requests [default: by kind].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateless: Option<bool>,
    /// Its own latency per request at normal load, in ms [default: by kind].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_latency_ms: Option<f64>,
    /// Requests per second one instance serves at full use [default: by kind].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rps: Option<f64>,
}

impl Component {
    /// Whether it keeps no state.
    pub fn is_stateless(&self) -> bool {
        self.stateless
            .unwrap_or_else(|| self.kind.stateless_by_default())
    }

    /// Its baseline latency, in ms.
    pub fn latency_ms(&self) -> f64 {
        self.baseline_latency_ms
            .unwrap_or_else(|| self.kind.default_latency_ms())
    }

    /// Its per-instance capacity, in requests per second.
    pub fn capacity(&self) -> f64 {
        self.capacity_rps
            .filter(|c| *c > 0.0)
            .unwrap_or_else(|| self.kind.default_capacity_rps())
    }
}

/// A call from one component to another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Call {
    /// The caller.
    pub from: String,
    /// The callee.
    pub to: String,
    /// Whether the caller waits for the answer [default: true].
    #[serde(default = "yes")]
    pub sync: bool,
}

/// A critical path: an endpoint and the components a request crosses, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CriticalPath {
    /// Its name, such as `checkout`.
    pub name: String,
    /// The endpoint, such as `POST /orders`.
    pub endpoint: String,
    /// The components crossed, in order.
    pub components: Vec<String>,
    /// Its share of all requests, 0 to 1 [default: an equal share of all paths].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_share: Option<f64>,
    /// Whether the endpoint may answer `202 Accepted` and finish its work later, so
    /// a call on the path that the response does not carry may leave it for a queue
    /// [default: false: the response carries what the path's calls return].
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_answer_202: bool,
}

impl CriticalPath {
    /// Whether the endpoint only reads (`GET` or `HEAD`).
    pub fn is_read(&self) -> bool {
        let method = self.endpoint.split_whitespace().next().unwrap_or_default();
        method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `coding/architecture/data`: entities and how they are used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Data {
    /// The entities.
    pub entities: Vec<Entity>,
}

/// An entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Entity {
    /// Its name, such as `product`; events about it are named `<name>.<verb>`.
    pub name: String,
    /// The component that stores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// How many records it holds today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<f64>,
    /// Reads per write [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_write_ratio: Option<f64>,
    /// How often a record changes: `static` (reference data), `daily`, `hourly`,
    /// `minutely` or `realtime` [default: `hourly`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_frequency: Option<String>,
    /// How it is queried.
    #[serde(default)]
    pub access_patterns: Vec<AccessPattern>,
}

/// A way an entity is queried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccessPattern {
    /// Its name, such as `by category`.
    pub name: String,
    /// Columns it filters or sorts on.
    #[serde(default)]
    pub filter_columns: Vec<String>,
    /// Queries per second at normal load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_rps: Option<f64>,
    /// Whether an index serves it; `false` makes an optimization item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<bool>,
}

/// `coding/architecture/integration`: external services and published events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Integration {
    /// Services outside the system.
    #[serde(default)]
    pub external_services: Vec<ExternalService>,
    /// Topics and the events published on them.
    #[serde(default)]
    pub topics: Vec<Topic>,
}

/// A service outside the system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExternalService {
    /// Its name; a system component of kind `external` with this name is this service.
    pub name: String,
    /// Its contract latency (p95), in ms.
    pub latency_ms: f64,
    /// Its rate limit, in requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    /// The timeout callers use, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
    /// Whether it is called on the request path [default: true].
    #[serde(default = "yes")]
    pub sync: bool,
    /// Whether its answers can be reused for other requests (a lookup, a quote), so
    /// caching them can help [default: true when every critical path crossing it
    /// only reads (`GET`, `HEAD`), false otherwise: an answer to a write, such as a
    /// payment authorisation, is unique to its request].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacheable: Option<bool>,
    /// Whether it accepts an idempotency key, so a retried call cannot act twice
    /// [default: false: a write is then not retried].
    #[serde(default, skip_serializing_if = "is_false")]
    pub idempotency_keys: bool,
    /// Whether it allows hedged requests (a second request when the first is slow)
    /// [default: false].
    #[serde(default, skip_serializing_if = "is_false")]
    pub hedging: bool,
    /// What callers do while its circuit breaker is open [default: fail fast with a
    /// retryable error (`503` with `Retry-After`)].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// A topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// The component that publishes on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    /// The events published, such as `product.updated`.
    pub events: Vec<String>,
    /// The entity its events are about, when their names do not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
}

impl Integration {
    /// Every event any topic publishes.
    pub fn published_events(&self) -> impl Iterator<Item = &str> {
        self.topics
            .iter()
            .flat_map(|t| t.events.iter().map(String::as_str))
    }
}

/// The five inputs together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    /// Requirements.
    pub requirements: Requirements,
    /// Codebase analysis (optional: an empty one when absent).
    pub analysis: Analysis,
    /// System architecture.
    pub system: System,
    /// Data architecture.
    pub data: Data,
    /// Integration architecture.
    pub integration: Integration,
}

/// Measured results per endpoint, as a load tool exports them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Measurements {
    /// The tool that measured (k6, Gatling, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// One entry per endpoint.
    pub endpoints: Vec<Measured>,
}

/// What was measured at one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Measured {
    /// The endpoint, such as `GET /products`.
    pub endpoint: String,
    /// Median latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Sustained throughput, requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_rps: Option<f64>,
    /// Failed requests, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_percent: Option<f64>,
}
