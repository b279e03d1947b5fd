//! Export records, as `memory import` reads them line by line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (n, line) in text.lines().enumerate() {
        if let Err(e) = baton::service::read_record(line, "fuzz", n + 1) {
            assert!(e.message().starts_with(&format!("fuzz line {}", n + 1)) || e.message().contains("invalid"));
        }
    }
});
