//! Building the guest components, shared by the end-to-end tests and the benches
//! (included with `#[path]`): the one command a newcomer runs, always into
//! `guest/target` whatever `CARGO_TARGET_DIR` says. Cargo skips the work when the
//! components are current.

use std::path::{Path, PathBuf};

/// Builds every guest component of the workspace at `root`; returns the folder
/// holding the `.wasm` files.
pub fn build_guests(root: &Path) -> PathBuf {
    let target = root.join("guest/target");
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("guest/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the guest components failed");
    target.join("wasm32-wasip2/release")
}
