//! The performance architect's rules (DOMAIN.md), one function per part of the
//! document. Everything is a pure function of the inputs: same inputs, same output,
//! byte for byte (inputs keep their order; nothing iterates a hash map).

use std::collections::BTreeSet;

use crate::calls::{call_fit, remedies};
use crate::inputs::{ComponentKind, CriticalPath, Entity, Inputs, Integration, Nfr, keys};
use crate::output::*;

/// Utilisation each instance is sized for (the seeds' 70 %).
pub const TARGET_UTILIZATION: f64 = 0.7;
/// Share of each latency budget kept as headroom.
pub const HEADROOM: f64 = 0.10;
/// The end-to-end budget of a path no latency SLO covers, ms at p95.
pub const DEFAULT_PATH_BUDGET_MS: f64 = 500.0;
/// Shortest cache TTL (seed 003), seconds.
pub const TTL_MIN_S: u64 = 1;
/// Longest cache TTL (seed 003): 30 days, in seconds.
pub const TTL_MAX_S: u64 = 30 * 24 * 3600;
/// How far short of an SLO's target its warning fires: 20 % (of the error budget,
/// for availability).
pub const WARNING_MARGIN: f64 = 0.2;
/// The window an error budget is counted over, days.
pub const ERROR_BUDGET_DAYS: u64 = 30;
/// The policy of an entity deliberately left uncached.
pub const NOT_CACHED: &str = "not-cached";
/// Reads per write from which an entity is read-heavy and cached.
pub const READ_HEAVY: f64 = 4.0;

/// An input that cannot be used: the key and JSON pointer of the offending field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The input's key.
    pub key: &'static str,
    /// The JSON pointer in it.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.key, self.pointer, self.message)
    }
}

/// Derives the performance architecture from the five inputs.
pub fn derive(inputs: &Inputs) -> Result<PerformanceArchitecture, InputError> {
    validate(inputs)?;
    let mut assumptions = Vec::new();
    let (slos, unmeasurable, coverage) =
        slos(&inputs.requirements.non_functional, &mut assumptions);
    let budgets = latency_budgets(inputs, &slos, &mut assumptions);
    let profiles = load_profiles(inputs);
    let scalability = scalability(inputs, &slos, &profiles);
    let caching = caching(inputs, &mut assumptions);
    let optimization = optimization_plan(inputs, &budgets, &scalability);
    let monitoring = monitoring(inputs, &slos, &caching, &scalability);
    let handoff = handoff(&budgets, &caching, &optimization, &monitoring, inputs);
    let quality = quality(
        &coverage,
        &budgets,
        &scalability,
        &caching,
        &slos,
        &monitoring,
        inputs,
    );
    let stateless = scalability
        .components
        .iter()
        .filter(|c| c.scales && c.stateless)
        .count();
    let stateful = scalability
        .components
        .iter()
        .filter(|c| c.scales && !c.stateless)
        .count();
    let summary = Summary {
        slos: slos.len(),
        latency_budgets: budgets.len(),
        scaling_strategy: format!(
            "horizontal for {stateless} stateless component(s); replicas, partitions and pools for {stateful} stateful one(s)"
        ),
        cache_layers: caching.layers.len(),
    };
    Ok(PerformanceArchitecture {
        agent: "performance-architect".into(),
        phase: 3,
        system: inputs
            .system
            .name
            .clone()
            .or_else(|| inputs.requirements.system.clone())
            .unwrap_or_else(|| "unnamed system".into()),
        summary,
        performance_requirements: PerformanceRequirements {
            slos,
            unmeasurable,
            coverage,
            latency_budgets: budgets,
            load_profiles: profiles,
        },
        scalability_design: scalability,
        caching_strategy: caching,
        optimization_plan: optimization,
        monitoring,
        handoff,
        quality_metrics: quality,
        assumptions,
    })
}

/// Cross-references the inputs: every path names known components, names are unique,
/// load figures are positive.
fn validate(inputs: &Inputs) -> Result<(), InputError> {
    let err = |key, pointer: String, message: String| InputError {
        key,
        pointer,
        message,
    };
    let load = &inputs.requirements.load;
    for (field, v) in [
        ("concurrent_users", load.concurrent_users),
        ("requests_per_second", load.requests_per_second),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(err(
                keys::REQUIREMENTS,
                format!("/load/{field}"),
                format!("must be a positive number, not {v}"),
            ));
        }
    }
    if !(0.0..=1.0).contains(&load.read_ratio) {
        return Err(err(
            keys::REQUIREMENTS,
            "/load/read_ratio".into(),
            format!("must be between 0 and 1, not {}", load.read_ratio),
        ));
    }
    for (i, g) in inputs.requirements.growth.iter().enumerate() {
        if !(g.traffic_multiplier.is_finite() && g.traffic_multiplier > 0.0) {
            return Err(err(
                keys::REQUIREMENTS,
                format!("/growth/{i}/traffic_multiplier"),
                "must be a positive number".into(),
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, c) in inputs.system.components.iter().enumerate() {
        if !names.insert(c.name.as_str()) {
            return Err(err(
                keys::SYSTEM,
                format!("/components/{i}/name"),
                format!("component `{}` is named twice", c.name),
            ));
        }
    }
    for (i, p) in inputs.system.critical_paths.iter().enumerate() {
        if p.components.is_empty() {
            return Err(err(
                keys::SYSTEM,
                format!("/critical_paths/{i}/components"),
                format!("critical path `{}` crosses no component", p.name),
            ));
        }
        for (j, c) in p.components.iter().enumerate() {
            if !names.contains(c.as_str()) {
                return Err(err(
                    keys::SYSTEM,
                    format!("/critical_paths/{i}/components/{j}"),
                    format!(
                        "critical path `{}` crosses `{c}`, which is not a component",
                        p.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A metric baton can measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Request latency at a percentile.
    Latency,
    /// Sustained requests per second.
    Throughput,
    /// Share of successful requests.
    Availability,
    /// Share of failed requests.
    ErrorRate,
}

impl Metric {
    /// Parses a metric name as people write it.
    pub fn parse(name: &str) -> Option<Self> {
        match name
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "latency" | "response_time" => Some(Self::Latency),
            "throughput" | "rps" | "requests_per_second" => Some(Self::Throughput),
            "availability" | "uptime" => Some(Self::Availability),
            "error_rate" | "errors" => Some(Self::ErrorRate),
            _ => None,
        }
    }

    /// Its name in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latency => "latency",
            Self::Throughput => "throughput",
            Self::Availability => "availability",
            Self::ErrorRate => "error_rate",
        }
    }
}

/// Whether an NFR is a performance requirement.
pub fn is_performance(nfr: &Nfr) -> bool {
    nfr.category
        .as_deref()
        .is_none_or(|c| c.eq_ignore_ascii_case("performance"))
}

/// Whether a scope means the whole API.
pub fn is_api_wide(scope: &str) -> bool {
    matches!(
        scope.trim().to_ascii_lowercase().as_str(),
        "" | "api" | "*" | "all"
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10000.0).round() / 10000.0
}

/// The SLO for one NFR, or why it cannot be measured.
pub fn slo_for(nfr: &Nfr, id: String) -> Result<Slo, String> {
    let Some(name) = nfr.metric.as_deref() else {
        return Err("no metric: say latency, throughput, availability or error_rate".into());
    };
    let Some(metric) = Metric::parse(name) else {
        return Err(format!(
            "metric `{name}` cannot be measured; baton measures latency, throughput, availability and error_rate"
        ));
    };
    let Some(target) = nfr.target.filter(|t| t.is_finite() && *t > 0.0) else {
        return Err("no positive numeric target".into());
    };
    let unit = nfr.unit.as_deref().map(|u| u.trim().to_ascii_lowercase());
    let scope = nfr
        .scope
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "api".into());
    let (target, unit, comparison) = match metric {
        Metric::Latency => {
            let factor = match unit.as_deref() {
                None | Some("ms") => 1.0,
                Some("s") => 1000.0,
                Some("us" | "µs") => 0.001,
                Some(other) => return Err(format!("unit `{other}` is not a unit of time")),
            };
            (target * factor, "ms", "<")
        }
        Metric::Throughput => {
            let factor = match unit.as_deref() {
                None | Some("rps" | "req/s" | "requests/s") => 1.0,
                Some("rpm" | "req/min") => 1.0 / 60.0,
                Some(other) => return Err(format!("unit `{other}` is not a rate")),
            };
            (target * factor, "rps", ">=")
        }
        Metric::Availability | Metric::ErrorRate => {
            if !matches!(unit.as_deref(), None | Some("%" | "percent")) {
                return Err(format!(
                    "unit `{}` is not a percentage",
                    unit.unwrap_or_default()
                ));
            }
            if target > 100.0 {
                return Err(format!("{target} % is over 100 %"));
            }
            (
                target,
                "%",
                if metric == Metric::Availability {
                    ">="
                } else {
                    "<"
                },
            )
        }
    };
    let percentile = (metric == Metric::Latency).then(|| {
        nfr.percentile
            .as_deref()
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| p.len() > 1 && p.starts_with('p') && p[1..].parse::<f64>().is_ok())
            .unwrap_or_else(|| "p95".into())
    });
    let measurement = match metric {
        Metric::Latency => format!(
            "{} of request duration at {scope} over 5-minute windows (histogram http_request_duration_seconds)",
            percentile.as_deref().unwrap_or("p95")
        ),
        Metric::Throughput => format!(
            "requests per second sustained at {scope} over 10 minutes (counter http_requests_total)"
        ),
        Metric::Availability => {
            format!("successful requests / all requests at {scope}, 30-day rolling window")
        }
        Metric::ErrorRate => format!(
            "5xx responses / all responses at {scope} over 5-minute windows (counter http_errors_total)"
        ),
    };
    Ok(Slo {
        id,
        nfr: nfr.id.clone(),
        metric: metric.as_str().into(),
        scope,
        target: round4(target),
        unit: unit.into(),
        percentile,
        comparison: comparison.into(),
        measurement,
        priority: nfr.priority.clone().unwrap_or_else(|| "P1".into()),
    })
}

/// SLOs for the measurable performance NFRs, the others reported, and the coverage.
pub fn slos(
    nfrs: &[Nfr],
    assumptions: &mut Vec<String>,
) -> (Vec<Slo>, Vec<Unmeasurable>, Coverage) {
    let mut slos = Vec::new();
    let mut unmeasurable = Vec::new();
    let performance: Vec<&Nfr> = nfrs.iter().filter(|n| is_performance(n)).collect();
    for nfr in &performance {
        match slo_for(nfr, format!("SLO-{}", slos.len() + 1)) {
            Ok(slo) => {
                if slo.metric == "latency" && nfr.percentile.is_none() {
                    assumptions.push(format!("{}: no percentile given; p95 assumed", nfr.id));
                }
                slos.push(slo)
            }
            Err(reason) => unmeasurable.push(Unmeasurable {
                nfr: nfr.id.clone(),
                reason,
            }),
        }
    }
    let total = performance.len();
    let covered = slos.len();
    let coverage = Coverage {
        performance_nfrs: total,
        covered,
        ratio: if total == 0 {
            1.0
        } else {
            round4(covered as f64 / total as f64)
        },
    };
    (slos, unmeasurable, coverage)
}

/// The latency SLO that sets a path's total: its endpoint's (p95 preferred), else
/// the API-wide one.
fn path_slo<'a>(path: &CriticalPath, slos: &'a [Slo]) -> Option<&'a Slo> {
    let latency = |scope_ok: &dyn Fn(&str) -> bool| {
        let mut found: Vec<&Slo> = slos
            .iter()
            .filter(|s| s.metric == "latency" && scope_ok(&s.scope))
            .collect();
        found.sort_by_key(|s| s.percentile.as_deref() != Some("p95"));
        found.first().copied()
    };
    latency(&|s| s.trim() == path.endpoint.trim()).or_else(|| latency(&is_api_wide))
}

/// A budget per critical path (DOMAIN.md "Latency budgets").
pub fn latency_budgets(
    inputs: &Inputs,
    slos: &[Slo],
    assumptions: &mut Vec<String>,
) -> Vec<LatencyBudget> {
    inputs
        .system
        .critical_paths
        .iter()
        .map(|path| {
            let (total, percentile, source) = match path_slo(path, slos) {
                Some(s) => (s.target, s.percentile.clone().unwrap_or_else(|| "p95".into()), s.id.clone()),
                None => {
                    assumptions.push(format!(
                        "critical path `{}`: no latency SLO covers {}; a {DEFAULT_PATH_BUDGET_MS} ms p95 budget assumed",
                        path.name, path.endpoint
                    ));
                    (DEFAULT_PATH_BUDGET_MS, "p95".into(), "default".into())
                }
            };
            let hops: Vec<(String, ComponentKind, f64)> = path
                .components
                .iter()
                .map(|name| {
                    let c = inputs.system.components.iter().find(|c| &c.name == name).expect("validated");
                    let cost = if c.kind == ComponentKind::External {
                        inputs
                            .integration
                            .external_services
                            .iter()
                            .find(|e| &e.name == name)
                            .map_or_else(|| c.latency_ms(), |e| e.latency_ms)
                    } else {
                        c.latency_ms()
                    };
                    (name.clone(), c.kind, cost.max(0.0))
                })
                .collect();
            let (budgets, fit) = split_budget(total, &hops);
            let allotted: f64 = budgets.iter().sum();
            let baseline: f64 = hops.iter().map(|h| h.2).sum();
            LatencyBudget {
                path: path.name.clone(),
                endpoint: path.endpoint.clone(),
                total_ms: total,
                percentile,
                source,
                segments: hops
                    .iter()
                    .zip(&budgets)
                    .map(|((name, kind, cost), budget)| Segment {
                        component: name.clone(),
                        kind: kind.as_str().into(),
                        budget_ms: *budget,
                        baseline_ms: round2(*cost),
                    })
                    .collect(),
                // Rounded down: segments plus headroom never exceed the total.
                headroom_ms: ((total - allotted) * 100.0).floor().max(0.0) / 100.0,
                baseline_ms: round2(baseline),
                min_headroom_ms: (total * HEADROOM).ceil(),
                tight: fit == Fit::Tight,
                over_budget: fit == Fit::Over,
            }
        })
        .collect()
}

/// What a total leaves for the hops once headroom is kept, in whole ms.
pub fn distributable(total: f64) -> f64 {
    (total - (total * HEADROOM).ceil()).floor().max(0.0)
}

/// How a path's baselines sit against its total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The baselines leave the minimum headroom or more.
    Fits,
    /// The baselines fit the total but leave less than the minimum headroom: every hop
    /// gets its baseline and the headroom shrinks.
    Tight,
    /// The baselines alone exceed the total.
    Over,
}

/// Splits `total` across `hops` (name, kind, cost). No hop is budgeted below its
/// baseline unless the baselines alone exceed the total ([`Fit::Over`]):
/// - [`Fit::Fits`]: headroom first; external hops take their contract latency, the
///   others share the rest in proportion to their cost, each at least its baseline;
/// - [`Fit::Tight`]: each hop gets its baseline and what is left is the headroom;
/// - [`Fit::Over`]: every hop shares what the total leaves after headroom in
///   proportion to its cost.
///
/// Budgets are whole milliseconds (a baseline is rounded up unless that would pass
/// the total), so their sum never exceeds the total.
pub fn split_budget(total: f64, hops: &[(String, ComponentKind, f64)]) -> (Vec<f64>, Fit) {
    let room = distributable(total);
    let baseline: f64 = hops.iter().map(|h| h.2).sum();
    let floors: Vec<f64> = hops.iter().map(|h| h.2.ceil()).collect();
    let whole: f64 = floors.iter().sum();
    let proportional = |room: f64, members: &dyn Fn(&(String, ComponentKind, f64)) -> bool| {
        let members_cost: f64 = hops.iter().filter(|h| members(h)).map(|h| h.2).sum();
        let n = hops.iter().filter(|h| members(h)).count().max(1) as f64;
        move |h: &(String, ComponentKind, f64)| {
            let share = if members_cost > 0.0 {
                h.2 / members_cost
            } else {
                1.0 / n
            };
            (room * share).floor().max(0.0)
        }
    };
    if baseline > total {
        let all = proportional(room, &|_| true);
        return (hops.iter().map(all).collect(), Fit::Over);
    }
    if whole > room {
        // Tight: the baselines themselves, in whole ms where the total allows.
        let budgets = if whole <= total {
            floors
        } else {
            hops.iter().map(|h| h.2).collect()
        };
        return (budgets, Fit::Tight);
    }
    let external: f64 = hops
        .iter()
        .zip(&floors)
        .filter(|(h, _)| h.1 == ComponentKind::External)
        .map(|(_, f)| f)
        .sum();
    let internal = proportional(room - external, &|h| h.1 != ComponentKind::External);
    let mut budgets: Vec<f64> = hops
        .iter()
        .zip(&floors)
        .map(|(h, floor)| match h.1 {
            ComponentKind::External => *floor,
            _ => internal(h).max(*floor),
        })
        .collect();
    // Raising a hop to its baseline may pass the room: take the excess back, a
    // millisecond at a time, from the hops with the most to spare.
    let mut excess = budgets.iter().sum::<f64>() - room;
    while excess > 0.0 {
        let Some(i) = (0..hops.len())
            .filter(|&i| budgets[i] - floors[i] >= 1.0)
            .max_by(|&a, &b| (budgets[a] - floors[a]).total_cmp(&(budgets[b] - floors[b])))
        else {
            break;
        };
        budgets[i] -= 1.0;
        excess -= 1.0;
    }
    (budgets, Fit::Fits)
}

/// Normal, peak and stress load.
pub fn load_profiles(inputs: &Inputs) -> LoadProfiles {
    let load = &inputs.requirements.load;
    let peak = load.peak_factor.max(1.0);
    let stress = peak * load.stress_factor.max(1.0);
    let profile = |factor: f64, duration| LoadProfile {
        concurrent_users: (load.concurrent_users * factor).ceil(),
        requests_per_second: round2(load.requests_per_second * factor),
        read_ratio: load.read_ratio,
        duration_minutes: duration,
    };
    LoadProfiles {
        normal: profile(1.0, None),
        peak: profile(peak, Some(load.peak_duration_minutes)),
        stress: profile(stress, None),
    }
}

/// Instances to serve `demand` rps at `capacity` rps each, at the target utilisation,
/// never fewer than `min`. Monotonic: more demand never means fewer instances.
pub fn replicas_for(demand: f64, capacity: f64, min: u64) -> u64 {
    let needed = (demand.max(0.0) / (capacity * TARGET_UTILIZATION)).ceil() as u64;
    needed.max(min)
}

/// Fewest instances: 2 when any availability SLO is 99.9 % or more, else 1.
pub fn min_replicas(slos: &[Slo]) -> u64 {
    if slos
        .iter()
        .any(|s| s.metric == "availability" && s.target >= 99.9)
    {
        2
    } else {
        1
    }
}

/// Normal demand on each component, rps: the traffic of the critical paths crossing
/// it; a gateway on no path takes all traffic; a worker or queue on none takes the
/// writes.
fn normal_demand(inputs: &Inputs, name: &str, kind: ComponentKind) -> f64 {
    let rps = inputs.requirements.load.requests_per_second;
    let paths = &inputs.system.critical_paths;
    let explicit: f64 = paths.iter().filter_map(|p| p.traffic_share).sum();
    let unshared = paths.iter().filter(|p| p.traffic_share.is_none()).count();
    let rest = ((1.0 - explicit).max(0.0)) / unshared.max(1) as f64;
    let on_paths: f64 = paths
        .iter()
        .filter(|p| p.components.iter().any(|c| c == name))
        .map(|p| rps * p.traffic_share.unwrap_or(rest))
        .sum();
    if on_paths > 0.0 {
        return on_paths;
    }
    match kind {
        ComponentKind::Gateway => rps,
        ComponentKind::Worker | ComponentKind::Queue => {
            rps * (1.0 - inputs.requirements.load.read_ratio)
        }
        _ => 0.0,
    }
}

/// Capacity and scaling (DOMAIN.md "Capacity and scaling").
pub fn scalability(inputs: &Inputs, slos: &[Slo], profiles: &LoadProfiles) -> ScalabilityDesign {
    let min = min_replicas(slos);
    let load = &inputs.requirements.load;
    let peak_factor = profiles.peak.requests_per_second / load.requests_per_second;
    let stress_factor = profiles.stress.requests_per_second / load.requests_per_second;
    let growth: Vec<GrowthHorizon> = inputs
        .requirements
        .growth
        .iter()
        .map(|g| GrowthHorizon {
            horizon: g.horizon.clone(),
            traffic_multiplier: g.traffic_multiplier,
            data_multiplier: g.data_multiplier,
            peak_rps: round2(profiles.peak.requests_per_second * g.traffic_multiplier.max(1.0)),
        })
        .collect();
    let components = inputs
        .system
        .components
        .iter()
        .map(|c| {
            let normal = normal_demand(inputs, &c.name, c.kind);
            let demand = Demand {
                normal: round2(normal),
                peak: round2(normal * peak_factor),
                stress: round2(normal * stress_factor),
            };
            let capacity = c.capacity();
            let scales = c.kind != ComponentKind::External;
            let mut notes = Vec::new();
            // A stateful cache or store grows in shards, each replicated: copies of
            // one shard would each hold all the data and take all its writes.
            let sharded = scales
                && (c.kind == ComponentKind::Cache
                    || (!c.is_stateless()
                        && !matches!(c.kind, ComponentKind::Database | ComponentKind::Queue)));
            // Instances (or shards) at normal, peak and stress load and at each growth
            // horizon's peak, by `count`.
            let sized = |count: &dyn Fn(f64) -> u64| Replicas {
                normal: count(normal),
                peak: count(normal * peak_factor),
                stress: count(normal * stress_factor),
                growth: inputs
                    .requirements
                    .growth
                    .iter()
                    .map(|g| {
                        let d = normal * peak_factor * g.traffic_multiplier.max(1.0);
                        HorizonReplicas { horizon: g.horizon.clone(), demand_rps: round2(d), replicas: count(d) }
                    })
                    .collect(),
            };
            let shards_for = |d: f64| replicas_for(d, capacity, 1);
            let shards = sharded.then(|| Shards {
                replicas_per_shard: min,
                count: sized(&shards_for),
            });
            // A database: one primary takes the writes, read replicas the reads.
            let replicas = scales.then(|| {
                sized(&|d: f64| match c.kind {
                    ComponentKind::Database => 1 + replicas_for(d * load.read_ratio, capacity, min - 1),
                    _ if sharded => shards_for(d) * min,
                    _ => replicas_for(d, capacity, min),
                })
            });
            let largest = normal * stress_factor.max(peak_factor * max_growth(inputs));
            let partitions = match c.kind {
                ComponentKind::Database => {
                    Some(replicas_for(largest * (1.0 - load.read_ratio), capacity, 1))
                }
                ComponentKind::Queue => Some(replicas_for(largest, capacity, 3)),
                _ => None,
            };
            let connection_pool = (c.kind == ComponentKind::Database).then(|| {
                let busy = normal * peak_factor * c.latency_ms() / 1000.0;
                ConnectionPool {
                    busy_at_peak: round2(busy),
                    size: ((busy / TARGET_UTILIZATION).ceil() as u64).max(2),
                }
            });
            if c.kind == ComponentKind::External
                && let Some(limit) = inputs
                    .integration
                    .external_services
                    .iter()
                    .find(|e| e.name == c.name)
                    .and_then(|e| e.rate_limit_rps)
                    && demand.peak > limit {
                        notes.push(format!("peak demand {} rps is over its rate limit of {limit} rps", demand.peak));
                    }
            let strategy = match (c.kind, c.is_stateless()) {
                (ComponentKind::External, _) => "not scaled by us: timeouts, circuit breaker, rate-limit aware".to_string(),
                (ComponentKind::Database, _) => format!(
                    "primary with read replicas (reads {:.0} %), connection pooling, hash partitioning when writes outgrow one primary",
                    load.read_ratio * 100.0
                ),
                (ComponentKind::Cache, _) => match &shards {
                    Some(sh) => format!(
                        "clustered: {} shard(s) at peak, growing to {} over the growth horizons, {} replica(s) each",
                        sh.count.peak,
                        sh.count.growth.iter().map(|g| g.replicas).max().unwrap_or(sh.count.peak).max(sh.count.peak),
                        sh.replicas_per_shard
                    ),
                    None => "clustered, a replica per shard".into(),
                },
                (ComponentKind::Queue, _) => "partitioned, replication factor 3, consumers scale on lag".into(),
                (_, true) => "horizontal: autoscale on CPU 70 %".into(),
                (_, false) => format!(
                    "partitioned by key (stateful): {} shard(s) at peak, {} replica(s) each",
                    shards.as_ref().map_or(1, |s| s.count.peak),
                    min
                ),
            };
            ComponentCapacity {
                name: c.name.clone(),
                kind: c.kind.as_str().into(),
                stateless: c.is_stateless(),
                scales,
                strategy,
                capacity_rps: capacity,
                demand_rps: demand,
                replicas,
                connection_pool,
                partitions,
                shards,
                notes,
            }
        })
        .collect();
    ScalabilityDesign {
        target_utilization: TARGET_UTILIZATION,
        min_replicas: min,
        growth,
        components,
    }
}

fn max_growth(inputs: &Inputs) -> f64 {
    inputs
        .requirements
        .growth
        .iter()
        .map(|g| g.traffic_multiplier)
        .fold(1.0, f64::max)
}

/// How often a record changes, in seconds; `None` for reference data.
pub fn change_interval(frequency: &str) -> Option<Option<f64>> {
    match frequency.trim().to_ascii_lowercase().as_str() {
        "static" | "reference" | "never" => Some(None),
        "rarely" | "weekly" => Some(Some(7.0 * 86400.0)),
        "daily" => Some(Some(86400.0)),
        "hourly" => Some(Some(3600.0)),
        "minutely" | "frequently" => Some(Some(60.0)),
        "realtime" | "secondly" | "continuous" => Some(Some(1.0)),
        _ => None,
    }
}

/// A cache TTL for a change interval: a quarter of it, clamped to 1 s – 30 days;
/// reference data gets the longest.
pub fn ttl_for(interval_s: Option<f64>) -> u64 {
    match interval_s {
        None => TTL_MAX_S,
        Some(s) => ((s / 4.0).floor().max(0.0) as u64).clamp(TTL_MIN_S, TTL_MAX_S),
    }
}

/// Caching (DOMAIN.md "Caching").
pub fn caching(inputs: &Inputs, assumptions: &mut Vec<String>) -> CachingStrategy {
    let layer = inputs
        .system
        .components
        .iter()
        .find(|c| c.kind == ComponentKind::Cache)
        .map_or_else(
            || "in-process cache".to_string(),
            |c| format!("application cache ({})", c.name),
        );
    let mut caches = Vec::new();
    for entity in &inputs.data.entities {
        let ratio = entity.read_write_ratio.unwrap_or(1.0).max(0.0);
        if ratio < READ_HEAVY {
            caches.push(not_cached(
                entity,
                format!(
                    "write-heavy: {ratio} reads per write, under the {READ_HEAVY} from which a cache pays for its invalidations"
                ),
            ));
            continue;
        }
        let interval = match entity.change_frequency.as_deref().map(change_interval) {
            Some(Some(i)) => i,
            other => {
                if let Some(None) = other {
                    assumptions.push(format!(
                        "entity `{}`: change frequency {:?} not understood; hourly assumed",
                        entity.name,
                        entity.change_frequency.as_deref().unwrap_or_default()
                    ));
                } else {
                    assumptions.push(format!(
                        "entity `{}`: no change frequency; hourly assumed",
                        entity.name
                    ));
                }
                Some(3600.0)
            }
        };
        if interval.is_some_and(|s| s <= 1.0) {
            caches.push(not_cached(
                entity,
                "it changes in real time (every second or more often): a cached copy would be stale before it is read; read it from its store".into(),
            ));
            continue;
        }
        let matches = invalidating_events(&entity.name, &inputs.integration);
        let events: Vec<String> = matches.iter().map(|m| m.event.clone()).collect();
        let invalidation = if interval.is_none() {
            Invalidation {
                policy: "ttl-only".into(),
                events: Vec::new(),
                reason:
                    "reference data: it changes only with a release, and the TTL bounds staleness"
                        .into(),
                matches: Vec::new(),
            }
        } else if !events.is_empty() {
            let why: Vec<String> = matches
                .iter()
                .map(|m| format!("`{}` (topic `{}`, {})", m.event, m.topic, m.by))
                .collect();
            Invalidation {
                policy: "event-driven".into(),
                reason: format!(
                    "the integration publishes {}; each evicts the entity and its lists",
                    why.join(", ")
                ),
                events,
                matches,
            }
        } else {
            Invalidation {
                policy: "write-through".into(),
                events: Vec::new(),
                reason: format!(
                    "no published event names `{}` (by name, singular or plural, name prefix or a topic's declared entity): the service that writes it updates the cache in the same request",
                    entity.name
                ),
                matches: Vec::new(),
            }
        };
        let mut key_patterns = vec![format!("{}:{{id}}", entity.name)];
        for p in entity
            .access_patterns
            .iter()
            .filter(|p| !p.filter_columns.is_empty())
        {
            key_patterns.push(format!(
                "{}:list:{}:{{hash}}",
                entity.name,
                p.filter_columns.join("+")
            ));
        }
        caches.push(Cache {
            entity: entity.name.clone(),
            layer: Some(layer.clone()),
            key_patterns,
            ttl_seconds: Some(ttl_for(interval)),
            expected_hit_ratio: Some(round2((ratio / (ratio + 1.0)).min(0.95))),
            invalidation,
        });
    }
    let layers = if caches.iter().any(Cache::is_cached) {
        vec![layer]
    } else {
        Vec::new()
    };
    CachingStrategy { layers, caches }
}

/// The decision not to cache `entity`, and why: no layer, keys, TTL or hit ratio,
/// since there is no cache for a reader to take it for.
fn not_cached(entity: &Entity, reason: String) -> Cache {
    Cache {
        entity: entity.name.clone(),
        layer: None,
        key_patterns: Vec::new(),
        ttl_seconds: None,
        expected_hit_ratio: None,
        invalidation: Invalidation {
            policy: NOT_CACHED.into(),
            events: Vec::new(),
            reason,
            matches: Vec::new(),
        },
    }
}

/// A word's singular, as entity and event names spell it: `orders` → `order`,
/// `categories` → `category`, `addresses` → `address`.
pub fn singular(word: &str) -> String {
    let w = word.to_ascii_lowercase();
    if let Some(stem) = w.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "shes", "ches", "xes"] {
        if w.ends_with(suffix) {
            return w[..w.len() - 2].to_owned();
        }
    }
    match w.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_owned(),
        _ => w,
    }
}

/// The published events that change or remove `entity`, each with its topic and why
/// it matched: the topic declares the entity, or the event's subject (before its last
/// `.`) is the entity's name, its singular or plural, or the first word of it
/// (`tariff.updated` for `tariff_rules`). Creations do not invalidate.
pub fn invalidating_events(entity: &str, integration: &Integration) -> Vec<EventMatch> {
    let name = entity.to_ascii_lowercase();
    let first_word = name
        .split(['_', '-', '.'])
        .next()
        .unwrap_or(&name)
        .to_owned();
    let mut out: Vec<EventMatch> = Vec::new();
    for topic in &integration.topics {
        for event in &topic.events {
            let Some((subject, action)) = event.rsplit_once('.') else {
                continue;
            };
            if action.eq_ignore_ascii_case("created") || out.iter().any(|m| &m.event == event) {
                continue;
            }
            let subject = subject.to_ascii_lowercase();
            let by = if topic
                .entity
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(entity))
            {
                format!("the topic declares entity `{entity}`")
            } else if subject == name {
                "the same name".to_owned()
            } else if singular(&subject) == singular(&name) {
                format!("`{subject}` is the singular or plural of `{entity}`")
            } else if first_word != name && singular(&subject) == singular(&first_word) {
                format!("`{subject}` is the first word of `{entity}`")
            } else {
                continue;
            };
            out.push(EventMatch {
                event: event.clone(),
                topic: topic.name.clone(),
                by,
            });
        }
    }
    out
}

/// The longest wait `name`'s hop may take: its smallest segment budget on any path,
/// or `via`'s when `name` is called from inside that hop.
fn hop_budget(budgets: &[LatencyBudget], name: &str, via: Option<&str>) -> Option<f64> {
    let smallest = |n: &str| {
        budgets
            .iter()
            .flat_map(|b| &b.segments)
            .filter(|g| g.component == n)
            .map(|g| g.budget_ms)
            .reduce(f64::min)
    };
    smallest(name).or_else(|| via.and_then(smallest))
}

/// One item of the plan while it is built: the optimization and the component it
/// acts on (to tell whether it explains a path's measured gap).
struct Planned {
    item: Optimization,
    on: Vec<String>,
}

/// The optimization plan (DOMAIN.md "Optimization plan"), most urgent first. Advice
/// for a call fits the call ([`crate::calls`]); when a path is measured over its SLO,
/// the items on that path come first, as P0, with the gap they explain.
pub fn optimization_plan(
    inputs: &Inputs,
    budgets: &[LatencyBudget],
    scalability: &ScalabilityDesign,
) -> OptimizationPlan {
    let (system, integration) = (&inputs.system, &inputs.integration);
    let mut items: Vec<Planned> = Vec::new();
    let mut add = |priority: &str,
                   area: &str,
                   action: String,
                   (kind, source): (&str, String),
                   impact: String,
                   on: Vec<String>,
                   call: Option<(String, Vec<String>)>| {
        let (target, remedies) = call.map_or((None, Vec::new()), |(t, r)| (Some(t), r));
        items.push(Planned {
            item: Optimization {
                id: String::new(),
                area: area.into(),
                action,
                cause: Cause {
                    kind: kind.into(),
                    source,
                },
                expected_impact: impact,
                priority: priority.into(),
                target,
                remedies,
                explains_gap_ms: None,
            },
            on,
        });
    };
    // Advice for a slow call to `name` (called from inside `via`'s hop, if given).
    let advise = |name: &str, via: Option<&str>, fallback_ms: f64| {
        let fit = call_fit(system, integration, name);
        let timeout = hop_budget(budgets, name, via).unwrap_or(fallback_ms);
        remedies(&fit, timeout)
    };
    for (i, b) in budgets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.over_budget || b.tight)
    {
        // The hop that dominates the path: the largest baseline.
        let dominant = b
            .segments
            .iter()
            .max_by(|x, y| x.baseline_ms.total_cmp(&y.baseline_ms))
            .expect("a path has hops");
        let path_index = system
            .critical_paths
            .iter()
            .position(|p| p.name == b.path)
            .unwrap_or(i);
        // What restores the minimum headroom.
        let needed = round2((b.baseline_ms + b.min_headroom_ms - b.total_ms).max(0.0));
        let share = format!(
            "{} of the path's {} ms",
            dominant.baseline_ms, b.baseline_ms
        );
        let state = if b.over_budget {
            format!("over its {} ms {} budget", b.total_ms, b.percentile)
        } else {
            format!(
                "tight: {} ms of headroom against the {} ms minimum",
                b.headroom_ms, b.min_headroom_ms
            )
        };
        let (action, impact, call) = if dominant.kind == ComponentKind::External.as_str() {
            let (names, advice) = advise(&dominant.component, None, dominant.budget_ms);
            (
                format!(
                    "`{}` ({}) is {state}; its largest hop is the external `{}` ({share}): {advice}",
                    b.path, b.endpoint, dominant.component
                ),
                format!(
                    "up to {} ms off the path ({needed} ms restores the headroom)",
                    dominant.baseline_ms
                ),
                Some((dominant.component.clone(), names)),
            )
        } else {
            (
                format!(
                    "`{}` ({}) is {state}; cut the latency of its largest hop `{}` ({share})",
                    b.path, b.endpoint, dominant.component
                ),
                format!(
                    "{} ms off `{}` restores the headroom (it can give up to {} ms)",
                    needed.min(dominant.baseline_ms),
                    dominant.component,
                    dominant.baseline_ms
                ),
                None,
            )
        };
        let (priority, kind) = if b.over_budget {
            ("P0", "path_over_budget")
        } else {
            ("P1", "path_tight")
        };
        add(
            priority,
            "latency",
            action,
            (
                kind,
                format!("{}#/critical_paths/{path_index}", keys::SYSTEM),
            ),
            impact,
            vec![dominant.component.clone()],
            call,
        );
    }
    for (i, h) in inputs.analysis.hotspots.iter().enumerate() {
        let what = h.location.clone().unwrap_or_else(|| h.component.clone());
        let priority =
            if h.p95_ms.is_some_and(|p| p >= 100.0) || h.cpu_percent.is_some_and(|c| c >= 50.0) {
                "P1"
            } else {
                "P2"
            };
        add(
            priority,
            "code",
            format!(
                "profile and optimise {what} in `{}`{}",
                h.component,
                h.description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            ("hotspot", format!("{}#/hotspots/{i}", keys::ANALYSIS)),
            match (h.p95_ms, h.cpu_percent) {
                (Some(p), _) => format!("p95 of {p} ms down toward the component's budget"),
                (None, Some(c)) => format!("{c} % of CPU freed"),
                _ => "less time per request".into(),
            },
            vec![h.component.clone()],
            None,
        );
    }
    for (i, b) in inputs.analysis.bottlenecks.iter().enumerate() {
        let at = b
            .component
            .as_deref()
            .or(b.entity.as_deref())
            .unwrap_or("the system");
        let source = (
            b.kind.as_str(),
            format!("{}#/bottlenecks/{i}", keys::ANALYSIS),
        );
        let on = vec![at.to_owned()];
        if b.kind == "synchronous_call" {
            // The call the component waits for: its synchronous call to an external
            // service, else to any component; unknown, the component's own paths.
            let sync_to: Vec<&str> = system
                .calls
                .iter()
                .filter(|c| c.from == at && c.sync)
                .map(|c| c.to.as_str())
                .collect();
            let external = |n: &&str| {
                system
                    .components
                    .iter()
                    .any(|c| c.name == *n && c.kind == ComponentKind::External)
            };
            let callee = sync_to
                .iter()
                .copied()
                .find(external)
                .or_else(|| sync_to.first().copied());
            let (target, via) = match callee {
                Some(c) => (c, Some(at)),
                None => (at, None),
            };
            let (names, advice) = advise(target, via, DEFAULT_PATH_BUDGET_MS);
            let waits = match callee {
                Some(c) => format!("`{at}` waits for `{c}` inside the request"),
                None => format!("`{at}` makes a synchronous call inside the request"),
            };
            let off = names.iter().any(|n| n == "off-request-path");
            add(
                "P1",
                "async",
                format!("{waits}: {advice}"),
                source,
                if off {
                    "its latency leaves the critical path".into()
                } else {
                    "its latency bounded by the hop's budget, and failures contained".into()
                },
                on,
                Some((target.to_owned(), names)),
            );
            continue;
        }
        let (area, action, impact, priority) = match b.kind.as_str() {
            "n_plus_one" => (
                "database",
                format!(
                    "replace the N+1 queries in `{at}` with batch loading (DataLoader) or a JOIN"
                ),
                "one query instead of N per request",
                "P1",
            ),
            "missing_index" => (
                "database",
                format!("add the missing index for `{at}`"),
                "index scans instead of table scans",
                "P1",
            ),
            "unbounded_query" => (
                "database",
                format!("paginate the unbounded query in `{at}` (at most 100 rows a page)"),
                "bounded memory and latency",
                "P1",
            ),
            _ => (
                "code",
                format!("resolve the {} bottleneck in `{at}`", b.kind),
                "as measured",
                "P2",
            ),
        };
        add(priority, area, action, source, impact.into(), on, None);
    }
    for (i, e) in inputs.data.entities.iter().enumerate() {
        for (j, p) in e.access_patterns.iter().enumerate() {
            if p.indexed == Some(false) && !p.filter_columns.is_empty() {
                add(
                    if p.frequency_rps.is_some_and(|f| f >= 10.0) {
                        "P1"
                    } else {
                        "P2"
                    },
                    "database",
                    format!(
                        "add an index on {}({}) for `{}`",
                        e.name,
                        p.filter_columns.join(", "),
                        p.name
                    ),
                    (
                        "missing_index",
                        format!("{}#/entities/{i}/access_patterns/{j}", keys::DATA),
                    ),
                    format!(
                        "{} queries/s served by an index",
                        p.frequency_rps.unwrap_or(0.0)
                    ),
                    e.store.iter().cloned().collect(),
                    None,
                );
            }
        }
    }
    for (i, s) in integration.external_services.iter().enumerate() {
        let on_paths: Vec<&LatencyBudget> = budgets
            .iter()
            .filter(|b| b.segments.iter().any(|g| g.component == s.name))
            .collect();
        if s.sync && on_paths.iter().any(|b| s.latency_ms > 0.25 * b.total_ms) {
            let (names, advice) = advise(&s.name, None, s.latency_ms * 2.0);
            add(
                "P1",
                "async",
                format!(
                    "`{}` takes {} ms on a critical path: {advice}",
                    s.name, s.latency_ms
                ),
                (
                    "slow_synchronous_integration",
                    format!("{}#/external_services/{i}", keys::INTEGRATION),
                ),
                format!(
                    "its latency bounded on the paths that call it ({} ms at its contract)",
                    s.latency_ms
                ),
                vec![s.name.clone()],
                Some((s.name.clone(), names)),
            );
        }
    }
    for c in scalability
        .components
        .iter()
        .filter(|c| !c.notes.is_empty())
    {
        let Some(i) = integration
            .external_services
            .iter()
            .position(|e| e.name == c.name)
        else {
            continue;
        };
        let fit = call_fit(system, integration, &c.name);
        let limit = fit.rate_limit_rps.unwrap_or_default();
        let (action, impact, names) = if fit.response_needs_it {
            (
                format!(
                    "`{}`: {}; the response carries its answer, so its calls cannot wait in a queue: renegotiate the limit to at least the {} rps of peak, and until then admit at most {limit} rps to it and refuse the rest with `429` and `Retry-After`",
                    c.name,
                    c.notes.join("; "),
                    c.demand_rps.peak
                ),
                "no throttling by the provider at peak",
                vec!["renegotiate".to_owned()],
            )
        } else {
            (
                format!(
                    "queue and batch calls to `{}`: {}",
                    c.name,
                    c.notes.join("; ")
                ),
                "no throttling at peak",
                vec!["off-request-path".to_owned()],
            )
        };
        add(
            "P0",
            "capacity",
            action,
            (
                "rate_limit",
                format!("{}#/external_services/{i}", keys::INTEGRATION),
            ),
            impact.into(),
            vec![c.name.clone()],
            Some((c.name.clone(), names)),
        );
    }
    // A path measured over its SLO: the items acting on its hops explain the gap.
    for path in &system.critical_paths {
        let Some(measured) = inputs
            .analysis
            .measured
            .iter()
            .find(|m| m.endpoint == path.endpoint)
        else {
            continue;
        };
        let Some(target) = budgets
            .iter()
            .find(|b| b.path == path.name && b.percentile == "p95")
            .map(|b| b.total_ms)
        else {
            continue;
        };
        let gap = round2(measured.p95_ms - target);
        if gap <= 0.0 {
            continue;
        }
        for p in items
            .iter_mut()
            .filter(|p| p.on.iter().any(|c| path.components.contains(c)))
        {
            if p.item.explains_gap_ms.is_none_or(|g| g < gap) {
                p.item.explains_gap_ms = Some(gap);
                p.item.priority = "P0".into();
                p.item.expected_impact = format!(
                    "{}; `{}` ({}) measures {} ms at p95 against its {target} ms budget: {gap} ms to find",
                    p.item.expected_impact, path.name, path.endpoint, measured.p95_ms
                );
            }
        }
    }
    // Stable: most urgent first, the largest measured gap first within a priority,
    // otherwise in the order found.
    items.sort_by(|a, b| {
        a.item.priority.cmp(&b.item.priority).then(
            b.item
                .explains_gap_ms
                .unwrap_or(0.0)
                .total_cmp(&a.item.explains_gap_ms.unwrap_or(0.0)),
        )
    });
    OptimizationPlan {
        items: items
            .into_iter()
            .enumerate()
            .map(|(n, p)| Optimization {
                id: format!("OPT-{}", n + 1),
                ..p.item
            })
            .collect(),
    }
}

/// Metrics and alerts (DOMAIN.md "Monitoring", seed 001's alerting table).
pub fn monitoring(
    inputs: &Inputs,
    slos: &[Slo],
    caching: &CachingStrategy,
    scalability: &ScalabilityDesign,
) -> Monitoring {
    let mut metrics: Vec<String> = vec![
        "http_request_duration_seconds (histogram: method, path, status)".into(),
        "http_requests_total (counter: method, path, status)".into(),
        "http_errors_total (counter: method, path, error_type)".into(),
        "cpu_usage_percent (gauge)".into(),
        "memory_usage_bytes (gauge)".into(),
    ];
    let has = |k| inputs.system.components.iter().any(|c| c.kind == k);
    if has(ComponentKind::Database) {
        metrics.push("connection_pool_usage (gauge)".into());
    }
    if caching.caches.iter().any(Cache::is_cached) {
        metrics.push("cache_hit_ratio (gauge: entity)".into());
    }
    if has(ComponentKind::Queue) {
        metrics.push("queue_consumer_lag (gauge: topic)".into());
    }
    let capacity = capacity_promises(inputs, slos, scalability);
    // A warning fires before the target is reached: WARNING_MARGIN of the way short
    // of it (of the error budget, for availability); the critical level is the
    // target itself, the SLO broken. A throughput SLO is a capacity promise, and
    // traffic under its target is demand, not an incident: its alert watches the
    // traffic against the capacity the running replicas give, and fires only as it
    // nears it.
    let mut alerts: Vec<Alert> = slos
        .iter()
        .map(|s| {
            if let Some(c) = capacity.iter().find(|c| c.slo == s.id) {
                return capacity_alert(s, c);
            }
            let m = WARNING_MARGIN;
            let (comparison, warning, action) = match s.metric.as_str() {
                "latency" => (
                    ">",
                    s.target * (1.0 - m),
                    format!("scale out, then find the slow hop of {}", s.scope),
                ),
                "error_rate" => (">", s.target * (1.0 - m), "page on-call".to_string()),
                "availability" => (
                    "<",
                    100.0 - (100.0 - s.target) * (1.0 - m),
                    "page on-call".to_string(),
                ),
                _ => {
                    // A throughput SLO whose capacity the inputs do not size: watch
                    // the requests refused or shed, which is what breaks the promise.
                    return Alert {
                        metric: format!("requests refused or shed (429, 503) {}", s.scope),
                        slo: Some(s.id.clone()),
                        comparison: ">".into(),
                        warning: 0.1,
                        critical: 1.0,
                        unit: "%".into(),
                        action: "scale out, then find the saturated component".into(),
                        reason: Some(format!(
                            "{} promises capacity (at least {} rps), and traffic under it is demand, not an incident; no component on its scope has a sized replica count to compare traffic with, so this watches what breaks the promise: requests refused or shed",
                            s.id, s.target
                        )),
                    };
                }
            };
            Alert {
                metric: match &s.percentile {
                    Some(p) => format!("{p} latency {}", s.scope),
                    None => format!("{} {}", s.metric.replace('_', " "), s.scope),
                },
                slo: Some(s.id.clone()),
                comparison: comparison.into(),
                warning: round4(warning),
                critical: round4(s.target),
                unit: s.unit.clone(),
                action,
                reason: None,
            }
        })
        .collect();
    let burn_rate_alerts = burn_rate_alerts(slos);
    let saturation = |metric: &str, warning, critical, unit: &str, action: &str| Alert {
        metric: metric.into(),
        slo: None,
        comparison: ">".into(),
        warning,
        critical,
        unit: unit.into(),
        action: action.into(),
        reason: None,
    };
    alerts.push(saturation("cpu usage", 70.0, 90.0, "%", "auto-scale"));
    alerts.push(saturation("memory usage", 80.0, 95.0, "%", "investigate"));
    if has(ComponentKind::Queue) {
        alerts.push(saturation(
            "queue lag",
            1000.0,
            10000.0,
            "messages",
            "add consumers",
        ));
    }
    Monitoring {
        metrics,
        alerts,
        warning_margin: WARNING_MARGIN,
        burn_rate_alerts,
        capacity,
    }
}

/// Share of the sized capacity at which a throughput SLO's alert warns, and at which
/// it is critical, percent: replicas run at [`TARGET_UTILIZATION`] by design, so
/// past 80 % the autoscaler is behind, and past 90 % requests are about to queue.
pub const CAPACITY_WARNING_PERCENT: f64 = 80.0;
/// See [`CAPACITY_WARNING_PERCENT`].
pub const CAPACITY_CRITICAL_PERCENT: f64 = 90.0;

/// What each throughput SLO promises: the traffic of its scope that the replicas
/// sized for peak serve at full use. A component serving `d` rps of its own when the
/// scope takes `t` saturates when the scope reaches `replicas × capacity × t / d`
/// (traffic grows in the proportions of the paths); the smallest over the
/// components the scope crosses is the sized capacity.
pub fn capacity_promises(
    inputs: &Inputs,
    slos: &[Slo],
    scalability: &ScalabilityDesign,
) -> Vec<CapacityPromise> {
    let rps = inputs.requirements.load.requests_per_second;
    let paths = &inputs.system.critical_paths;
    let explicit: f64 = paths.iter().filter_map(|p| p.traffic_share).sum();
    let unshared = paths.iter().filter(|p| p.traffic_share.is_none()).count();
    let rest = ((1.0 - explicit).max(0.0)) / unshared.max(1) as f64;
    let mut out = Vec::new();
    for s in slos.iter().filter(|s| s.metric == "throughput") {
        let api_wide = is_api_wide(&s.scope);
        let scoped: Vec<&CriticalPath> = paths
            .iter()
            .filter(|p| api_wide || p.endpoint == s.scope)
            .collect();
        let scope_rps = if api_wide {
            rps
        } else {
            scoped
                .iter()
                .map(|p| rps * p.traffic_share.unwrap_or(rest))
                .sum()
        };
        let limit = scalability
            .components
            .iter()
            .filter(|c| {
                c.scales
                    && c.demand_rps.normal > 0.0
                    && (api_wide || scoped.iter().any(|p| p.components.contains(&c.name)))
            })
            .filter_map(|c| {
                let instances = match &c.shards {
                    Some(sh) => sh.count.peak,
                    None => c.replicas.as_ref()?.peak,
                };
                let full = instances as f64 * c.capacity_rps * scope_rps / c.demand_rps.normal;
                Some((full, c.name.as_str()))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((full, name)) = limit.filter(|_| scope_rps > 0.0) {
            out.push(CapacityPromise {
                slo: s.id.clone(),
                scope: s.scope.clone(),
                target_rps: s.target,
                sized_rps: full.floor(),
                limited_by: name.to_owned(),
            });
        }
    }
    out
}

/// The alert of a throughput SLO: traffic against the capacity the running replicas
/// give, firing as it nears it and never on low traffic.
fn capacity_alert(slo: &Slo, c: &CapacityPromise) -> Alert {
    Alert {
        metric: format!(
            "traffic {} as a share of the capacity of the running replicas",
            slo.scope
        ),
        slo: Some(slo.id.clone()),
        comparison: ">".into(),
        warning: CAPACITY_WARNING_PERCENT,
        critical: CAPACITY_CRITICAL_PERCENT,
        unit: "%".into(),
        action: format!(
            "scale out `{}` (check the autoscaler), then shed load with `429` before requests queue",
            c.limited_by
        ),
        reason: Some(format!(
            "{} promises capacity (at least {} rps), and traffic under it is demand, not an incident: no alert fires on a quiet night. This one fires as traffic nears what the running replicas serve ({} rps of {} at the replicas sized for peak, `{}` first to fill); the load-test plan's stress scenario must sustain those {} rps",
            slo.id, c.target_rps, c.sized_rps, slo.scope, c.limited_by, c.sized_rps
        )),
    }
}

/// Multi-window burn-rate alerts on the error budget of each availability and
/// error-rate SLO (the SRE Workbook's pairs over a 30-day budget): page when 2 % of
/// the budget burns in an hour (14.4x over 1 h, confirmed over 5 min), page when 5 %
/// burns in 6 hours (6x over 6 h and 30 min), ticket when 10 % burns in 3 days (1x
/// over 3 days and 6 h). Each fires while both windows burn faster than its rate.
pub fn burn_rate_alerts(slos: &[Slo]) -> Vec<BurnRateAlert> {
    const PAIRS: [(f64, &str, &str, &str); 3] = [
        (14.4, "1h", "5m", "page"),
        (6.0, "6h", "30m", "page"),
        (1.0, "3d", "6h", "ticket"),
    ];
    let mut out = Vec::new();
    for s in slos {
        let budget = match s.metric.as_str() {
            "availability" => 100.0 - s.target,
            "error_rate" => s.target,
            _ => continue,
        };
        if budget <= 0.0 {
            continue;
        }
        for (rate, long, short, severity) in PAIRS {
            out.push(BurnRateAlert {
                slo: s.id.clone(),
                error_budget_percent: round4(budget),
                budget_window_days: ERROR_BUDGET_DAYS,
                burn_rate: rate,
                long_window: long.into(),
                short_window: short.into(),
                error_ratio_above_percent: round4((budget * rate).min(100.0)),
                severity: severity.into(),
            });
        }
    }
    out
}

fn handoff(
    budgets: &[LatencyBudget],
    caching: &CachingStrategy,
    plan: &OptimizationPlan,
    monitoring: &Monitoring,
    inputs: &Inputs,
) -> Handoff {
    let mut patterns = Vec::new();
    if caching.caches.iter().any(Cache::is_cached) {
        let entities: Vec<&str> = caching
            .caches
            .iter()
            .filter(|c| c.is_cached())
            .map(|c| c.entity.as_str())
            .collect();
        patterns.push(format!("cache-aside for {}", entities.join(", ")));
    }
    if inputs
        .analysis
        .bottlenecks
        .iter()
        .any(|b| b.kind == "n_plus_one")
    {
        patterns.push("batch loading (DataLoader) instead of per-item queries".into());
    }
    let queues: Vec<&str> = inputs
        .system
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Queue)
        .map(|c| c.name.as_str())
        .collect();
    if !queues.is_empty() {
        patterns.push(format!(
            "asynchronous processing through {}",
            queues.join(", ")
        ));
    }
    let externals: Vec<&str> = inputs
        .integration
        .external_services
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    if !externals.is_empty() {
        patterns.push(format!(
            "timeouts and circuit breakers around {}",
            externals.join(", ")
        ));
    }
    patterns.push("connection pooling sized as in scalability_design".into());
    let mut async_patterns: Vec<String> = inputs
        .system
        .calls
        .iter()
        .filter(|c| !c.sync)
        .map(|c| {
            format!(
                "`{}` → `{}` is asynchronous: publish and return",
                c.from, c.to
            )
        })
        .collect();
    async_patterns.extend(
        inputs
            .integration
            .external_services
            .iter()
            .filter(|e| !e.sync)
            .map(|e| format!("call `{}` from a worker, never on the request path", e.name)),
    );
    if async_patterns.is_empty() {
        async_patterns.push(
            "move any work not needed for the response (email, analytics, audit) to a queue".into(),
        );
    }
    let largest = budgets.iter().map(|b| b.total_ms).fold(0.0, f64::max);
    Handoff {
        code_generator: CodeGeneratorHandoff {
            performance_patterns: patterns,
            optimization_requirements: plan
                .items
                .iter()
                .filter(|i| i.priority == "P0" || i.priority == "P1")
                .map(|i| format!("{} ({}): {}", i.id, i.priority, i.action))
                .collect(),
        },
        implementation: ImplementationHandoff {
            caching_patterns: caching
                .caches
                .iter()
                .filter(|c| c.is_cached())
                .map(|c| {
                    format!(
                        "{}: {} keys {}, TTL {} s, {} invalidation",
                        c.entity,
                        c.layer.as_deref().unwrap_or_default(),
                        c.key_patterns.join(" and "),
                        c.ttl_seconds.unwrap_or_default(),
                        c.invalidation.policy
                    )
                })
                .collect(),
            async_patterns,
            resource_limits: ResourceLimits {
                request_timeout_ms: if largest > 0.0 {
                    largest * 2.0
                } else {
                    30000.0
                },
                max_page_size: 100,
                max_body_bytes: 10 << 20,
            },
            metrics_to_implement: monitoring.metrics.clone(),
        },
        performance_optimizer: OptimizerHandoff {
            baselines: budgets
                .iter()
                .map(|b| {
                    format!(
                        "{} ({}): baseline {} ms, budget {} ms at {}",
                        b.path, b.endpoint, b.baseline_ms, b.total_ms, b.percentile
                    )
                })
                .collect(),
            monitoring_requirements: monitoring
                .alerts
                .iter()
                .map(|a| {
                    format!(
                        "{}: warn {} {} {}, critical {} {}",
                        a.metric, a.comparison, a.warning, a.unit, a.critical, a.unit
                    )
                })
                .collect(),
            optimization_priorities: plan.items.iter().map(|i| i.id.clone()).collect(),
        },
    }
}

fn quality(
    coverage: &Coverage,
    budgets: &[LatencyBudget],
    scalability: &ScalabilityDesign,
    caching: &CachingStrategy,
    slos: &[Slo],
    monitoring: &Monitoring,
    inputs: &Inputs,
) -> QualityMetrics {
    let scaling: Vec<&ComponentCapacity> =
        scalability.components.iter().filter(|c| c.scales).collect();
    let horizons = inputs.requirements.growth.len();
    QualityMetrics {
        slo_coverage: coverage.ratio,
        paths_budgeted: Count {
            done: budgets.len(),
            total: inputs.system.critical_paths.len(),
        },
        components_sized: Count {
            done: scaling
                .iter()
                .filter(|c| {
                    c.replicas
                        .as_ref()
                        .is_some_and(|r| r.growth.len() == horizons)
                })
                .count(),
            total: scaling.len(),
        },
        caches_with_invalidation: Count {
            done: caching
                .caches
                .iter()
                .filter(|c| c.is_cached() && !c.invalidation.policy.is_empty())
                .count(),
            total: caching.caches.iter().filter(|c| c.is_cached()).count(),
        },
        monitoring_ready: slos.iter().all(|s| {
            monitoring
                .alerts
                .iter()
                .any(|a| a.slo.as_deref() == Some(&s.id))
        }),
    }
}
