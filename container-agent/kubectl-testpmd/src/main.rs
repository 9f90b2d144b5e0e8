//! `kubectl-testpmd`: a kubectl plugin (`kubectl testpmd POD`) that runs `userspace-agent
//! testpmd` inside a pod over the Kubernetes exec API, with a TTY for interactive testpmd.

mod cli;
mod exec;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubectl-testpmd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(exec::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kubectl-testpmd: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
