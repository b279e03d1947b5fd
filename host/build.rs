//! Links the `baton` binary as a position-dependent executable on Linux.
//!
//! Hooks call `baton memory …` once per agent step, so process start is part of every
//! memory command. As a PIE, the binary (wasmtime and cranelift inside) carries about
//! 50,000 relative relocations that the loader applies at every start, writing some
//! 200 pages: about 1 ms of a 2.7 ms `baton --version`. Linked without PIE, nothing is
//! relocated and `--version` takes 1.7 ms (docs/BENCHMARKS.md). The trade is the
//! binary's own address randomisation; stage code runs in wasmtime's sandbox, whose
//! mappings stay randomised. `BATON_PIE=1` at build time keeps PIE.

fn main() {
    println!("cargo:rerun-if-env-changed=BATON_PIE");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let keep_pie = std::env::var_os("BATON_PIE").is_some_and(|v| v == "1");
    if target_os == "linux" && target_env == "gnu" && !keep_pie {
        println!("cargo:rustc-link-arg-bin=baton=-no-pie");
    }
}
