//! The load-test planner (seeds 002 and 003): reads the performance architecture
//! and plans baseline, stress, spike and soak scenarios with pass criteria from its
//! SLOs, every parameter within seed 003's ranges. Config: `namespace` [default: the
//! pipeline's].

use baton_performance::PerformanceArchitecture;
use baton_performance::inputs::keys;
use baton_performance::loadtest::{LoadTestPlan, plan};
use baton_sdk::{Context, Error, Stage, export_stage};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    namespace: Option<String>,
}

struct LoadTestPlanner;

impl Stage for LoadTestPlanner {
    type Output = LoadTestPlan;

    fn run(ctx: &Context) -> Result<LoadTestPlan, Error> {
        let config: Config = ctx.config()?;
        let ns = config
            .namespace
            .unwrap_or_else(|| ctx.namespace().to_owned());
        let arch: PerformanceArchitecture = ctx.read_in(&ns, keys::PERFORMANCE)?;
        let plan = plan(&arch);
        ctx.emit(
            "scenariosPlanned",
            json!({ "scenarios": plan.scenarios.len(), "adjustments": plan.adjustments.len() }),
        );
        Ok(plan)
    }
}

export_stage!(LoadTestPlanner);
