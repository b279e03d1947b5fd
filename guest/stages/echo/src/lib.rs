//! `echo`: the smallest useful stage. It reads each key its config lists under
//! `reads`, emits one `inputRead` event per key, and returns the inputs with the
//! run's identity (with `discard`, only each input's size; with `raw`, inputs are
//! read as text and not decoded; with `spin`, it first works that many rounds of
//! arithmetic, a stage that takes its time). Tests and examples use it as a stand-in
//! for a real stage.

use baton_sdk::{Context, Error, Stage, export_stage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    reads: Vec<String>,
    #[serde(default)]
    tag: Option<String>,
    /// Return only the size of each input, not the input itself.
    #[serde(default)]
    discard: bool,
    /// Read inputs as text without decoding them (implies `discard`).
    #[serde(default)]
    raw: bool,
    /// Rounds of arithmetic to work through first (about a nanosecond each).
    #[serde(default)]
    spin: u64,
}

#[derive(Serialize)]
struct Output {
    stage: String,
    agent_id: String,
    tag: Option<String>,
    inputs: Map<String, Value>,
}

struct Echo;

impl Stage for Echo {
    type Output = Output;

    fn run(ctx: &Context) -> Result<Output, Error> {
        let config: Config = ctx.config()?;
        let mut x = config.spin | 1;
        for _ in 0..config.spin {
            // xorshift: work the optimiser cannot skip.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = std::hint::black_box(x);
        }
        let mut inputs = Map::new();
        for key in &config.reads {
            if config.raw {
                let text = ctx.read_text(key)?.unwrap_or_default();
                inputs.insert(key.clone(), Value::from(text.len()));
                continue;
            }
            let value: Value = ctx.read(key)?;
            ctx.emit("inputRead", serde_json::json!({ "key": key }));
            let kept = if config.discard {
                Value::from(value.to_string().len())
            } else {
                value
            };
            inputs.insert(key.clone(), kept);
        }
        Ok(Output {
            stage: ctx.stage().into(),
            agent_id: ctx.agent_id().into(),
            tag: config.tag,
            inputs,
        })
    }
}

export_stage!(Echo);
