//! `startup.conf` for a VPP in the pod. memif interfaces need nothing here (VPP's memif plugin
//! is configured over the API); vhost-user interfaces become `net_virtio_user` vdevs of VPP's
//! DPDK plugin (VPP's own vhost-user is a backend, like the host's switch, so it cannot be the
//! pod's side of a switch port); PCI functions become `dev` entries. Cores come from the
//! usable cpuset (first = main thread, the rest workers), memory from the hugepage budget,
//! with 4 KiB pages throughout when the pod has no hugepages.

use std::fmt::Write;
use std::path::PathBuf;

use crate::discovery::PodView;
use crate::dpdk::Memory;
use crate::dpdk::eal::{EalError, virtio_user_vdev};
use crate::interfaces::InterfaceKind;

/// Where VPP puts its sockets and how big its heap is.
#[derive(Debug, Clone)]
pub struct StartupOptions {
    /// VPP's runtime directory.
    pub runtime_dir: PathBuf,
    /// The binary API socket (what `userspace-agent vpp` connects to).
    pub api_socket: PathBuf,
    /// The debug CLI socket (`vppctl -s`).
    pub cli_socket: PathBuf,
    /// Main heap in MiB.
    pub main_heap_mb: u64,
    /// Use the CPUs after the first as worker threads.
    pub workers: bool,
}

impl Default for StartupOptions {
    fn default() -> Self {
        Self {
            runtime_dir: "/run/vpp".into(),
            api_socket: "/run/vpp/api.sock".into(),
            cli_socket: "/run/vpp/cli.sock".into(),
            main_heap_mb: 256,
            workers: true,
        }
    }
}

/// Interfaces VPP's startup cannot take.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A device line could not be built.
    #[error(transparent)]
    Device(#[from] EalError),
}

/// A generated `startup.conf`, with notes on what was left out.
#[derive(Debug, Clone)]
pub struct StartupConf {
    /// The file's text.
    pub text: String,
    /// Interfaces configured later over the API (memif) or not supported (vDPA).
    pub notes: Vec<String>,
}

/// Hugepage budgets below this run VPP on 4 KiB pages: VPP's default buffer pool and DPDK's
/// preallocation alone need about this much.
const MIN_HUGE_MB: u64 = 64;

impl StartupConf {
    /// Builds the file for this pod.
    pub fn build(view: &PodView, opts: &StartupOptions) -> Result<Self, StartupError> {
        let mut t = String::new();
        let mut notes = Vec::new();
        let huge = matches!(view.memory(), Memory::Hugepages(mb) if mb >= MIN_HUGE_MB);
        let page = if huge { "" } else { " page-size 4k" };

        let _ = writeln!(t, "unix {{");
        let _ = writeln!(t, "  nodaemon");
        let _ = writeln!(t, "  runtime-dir {}", opts.runtime_dir.display());
        let _ = writeln!(t, "  cli-listen {}", opts.cli_socket.display());
        let _ = writeln!(t, "}}");
        let _ = writeln!(t, "socksvr {{ socket-name {} }}", opts.api_socket.display());

        let cpus: Vec<u32> = view.resources.cpus.usable.iter().collect();
        if let Some((main, rest)) = cpus.split_first() {
            let _ = write!(t, "cpu {{ main-core {main}");
            if opts.workers && !rest.is_empty() {
                let list: crate::resources::cpuset::CpuSet = rest.iter().copied().collect();
                let _ = write!(t, " corelist-workers {list}");
            }
            let _ = writeln!(t, " }}");
        }

        if huge {
            let _ = writeln!(t, "memory {{ main-heap-size {}M }}", opts.main_heap_mb);
        } else {
            let _ = writeln!(
                t,
                "memory {{ main-heap-size {}M main-heap-page-size 4k }}",
                opts.main_heap_mb
            );
        }
        let _ = writeln!(t, "buffers {{ buffers-per-numa 16384{page} }}");
        let _ = writeln!(t, "statseg {{ size 32M{page} }}");

        let mut devs = Vec::new();
        let mut n_virtio = 0;
        let mut pci = false;
        for iface in &view.interfaces {
            match iface.kind() {
                Some(InterfaceKind::VhostUser) => {
                    devs.push(format!("  vdev {}", virtio_user_vdev(n_virtio, iface, 1)?));
                    n_virtio += 1;
                }
                Some(InterfaceKind::Pci) => {
                    if let Some(a) = &iface.pci_address {
                        devs.push(format!("  dev {}", a.value));
                        pci = true;
                    }
                }
                Some(InterfaceKind::Memif) => notes.push(format!(
                    "{}: memif, created over the API by `userspace-agent vpp`",
                    iface.name
                )),
                Some(InterfaceKind::Vdpa) | None => notes.push(format!(
                    "{}: not supported by VPP's startup.conf (left out)",
                    iface.name
                )),
            }
        }
        if devs.is_empty() {
            let _ = writeln!(t, "plugins {{ plugin dpdk_plugin.so {{ disable }} }}");
        } else {
            let _ = writeln!(t, "dpdk {{");
            if !huge {
                // `no-hugetlb`, not `no-huge`: only it stops VPP's hugepage preallocation.
                let _ = writeln!(t, "  no-hugetlb");
            }
            if !pci {
                let _ = writeln!(t, "  no-pci");
            }
            for d in devs {
                let _ = writeln!(t, "{d}");
            }
            let _ = writeln!(t, "}}");
        }
        Ok(Self { text: t, notes })
    }
}
