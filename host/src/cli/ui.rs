//! `baton ui`: serves the web app on 127.0.0.1 (or, deliberately, elsewhere).

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, GlobalArgs};
use crate::memory::Location;
use crate::server::Policy;
use crate::service::manifest_path;

#[derive(Debug, Args)]
pub(super) struct UiArgs {
    /// The port; 0 picks a free one
    #[arg(long, default_value_t = 7345)]
    port: u16,
    /// Listen on this address instead of 127.0.0.1; needs `--token`, and then every
    /// call needs the token (open the printed address, which carries it)
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// The token a change (and, with `--bind`, every call) must carry [default: a new
    /// random one]
    #[arg(long, env = "BATON_UI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The manifest [default: the nearest `pipeline.toml`]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
}

pub(super) fn run(global: &GlobalArgs, args: UiArgs) -> Result<(), CliError> {
    let manifest = manifest_path(args.pipeline, &super::current_dir()?)?;
    let bind = args.bind.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let token = match (&args.token, bind.is_loopback()) {
        (Some(t), _) if t.len() < 16 => {
            return Err(
                CliError::bad_input("the token is too short: give at least 16 characters")
                    .hint("leave `--token` out on 127.0.0.1 for a random one"),
            );
        }
        (Some(t), _) => t.clone(),
        (None, true) => uuid::Uuid::new_v4().simple().to_string(),
        (None, false) => {
            return Err(CliError::bad_input(format!(
                "listening on {bind} lets other machines reach the UI: give it a token"
            ))
            .hint("`--token` (or BATON_UI_TOKEN) with at least 16 random characters"));
        }
    };
    let mut ctx = super::service(global)?;
    // The UI reads while runs write: a memory server lets a sled store be shared
    // instead of each waiting for the other's lock.
    if matches!(ctx.location(), Location::Dir(_)) && global.server == Policy::Auto {
        ctx.serve_store(Duration::from_secs(3600))?;
    }
    ctx = ctx.keep_connection();
    let options = crate::ui::Options {
        bind,
        port: args.port,
        token: token.clone(),
        manifest,
        person: std::env::var("USER")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "ui".to_owned()),
    };
    crate::ui::serve(ctx, options, |address| {
        let fragment = if bind.is_loopback() {
            String::new()
        } else {
            format!("#token={token}")
        };
        // An unspecified address (`0.0.0.0`, `::`) is where the server listens, not an
        // address anyone can open: print this machine's own, and its name for others.
        let everywhere = address.ip().is_unspecified();
        let ip = if everywhere {
            match address.ip() {
                IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            }
        } else {
            address.ip()
        };
        let host = |name: &str| match name.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", address.port()),
            _ => format!("{name}:{}", address.port()),
        };
        println!("http://{}/{fragment}", host(&ip.to_string()));
        let _ = std::io::stdout().flush();
        if everywhere {
            eprintln!(
                "baton ui: listening on every address of this machine ({bind}); from another machine open http://{}/{fragment} (or this machine's address in place of its name)",
                host(&host_name())
            );
        }
        eprintln!(
            "baton ui: serving the pipeline and its memory; open the address above (Ctrl-C stops it)"
        );
    })?;
    Ok(())
}

/// This machine's host name, as other machines may know it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "THIS-HOST".to_owned())
}
