//! The budget check (seed 004): compares measured results per endpoint (p50, p95,
//! p99, throughput, error rate, as a load tool exports them) with the SLOs and latency
//! budgets of the performance architecture. Its report lists every comparison; its gate
//! (`budgets-met`) fails naming every endpoint and figure that misses. Config:
//! `namespace` [default: the pipeline's].

use baton_performance::PerformanceArchitecture;
use baton_performance::budget::{BudgetReport, check};
use baton_performance::inputs::{Measurements, keys};
use baton_sdk::{Context, Error, Stage, export_stage};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    namespace: Option<String>,
}

struct BudgetCheck;

impl Stage for BudgetCheck {
    type Output = BudgetReport;

    fn run(ctx: &Context) -> Result<BudgetReport, Error> {
        let config: Config = ctx.config()?;
        let ns = config
            .namespace
            .unwrap_or_else(|| ctx.namespace().to_owned());
        let arch: PerformanceArchitecture = ctx.read_in(&ns, keys::PERFORMANCE)?;
        let measured: Measurements = ctx.read_in(&ns, keys::MEASUREMENTS)?;
        let report = check(&arch, &measured);
        ctx.emit(
            "budgetsChecked",
            json!({ "checks": report.checks.len(), "misses": report.misses }),
        );
        Ok(report)
    }
}

export_stage!(BudgetCheck);
