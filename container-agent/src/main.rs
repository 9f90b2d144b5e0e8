//! `userspace-agent`: the pod-side companion of the `userspace` CNI plugin.
//!
//! It finds the pod's userspace interfaces through the SDK and turns them into a working
//! `dpdk-testpmd` command line, or runs the pod's own program with the data exported.

mod cli;
mod commands;
mod supervisor;
mod wait;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

use clap::Parser;
use userspace_cni_sdk::dpdk::{EXIT_NO_INTERFACES, EalError};

/// When `main` began, for the start-to-exec figure the agent logs.
pub static STARTED: OnceLock<Instant> = OnceLock::new();

fn main() -> ExitCode {
    let _ = STARTED.set(Instant::now());
    let cli = cli::Cli::parse();
    init_logging(cli.global.verbose);
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("userspace-agent: error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 2 for any error, but [`EXIT_NO_INTERFACES`] when the cause is that the pod has none, so
/// that `kubectl-testpmd` can tell without reading the message.
fn exit_code(e: &anyhow::Error) -> u8 {
    let none = e
        .chain()
        .any(|c| c.downcast_ref::<EalError>() == Some(&EalError::NoInterfaces));
    if none { EXIT_NO_INTERFACES } else { 2 }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("USERSPACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
