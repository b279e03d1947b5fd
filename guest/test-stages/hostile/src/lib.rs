//! `hostile`: misbehaves in the way its config's `mode` names. It implements the raw
//! WIT export rather than the SDK's `Stage`, so that it can return what the SDK would
//! never let through (output that is not JSON).

use std::hint::black_box;

use baton_sdk::bindings::baton::stage::{events, log, memory, types};
use baton_sdk::bindings::{__export_stage_world, Guest};

struct Hostile;

/// What `remember` left behind in earlier runs of this instance's memory.
static REMEMBERED: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Leaves 8 MiB of marked memory behind in a static and says how many runs' worth it
/// finds: 1 if every run starts from a fresh memory.
fn remember() -> String {
    let mut remembered = REMEMBERED.lock().unwrap_or_else(|e| e.into_inner());
    remembered.push(black_box(vec![0xAB; 8 << 20]));
    format!(r#"{{"runs":{}}}"#, remembered.len())
}

fn failed(message: String) -> types::StageError {
    types::StageError::Failed(message)
}

impl Guest for Hostile {
    fn run(ctx: types::Context) -> Result<String, types::StageError> {
        let config: serde_json::Value = serde_json::from_str(&ctx.config).unwrap_or_default();
        let mode = config["mode"].as_str().unwrap_or("ok").to_owned();
        match mode.as_str() {
            "ok" => Ok(r#"{"ok":true}"#.into()),
            "remember" => Ok(remember()),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "panic" => panic!("hostile stage panicked on purpose"),
            "trap" => trap_deep_inside(black_box(3)),
            "undeclared-read" | "other-namespace" => {
                let (ns, key) = match mode.as_str() {
                    "undeclared-read" => (ctx.namespace.clone(), "secrets/api-token".to_owned()),
                    _ => (
                        "other-namespace".to_owned(),
                        "coding/architecture/system".to_owned(),
                    ),
                };
                match memory::get(&ns, &key) {
                    Ok(found) => Ok(format!(
                        r#"{{"read":{}}}"#,
                        found.map_or("null".into(), |e| e.value)
                    )),
                    Err(e) => Err(types::StageError::Memory(e)),
                }
            }
            "open-file" => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => Ok(serde_json::json!({ "stolen": text }).to_string()),
                Err(e) => Err(failed(format!("cannot open /etc/passwd: {e}"))),
            },
            "env" => {
                let vars: Vec<(String, String)> = std::env::vars().collect();
                if vars.is_empty() {
                    Err(failed("the environment is empty".into()))
                } else {
                    Ok(serde_json::json!({ "stolen": vars }).to_string())
                }
            }
            "clock" => {
                let since = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Ok(serde_json::json!({ "wall_clock_secs": since.as_secs() }).to_string())
            }
            "huge-output" => Ok(format!("\"{}\"", "x".repeat(100 << 20))),
            "not-json" => Ok("this is not JSON {".into()),
            // 100,000 levels of array: far past the host's parse depth, well within
            // the output size limit.
            "deep-output" => Ok(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
            // Flooding the host: each must stop at its host limit.
            "event-flood" => {
                for i in 0..300_000u32 {
                    events::emit("flood", &format!(r#"{{"i":{i}}}"#));
                }
                Ok("{}".into())
            }
            "bad-event-name" => {
                events::emit("bad name with spaces/../", "{}");
                Ok("{}".into())
            }
            "event-not-json" => {
                events::emit("fine", "this is not JSON");
                Ok("{}".into())
            }
            "deep-event" => {
                let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
                events::emit("deep", &format!(r#"{{"a":{deep}}}"#));
                Ok("{}".into())
            }
            "big-event" => {
                events::emit("big", &format!(r#"{{"blob":"{}"}}"#, "x".repeat(50 << 20)));
                Ok("{}".into())
            }
            "log-flood" => {
                for i in 0..1_000_000u32 {
                    log::log(types::Level::Info, &format!("line {i}"));
                }
                Ok("{}".into())
            }
            "long-log" => {
                log::log(types::Level::Info, &"y".repeat(50 << 20));
                Ok("{}".into())
            }
            "call-flood" => {
                loop {
                    let _ = black_box(memory::get(&ctx.namespace, "coding/architecture/system"));
                }
            }
            other => Err(failed(format!("unknown mode {other:?}"))),
        }
    }
}

/// Recurses a few frames, then executes `unreachable`: a trap with a backtrace.
#[inline(never)]
fn trap_deep_inside(depth: u32) -> ! {
    if depth == 0 {
        core::arch::wasm32::unreachable()
    }
    trap_deep_inside(black_box(depth - 1))
}

__export_stage_world!(Hostile with_types_in baton_sdk::bindings);
