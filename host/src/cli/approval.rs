//! `baton approve`, `baton reject` and `baton held`: a person's decision on the
//! outputs a stage's approval gate holds.

use clap::Args;

use super::{CliError, GlobalArgs, output};

#[derive(Debug, Args)]
pub(super) struct ApproveArgs {
    /// The stage whose held output to store
    stage: String,
    /// A note recorded with the approval, in the output's provenance
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    #[command(flatten)]
    who: Who,
}

#[derive(Debug, Args)]
pub(super) struct RejectArgs {
    /// The stage whose held output to send back
    stage: String,
    /// Why: the stage's agent hears it as findings on its next run
    #[arg(long, value_name = "TEXT")]
    reason: String,
    #[command(flatten)]
    who: Who,
}

#[derive(Debug, Args)]
pub(super) struct HeldArgs {
    /// Only this stage's held output, whole (the document and its gates' report)
    stage: Option<String>,
    /// Print JSON for scripts
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct Who {
    /// The partition, for a stage that runs once per partition (or name the stage
    /// `stage[KEY]`)
    #[arg(short = 'p', long, value_name = "KEY")]
    partition: Option<String>,
    /// Who decides, recorded as `person:NAME` [default: $USER]
    #[arg(long = "as", value_name = "NAME")]
    by: Option<String>,
    /// Print the decision as JSON
    #[arg(long)]
    json: bool,
}

impl Who {
    /// `stage`, of the partition given, if one is.
    fn stage(&self, stage: &str) -> String {
        match &self.partition {
            Some(p) => crate::service::instance_name(stage, p),
            None => stage.to_owned(),
        }
    }

    fn name(&self) -> Result<String, CliError> {
        self.by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| {
                CliError::new(
                    super::Exit::BadInput,
                    anyhow::anyhow!("cannot tell who decides: $USER is not set"),
                )
                .hint("say who you are with `--as NAME`")
            })
    }
}

pub(super) fn approve(global: &GlobalArgs, args: ApproveArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    let ruling = ctx.approve(&args.who.stage(&args.stage), &args.who.name()?, args.note)?;
    if args.who.json {
        return output::json(&ruling);
    }
    eprintln!(
        "approved stage `{}`'s output: stored at `{}` in namespace `{}` (revision {}), by {}",
        ruling.stage,
        ruling.key,
        ruling.namespace,
        ruling.revision.unwrap_or_default(),
        ruling.by
    );
    eprintln!("next: `baton run` goes on with the stages that read it");
    Ok(())
}

pub(super) fn reject(global: &GlobalArgs, args: RejectArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    let ruling = ctx.reject(&args.who.stage(&args.stage), &args.who.name()?, args.reason)?;
    if args.who.json {
        return output::json(&ruling);
    }
    eprintln!(
        "rejected stage `{}`'s output (nothing stored at `{}`), by {}",
        ruling.stage, ruling.key, ruling.by
    );
    eprintln!("next: `baton run` runs the stage again; its agent hears the reason as findings");
    Ok(())
}

pub(super) fn held(global: &GlobalArgs, args: HeldArgs) -> Result<(), CliError> {
    let ctx = super::service(global)?;
    if let Some(stage) = &args.stage {
        let Some(held) = ctx.held_output(stage)? else {
            return Err(CliError::not_found(format!(
                "stage `{stage}` has no output held for approval"
            ))
            .hint("`baton held` lists the outputs that are"));
        };
        if args.json {
            return output::json(&held);
        }
        eprintln!("{}", held.gate_report);
        return output::json(&held.output);
    }
    let held = ctx.held_outputs()?;
    if args.json {
        return output::json(&held);
    }
    if held.is_empty() {
        eprintln!("no output is held for approval");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = held
        .iter()
        .map(|h| {
            vec![
                h.stage.clone(),
                format!("{}:{}", h.namespace, h.key),
                h.writer.to_string(),
                h.held_at.to_string(),
                match &h.rejected {
                    None => "waiting".to_owned(),
                    Some(r) => format!("rejected by {}", r.by),
                },
            ]
        })
        .collect();
    output::table(&["STAGE", "KEY", "BY", "HELD", "STATE"], &rows)
}
