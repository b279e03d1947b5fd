//! Whether a stage's stored output is still current.

use serde::Serialize;

use crate::memory::{Key, Namespace, Store};
use crate::pipeline::Stage;
use crate::records::Provenance;

/// A stage's state relative to its inputs, component and config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "why")]
pub enum Freshness {
    /// The stored output was made from the current inputs, component and config.
    Fresh,
    /// It was not; the reason.
    Stale(String),
    /// Nothing is stored at the stage's key.
    Missing,
}

/// Compares the provenance stored with `stage`'s output against the current state.
pub fn freshness(
    stage: &Stage,
    component_sha256: &str,
    memory: &dyn Store,
) -> anyhow::Result<Freshness> {
    let Some((ns, key)) = stage.output() else {
        return Ok(Freshness::Missing);
    };
    let Some(entry) = memory.get(ns, key)? else {
        return Ok(Freshness::Missing);
    };
    let Some(run) = Provenance::of(&entry.meta).and_then(|p| p.run) else {
        return Ok(Freshness::Stale(
            "the stored output was not written by this stage's run".into(),
        ));
    };
    if run.component_sha256 != component_sha256 {
        return Ok(Freshness::Stale("the component changed".into()));
    }
    if run.config != stage.config {
        return Ok(Freshness::Stale("the config changed".into()));
    }
    for read in &run.inputs {
        let current = memory
            .get(
                &Namespace::new(read.namespace.as_str())?,
                &Key::new(read.key.as_str())?,
            )?
            .map(|e| e.meta.revision);
        if read.revision != current {
            return Ok(Freshness::Stale(format!("input `{}` changed", read.key)));
        }
    }
    Ok(Freshness::Fresh)
}
