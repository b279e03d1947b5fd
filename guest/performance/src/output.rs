//! The performance architecture: what the stage stores at
//! `coding/architecture/performance`, in the shape of seed 001's four outputs
//! (`performance_requirements`, `scalability_design`, `caching_strategy`,
//! `optimization_plan`) plus monitoring, the Phase 4 handoff and quality metrics.

use serde::{Deserialize, Serialize};

/// The performance architecture document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PerformanceArchitecture {
    /// Always `performance-architect`.
    pub agent: String,
    /// Always 3.
    pub phase: u32,
    /// The system's name.
    pub system: String,
    /// The summary counts of seed 001's output format.
    pub summary: Summary,
    /// SLOs, latency budgets and load profiles.
    pub performance_requirements: PerformanceRequirements,
    /// Capacity and scaling per component and horizon.
    pub scalability_design: ScalabilityDesign,
    /// Caches with TTLs and invalidation policies.
    pub caching_strategy: CachingStrategy,
    /// Optimizations, each traced to its cause.
    pub optimization_plan: OptimizationPlan,
    /// Metrics and alert thresholds derived from the SLOs.
    pub monitoring: Monitoring,
    /// What the implementation stages need.
    pub handoff: Handoff,
    /// How complete this architecture is.
    pub quality_metrics: QualityMetrics,
    /// Defaults assumed where an input was silent, in words.
    pub assumptions: Vec<String>,
}

/// Summary counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Summary {
    /// SLOs defined.
    pub slos: usize,
    /// Critical paths with a latency budget.
    pub latency_budgets: usize,
    /// The scaling strategy in a phrase.
    pub scaling_strategy: String,
    /// Cache layers.
    pub cache_layers: usize,
}

/// Seed 001's `performance_requirements`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PerformanceRequirements {
    /// One SLO per measurable performance NFR.
    pub slos: Vec<Slo>,
    /// Performance NFRs that could not be made measurable, and why.
    pub unmeasurable: Vec<Unmeasurable>,
    /// SLO coverage of the performance NFRs.
    pub coverage: Coverage,
    /// A budget per critical path.
    pub latency_budgets: Vec<LatencyBudget>,
    /// Normal, peak and stress load.
    pub load_profiles: LoadProfiles,
}

/// A service level objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Slo {
    /// `SLO-<n>`.
    pub id: String,
    /// The NFR it comes from.
    pub nfr: String,
    /// `latency`, `throughput`, `availability` or `error_rate`.
    pub metric: String,
    /// An endpoint, or `api` for the whole API.
    pub scope: String,
    /// The target number.
    pub target: f64,
    /// `ms`, `rps` or `%`.
    pub unit: String,
    /// For latency: the percentile, such as `p95`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<String>,
    /// `<` (at most) or `>=` (at least).
    pub comparison: String,
    /// How it is measured.
    pub measurement: String,
    /// `P0` to `P3`.
    pub priority: String,
}

/// A performance NFR that cannot be measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Unmeasurable {
    /// The NFR.
    pub nfr: String,
    /// Why.
    pub reason: String,
}

/// SLO coverage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Coverage {
    /// Performance NFRs in the requirements.
    pub performance_nfrs: usize,
    /// Those covered by an SLO.
    pub covered: usize,
    /// covered / performance_nfrs (1 when there are none).
    pub ratio: f64,
}

/// A latency budget for a critical path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyBudget {
    /// The critical path.
    pub path: String,
    /// Its endpoint.
    pub endpoint: String,
    /// The end-to-end target, ms.
    pub total_ms: f64,
    /// The percentile the total is at.
    pub percentile: String,
    /// Where the total comes from: an SLO id, or `default`.
    pub source: String,
    /// One segment per hop, in path order.
    pub segments: Vec<Segment>,
    /// Reserved for variance: total − Σ segments, never negative.
    pub headroom_ms: f64,
    /// Σ of the hops' baseline latencies, ms.
    pub baseline_ms: f64,
    /// The headroom a budget keeps when the baselines allow: 10 % of the total, ms.
    #[serde(default)]
    pub min_headroom_ms: f64,
    /// The baselines fit the total but leave less than the minimum headroom: every
    /// hop is budgeted its baseline and the headroom shrinks.
    #[serde(default)]
    pub tight: bool,
    /// The baselines alone exceed the total.
    pub over_budget: bool,
}

/// One hop's share of a budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Segment {
    /// The component.
    pub component: String,
    /// Its kind.
    pub kind: String,
    /// Its budget, ms.
    pub budget_ms: f64,
    /// Its baseline (for an external service: its contract latency), ms.
    pub baseline_ms: f64,
}

/// The load profiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoadProfiles {
    /// Everyday load.
    pub normal: LoadProfile,
    /// Peak load.
    pub peak: LoadProfile,
    /// Stress load, for capacity planning.
    pub stress: LoadProfile,
}

/// One load profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoadProfile {
    /// Concurrent users.
    pub concurrent_users: f64,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Share of reads, 0 to 1.
    pub read_ratio: f64,
    /// How long it lasts, minutes (peak only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<f64>,
}

/// Seed 001's `scalability_design`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScalabilityDesign {
    /// Utilisation each instance is sized for (0.7 in the seeds).
    pub target_utilization: f64,
    /// Fewest instances of anything that scales (2 for 99.9 % availability or more).
    pub min_replicas: u64,
    /// The growth horizons sized for.
    pub growth: Vec<GrowthHorizon>,
    /// Each component.
    pub components: Vec<ComponentCapacity>,
}

/// A growth horizon sized for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GrowthHorizon {
    /// Its name.
    pub horizon: String,
    /// Traffic multiplier.
    pub traffic_multiplier: f64,
    /// Data multiplier.
    pub data_multiplier: f64,
    /// Peak requests per second at the horizon.
    pub peak_rps: f64,
}

/// A component's capacity plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComponentCapacity {
    /// The component.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Whether it keeps no state.
    pub stateless: bool,
    /// Whether baton sizes it (external services are not ours to scale).
    pub scales: bool,
    /// `horizontal`, `primary with read replicas`, …
    pub strategy: String,
    /// Per-instance capacity, requests per second.
    pub capacity_rps: f64,
    /// Demand at normal, peak and stress load, requests per second.
    pub demand_rps: Demand,
    /// Instances needed (absent for external services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Replicas>,
    /// Database connection pool (Little's law), for databases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPool>,
    /// Write partitions (databases, queues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u64>,
    /// For a stateful cache or store: its data and load split into shards, each
    /// replicated; `replicas` counts every instance (shards × replicas per shard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Shards>,
    /// Anything to watch, such as a rate limit below peak demand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Demand on a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Demand {
    /// At normal load.
    pub normal: f64,
    /// At peak.
    pub peak: f64,
    /// Under stress.
    pub stress: f64,
}

/// Instances needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Replicas {
    /// At normal load.
    pub normal: u64,
    /// At peak.
    pub peak: u64,
    /// Under stress.
    pub stress: u64,
    /// At each growth horizon's peak.
    pub growth: Vec<HorizonReplicas>,
}

/// Shards of a stateful component: more demand means more shards, not more copies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Shards {
    /// Replicas of each shard (for availability).
    pub replicas_per_shard: u64,
    /// Shards at normal, peak and stress load and at each growth horizon's peak
    /// (`replicas` there counts shards).
    #[serde(flatten)]
    pub count: Replicas,
}

/// Instances at a growth horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HorizonReplicas {
    /// The horizon.
    pub horizon: String,
    /// Peak demand then, requests per second.
    pub demand_rps: f64,
    /// Instances needed.
    pub replicas: u64,
}

/// A connection pool sized by Little's law (L = λ·W).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConnectionPool {
    /// Connections in use at peak: peak rps × query time.
    pub busy_at_peak: f64,
    /// Pool size across all callers: busy ÷ target utilisation, rounded up.
    pub size: u64,
}

/// Seed 001's `caching_strategy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CachingStrategy {
    /// The layers used.
    pub layers: Vec<String>,
    /// One cache per read-heavy entity.
    pub caches: Vec<Cache>,
}

/// A cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cache {
    /// The entity cached, or decided not to be.
    pub entity: String,
    /// The layer (absent for an entity decided `not-cached`: there is no cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Key patterns (none for an entity decided `not-cached`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_patterns: Vec<String>,
    /// Time to live, seconds (1 s to 30 days; absent when `not-cached`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// Expected hit ratio, 0 to 1 (absent when `not-cached`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_hit_ratio: Option<f64>,
    /// How stale entries are removed.
    pub invalidation: Invalidation,
}

/// An invalidation policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Invalidation {
    /// `event-driven`, `write-through`, `ttl-only`, or `not-cached` for an entity
    /// deliberately left uncached (real-time or write-heavy).
    pub policy: String,
    /// For `event-driven`: the events that invalidate (published by the integration).
    #[serde(default)]
    pub events: Vec<String>,
    /// Why this policy.
    pub reason: String,
    /// For `event-driven`: how each event was matched to the entity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<EventMatch>,
}

/// A published event matched to a cached entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventMatch {
    /// The event, such as `order.updated`.
    pub event: String,
    /// The topic that publishes it.
    pub topic: String,
    /// Why it names the entity.
    pub by: String,
}

impl Cache {
    /// Whether the entity is cached (not a decision to leave it uncached).
    pub fn is_cached(&self) -> bool {
        self.invalidation.policy != "not-cached"
    }
}

/// Seed 001's `optimization_plan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OptimizationPlan {
    /// The items, most urgent first.
    pub items: Vec<Optimization>,
}

/// One optimization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Optimization {
    /// `OPT-<n>`.
    pub id: String,
    /// `database`, `code`, `network`, `async`, `capacity`, `latency`.
    pub area: String,
    /// What to do.
    pub action: String,
    /// What it comes from.
    pub cause: Cause,
    /// What it should gain.
    pub expected_impact: String,
    /// `P0` to `P3`.
    pub priority: String,
    /// The component or external service the action is about, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a call to another component or service: the remedies the action advises,
    /// each one of [`REMEDIES`]. Caching needs answers that can be reused; moving off
    /// the request path needs a response that does not carry the call's answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<String>,
    /// For an item that explains a path measured over its SLO: that path's gap, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explains_gap_ms: Option<f64>,
}

/// The remedies an optimization of a call can advise.
pub const REMEDIES: [&str; 7] = [
    "cache",
    "off-request-path",
    "timeout",
    "circuit-breaker",
    "idempotent-retry",
    "hedged-requests",
    "renegotiate",
];

/// The cause of an optimization: a kind and where it is in the inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cause {
    /// `hotspot`, `n_plus_one`, `missing_index`, `path_over_budget`, …
    pub kind: String,
    /// `<key>#<JSON pointer>` of what caused it.
    pub source: String,
}

/// Monitoring derived from the SLOs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Monitoring {
    /// Metrics to implement.
    pub metrics: Vec<String>,
    /// Alerts.
    pub alerts: Vec<Alert>,
    /// How far short of its SLO's target a warning fires (0.2: 20 % before the
    /// target; of the error budget, for availability).
    #[serde(default)]
    pub warning_margin: f64,
    /// Multi-window burn-rate alerts on the error budgets of the availability and
    /// error-rate SLOs.
    #[serde(default)]
    pub burn_rate_alerts: Vec<BurnRateAlert>,
    /// What each throughput SLO promises: the capacity the design is sized for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<CapacityPromise>,
}

/// A throughput SLO read as what it is, a capacity promise: the traffic its scope
/// can take at the replicas sized for peak, and the component that limits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CapacityPromise {
    /// The throughput SLO.
    pub slo: String,
    /// Its scope: an endpoint, or `api`.
    pub scope: String,
    /// The throughput it promises, requests per second.
    pub target_rps: f64,
    /// The traffic of the scope the replicas sized for peak serve at full use,
    /// requests per second: the smallest over the components the scope crosses.
    pub sized_rps: f64,
    /// The component that reaches full use first.
    pub limited_by: String,
}

/// A multi-window burn-rate alert (the SRE Workbook): it fires while the error
/// budget burns faster than `burn_rate` over both windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BurnRateAlert {
    /// The SLO whose budget it guards.
    pub slo: String,
    /// The error budget: the share of requests (or time) allowed to fail, %.
    pub error_budget_percent: f64,
    /// The window the budget is counted over, days.
    pub budget_window_days: u64,
    /// How many times faster than sustainable the budget burns.
    pub burn_rate: f64,
    /// The long window, such as `1h`.
    pub long_window: String,
    /// The short window that confirms it is still burning, such as `5m`.
    pub short_window: String,
    /// The error ratio over both windows above which it fires, %.
    pub error_ratio_above_percent: f64,
    /// `page` or `ticket`.
    pub severity: String,
}

/// An alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Alert {
    /// What it watches, such as `p95 latency GET /products`.
    pub metric: String,
    /// The SLO it guards, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
    /// `>` (fires above) or `<` (fires below).
    pub comparison: String,
    /// Warning level.
    pub warning: f64,
    /// Critical level.
    pub critical: f64,
    /// Its unit.
    pub unit: String,
    /// What to do when it fires.
    pub action: String,
    /// Why this alert watches what it does, where that is not plain (a throughput
    /// SLO's alert watches capacity, not low traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Seed 001's "Handoff to Phase 4 Implementation".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Handoff {
    /// For the code generator (Agent 018).
    pub code_generator: CodeGeneratorHandoff,
    /// For all implementation agents (018–030).
    pub implementation: ImplementationHandoff,
    /// For the performance optimizer (Agent 036).
    pub performance_optimizer: OptimizerHandoff,
}

/// For the code generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CodeGeneratorHandoff {
    /// Patterns to apply.
    pub performance_patterns: Vec<String>,
    /// The P0 and P1 optimizations.
    pub optimization_requirements: Vec<String>,
}

/// For all implementation agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImplementationHandoff {
    /// How to implement each cache.
    pub caching_patterns: Vec<String>,
    /// When to go asynchronous.
    pub async_patterns: Vec<String>,
    /// Limits to configure.
    pub resource_limits: ResourceLimits,
    /// Metrics to implement.
    pub metrics_to_implement: Vec<String>,
}

/// Resource limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResourceLimits {
    /// Request timeout, ms (twice the largest path budget).
    pub request_timeout_ms: f64,
    /// Largest page a list query returns.
    pub max_page_size: u64,
    /// Largest request body, bytes.
    pub max_body_bytes: u64,
}

/// For the performance optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OptimizerHandoff {
    /// Baselines to hold: each path's baseline and budget.
    pub baselines: Vec<String>,
    /// What to track.
    pub monitoring_requirements: Vec<String>,
    /// Optimization ids, most urgent first.
    pub optimization_priorities: Vec<String>,
}

/// Seed 001's quality metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QualityMetrics {
    /// SLO coverage, 0 to 1.
    pub slo_coverage: f64,
    /// Critical paths budgeted.
    pub paths_budgeted: Count,
    /// Scaling components sized for every horizon.
    pub components_sized: Count,
    /// Caches with an invalidation policy.
    pub caches_with_invalidation: Count,
    /// Whether every SLO has an alert.
    pub monitoring_ready: bool,
}

/// `done` of `total`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Count {
    /// Done.
    pub done: usize,
    /// Of.
    pub total: usize,
}
