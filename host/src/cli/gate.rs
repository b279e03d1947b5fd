//! `baton gate check`, and the gate check every write to a gated key goes through.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use serde_json::Value;

use super::{CliError, Context, Exit, output};
use crate::gates::{GateReport, StageGates, inputs_declared};
use crate::memory::{Key, Namespace, Store, Writer};
use crate::pipeline::{Pipeline, Stage};
use crate::runtime::{GateInput, Runtime};

#[derive(Debug, Subcommand)]
pub(super) enum GateCommand {
    /// Check a document against a stage's gates without storing it
    ///
    /// Prints the report (every gate, pass or fail, with findings) and exits 0 if the
    /// document would be accepted, 7 if an error-severity gate blocks it.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The stage whose gates apply, by its name in pipeline.toml
    #[arg(long)]
    stage: String,
    /// The JSON document (`-` for standard input)
    file: PathBuf,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Context, cmd: GateCommand) -> Result<(), CliError> {
    let GateCommand::Check(args) = cmd;
    let pipeline = load_pipeline(super::check::manifest_path(args.pipeline)?)?;
    let stage = pipeline
        .stages
        .iter()
        .find(|s| s.name == args.stage)
        .ok_or_else(|| {
            let names: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
            CliError::new(
                Exit::BadInput,
                anyhow!("no stage `{}` in {}", args.stage, pipeline.path.display()),
            )
            .hint(format!("its stages are: {}", names.join(", ")))
        })?;
    let gates = compile(ctx, stage, &mut None)?;
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| {
            CliError::new(Exit::BadInput, anyhow!("cannot read {:?}: {e}", args.file))
        })?
    };
    let document: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!("{:?} is not JSON: {e}", args.file)))?;
    let inputs = if gates.needs_inputs() {
        declared_inputs(&*ctx.open()?, stage)?
    } else {
        Vec::new()
    };
    let report = gates.check(&document, &inputs);
    if args.json {
        output::json(&report)?;
    } else {
        println!("{report}");
    }
    if !report.passed {
        return Err(blocked(&report));
    }
    Ok(())
}

/// Loads the manifest, turning its problems into one error.
pub(super) fn load_pipeline(path: PathBuf) -> Result<Pipeline, CliError> {
    Pipeline::load(&path).map_err(|problems| {
        CliError::new(
            Exit::BadInput,
            anyhow!("{} does not check:\n{problems}", path.display()),
        )
        .hint("`baton check` lists the problems")
    })
}

/// The error for a document an error-severity gate blocks.
pub(super) fn blocked(report: &GateReport) -> CliError {
    let failed = report.failed();
    CliError::new(
        Exit::GateFailed,
        anyhow!(
            "the document for `{}` fails the gates of stage `{}`: {}",
            report.key,
            report.stage,
            failed.join(", ")
        ),
    )
}

/// The stage's declared inputs as `store` holds them now: what its gate components
/// see for a document that comes from outside a run.
fn declared_inputs(store: &dyn Store, stage: &Stage) -> Result<Vec<GateInput>, CliError> {
    inputs_declared(store, stage).map_err(|e| CliError::new(Exit::Store, e))
}

/// Compiles `stage`'s gates, starting the runtime (once, in `runtime`) if a gate
/// component needs it.
fn compile(
    ctx: &Context,
    stage: &Stage,
    runtime: &mut Option<Runtime>,
) -> Result<StageGates, CliError> {
    if StageGates::need_runtime(stage) && runtime.is_none() {
        *runtime = Some(super::stage::runtime(ctx)?);
    }
    StageGates::compile(stage, runtime.as_ref()).map_err(|e| CliError::new(Exit::BadInput, e))
}

/// The gates of the project's pipeline, loaded once per command and compiled once
/// per stage, for the writes a command makes.
pub(super) struct Gatekeeper<'a> {
    ctx: &'a Context,
    pipeline: Option<Pipeline>,
    runtime: Option<Runtime>,
    compiled: std::collections::HashMap<String, StageGates>,
}

impl<'a> Gatekeeper<'a> {
    /// Loads the manifest, if the command runs in a project.
    pub(super) fn new(ctx: &'a Context) -> Result<Self, CliError> {
        let pipeline = ctx
            .manifest
            .as_deref()
            .map(|m| load_pipeline(m.to_path_buf()))
            .transpose()?;
        Ok(Self {
            ctx,
            pipeline,
            runtime: None,
            compiled: Default::default(),
        })
    }

    /// The stage that writes `key` in `namespace` and its gates, if it has any.
    fn gates_for(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(&Stage, &StageGates)>, CliError> {
        let Some(stage) = self
            .pipeline
            .as_ref()
            .and_then(|p| p.producer(namespace, key))
        else {
            return Ok(None);
        };
        if !self.compiled.contains_key(&stage.name) {
            let gates = compile(self.ctx, stage, &mut self.runtime)?;
            self.compiled.insert(stage.name.clone(), gates);
        }
        Ok(self
            .compiled
            .get(&stage.name)
            .filter(|g| !g.is_empty())
            .map(|g| (stage, g)))
    }
}

/// Runs the gates of the stage that writes `key`, if any, with the stage's inputs as
/// `store` holds them. Returns the provenance to record (the report, and any
/// override), or the error that blocks the write.
pub(super) fn gate_write(
    keeper: &mut Gatekeeper<'_>,
    store: &dyn Store,
    ns: &Namespace,
    key: &Key,
    value: &Value,
    writer: &Writer,
    override_reason: Option<&str>,
) -> Result<Option<Value>, CliError> {
    let Some((stage, gates)) = keeper.gates_for(ns.as_str(), key.as_str())? else {
        return Ok(None);
    };
    let inputs = if gates.needs_inputs() {
        declared_inputs(store, stage)?
    } else {
        Vec::new()
    };
    let report = gates.check(value, &inputs);
    if !report.passed || report.warnings > 0 {
        eprintln!("{report}");
    }
    let report_json = serde_json::to_value(&report).map_err(std::io::Error::from)?;
    match (report.passed, override_reason) {
        (true, _) => Ok(Some(serde_json::json!({ "gate_report": report_json }))),
        (false, Some(reason)) => {
            tracing::warn!(key = %key, namespace = %ns, reason, "gates overridden");
            eprintln!("warning: storing despite failed gates, as `--override-gates` asks");
            Ok(Some(serde_json::json!({
                "gate_report": report_json,
                "gate_override": { "reason": reason, "by": writer },
            })))
        }
        (false, None) => Err(blocked(&report)
            .hint("fix the document, check it with `baton gate check`, or pass `--override-gates REASON` to record an override")),
    }
}
