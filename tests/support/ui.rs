//! A `baton ui` process for the UI's tests and bench (included with `#[path]`), and
//! the generated 500-stage pipeline both draw.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `baton ui` process; killed when dropped.
pub struct Ui {
    child: Child,
    /// Its address, as it printed it (`http://127.0.0.1:PORT/`, and `#token=` when
    /// bound beyond loopback).
    pub url: String,
}

impl Ui {
    /// Starts `baton ARGS ui --port 0 AFTER` (the binary at `bin`) in `dir`, with no
    /// memory server and no `BATON_STORE`.
    pub fn start(bin: &Path, dir: &Path, args: &[&str], after: &[&str]) -> Self {
        let mut child = Command::new(bin)
            .current_dir(dir)
            .args(args)
            .args(["ui", "--port", "0"])
            .args(after)
            .env("BATON_SERVER", "never")
            .env_remove("BATON_STORE")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("baton ui starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://"), "baton ui printed {line:?}");
        Self {
            child,
            url: line.trim().to_owned(),
        }
    }

    /// The base address, without a fragment or trailing slash.
    pub fn base(&self) -> String {
        self.url
            .split('#')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 500 external stages in ten phases of fifty; each reads two keys of the phase
/// before it.
pub fn five_hundred_stages() -> String {
    let mut manifest = String::from("[pipeline]\nname = \"big\"\nnamespace = \"n\"\n");
    for i in 0..500 {
        let reads = if i < 50 {
            String::new()
        } else {
            let (a, b) = (i - 50, (i - 50 + 17) % 50 + (i / 50 - 1) * 50);
            format!("reads = [\"k/{a}\", \"k/{b}\"]\n")
        };
        manifest.push_str(&format!(
            "\n[[stage]]\nname = \"s{i}\"\nexternal = true\nwrites = \"k/{i}\"\n{reads}"
        ));
    }
    manifest
}
