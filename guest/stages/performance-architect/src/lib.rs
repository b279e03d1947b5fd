//! The performance architect (Phase 3, Agent 17 of the coding pipeline, seed 001).
//!
//! Reads the five prior outputs (requirements and system are required; analysis, data
//! and integration may be absent and count as empty), derives the performance
//! architecture with `baton_performance::derive`, reports its milestones as events,
//! and returns the document for its gates. Config: `namespace`, where the inputs live
//! [default: the pipeline's].

use baton_performance::inputs::{Analysis, Data, Integration, Requirements, System, keys};
use baton_performance::{Inputs, PerformanceArchitecture, derive};
use baton_sdk::{Context, Error, Stage, export_stage};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    namespace: Option<String>,
}

struct PerformanceArchitect;

impl Stage for PerformanceArchitect {
    type Output = PerformanceArchitecture;

    fn run(ctx: &Context) -> Result<PerformanceArchitecture, Error> {
        let config: Config = ctx.config()?;
        let ns = config
            .namespace
            .unwrap_or_else(|| ctx.namespace().to_owned());
        let mut missing = Vec::new();
        let analysis: Option<Analysis> = ctx.try_read_in(&ns, keys::ANALYSIS)?;
        let data: Option<Data> = ctx.try_read_in(&ns, keys::DATA)?;
        let integration: Option<Integration> = ctx.try_read_in(&ns, keys::INTEGRATION)?;
        for (key, absent) in [
            (keys::ANALYSIS, analysis.is_none()),
            (keys::DATA, data.is_none()),
            (keys::INTEGRATION, integration.is_none()),
        ] {
            if absent {
                missing.push(key);
            }
        }
        let inputs = Inputs {
            requirements: ctx.read_in::<Requirements>(&ns, keys::REQUIREMENTS)?,
            analysis: analysis.unwrap_or_default(),
            system: ctx.read_in::<System>(&ns, keys::SYSTEM)?,
            data: data.unwrap_or_default(),
            integration: integration.unwrap_or_default(),
        };
        ctx.emit(
            "architectureAnalyzed",
            json!({
                "namespace": ns,
                "components": inputs.system.components.len(),
                "critical_paths": inputs.system.critical_paths.len(),
                "nfrs": inputs.requirements.non_functional.len(),
            }),
        );
        let mut arch = derive(&inputs).map_err(|e| Error::InvalidInput {
            namespace: ns.clone(),
            key: e.key.into(),
            pointer: e.pointer,
            message: e.message,
        })?;
        let req = &arch.performance_requirements;
        ctx.emit(
            "slosDerived",
            json!({ "slos": req.slos.len(), "unmeasurable": req.unmeasurable.len(), "coverage": req.coverage.ratio }),
        );
        ctx.emit(
            "budgetsAllocated",
            json!({
                "paths": req.latency_budgets.len(),
                "over_budget": req.latency_budgets.iter().filter(|b| b.over_budget).count(),
            }),
        );
        ctx.emit(
            "capacityPlanned",
            json!({
                "components": arch.scalability_design.components.len(),
                "horizons": arch.scalability_design.growth.len(),
            }),
        );
        ctx.emit(
            "cachingDesigned",
            json!({ "caches": arch.caching_strategy.caches.len() }),
        );
        ctx.emit(
            "optimizationPlanned",
            json!({ "items": arch.optimization_plan.items.len() }),
        );
        for key in missing {
            arch.assumptions.push(format!(
                "`{key}` is absent in namespace `{ns}`: taken as empty"
            ));
        }
        Ok(arch)
    }
}

export_stage!(PerformanceArchitect);
