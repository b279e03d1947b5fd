//! Running one component against the memory (`baton stage run`): for authors trying
//! a stage before wiring it into `pipeline.toml`. Nothing is stored; the component
//! reads only the keys it is granted.

use std::path::PathBuf;

use serde_json::Value;

use super::{Error, ErrorKind, Result, Service};
use crate::memory::{Key, Namespace};
use crate::runtime::{Grants, Invocation, Limits, StageOutput};

/// One component to run.
#[derive(Clone, Debug)]
pub struct ComponentRun {
    /// The `.wasm` file.
    pub component: PathBuf,
    /// The stage's name [default: the file's stem].
    pub name: Option<String>,
    /// The namespace reads default to [default: the project's].
    pub namespace: Option<String>,
    /// What it may read: `key`, `prefix/*` or `namespace:key`.
    pub reads: Vec<String>,
    /// Its configuration.
    pub config: Value,
    /// Its limits.
    pub limits: Limits,
}

impl Service {
    /// Runs `run.component` once against the memory and returns what it returned; a
    /// failure is [`ErrorKind::StageFailed`], with the failure's kind and, for a read
    /// that found nothing, the namespaces that hold that key.
    pub fn run_component(&self, run: ComponentRun) -> Result<StageOutput> {
        let name = run.name.clone().unwrap_or_else(|| {
            run.component
                .file_stem()
                .map_or_else(|| "stage".into(), |s| s.to_string_lossy().into_owned())
        });
        let namespace = self.namespace(run.namespace.as_deref())?;
        let mut invocation = Invocation::new(&name, namespace.as_str());
        invocation.parent = "cli".into();
        invocation.config = run.config;
        invocation.grants = Grants::parse(&run.reads, namespace.as_str());
        invocation.limits = run.limits;
        let runtime = self.runtime()?;
        let (plugin, outcome) = runtime
            .load(&run.component)
            .map_err(|e| Error::new(ErrorKind::BadInput, e))?;
        tracing::debug!(?outcome, component = %run.component.display(), "component loaded");
        let memory = self.store()?;
        runtime
            .run(&plugin, &invocation, memory)
            .map_err(|failure| {
                let mut error = Error::new(ErrorKind::StageFailed, anyhow::anyhow!("{failure}"))
                    .hint(format!("failure kind: `{}`", failure.kind.code()));
                // A read that found nothing here may be stored under another namespace.
                let reads: Vec<(Namespace, Key)> = invocation
                    .grants
                    .0
                    .iter()
                    .filter(|g| !g.prefix)
                    .filter_map(|g| {
                        Some((
                            Namespace::new(g.namespace.clone()).ok()?,
                            Key::new(g.key.clone()).ok()?,
                        ))
                    })
                    .collect();
                for hint in self.missing_elsewhere(&reads).unwrap_or_default() {
                    error = error.hint(hint);
                }
                error
            })
    }
}
