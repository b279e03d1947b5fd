//! pipeline.toml: parse and check any text without panicking; every problem has a
//! place inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent/baton-fuzz/pipeline.toml");
    if let Err(problems) = baton::pipeline::Pipeline::parse(path, text) {
        let lines = text.lines().count().max(1);
        for p in &problems.0 {
            assert!(p.line >= 1 && p.line <= lines + 1, "{p:?} outside {lines} lines");
        }
    }
});
