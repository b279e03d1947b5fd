//! The JSON Schemas of the documents this crate reads and writes, published under
//! `schemas/` (a test keeps the files equal to what the types generate).

use serde_json::Value;

macro_rules! schema {
    ($t:ty) => {
        serde_json::to_value(schemars::schema_for!($t)).expect("a schema serialises")
    };
}

/// Every schema, by file name under `schemas/`.
pub fn all() -> Vec<(&'static str, Value)> {
    use crate::{budget, inputs, loadtest, output};
    vec![
        ("requirements.schema.json", schema!(inputs::Requirements)),
        ("analysis.schema.json", schema!(inputs::Analysis)),
        ("system.schema.json", schema!(inputs::System)),
        ("data.schema.json", schema!(inputs::Data)),
        ("integration.schema.json", schema!(inputs::Integration)),
        (
            "performance.schema.json",
            schema!(output::PerformanceArchitecture),
        ),
        ("measurements.schema.json", schema!(inputs::Measurements)),
        (
            "load-test-plan.schema.json",
            schema!(loadtest::LoadTestPlan),
        ),
        ("budget-report.schema.json", schema!(budget::BudgetReport)),
    ]
}
