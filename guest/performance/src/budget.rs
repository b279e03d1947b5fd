//! The budget check (seed 004): measured results per endpoint against the SLOs and
//! the latency budgets of the performance architecture. Every figure that misses is a
//! check with `ok: false`; an SLO or budget with nothing measured misses too (what is
//! not measured is not met).

use serde::{Deserialize, Serialize};

use crate::architect::is_api_wide;
use crate::inputs::{Measured, Measurements};
use crate::output::PerformanceArchitecture;

/// The budget check's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BudgetReport {
    /// Always `budget-check`.
    pub agent: String,
    /// Whether every check passed.
    pub passed: bool,
    /// Checks that missed.
    pub misses: usize,
    /// Every comparison made.
    pub checks: Vec<BudgetCheck>,
}

/// One comparison of a measured figure with a limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BudgetCheck {
    /// The endpoint (`api` for the whole API).
    pub endpoint: String,
    /// The measured figure: `p95_ms`, `error_rate_percent`, `throughput_rps`, …
    pub figure: String,
    /// What sets the limit: an SLO id, or `budget:<path>`.
    pub source: String,
    /// `<=` or `>=`.
    pub comparison: String,
    /// The limit.
    pub limit: f64,
    /// Its unit.
    pub unit: String,
    /// What was measured; absent when nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// Whether the figure meets the limit.
    pub ok: bool,
    /// In words.
    pub detail: String,
}

fn figure(m: Option<&Measured>, name: &str) -> Option<f64> {
    let m = m?;
    match name {
        "p50_ms" => m.p50_ms,
        "p95_ms" => m.p95_ms,
        "p99_ms" => m.p99_ms,
        "throughput_rps" => m.throughput_rps,
        "error_rate_percent" => m.error_rate_percent,
        _ => None,
    }
}

/// Compares `measurements` with `arch`'s SLOs and budgets.
pub fn check(arch: &PerformanceArchitecture, measurements: &Measurements) -> BudgetReport {
    let req = &arch.performance_requirements;
    let mut endpoints: Vec<String> = measurements
        .endpoints
        .iter()
        .map(|m| m.endpoint.clone())
        .collect();
    let named = req
        .slos
        .iter()
        .filter(|s| !is_api_wide(&s.scope))
        .map(|s| s.scope.clone())
        .chain(req.latency_budgets.iter().map(|b| b.endpoint.clone()));
    for e in named {
        if !endpoints.contains(&e) {
            endpoints.push(e);
        }
    }
    let mut checks = Vec::new();
    let mut push = |endpoint: &str,
                    figure_name: String,
                    source: String,
                    comparison: &str,
                    limit: f64,
                    unit: &str,
                    measured: Option<f64>| {
        let ok = measured.is_some_and(|m| {
            if comparison == "<=" {
                m <= limit
            } else {
                m >= limit
            }
        });
        let detail = match measured {
            None => "not measured".to_string(),
            Some(m) if ok => format!("{m} {unit} meets {comparison} {limit} {unit}"),
            Some(m) => format!("{m} {unit} misses {comparison} {limit} {unit}"),
        };
        checks.push(BudgetCheck {
            endpoint: endpoint.into(),
            figure: figure_name,
            source,
            comparison: comparison.into(),
            limit,
            unit: unit.into(),
            measured,
            ok,
            detail,
        });
    };
    for endpoint in &endpoints {
        let m = measurements
            .endpoints
            .iter()
            .find(|m| &m.endpoint == endpoint);
        for slo in req
            .slos
            .iter()
            .filter(|s| s.scope == *endpoint || (m.is_some() && is_api_wide(&s.scope)))
        {
            match slo.metric.as_str() {
                "latency" => {
                    let name = format!("{}_ms", slo.percentile.as_deref().unwrap_or("p95"));
                    push(
                        endpoint,
                        name.clone(),
                        slo.id.clone(),
                        "<=",
                        slo.target,
                        "ms",
                        figure(m, &name),
                    );
                }
                "error_rate" => push(
                    endpoint,
                    "error_rate_percent".into(),
                    slo.id.clone(),
                    "<=",
                    slo.target,
                    "%",
                    figure(m, "error_rate_percent"),
                ),
                "availability" => push(
                    endpoint,
                    "error_rate_percent".into(),
                    slo.id.clone(),
                    "<=",
                    ((100.0 - slo.target) * 10000.0).round() / 10000.0,
                    "%",
                    figure(m, "error_rate_percent"),
                ),
                "throughput" if !is_api_wide(&slo.scope) => push(
                    endpoint,
                    "throughput_rps".into(),
                    slo.id.clone(),
                    ">=",
                    slo.target,
                    "rps",
                    figure(m, "throughput_rps"),
                ),
                _ => {}
            }
        }
        for b in req
            .latency_budgets
            .iter()
            .filter(|b| b.endpoint == *endpoint)
        {
            let name = format!("{}_ms", b.percentile);
            push(
                endpoint,
                name.clone(),
                format!("budget:{}", b.path),
                "<=",
                b.total_ms,
                "ms",
                figure(m, &name),
            );
        }
    }
    for slo in req
        .slos
        .iter()
        .filter(|s| s.metric == "throughput" && is_api_wide(&s.scope))
    {
        let measured: Vec<f64> = measurements
            .endpoints
            .iter()
            .filter_map(|m| m.throughput_rps)
            .collect();
        let total = (!measured.is_empty()).then(|| measured.iter().sum());
        push(
            "api",
            "throughput_rps".into(),
            slo.id.clone(),
            ">=",
            slo.target,
            "rps",
            total,
        );
    }
    let misses = checks.iter().filter(|c| !c.ok).count();
    BudgetReport {
        agent: "budget-check".into(),
        passed: misses == 0,
        misses,
        checks,
    }
}
