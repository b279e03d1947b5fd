//! What an agent handed back on standard output: Claude Code's JSON result (`claude
//! -p --output-format json`: `result`, `total_cost_usd`, `usage`, `session_id`), or
//! plain text; and in either, the document: the whole text when it is one JSON
//! object, else the last fenced JSON block, else the last JSON object in the text.

use serde_json::Value;

/// What the agent's run cost, when its CLI says.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// In US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Tokens read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
}

/// What an agent handed back.
#[derive(Clone, Debug, Default)]
pub struct Returned {
    /// The document, if one was found.
    pub document: Option<Value>,
    /// The agent's answer as text (Claude Code's `result`, or all it printed).
    pub text: String,
    /// What it cost.
    pub usage: Usage,
    /// Its session, to resume it.
    pub session: Option<String>,
    /// Whether its CLI called the run an error.
    pub is_error: bool,
}

/// Reads what an agent printed.
pub fn returned(stdout: &[u8]) -> Returned {
    let printed = String::from_utf8_lossy(stdout);
    let trimmed = printed.trim();
    let mut out = Returned::default();
    match serde_json::from_str::<Value>(trimmed) {
        // Claude Code's JSON output: the answer is `result`.
        Ok(Value::Object(o)) if o.get("result").is_some_and(Value::is_string) => {
            out.text = o["result"].as_str().unwrap_or_default().to_owned();
            out.is_error = o.get("is_error").and_then(Value::as_bool) == Some(true);
            out.session = o
                .get("session_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.usage = Usage {
                cost_usd: o.get("total_cost_usd").and_then(Value::as_f64),
                input_tokens: o
                    .get("usage")
                    .and_then(|u| u.get("input_tokens"))
                    .and_then(Value::as_u64),
                output_tokens: o
                    .get("usage")
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64),
            };
        }
        _ => out.text = trimmed.to_owned(),
    }
    out.document = document(&out.text);
    out
}

/// The document in `text`: all of it as one JSON object, else the last ```json
/// block holding an object, else the last JSON object in it.
fn document(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str(text) {
        return Some(v);
    }
    let mut fenced = None;
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let body_start = after.find('\n').map_or(after.len(), |n| n + 1);
        let Some(close) = after[body_start..].find("```") else {
            break;
        };
        if let Ok(v @ Value::Object(_)) =
            serde_json::from_str(&after[body_start..body_start + close])
        {
            fenced = Some(v);
        }
        rest = &after[body_start + close + 3..];
    }
    if fenced.is_some() {
        return fenced;
    }
    // The last object that parses, scanning forward so that an object's inner
    // objects are never taken for it; bounded, for a text of many stray braces.
    let mut last = None;
    let mut at = 0;
    let mut tries = 0;
    while let Some(open) = text[at..].find('{') {
        let start = at + open;
        tries += 1;
        if tries > 10_000 {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v @ Value::Object(_))) => {
                last = Some(v);
                at = start + stream.byte_offset();
            }
            _ => at = start + 1,
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claude_code_s_json_result_gives_the_document_and_the_cost() {
        let printed = json!({
            "type": "result", "subtype": "success", "is_error": false,
            "result": "Here it is:\n```json\n{\"a\": 1}\n```\nDone.",
            "session_id": "s-1", "total_cost_usd": 0.25,
            "usage": {"input_tokens": 1200, "output_tokens": 300}
        })
        .to_string();
        let r = returned(printed.as_bytes());
        assert_eq!(r.document, Some(json!({"a": 1})));
        assert_eq!(r.usage.cost_usd, Some(0.25));
        assert_eq!(r.usage.output_tokens, Some(300));
        assert_eq!(r.session.as_deref(), Some("s-1"));
    }

    #[test]
    fn plain_output_gives_its_last_object_never_an_inner_one() {
        let r = returned(b"thinking {not json} then {\"a\": {\"b\": 1}} and {\"c\": 2} end");
        assert_eq!(r.document, Some(json!({"c": 2})));
        let r = returned(b"only {\"a\": {\"b\": 1}} here");
        assert_eq!(r.document, Some(json!({"a": {"b": 1}})));
        assert_eq!(returned(b"no document at all").document, None);
        assert_eq!(
            returned(b"[1, 2]").document,
            None,
            "a document is an object"
        );
    }
}
