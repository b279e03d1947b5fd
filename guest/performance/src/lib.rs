//! The performance architect (Phase 3, Agent 17 of the coding pipeline) as pure
//! functions: [`architect::derive`] turns the five prior architecture outputs into
//! the performance architecture; [`gates`] holds its four quality gates (and the
//! budget check's) as rules over any document; [`loadtest::plan`] and
//! [`budget::check`] are the stages after it; [`render::markdown`] prints the
//! document for people. The guest components in `guest/stages` are thin shells
//! around this crate, and the host uses it to render and to publish the schemas.

pub mod architect;
pub mod budget;
pub mod calls;
pub mod gates;
pub mod inputs;
pub mod loadtest;
pub mod output;
pub mod render;
#[cfg(feature = "schema")]
pub mod schema;
pub mod view;

pub use architect::{InputError, derive};
pub use inputs::Inputs;
pub use output::PerformanceArchitecture;
