//! Renderer components: the WIT `renderer` world, with which a stage supplies how its
//! output reads for people. A renderer runs like a gate (fresh store, time and memory
//! limits, an empty WASI context, only logging imported): it sees one document and a
//! format, and returns text or why not.

use std::path::{Path, PathBuf};

use super::render_bindings::RendererPre;
use super::{FailureKind, HostState, Limits, LoadOutcome, Runtime, StageFailure};

/// A loaded renderer component.
pub struct RendererPlugin {
    runtime: Runtime,
    pre: RendererPre<HostState>,
    /// Where it was loaded from.
    pub path: PathBuf,
}

impl Runtime {
    /// Loads the renderer component at `path`, through the compile cache.
    pub fn load_renderer(&self, path: &Path) -> anyhow::Result<(RendererPlugin, LoadOutcome)> {
        let (pre, _sha256, outcome) = self.load_as(path, "renderer", RendererPre::new)?;
        Ok((
            RendererPlugin {
                runtime: self.clone(),
                pre,
                path: path.to_path_buf(),
            },
            outcome,
        ))
    }
}

impl RendererPlugin {
    /// `document` (JSON text) of stage `stage` in `format`, under `limits`: the text,
    /// or the renderer's own reason it cannot (the inner error).
    #[allow(clippy::result_large_err)] // StageFailure is the cold path; see its docs.
    pub fn render(
        &self,
        stage: &str,
        format: &str,
        document: &str,
        limits: &Limits,
    ) -> Result<Result<String, String>, StageFailure> {
        let fail = |kind| StageFailure {
            stage: stage.to_owned(),
            gate: None,
            kind,
        };
        let who = format!("{stage}/render");
        let state = HostState::new(&who, "renderer", Default::default(), limits, None);
        let mut store = self.runtime.store(state, limits);
        let result = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(FailureKind::Load(format!("{e:#}"))))?
            .call_render(&mut store, format, document);
        let state = store.into_data();
        result.map_err(|trap| fail(super::classify_trap(trap, &state, limits)))
    }
}
