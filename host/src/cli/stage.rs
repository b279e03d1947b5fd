//! `baton stage …`: run one component against the memory, and scaffold a new stage.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, Exit, GlobalArgs, output};
use crate::memory::{Key, Namespace};
use crate::runtime::{Grants, Invocation, Limits, parse_size};
use crate::service::Service;

#[derive(Debug, Subcommand)]
pub(super) enum StageCommand {
    /// Run one stage component against the memory and print its output
    ///
    /// For authors testing a stage before wiring it into pipeline.toml: nothing is
    /// stored. The stage may read only the keys given with `--reads`.
    Run(RunArgs),
    /// Scaffold a new stage in Rust, Python or JavaScript, in any folder
    ///
    /// It carries this binary's SDK (`sdk/baton-sdk`, `baton_sdk.py` or
    /// `baton-sdk.js`, with their build helpers) and WIT contract (`wit/baton.wit`), a
    /// stage that reads `coding/architecture/system`, and a native test.
    New(NewArgs),
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The component, a `.wasm` file built for wasm32-wasip2
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,
    /// A key the stage may read: `key`, `prefix/*` or `namespace:key` (repeatable)
    #[arg(long = "reads", value_name = "KEY")]
    reads: Vec<String>,
    /// The stage's configuration: a JSON object, or `@FILE`
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
    /// The stage's name [default: the component's file name]
    #[arg(long)]
    name: Option<String>,
    /// The namespace reads default to [default: the pipeline's `namespace`]
    #[arg(short, long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Wall-time limit, such as `500ms` or `10s`
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Memory limit, such as `64MiB`
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    memory: usize,
    /// Output size limit, such as `16MiB`
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    max_output: usize,
    /// Print the output with its events, reads and duration as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct NewArgs {
    /// The stage's name, such as `load-test-planner`
    name: String,
    /// Where to create the crate [default: `./NAME`]
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The stage's language
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    /// A Rust crate built for wasm32-wasip2 with the vendored `baton-sdk`
    Rust,
    /// A Python module built with componentize-py and the vendored `baton_sdk.py`
    Python,
    /// A JavaScript module built with componentize-js and the vendored `baton-sdk.js`
    Js,
}

pub(super) fn run(global: &GlobalArgs, cmd: StageCommand) -> Result<(), CliError> {
    match cmd {
        StageCommand::Run(args) => run_stage(&super::service(global)?, args),
        StageCommand::New(args) => scaffold(args),
    }
}

fn run_stage(ctx: &Service, args: RunArgs) -> Result<(), CliError> {
    let config_text = match args.config.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                Exit::BadInput,
                anyhow!("cannot read the config file {path:?}: {e}"),
            )
        })?,
        None => args.config.clone(),
    };
    let config: serde_json::Value = serde_json::from_str(&config_text)
        .map_err(|e| CliError::new(Exit::BadInput, anyhow!("`--config` is not JSON: {e}")))?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.component
            .file_stem()
            .map_or_else(|| "stage".into(), |s| s.to_string_lossy().into_owned())
    });
    let namespace = ctx.namespace(args.namespace.as_deref())?;
    let mut invocation = Invocation::new(&name, namespace.as_str());
    invocation.parent = "cli".into();
    invocation.config = config;
    invocation.grants = Grants::parse(&args.reads, namespace.as_str());
    invocation.limits = Limits {
        timeout: args.timeout,
        memory_bytes: args.memory,
        output_bytes: args.max_output,
        host: Default::default(),
    };

    let runtime = ctx.runtime()?;
    let (plugin, outcome) = runtime
        .load(&args.component)
        .map_err(|e| CliError::new(Exit::BadInput, e))?;
    tracing::debug!(?outcome, component = %args.component.display(), "component loaded");
    let memory = ctx.store()?;
    let output = match runtime.run(&plugin, &invocation, memory) {
        Ok(output) => output,
        Err(failure) => {
            let mut error = CliError::new(Exit::StageFailed, anyhow!("{failure}"))
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
            for hint in ctx.missing_elsewhere(&reads).unwrap_or_default() {
                error = error.hint(hint);
            }
            return Err(error);
        }
    };
    if args.json {
        return output::json(&output);
    }
    for event in &output.events {
        eprintln!("event {} {}", event.name, event.attributes);
    }
    for denial in &output.denials {
        eprintln!("warning: {denial}");
    }
    output::json(&output.output)
}

fn scaffold(args: NewArgs) -> Result<(), CliError> {
    let name = args.name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        return Err(CliError::new(Exit::BadInput, anyhow!("invalid stage name {name:?}"))
            .hint("use lower-case letters, digits and `-`, starting with a letter, such as `load-test-planner`"));
    }
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        return Err(CliError::new(
            Exit::BadInput,
            anyhow!("{dir:?} already exists; not overwriting it"),
        ));
    }
    let files = match args.lang {
        Lang::Rust => super::scaffold::files(name),
        Lang::Python => super::scaffold::python_files(name),
        Lang::Js => super::scaffold::js_files(name),
    };
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    if args.lang == Lang::Js {
        let d = dir.display();
        let wasm = format!("{}.wasm", name.replace('-', "_"));
        eprintln!("created JavaScript stage `{name}` in {d}");
        eprintln!("next:");
        eprintln!(
            "  cd {d} && npm ci                                   # componentize-js, pinned by package-lock.json"
        );
        eprintln!(
            "  npm test                                           # the stage's logic, natively"
        );
        eprintln!(
            "  node build.mjs --world stage --entry component.js --wit wit/baton.wit --out {wasm}"
        );
        eprintln!(
            "    (without `npm ci`, build.mjs fetches the pinned componentize-js into ~/.cache/baton/tools on first use)"
        );
        eprintln!("  baton stage run {wasm} --reads coding/architecture/system");
        eprintln!(
            "    (in a baton project whose memory holds `coding/architecture/system`, such as the baton repository after `baton run`, or with `--store DIR -n NAMESPACE`, the namespace that holds it)"
        );
        eprintln!("then add it to pipeline.toml:");
        eprintln!(
            "  [[stage]]\n  name = \"{name}\"\n  component = \"{d}/{wasm}\"\n  build = \"node {d}/build.mjs --world stage --entry {d}/component.js --wit {d}/wit/baton.wit --out {d}/{wasm}\"\n  reads = [\"coding/architecture/system\"]"
        );
        return Ok(());
    }
    if args.lang == Lang::Python {
        let d = dir.display();
        let wasm = format!("{}.wasm", name.replace('-', "_"));
        eprintln!("created Python stage `{name}` in {d}");
        eprintln!("next:");
        eprintln!(
            "  cd {d} && python3 -m pip install -r requirements.txt   # componentize-py and pytest, pinned"
        );
        eprintln!(
            "  python3 -m pytest                                  # the stage's logic, natively"
        );
        eprintln!(
            "  python3 build.py --world stage --app component --wit wit --out {wasm} --path ."
        );
        eprintln!(
            "    (a Python without the pinned componentize-py gets it fetched into ~/.cache/baton/tools on first use)"
        );
        eprintln!("  baton stage run {wasm} --reads coding/architecture/system");
        eprintln!(
            "    (in a baton project whose memory holds `coding/architecture/system`, such as the baton repository after `baton run`, or with `--store DIR -n NAMESPACE`, the namespace that holds it)"
        );
        eprintln!("then add it to pipeline.toml:");
        eprintln!(
            "  [[stage]]\n  name = \"{name}\"\n  component = \"{d}/{wasm}\"\n  build = \"python3 {d}/build.py --world stage --app component --wit {d}/wit --out {d}/{wasm} --path {d}\"\n  reads = [\"coding/architecture/system\"]"
        );
        return Ok(());
    }
    eprintln!("created stage crate `{name}` in {}", dir.display());
    eprintln!("next:");
    eprintln!(
        "  cd {} && cargo test                              # the stage's logic, natively",
        dir.display()
    );
    eprintln!("  cargo build --release --target wasm32-wasip2     # the component");
    eprintln!(
        "  baton stage run target/wasm32-wasip2/release/{}.wasm --reads coding/architecture/system",
        name.replace('-', "_")
    );
    eprintln!(
        "    (in a baton project whose memory holds `coding/architecture/system`, such as the baton repository after `baton run`, or with `--store DIR -n NAMESPACE`, the namespace that holds it)"
    );
    eprintln!("then add it to pipeline.toml:");
    eprintln!(
        "  [[stage]]\n  name = \"{name}\"\n  component = \"{}/target/wasm32-wasip2/release/{}.wasm\"",
        dir.display(),
        name.replace('-', "_")
    );
    Ok(())
}
