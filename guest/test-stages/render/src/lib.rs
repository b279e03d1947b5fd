//! A renderer for tests: any object as a markdown list of its fields, `markdown`
//! only. A document with `"loop": true` makes it spin (a hostile renderer), which
//! its stage's time limit must stop.

use baton_sdk::serde_json::Value;
use baton_sdk::{Renderer, export_renderer};

struct ListRender;

impl Renderer for ListRender {
    fn render(format: &str, document: &Value) -> Result<String, String> {
        if format != "markdown" {
            return Err(format!("only markdown, not {format:?}"));
        }
        if document.get("loop") == Some(&Value::Bool(true)) {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        let Value::Object(fields) = document else {
            return Err("the document is not an object".into());
        };
        let mut out = String::from("# Fields\n\n");
        for (name, value) in fields {
            out.push_str(&format!("- **{name}**: {value}\n"));
        }
        Ok(out)
    }
}

export_renderer!(ListRender);
