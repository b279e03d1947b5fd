//! The project: the folder holding `pipeline.toml`, and where its store lives.
//!
//! Commands find the project by walking up from the current directory to the first
//! folder with a `pipeline.toml`; the store is `.baton/store` inside it. `--store` or
//! `BATON_STORE` overrides that, and without either and without a project there is no
//! store: baton never makes one in whatever folder a command happens to run in.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The manifest's file name.
pub const MANIFEST: &str = "pipeline.toml";
/// The namespace used when neither a flag nor the manifest names one.
pub const FALLBACK_NAMESPACE: &str = "default";

/// A project found on disk.
#[derive(Clone, Debug)]
pub struct Project {
    /// The folder holding `pipeline.toml`.
    pub root: PathBuf,
    /// The path of `pipeline.toml`.
    pub manifest: PathBuf,
}

impl Project {
    /// The nearest project at or above `start`, if any.
    pub fn discover(start: &Path) -> Option<Self> {
        start
            .ancestors()
            .find(|dir| dir.join(MANIFEST).is_file())
            .map(|root| Self {
                root: root.to_path_buf(),
                manifest: root.join(MANIFEST),
            })
    }

    /// The project of the manifest at `manifest` (any file name).
    pub fn at(manifest: &Path) -> Self {
        let root = match manifest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self {
            root,
            manifest: manifest.to_path_buf(),
        }
    }

    /// Where the project's embedded store lives.
    pub fn store_path(&self) -> PathBuf {
        self.root.join(".baton").join("store")
    }

    /// The `[pipeline] namespace` and `[memory] retention` settings of the manifest,
    /// read without validating the rest (memory commands must work while a pipeline
    /// is being written).
    pub fn memory_settings(&self) -> anyhow::Result<MemorySettings> {
        let text = std::fs::read_to_string(&self.manifest)
            .with_context(|| format!("failed to read {:?}", self.manifest))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("failed to parse {:?}", self.manifest))?;
        let namespace = match table.get("pipeline").and_then(|p| p.get("namespace")) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => bail!(
                "{:?}: `pipeline.namespace` must be a string, found {}",
                self.manifest,
                other.type_str()
            ),
        };
        let retention = match table.get("memory").and_then(|m| m.get("retention")) {
            None => None,
            Some(toml::Value::Integer(n)) if *n >= 1 => Some(*n as u64),
            Some(other) => bail!(
                "{:?}: `memory.retention` must be a whole number of at least 1, found {other}",
                self.manifest
            ),
        };
        let url = match table.get("memory").and_then(|m| m.get("url")) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => bail!(
                "{:?}: `memory.url` must be a `postgres://` URL, found {}",
                self.manifest,
                other.type_str()
            ),
        };
        Ok(MemorySettings {
            namespace,
            retention,
            url,
        })
    }
}

/// Memory settings a manifest may carry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemorySettings {
    /// The pipeline's default namespace.
    pub namespace: Option<String>,
    /// Revisions kept per key.
    pub retention: Option<u64>,
    /// The PostgreSQL database holding the memory, instead of `.baton/store`.
    pub url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_manifest_and_reads_its_settings() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let before = Project::discover(&nested);
        assert!(
            before.is_none_or(|p| !p.root.starts_with(dir.path())),
            "no manifest yet"
        );
        std::fs::write(
            dir.path().join(MANIFEST),
            "[pipeline]\nnamespace = \"coding-pipeline\"\n[memory]\nretention = 3\n",
        )
        .unwrap();
        let project = Project::discover(&nested).expect("found from a subfolder");
        assert_eq!(project.root, dir.path());
        assert_eq!(project.store_path(), dir.path().join(".baton/store"));
        let settings = project.memory_settings().unwrap();
        assert_eq!(
            settings,
            MemorySettings {
                namespace: Some("coding-pipeline".into()),
                retention: Some(3),
                url: None,
            }
        );
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "[pipeline]\nnamespace = 3\n").unwrap();
        let err = Project::discover(dir.path())
            .unwrap()
            .memory_settings()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`pipeline.namespace` must be a string"),
            "{err}"
        );
    }
}
