//! End-to-end tests: the real `baton` binary against real stores on disk.
//!
//! One test binary, split by theme; `harness` holds the temp project and command helpers.

pub(crate) mod agents;
mod deep_json;
mod fresh_tools;
mod gate_components;
pub(crate) mod gates;
mod harness;
mod help;
mod host_limits;
mod import;
pub(crate) mod js_stages;
pub(crate) mod mcp;
mod memory_cli;
pub(crate) mod memory_concurrency;
mod memory_model;
pub(crate) mod memory_server;
pub(crate) mod partitions;
pub(crate) mod performance_pipeline;
pub(crate) mod performance_schemas;
mod pipeline_crash;
pub(crate) mod pipeline_golden;
pub(crate) mod pipeline_run;
#[path = "../support/postgres.rs"]
pub(crate) mod postgres;
mod postgres_backend;
mod progress;
pub(crate) mod python_stages;
mod runtime;
mod scaffold;
mod search;
mod service_layer;
pub(crate) mod traces;
mod ui;
#[path = "../support/ui.rs"]
mod ui_process;
#[path = "../support/webdriver.rs"]
mod webdriver;
pub(crate) mod workers;
