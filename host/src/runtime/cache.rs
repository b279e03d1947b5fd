//! The on-disk cache of compiled components.
//!
//! An entry is keyed by the wasm's SHA-256 and the engine's compatibility hash (its
//! version, target and settings), so a component compiled by another wasmtime or
//! with other settings is never loaded. Beside each artifact lies the SHA-256 of the
//! artifact itself, checked before the `unsafe` deserialisation: a corrupt, truncated
//! or foreign file is rebuilt, never trusted. Entries are written to a temporary file
//! and renamed into place, so a crash leaves either a whole entry or none.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::WasmContext;
use crate::memory::sha256_hex;

/// How a component was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Loaded precompiled from the cache.
    Cached,
    /// Compiled (no usable cache entry) and written to the cache.
    Compiled,
}

/// A directory of compiled components.
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn artifact_path(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{wasm_sha256}-{:016x}.cwasm", hasher.finish()))
    }

    /// The component for `wasm` (whose SHA-256 is `wasm_sha256`): from the cache if a
    /// sound entry exists, else compiled and cached.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_sha256: &str,
    ) -> anyhow::Result<(Component, LoadOutcome)> {
        let artifact = self.artifact_path(engine, wasm_sha256);
        match self.read_entry(engine, &artifact) {
            Ok(Some(component)) => return Ok((component, LoadOutcome::Cached)),
            Ok(None) => {}
            Err(e) => tracing::warn!(path = %artifact.display(), "discarding cache entry: {e:#}"),
        }
        let component =
            Component::new(engine, wasm).wasm_context("failed to compile the component")?;
        if let Err(e) = self.write_entry(&component, &artifact) {
            tracing::warn!(path = %artifact.display(), "cannot write the compile cache: {e:#}");
        }
        Ok((component, LoadOutcome::Compiled))
    }

    fn read_entry(&self, engine: &Engine, artifact: &Path) -> anyhow::Result<Option<Component>> {
        let bytes = match std::fs::read(artifact) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("cannot read the artifact"),
        };
        let expected = std::fs::read_to_string(checksum_path(artifact))
            .context("the artifact has no checksum")?;
        anyhow::ensure!(
            sha256_hex(&bytes) == expected.trim(),
            "the artifact does not match its checksum"
        );
        // SAFETY: the bytes are the project's own cache entry, written by
        // `Component::serialize` for an engine with the same compatibility hash (the
        // file name), and verified against the checksum written beside it.
        let component = unsafe { Component::deserialize(engine, &bytes) }
            .wasm_context("the artifact does not load")?;
        Ok(Some(component))
    }

    fn write_entry(&self, component: &Component, artifact: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {:?}", self.dir))?;
        let bytes = component
            .serialize()
            .wasm_context("failed to serialise the component")?;
        write_atomically(&checksum_path(artifact), sha256_hex(&bytes).as_bytes())?;
        write_atomically(artifact, &bytes)
    }
}

fn checksum_path(artifact: &Path) -> PathBuf {
    artifact.with_extension("sha256")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // Unique per process and per call: threads of one run may write one entry at once.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {tmp:?}"))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {tmp:?} into place"))
}
