//! Gate components: the WIT `gate` world, for rules that need arithmetic or the
//! stage's inputs. A gate runs like a stage (fresh store, time and memory limits, an
//! empty WASI context) but imports only logging: it sees the document, the inputs it
//! is handed and its configuration, and answers with findings.

use std::path::{Path, PathBuf};

use super::gate_bindings::GatePre;
use super::{FailureKind, HostState, Limits, LoadOutcome, Runtime, StageFailure};
use crate::runtime::bindings::baton::stage::types;

/// A loaded gate component, ready to check documents.
pub struct GatePlugin {
    runtime: Runtime,
    pre: GatePre<HostState>,
    /// SHA-256 of the `.wasm` file.
    pub sha256: String,
    /// Where it was loaded from.
    pub path: PathBuf,
}

/// An input handed to a gate: a document the stage read.
#[derive(Clone, Debug, PartialEq)]
pub struct GateInput {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
    /// Its value, as JSON text.
    pub value: String,
}

/// A finding as a gate component reports it.
pub type GateFinding = types::Finding;

impl Runtime {
    /// Loads the gate component at `path`, through the compile cache.
    pub fn load_gate(&self, path: &Path) -> anyhow::Result<(GatePlugin, LoadOutcome)> {
        let (pre, sha256, outcome) = self.load_as(path, "gate", GatePre::new)?;
        Ok((
            GatePlugin {
                runtime: self.clone(),
                pre,
                sha256,
                path: path.to_path_buf(),
            },
            outcome,
        ))
    }
}

impl GatePlugin {
    /// Checks `document` (JSON text) against the gate named `gate` of stage `stage`,
    /// under `limits`.
    #[allow(clippy::result_large_err)] // StageFailure is the cold path; see its docs.
    pub fn check(
        &self,
        stage: &str,
        gate: &str,
        document: &str,
        inputs: &[GateInput],
        config: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Vec<GateFinding>, StageFailure> {
        let fail = |kind| StageFailure {
            stage: stage.to_owned(),
            gate: Some(gate.to_owned()),
            kind,
        };
        let who = format!("{stage}/{gate}");
        let state = HostState::new(&who, "gate", Default::default(), limits, None);
        let mut store = self.runtime.store(state, limits);
        let inputs: Vec<types::Input> = inputs
            .iter()
            .map(|i| types::Input {
                namespace: i.namespace.clone(),
                key: i.key.clone(),
                value: i.value.clone(),
            })
            .collect();
        let result = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(FailureKind::Load(format!("{e:#}"))))?
            .call_check(&mut store, gate, document, &inputs, &config.to_string());
        let state = store.into_data();
        let findings = result.map_err(|trap| fail(super::classify_trap(trap, &state, limits)))?;
        let host = &limits.host;
        if findings.len() > host.findings {
            return Err(fail(FailureKind::HostLimit(format!(
                "{} findings; the limit is {}",
                findings.len(),
                host.findings
            ))));
        }
        for f in &findings {
            let longest = [&f.pointer, &f.expected, &f.actual, &f.message]
                .iter()
                .map(|s| s.len())
                .max()
                .unwrap_or(0);
            if longest > host.finding_bytes {
                return Err(fail(FailureKind::HostLimit(format!(
                    "a finding with a field of {longest} bytes; the limit is {}",
                    host.finding_bytes
                ))));
            }
        }
        Ok(findings)
    }
}
