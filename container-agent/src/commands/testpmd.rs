//! `userspace-agent testpmd`: build the dpdk-testpmd line for this pod and exec it.

use std::ffi::CString;
use std::process::ExitCode;

use anyhow::{Context, bail};
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::{DpdkInstall, Memory, TestpmdOptions};

use crate::cli::{Huge, TestpmdArgs};
use crate::wait;

pub fn run(loc: &Locations, args: &TestpmdArgs) -> anyhow::Result<ExitCode> {
    let view = if args.dry_run {
        PodView::discover(loc).context("discovering the pod's interfaces")?
    } else {
        wait::for_interfaces(loc, 1, args.wait_timeout)?
    };
    let blocking: Vec<_> = view
        .conflicts
        .iter()
        .filter(|c| c.affects_dataplane())
        .collect();
    for c in view.conflicts.iter().filter(|c| !c.affects_dataplane()) {
        tracing::warn!("sources disagree: {c}");
    }
    if !blocking.is_empty() && !args.allow_conflicts {
        let list: Vec<String> = blocking.iter().map(|c| format!("  {c}")).collect();
        bail!(
            "the pod's sources disagree:\n{}\nfix the stale source, or pass --allow-conflicts to use the first one",
            list.join("\n")
        );
    }
    let path = std::env::var_os("PATH");
    let dpdk = DpdkInstall::detect(path.as_deref()).context("finding DPDK")?;
    let memory = memory(&view, args)?;
    let pid = std::process::id();
    let options = TestpmdOptions {
        forward_mode: args.forward_mode,
        nb_cores: args.nb_cores,
        stats_period: (args.stats_period > 0).then_some(args.stats_period),
        total_num_mbufs: args.total_num_mbufs,
        interactive: args.interactive,
        tx_first: !args.no_tx_first,
        ..TestpmdOptions::default()
    };
    let mut builder = view
        .eal_builder(dpdk.version, pid)
        .with_memory(memory)
        .with_testpmd(options);
    if let Some(p) = &args.file_prefix {
        builder = builder.with_file_prefix(p.clone());
    }
    let mut eal = builder
        .build()
        .context("building the testpmd command line")?;
    eal.app.extend(args.extra.iter().cloned());
    let program = dpdk.testpmd.to_string_lossy().into_owned();
    let (elapsed_us, peak_rss_kib) = cost();
    if args.dry_run {
        tracing::info!(elapsed_us, peak_rss_kib, "dry run");
        println!("{}", eal.shell_line(&program));
        return Ok(ExitCode::SUCCESS);
    }
    tracing::info!(elapsed_us, peak_rss_kib, line = %eal.shell_line(&program), "exec");
    let argv = eal.argv(&program);
    ignore_sigpipe();
    // nix's execv, not std's Command::exec: std resets SIGPIPE to the default before exec.
    let c =
        |s: &str| CString::new(s).with_context(|| format!("argument {s:?} contains a NUL byte"));
    let path = c(&program)?;
    let cargv = argv
        .iter()
        .map(|a| c(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Err(err) = nix::unistd::execv(&path, &cargv);
    Err(err).with_context(|| format!("exec {}", dpdk.testpmd.display()))
}

/// A vhost-user peer that goes away (the vswitch restarts, or the switch side of a
/// `dpdkvhostuserclient` port is deleted) makes virtio_user's next socket write raise SIGPIPE,
/// which kills testpmd by default. An ignored disposition survives execv: the write then fails
/// with EPIPE, which DPDK handles, and the port reconnects when the peer is back.
#[allow(unsafe_code)]
fn ignore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs SIG_IGN, not a handler, so no async-signal-safety concern; the process
    // is single-threaded at this point and about to exec.
    if let Err(e) = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) } {
        tracing::warn!("cannot ignore SIGPIPE: {e}");
    }
}

/// Time since the agent started and its peak RSS so far (the benchmark reads these from the
/// log line before exec).
fn cost() -> (u128, i64) {
    let elapsed = crate::STARTED
        .get()
        .map(|t| t.elapsed().as_micros())
        .unwrap_or(0);
    (elapsed, peak_rss_kib())
}

/// The agent's own peak RSS: `VmHWM` of this process image. Not `getrusage`'s `ru_maxrss`,
/// which Linux carries across `execve`, so in a container it reports the runtime's `runc
/// init` (a Go program of ~10 MiB) that exec'd the agent.
fn peak_rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn memory(view: &PodView, args: &TestpmdArgs) -> anyhow::Result<Memory> {
    let auto = view.memory();
    let m = match (args.huge, auto) {
        (Huge::Auto, m) => m,
        (Huge::No, m) => Memory::NoHuge(m.mb()),
        (Huge::Yes, Memory::Hugepages(mb)) => Memory::Hugepages(mb),
        (Huge::Yes, Memory::NoHuge(_)) => bail!(
            "--huge=yes but the pod has no usable hugepages (no hugetlbfs mount, no free pages, or a zero hugetlb limit); see `userspace-agent inspect`"
        ),
    };
    Ok(match (args.memory_mb, m) {
        (None, m) => m,
        (Some(mb), Memory::NoHuge(_)) => Memory::NoHuge(mb),
        (Some(mb), Memory::Hugepages(_)) => {
            let budget = view.resources.hugepages.usable_bytes().unwrap_or(0) >> 20;
            if mb > budget {
                bail!(
                    "--memory-mb={mb} is more than the {budget} MiB of hugepages the pod may use"
                );
            }
            Memory::Hugepages(mb)
        }
    })
}
