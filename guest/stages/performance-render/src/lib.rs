//! The performance architect's renderer: its document as seed 001's Performance
//! Architecture Document in markdown. The rendering lives in
//! `baton_performance::render`, where it is tested natively.

use baton_performance::PerformanceArchitecture;
use baton_sdk::serde_json::{self, Value};
use baton_sdk::{Renderer, export_renderer};

struct PerformanceRender;

impl Renderer for PerformanceRender {
    fn render(format: &str, document: &Value) -> Result<String, String> {
        if format != "markdown" {
            return Err(format!("the performance architecture renders as `markdown`, not {format:?}"));
        }
        let arch: PerformanceArchitecture = serde_json::from_value(document.clone())
            .map_err(|e| format!("not a whole performance architecture: {e}"))?;
        Ok(baton_performance::render::markdown(&arch))
    }
}

export_renderer!(PerformanceRender);
