//! The memory server's frames: any bytes from a client decode or are refused,
//! never a panic or an allocation past the frame limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = baton::server::decode_client_frames(data);
});
