//! The load-test planner (seeds 002 and 003): baseline, stress, spike and soak
//! scenarios from the load profiles, with pass criteria from the SLOs. Every
//! parameter is clamped into seed 003's valid ranges, and each clamp is reported.

use serde::{Deserialize, Serialize};

use crate::output::{PerformanceArchitecture, Slo};

/// Seed 003's ranges.
pub mod ranges {
    /// Concurrent users.
    pub const USERS: (f64, f64) = (1.0, 50_000.0);
    /// Test duration, seconds (10 s to 24 h).
    pub const DURATION_S: (f64, f64) = (10.0, 86_400.0);
    /// Ramp-up, seconds (0 to 1 h).
    pub const RAMP_UP_S: (f64, f64) = (0.0, 3_600.0);
    /// Request rate, requests per second.
    pub const RATE_RPS: (f64, f64) = (0.1, 100_000.0);
    /// Request timeout, ms (100 ms to 5 min).
    pub const TIMEOUT_MS: (f64, f64) = (100.0, 300_000.0);
}

/// A load-test plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoadTestPlan {
    /// Always `load-test-planner`.
    pub agent: String,
    /// The system under test.
    pub system: String,
    /// Baseline, stress, spike and soak.
    pub scenarios: Vec<Scenario>,
    /// Parameters clamped into range, in words.
    pub adjustments: Vec<String>,
}

/// One scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Scenario {
    /// `baseline`, `stress`, `spike` or `soak`.
    pub name: String,
    /// What it shows.
    pub purpose: String,
    /// Concurrent virtual users (1 to 50 000).
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 50000)))]
    pub users: u64,
    /// Duration, seconds (10 s to 24 h).
    #[cfg_attr(feature = "schema", schemars(range(min = 10, max = 86400)))]
    pub duration_s: u64,
    /// Ramp-up, seconds (0 to 3 600).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 3600)))]
    pub ramp_up_s: u64,
    /// Target request rate, requests per second (0.1 to 100 000).
    #[cfg_attr(feature = "schema", schemars(range(min = 0.1, max = 100000)))]
    pub rate_rps: f64,
    /// Request timeout, ms (100 ms to 5 min).
    #[cfg_attr(feature = "schema", schemars(range(min = 100, max = 300000)))]
    pub timeout_ms: u64,
    /// What must hold for it to pass.
    pub pass_criteria: Vec<Criterion>,
}

/// A pass criterion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Criterion {
    /// The SLO it comes from.
    pub slo: String,
    /// `latency`, `error_rate`, `availability` or `throughput`.
    pub metric: String,
    /// The endpoint, or `api`.
    pub scope: String,
    /// For latency, the percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<String>,
    /// `<` or `>=`.
    pub comparison: String,
    /// The threshold.
    pub threshold: f64,
    /// Its unit.
    pub unit: String,
}

fn clamp(
    name: &str,
    field: &str,
    value: f64,
    (lo, hi): (f64, f64),
    adjustments: &mut Vec<String>,
) -> f64 {
    let clamped = value.clamp(lo, hi);
    if clamped != value {
        adjustments.push(format!(
            "{name}: {field} {value} clamped to {clamped} (valid {lo} to {hi})"
        ));
    }
    clamped
}

fn criteria(slos: &[Slo], throughput: bool) -> Vec<Criterion> {
    slos.iter()
        .filter(|s| throughput || s.metric != "throughput")
        .map(|s| Criterion {
            slo: s.id.clone(),
            metric: s.metric.clone(),
            scope: s.scope.clone(),
            percentile: s.percentile.clone(),
            comparison: s.comparison.clone(),
            threshold: s.target,
            unit: s.unit.clone(),
        })
        .collect()
}

/// Plans the load tests for `arch`.
pub fn plan(arch: &PerformanceArchitecture) -> LoadTestPlan {
    let profiles = &arch.performance_requirements.load_profiles;
    let slos = &arch.performance_requirements.slos;
    let largest_budget = arch
        .performance_requirements
        .latency_budgets
        .iter()
        .map(|b| b.total_ms)
        .fold(0.0, f64::max);
    let timeout = if largest_budget > 0.0 {
        largest_budget * 4.0
    } else {
        30_000.0
    };
    let mut adjustments = Vec::new();
    let specs = [
        (
            "baseline",
            "normal load: the SLOs hold",
            &profiles.normal,
            600.0,
            60.0,
            true,
        ),
        (
            "stress",
            "stress load, and at least the capacity each throughput SLO is sized for: that capacity holds, errors stay bounded, then find the breaking point",
            &profiles.stress,
            1800.0,
            300.0,
            false,
        ),
        (
            "spike",
            "a sudden peak: scaling reacts in time",
            &profiles.peak,
            300.0,
            10.0,
            true,
        ),
        (
            "soak",
            "normal load for hours: no leaks, no drift",
            &profiles.normal,
            7200.0,
            60.0,
            true,
        ),
    ];
    let scenarios = specs
        .into_iter()
        .map(|(name, purpose, profile, duration, ramp, full)| {
            let users = clamp(
                name,
                "users",
                profile.concurrent_users.ceil(),
                ranges::USERS,
                &mut adjustments,
            );
            // The stress scenario proves the capacity each throughput SLO promises:
            // it reaches at least the sized capacity and must sustain it.
            let promised = arch
                .monitoring
                .capacity
                .iter()
                .map(|c| c.sized_rps)
                .fold(0.0, f64::max);
            let wanted = if name == "stress" {
                profile.requests_per_second.max(promised)
            } else {
                profile.requests_per_second
            };
            let rate = clamp(name, "rate_rps", wanted, ranges::RATE_RPS, &mut adjustments);
            let duration = clamp(
                name,
                "duration_s",
                duration,
                ranges::DURATION_S,
                &mut adjustments,
            );
            let ramp = clamp(name, "ramp_up_s", ramp, ranges::RAMP_UP_S, &mut adjustments);
            let timeout = clamp(
                name,
                "timeout_ms",
                timeout.ceil(),
                ranges::TIMEOUT_MS,
                &mut adjustments,
            );
            let pass_criteria = if full {
                criteria(slos, name != "spike")
            } else {
                let mut kept: Vec<Criterion> = criteria(slos, false)
                    .into_iter()
                    .filter(|c| c.metric == "error_rate" || c.metric == "availability")
                    .collect();
                kept.extend(arch.monitoring.capacity.iter().map(|c| Criterion {
                    slo: c.slo.clone(),
                    metric: "throughput".into(),
                    scope: c.scope.clone(),
                    percentile: None,
                    comparison: ">=".into(),
                    threshold: c.sized_rps.min(rate),
                    unit: "rps".into(),
                }));
                kept
            };
            Scenario {
                name: name.into(),
                purpose: purpose.into(),
                users: users as u64,
                duration_s: duration as u64,
                ramp_up_s: ramp as u64,
                rate_rps: rate,
                timeout_ms: timeout as u64,
                pass_criteria,
            }
        })
        .collect();
    LoadTestPlan {
        agent: "load-test-planner".into(),
        system: arch.system.clone(),
        scenarios,
        adjustments,
    }
}
