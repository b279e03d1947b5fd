//! Value text, as the CLI and the MCP tools classify it: JSON, a string, or an error
//! that names line and column; never a silent fallback for text that starts like JSON.
#![no_main]

use baton::memory::{Key, Namespace};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (ns, key) = (Namespace::new("fuzz").unwrap(), Key::new("k").unwrap());
    let looks_like_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    match baton::service::value_from_text(text.to_owned(), false, &ns, &key) {
        Ok(serde_json::Value::String(s)) if looks_like_json => {
            // Only a JSON string literal can parse to a string; text that starts
            // like an object or array cannot.
            panic!("text starting like JSON became the string {s:?}")
        }
        Ok(_) => {}
        Err(e) => assert!(looks_like_json && e.message().contains("line")),
    }
});
