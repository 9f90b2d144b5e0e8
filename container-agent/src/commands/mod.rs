//! One module per subcommand.

mod inspect;
mod run;
mod testpmd;
mod vpp;
mod vpp_startup;

use std::process::ExitCode;

use userspace_cni_sdk::discovery::Locations;

use crate::cli::{Cli, Command, Global};

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let loc = locations(&cli.global);
    match cli.command {
        Command::Inspect { json } => inspect::run(&loc, json),
        Command::Testpmd(args) => testpmd::run(&loc, &args),
        Command::Run(args) => run::run(&loc, &args),
        Command::Vpp(args) => vpp::run(&loc, &args),
        Command::VppStartup(args) => vpp_startup::run(&loc, &args),
    }
}

fn locations(g: &Global) -> Locations {
    Locations {
        proc_root: g.proc_root.clone(),
        sys_root: g.sys_root.clone(),
        podinfo_dir: g.podinfo.clone(),
        shared_dir: g.shared_dir.clone(),
        container_id: g.container_id.clone(),
        env: std::env::vars().collect(),
    }
}
