//! Namespaces and keys: any text is accepted or refused, never a panic; what is
//! accepted survives the wire (serde) and is refused again identically.
#![no_main]

use baton::memory::{Key, Namespace};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = Key::new(text) {
        let wire = serde_json::to_string(&key).unwrap();
        let back: Key = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, key);
    } else {
        let error = Key::new(text).unwrap_err().to_string();
        assert!(error.len() < 400, "an error quotes its input short");
    }
    if let Ok(ns) = Namespace::new(text) {
        let back: Namespace = serde_json::from_str(&serde_json::to_string(&ns).unwrap()).unwrap();
        assert_eq!(back, ns);
    }
});
