//! The on-disk cache of compiled components.
//!
//! An entry is keyed by the wasm's SHA-256 and the engine's compatibility hash (its
//! version, target and settings), so a component compiled by another wasmtime or
//! with other settings is never loaded. Beside each artifact lies its length and
//! CRC-32, checked before the `unsafe` deserialisation: a corrupt, truncated or
//! foreign file is rebuilt, never trusted. (The checksum guards against accident, not
//! an adversary: whoever can write the artifact can write its checksum. CRC-32 reads
//! the tens of MB of a Python stage's artifact in a few milliseconds, where SHA-256
//! took most of a load.) Entries are written to a temporary file and renamed into
//! place, so a crash leaves either a whole entry or none.
//!
//! A component's SHA-256 (its identity in provenance) is remembered by file identity,
//! as git's index and ccache do: beside the artifacts, `files/` records for each
//! component path its device, inode, size, modification and change times and
//! SHA-256. While all five are unchanged the component is not read again (a Python
//! stage is 18 MB); any write to the file changes its change time, which no user can
//! set. A file changed less than a second before it was hashed is not recorded,
//! since a write within the same clock tick could go unseen (the change time, which
//! no user can set back, is the one compared).

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

    /// An artifact's checksum as written beside it (`<artifact>.crc32`): its length
    /// and CRC-32.
    pub fn checksum(bytes: &[u8]) -> String {
        format!("{} {:08x}", bytes.len(), crc32fast::hash(bytes))
    }

    fn artifact_path(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{wasm_sha256}-{:016x}.cwasm", hasher.finish()))
    }

    /// The component at `path` and its SHA-256: from the cache if a sound entry
    /// exists, else compiled and cached.
    pub fn load(
        &self,
        engine: &Engine,
        path: &Path,
    ) -> anyhow::Result<(Component, String, LoadOutcome)> {
        let (sha256, wasm) = self.identify(path)?;
        let artifact = self.artifact_path(engine, &sha256);
        match self.read_entry(engine, &artifact) {
            Ok(Some(component)) => return Ok((component, sha256, LoadOutcome::Cached)),
            Ok(None) => {}
            Err(e) => tracing::warn!(path = %artifact.display(), "discarding cache entry: {e:#}"),
        }
        // Compiled from the bytes just read: their hash, not a remembered one.
        let (sha256, wasm) = match wasm {
            Some(wasm) => (sha256, wasm),
            None => {
                let wasm = read_wasm(path)?;
                (sha256_hex(&wasm), wasm)
            }
        };
        let artifact = self.artifact_path(engine, &sha256);
        let component =
            Component::new(engine, &wasm).wasm_context("failed to compile the component")?;
        if let Err(e) = self.write_entry(&component, &artifact) {
            tracing::warn!(path = %artifact.display(), "cannot write the compile cache: {e:#}");
        }
        Ok((component, sha256, LoadOutcome::Compiled))
    }

    /// The SHA-256 of the component at `path`, from the file-identity record when the
    /// file is unchanged (then not read), else read and hashed (and its bytes given
    /// back).
    fn identify(&self, path: &Path) -> anyhow::Result<(String, Option<Vec<u8>>)> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("failed to read wasm component {path:?}"))?;
        let record = self.identity_path(path);
        let identity = Identity::of(&meta);
        if let Ok(text) = std::fs::read_to_string(&record)
            && let Some(sha256) = text.trim().strip_prefix(&format!("{identity} "))
            && sha256.len() == 64
        {
            return Ok((sha256.to_owned(), None));
        }
        let wasm = read_wasm(path)?;
        let sha256 = sha256_hex(&wasm);
        // Recorded only if the file did not change while it was read, and not in the
        // last second (see the module's docs).
        let changed = std::time::UNIX_EPOCH
            + Duration::new(
                meta.ctime().max(0) as u64,
                meta.ctime_nsec().clamp(0, 999_999_999) as u32,
            );
        let settled = SystemTime::now()
            .duration_since(changed)
            .is_ok_and(|age| age >= Duration::from_secs(1));
        if settled
            && std::fs::metadata(path).is_ok_and(|now| Identity::of(&now) == identity)
            && let Err(e) = std::fs::create_dir_all(self.dir.join("files"))
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    write_atomically(&record, format!("{identity} {sha256}\n").as_bytes())
                })
        {
            tracing::debug!(path = %record.display(), "cannot record the component's identity: {e:#}");
        }
        Ok((sha256, Some(wasm)))
    }

    fn identity_path(&self, path: &Path) -> PathBuf {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let name = sha256_hex(absolute.as_os_str().as_encoded_bytes());
        self.dir.join("files").join(&name[..32])
    }

    /// The cached component at `artifact`, mapped from the file (not read and
    /// copied: a Python stage's artifact is tens of MB), if its length and CRC-32
    /// match the checksum written beside it.
    fn read_entry(&self, engine: &Engine, artifact: &Path) -> anyhow::Result<Option<Component>> {
        let len = match std::fs::metadata(artifact) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("cannot read the artifact"),
        };
        let expected = std::fs::read_to_string(checksum_path(artifact))
            .context("the artifact has no checksum")?;
        let expected = expected.trim();
        anyhow::ensure!(
            expected.split(' ').next() == Some(&len.to_string()),
            "the artifact is {len} bytes, its checksum says otherwise ({expected:?})"
        );
        // SAFETY: the file is the project's own cache entry, written by
        // `Component::serialize` for an engine with the same compatibility hash (the
        // file name) and renamed into place whole, never rewritten in place; its
        // length was just checked. wasmtime checks the header and the engine's
        // settings, and the CRC-32 below is checked before any code of it can run
        // (the component is returned only if it matches).
        let component = unsafe { Component::deserialize_file(engine, artifact) }
            .wasm_context("the artifact does not load")?;
        let image = component.image_range();
        // SAFETY: the range is the component's own image, mapped and alive as long as
        // `component` is; the slice does not outlive this function.
        let bytes = unsafe {
            std::slice::from_raw_parts(image.start, image.end.offset_from(image.start) as usize)
        };
        anyhow::ensure!(
            Self::checksum(bytes) == expected,
            "the artifact does not match its checksum"
        );
        Ok(Some(component))
    }

    fn write_entry(&self, component: &Component, artifact: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {:?}", self.dir))?;
        let bytes = component
            .serialize()
            .wasm_context("failed to serialise the component")?;
        write_atomically(&checksum_path(artifact), Self::checksum(&bytes).as_bytes())?;
        write_atomically(artifact, &bytes)
    }
}

fn checksum_path(artifact: &Path) -> PathBuf {
    artifact.with_extension("crc32")
}

fn read_wasm(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read wasm component {path:?}"))
}

/// What identifies a file's contents without reading them.
#[derive(PartialEq, Eq)]
struct Identity([i128; 5]);

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        let time = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Self([
            meta.dev().into(),
            meta.ino().into(),
            meta.size().into(),
            time(meta.mtime(), meta.mtime_nsec()),
            time(meta.ctime(), meta.ctime_nsec()),
        ])
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [dev, ino, size, mtime, ctime] = self.0;
        write!(f, "{dev} {ino} {size} {mtime} {ctime}")
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::files::write_atomically(path, bytes).with_context(|| format!("cannot write {path:?}"))
}
