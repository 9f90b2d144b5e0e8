//! `userspace-agent run -- CMD…`: the pod entrypoint.

use std::process::ExitCode;

use anyhow::Context;
use userspace_cni_sdk::discovery::Locations;

use crate::cli::RunArgs;
use crate::{supervisor, wait};

pub fn run(loc: &Locations, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let view = wait::for_interfaces(loc, args.min_interfaces, args.wait_timeout)?;
    let env = view.env_vars();
    for (k, v) in &env {
        tracing::info!("{k}={v}");
    }
    let code = supervisor::run_as_init(&args.command, &env)
        .with_context(|| format!("running {:?}", args.command))?;
    Ok(ExitCode::from(code))
}
