//! Write a baton stage: a WebAssembly component that reads earlier outputs from the
//! memory and returns its own output as JSON.
//!
//! A stage is a type implementing [`Stage`], exported with [`export_stage!`]. It reads
//! its inputs with [`Context::read`] (typed, with errors that name the key and the JSON
//! pointer of a missing or wrong field), reports milestones with [`Context::emit`], and
//! returns any `Serialize` value as its output. It can only read the keys its entry in
//! `pipeline.toml` declares; it cannot write: the host gates and stores what it returns.
//!
//! ```ignore
//! use baton_sdk::{Context, Error, Stage, export_stage};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct System { components: Vec<serde_json::Value> }
//!
//! #[derive(Serialize)]
//! struct Summary { components: usize }
//!
//! struct Counter;
//!
//! impl Stage for Counter {
//!     type Output = Summary;
//!     fn run(ctx: &Context) -> Result<Summary, Error> {
//!         let system: System = ctx.read("coding/architecture/system")?;
//!         ctx.emit("systemCounted", serde_json::json!({ "components": system.components.len() }));
//!         Ok(Summary { components: system.components.len() })
//!     }
//! }
//!
//! export_stage!(Counter);
//! ```
//!
//! A gate component, for rules that need arithmetic or the stage's inputs, is a type
//! implementing [`Gate`], exported with [`export_gate!`]. A renderer, how the stage's
//! documents read for people, implements [`Renderer`], exported with
//! [`export_renderer!`].
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; `baton stage new NAME`
//! scaffolds such a crate.

#![deny(missing_docs)]

mod context;
mod error;
pub mod gate;
pub mod render;

pub use context::{Context, Level};
pub use error::Error;
pub use gate::{Finding, Gate, Inputs};
pub use render::Renderer;
pub use serde_json;

/// The bindings generated from baton's WIT contract (`wit/baton.wit`).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "stage",
        pub_export_macro: true,
        export_macro_name: "__export_stage_world",
        default_bindings_module: "baton_sdk::bindings",
    });
}

/// The bindings of the `gate` world, sharing the stage world's types.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod gate_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "gate",
        pub_export_macro: true,
        export_macro_name: "__export_gate_world",
        default_bindings_module: "baton_sdk::gate_bindings",
        with: {
            "baton:stage/types@0.1.0": crate::bindings::baton::stage::types,
            "baton:stage/log@0.1.0": crate::bindings::baton::stage::log,
        },
    });
}

/// The bindings of the `renderer` world, sharing the stage world's types.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod render_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "renderer",
        pub_export_macro: true,
        export_macro_name: "__export_renderer_world",
        default_bindings_module: "baton_sdk::render_bindings",
        with: {
            "baton:stage/types@0.1.0": crate::bindings::baton::stage::types,
            "baton:stage/log@0.1.0": crate::bindings::baton::stage::log,
        },
    });
}

/// A pipeline stage.
pub trait Stage {
    /// The output document.
    type Output: serde::Serialize;

    /// Runs the stage once: read inputs from `ctx`, return the output.
    fn run(ctx: &Context) -> Result<Self::Output, Error>;
}

#[doc(hidden)]
pub fn __run<S: Stage>(
    raw: bindings::baton::stage::types::Context,
) -> Result<String, bindings::baton::stage::types::StageError> {
    let ctx = Context::new(raw).map_err(Error::into_wit)?;
    let output = S::run(&ctx).map_err(Error::into_wit)?;
    serde_json::to_string(&output)
        .map_err(|e| Error::Failed(format!("output does not serialise to JSON: {e}")).into_wit())
}

/// Exports a [`Stage`] implementation as the component's `run` function.
#[macro_export]
macro_rules! export_stage {
    ($stage:ty) => {
        struct __BatonStage;
        impl $crate::bindings::Guest for __BatonStage {
            fn run(
                ctx: $crate::bindings::baton::stage::types::Context,
            ) -> ::core::result::Result<::std::string::String, $crate::bindings::baton::stage::types::StageError> {
                $crate::__run::<$stage>(ctx)
            }
        }
        $crate::bindings::__export_stage_world!(__BatonStage with_types_in $crate::bindings);
    };
}
