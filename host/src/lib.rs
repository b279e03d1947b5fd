//! baton: a runtime for multi-agent pipelines.
//!
//! The crate is layered, and dependencies point down (docs/DESIGN.md draws it):
//!
//! - **Front ends** parse, call the service and print: the [`cli`] (`baton`, whose
//!   `baton worker` claims stages from a PostgreSQL queue), the [`mcp`] server agents
//!   call, and the web [`ui`].
//! - **The [`service`]** is every operation written once for them, with typed results
//!   and one typed error.
//! - **The core**: the [`pipeline`] (`pipeline.toml` checked into a DAG of stages, and
//!   its builds), the [`executor`] that runs it on one machine or many (workers
//!   included), the [`admission`] every document passes to enter the memory, the
//!   [`gates`] it is judged by, the [`runtime`] that runs stage and gate
//!   components under wasmtime, the [`import`] of claude-flow agent definitions, and
//!   [`records`], baton's own documents (provenance, events, quarantine).
//! - **The [`memory`]**: a namespaced, versioned key-value store of JSON documents
//!   (sled embedded, or PostgreSQL), and the [`server`] that keeps a sled store open
//!   between short commands. The [`project`] is the folder holding `pipeline.toml`,
//!   where the store lives.
//! - Below everything: [`files`] (writing a file whole), [`text`] (quoting input
//!   briefly in messages) and [`telemetry`] (log lines, and traces exported over OTLP).

pub mod admission;
pub mod cli;
pub mod executor;
pub mod files;
pub mod gates;
pub mod import;
pub mod mcp;
pub mod memory;
pub mod pipeline;
pub mod project;
pub mod records;
pub mod runner;
pub mod runtime;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod text;
pub mod ui;
