//! The performance architect's renderer: its document as the Performance
//! Architecture Document in markdown (`markdown`), and as the blocks a page draws
//! (`view`: tables, stacked latency budgets, replicas over the growth horizons). The
//! renderings live in `baton_performance::render` and `::view`, tested natively.

use baton_performance::PerformanceArchitecture;
use baton_sdk::serde_json::{self, Value};
use baton_sdk::{Renderer, export_renderer};

struct PerformanceRender;

impl Renderer for PerformanceRender {
    fn render(format: &str, document: &Value) -> Result<String, String> {
        if format != "markdown" && format != "view" {
            return Err(format!(
                "the performance architecture renders as `markdown` or `view`, not {format:?}"
            ));
        }
        let arch: PerformanceArchitecture = serde_json::from_value(document.clone())
            .map_err(|e| format!("not a whole performance architecture: {e}"))?;
        Ok(match format {
            "view" => serde_json::to_string(&baton_performance::view::view(&arch))
                .map_err(|e| format!("the view does not serialise: {e}"))?,
            _ => baton_performance::render::markdown(&arch),
        })
    }
}

export_renderer!(PerformanceRender);
