//! baton: a runtime for multi-agent pipelines.
//!
//! Stages hand their outputs to each other through the [`memory`], a namespaced,
//! versioned key-value store of JSON documents with provenance. The [`project`] is the
//! folder holding `pipeline.toml`, where the store lives. The [`cli`] is the `baton`
//! command that agents inside and outside baton use. The [`runtime`] runs stage
//! components; the [`pipeline`] is `pipeline.toml` checked into a DAG of stages. The
//! [`server`] keeps a store open between short commands. The [`service`] is every
//! operation written once for the front ends ([`cli`], `mcp`); [`records`] are baton's
//! own documents (provenance, events, quarantine).

#![deny(missing_docs)]

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
pub mod runtime;
pub mod server;
pub mod service;
pub mod ui;
pub mod worker;
