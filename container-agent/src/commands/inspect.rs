//! `userspace-agent inspect`: what the SDK sees, and where each fact came from.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkInstall;
use userspace_cni_sdk::error_chain;
use userspace_cni_sdk::report::{self, ReportOptions};

pub fn run(loc: &Locations, json: bool) -> anyhow::Result<ExitCode> {
    let view = PodView::discover(loc).context("discovering the pod's interfaces")?;
    if json {
        let text = serde_json::to_string_pretty(&view).context("serialising the view")?;
        println!("{text}");
    } else {
        print!("{}", render(&view));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(view: &PodView) -> String {
    let mut s = report::render_pod(
        view,
        ReportOptions {
            unknown_container_hint: "use --container-id",
            port_numbers: false,
        },
    );
    let path = std::env::var_os("PATH");
    let _ = writeln!(s, "\ndpdk:");
    match DpdkInstall::detect(path.as_deref()) {
        Ok(d) => {
            let _ = writeln!(
                s,
                "  {} (DPDK {}, from {})",
                d.testpmd.display(),
                d.version,
                d.how
            );
            match view.eal_builder(d.version, std::process::id()).build() {
                Ok(args) => {
                    let _ = writeln!(s, "  {}", args.shell_line(&d.testpmd.to_string_lossy()));
                }
                Err(e) => {
                    let _ = writeln!(s, "  no command line: {}", error_chain(&e));
                }
            }
        }
        Err(e) => {
            let _ = writeln!(s, "  {}", error_chain(&e));
        }
    }
    s
}
