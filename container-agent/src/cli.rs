//! Command-line interface. Every input location has a flag and an environment variable so that
//! tests and users can point the agent at fixtures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use userspace_cni_sdk::dpdk::ForwardMode;

/// The exit statuses, for `--help` (3 is `userspace_cni_sdk::dpdk::EXIT_NO_INTERFACES`).
const EXIT_STATUS: &str = "Exit status: 0 done; 2 an error (the message says which); 3 the pod has no userspace interfaces (none found before --wait-timeout); `run` returns CMD's own status (128 + N when killed by signal N); `testpmd` is replaced by testpmd, so its status is testpmd's.";

/// Finds this pod's userspace (vhost-user, memif, SR-IOV, vDPA) interfaces and starts DPDK on them.
#[derive(Debug, Parser)]
#[command(name = "userspace-agent", version, about, long_about = None, after_help = EXIT_STATUS)]
pub struct Cli {
    /// Where to read inputs from.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Inputs shared by every subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// The proc filesystem to read mountinfo, cgroup and status of `self` from.
    #[arg(
        long,
        global = true,
        env = "USERSPACE_PROC_ROOT",
        default_value = "/proc"
    )]
    pub proc_root: PathBuf,
    /// The sys filesystem (cgroups, hugepages, NUMA).
    #[arg(
        long,
        global = true,
        env = "USERSPACE_SYS_ROOT",
        default_value = "/sys"
    )]
    pub sys_root: PathBuf,
    /// The downward-API volume holding the pod's `annotations` file (the default falls back
    /// to /etc/podnetinfo, app-netutil's and NRI's, when only that one has annotations).
    #[arg(
        long,
        global = true,
        env = "USERSPACE_PODINFO",
        default_value = "/etc/podinfo"
    )]
    pub podinfo: PathBuf,
    /// The shared directory as mounted in this container [default: the userspace/mapped-dir
    /// annotation, else /var/lib/cni/usrspcni].
    #[arg(long, global = true, env = "USERSPACE_SHARED_DIR")]
    pub shared_dir: Option<PathBuf>,
    /// This pod's sandbox container ID, when discovery from mountinfo cannot work.
    #[arg(long, global = true, env = "USERSPACE_CONTAINER_ID")]
    pub container_id: Option<String>,
    /// More logging on stderr (-v info, -vv debug; or USERSPACE_LOG=<filter>).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every interface, resource and where each fact came from.
    Inspect {
        /// Print the view as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build the dpdk-testpmd command line for this pod and exec it.
    Testpmd(TestpmdArgs),
    /// Pod entrypoint: wait for the interfaces, export them as USERSPACE_* variables and run
    /// CMD as PID 1 (signals forwarded, children reaped, CMD's exit code returned).
    Run(RunArgs),
    /// Configure the VPP running in this pod over its API socket: memif interfaces on the
    /// shared sockets, admin up, addresses and routes from the CNI result.
    Vpp(VppArgs),
    /// Write a startup.conf for a VPP in this pod (cores, memory, virtio_user / PCI devices).
    VppStartup(VppStartupArgs),
}

/// Options of `vpp`.
#[derive(Debug, Args)]
pub struct VppArgs {
    /// VPP's binary API socket.
    #[arg(
        long,
        env = "USERSPACE_VPP_API_SOCKET",
        default_value = "/run/vpp/api.sock"
    )]
    pub api_socket: PathBuf,
    /// How long to wait for the pod's interfaces and for VPP's API socket.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait_timeout: Duration,
    /// Print what was configured as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `vpp-startup`.
#[derive(Debug, Args)]
pub struct VppStartupArgs {
    /// Where to write the file; `-` for standard output.
    #[arg(long, short, default_value = "-")]
    pub output: PathBuf,
    /// VPP's binary API socket.
    #[arg(
        long,
        env = "USERSPACE_VPP_API_SOCKET",
        default_value = "/run/vpp/api.sock"
    )]
    pub api_socket: PathBuf,
    /// VPP's CLI socket.
    #[arg(long, default_value = "/run/vpp/cli.sock")]
    pub cli_socket: PathBuf,
    /// Main heap size in MiB.
    #[arg(long, default_value_t = 256)]
    pub main_heap_mb: u64,
    /// Run everything on the main core (no worker threads).
    #[arg(long)]
    pub no_workers: bool,
}

/// Memory source for DPDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Huge {
    /// Hugepages when the pod has usable ones, else ordinary memory.
    Auto,
    /// Hugepages, or fail.
    Yes,
    /// Ordinary memory (--no-huge), even when hugepages are there.
    No,
}

/// Options of `testpmd`.
#[derive(Debug, Args)]
pub struct TestpmdArgs {
    /// Print the command line (one shell-quoted line) instead of running it.
    #[arg(long)]
    pub dry_run: bool,
    /// testpmd forwarding mode.
    #[arg(long, default_value = "io")]
    pub forward_mode: ForwardMode,
    /// Interactive testpmd prompt (-i) instead of --auto-start.
    #[arg(short, long)]
    pub interactive: bool,
    /// Do not send a first burst on start.
    #[arg(long)]
    pub no_tx_first: bool,
    /// Forwarding cores [default: fitted to the usable CPUs and the ports].
    #[arg(long)]
    pub nb_cores: Option<usize>,
    /// Seconds between statistics prints; 0 for none.
    #[arg(long, default_value_t = 1)]
    pub stats_period: u32,
    /// Size of the mbuf pool [default: derived from the memory].
    #[arg(long)]
    pub total_num_mbufs: Option<u32>,
    /// Memory source.
    #[arg(long, value_enum, default_value = "auto")]
    pub huge: Huge,
    /// MiB of memory for DPDK [default: min(hugepage budget, 256)].
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// EAL --file-prefix [default: usrsp-<id12>-<pid>].
    #[arg(long)]
    pub file_prefix: Option<String>,
    /// Go on even when sources disagree (the preferred source's value is used).
    #[arg(long)]
    pub allow_conflicts: bool,
    /// How long to wait for host-created sockets to appear.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub wait_timeout: Duration,
    /// Extra testpmd arguments, after `--`.
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How long to wait for the pushed configuration and the host-created sockets.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait_timeout: Duration,
    /// Number of userspace interfaces to wait for [default: at least one].
    #[arg(long, default_value_t = 1)]
    pub min_interfaces: usize,
    /// The program to run, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `30s`, `500ms`, `2m` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    // A bare number is seconds, as the flag always took it.
    let with_unit = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{s}s")
    } else {
        s.to_owned()
    };
    let d = humantime::parse_duration(&with_unit)
        .map_err(|e| format!("bad duration {s:?}: {e} (e.g. 30s, 500ms, 2m)"))?;
    // Every wait computes `now + d`; a duration no deadline can hold would panic there.
    if Instant::now().checked_add(d).is_none() {
        return Err(format!("duration {s:?} is too large for a timeout"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn help_documents_the_no_interfaces_exit_status() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        let code = userspace_cni_sdk::dpdk::EXIT_NO_INTERFACES;
        assert!(
            help.contains(&format!("{code} the pod has no userspace interfaces")),
            "{help}"
        );
    }

    #[test]
    fn a_duration_too_large_to_hold_is_an_error_not_a_panic() {
        let e = parse_duration("99999999999999999999m").unwrap_err();
        assert!(e.contains("99999999999999999999m"), "{e}");
    }

    #[test]
    fn a_duration_that_fits_but_no_deadline_can_hold_is_an_error() {
        let e = parse_duration("10000000000000000000").unwrap_err();
        assert!(e.contains("too large for a timeout"), "{e}");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
