//! `userspace-agent vpp-startup`: write VPP's startup.conf for this pod.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::vpp::{StartupConf, StartupOptions};

use crate::cli::VppStartupArgs;

pub fn run(loc: &Locations, args: &VppStartupArgs) -> anyhow::Result<ExitCode> {
    let view = PodView::discover(loc).context("discovering the pod's interfaces")?;
    let opts = StartupOptions {
        runtime_dir: args
            .api_socket
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| "/run/vpp".into()),
        api_socket: args.api_socket.clone(),
        cli_socket: args.cli_socket.clone(),
        main_heap_mb: args.main_heap_mb,
        workers: !args.no_workers,
    };
    let conf = StartupConf::build(&view, &opts).context("building startup.conf")?;
    for n in &conf.notes {
        tracing::info!("{n}");
    }
    if args.output.as_os_str() == "-" {
        std::io::stdout()
            .write_all(conf.text.as_bytes())
            .context("writing startup.conf to stdout")?;
    } else {
        if let Some(dir) = args.output.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&args.output, &conf.text)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
