//! The EAL and testpmd argument builder: a pure function from the typed view of the pod's
//! interfaces and resources to an argv, so every line it makes is unit-testable.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::version::{DpdkVersion, Features};
use crate::MAX_SOCKET_PATH;
use crate::interfaces::{InterfaceKind, PodInterface, SocketRole};
use crate::resources::cpuset::CpuSet;
use crate::wire::MemifMode;

/// Why no command line could be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EalError {
    /// The pod has no interface DPDK can use.
    #[error("no userspace interfaces: nothing for DPDK to attach to")]
    NoInterfaces,
    /// A source named an interface but not what kind it is.
    #[error("interface {0}: its kind (vhost-user, memif, pci, vdpa) is unknown")]
    UnknownKind(String),
    /// A socket interface without a socket path.
    #[error("interface {0}: no source gave its socket path")]
    NoSocketPath(String),
    /// A PCI interface without an address.
    #[error("interface {0}: no source gave its PCI address")]
    NoPciAddress(String),
    /// A vDPA interface without its device path.
    #[error("interface {0}: no source gave its vhost-vdpa device path")]
    NoVdpaPath(String),
    /// DPDK splits device arguments on `,` and `=`, so such a path cannot be passed.
    #[error(
        "interface {iface}: path {path} contains ',' or '=', which DPDK device arguments cannot carry"
    )]
    UnsafePath {
        /// Interface name.
        iface: String,
        /// The path.
        path: String,
    },
    /// The path does not fit in a unix socket address.
    #[error(
        "interface {iface}: socket path {path} is {len} bytes, more than the {MAX_SOCKET_PATH} a unix socket allows"
    )]
    PathTooLong {
        /// Interface name.
        iface: String,
        /// The path.
        path: String,
        /// Its length in bytes.
        len: usize,
    },
    /// DPDK's memif PMD only does ethernet mode.
    #[error(
        "interface {iface}: memif mode {mode} is not supported by DPDK's net_memif (ethernet only)"
    )]
    MemifMode {
        /// Interface name.
        iface: String,
        /// The mode asked for.
        mode: MemifMode,
    },
    /// No CPU to run on.
    #[error("no usable CPU: the affinity mask and the cgroup cpuset leave none")]
    NoCpus,
    /// More forwarding cores than the pod has.
    #[error("--nb-cores={asked} needs {needed} CPUs but the pod may use only {have} ({cpus})")]
    TooManyCores {
        /// Forwarding cores asked for.
        asked: usize,
        /// CPUs that needs (one more for the main lcore).
        needed: usize,
        /// CPUs the pod has.
        have: usize,
        /// The usable CPU list.
        cpus: String,
    },
    /// Too little memory for DPDK.
    #[error("{have_mb} MiB of memory is too little for DPDK (at least {min_mb} MiB)")]
    TooLittleMemory {
        /// What is available.
        have_mb: u64,
        /// The minimum used.
        min_mb: u64,
    },
    /// The installed DPDK is too old for this builder.
    #[error("DPDK {0} is older than the oldest supported release ({min})", min = Features::OLDEST)]
    TooOld(DpdkVersion),
}

/// Where DPDK takes its memory from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "mb", rename_all = "kebab-case")]
pub enum Memory {
    /// Hugepages, this many MiB (`-m N --in-memory --single-file-segments`; virtio_user on
    /// hugepages fails without the last one).
    Hugepages(u64),
    /// Ordinary memory (`--no-huge -m N`), for pods without hugepages. (`--in-memory` cannot be
    /// added: it rejects the legacy memory mode that `--no-huge` implies.)
    NoHuge(u64),
}

impl Memory {
    /// The smallest amount that starts testpmd with a small mbuf pool.
    pub const MIN_MB: u64 = 64;
    /// What a pod gets when its limit allows more: enough for testpmd at line rate on a few
    /// ports without pinning the whole hugepage budget of the node.
    pub const DEFAULT_MB: u64 = 256;

    /// MiB requested.
    pub fn mb(&self) -> u64 {
        match self {
            Self::Hugepages(m) | Self::NoHuge(m) => *m,
        }
    }
}

/// testpmd forwarding modes the builder knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMode {
    /// Forward unchanged between paired ports.
    Io,
    /// Forward and rewrite MAC addresses.
    Mac,
    /// Receive and drop.
    Rxonly,
    /// Transmit generated packets only.
    Txonly,
}

impl ForwardMode {
    /// testpmd's name for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::Mac => "mac",
            Self::Rxonly => "rxonly",
            Self::Txonly => "txonly",
        }
    }
}

impl fmt::Display for ForwardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ForwardMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "io" => Ok(Self::Io),
            "mac" => Ok(Self::Mac),
            "rxonly" => Ok(Self::Rxonly),
            "txonly" => Ok(Self::Txonly),
            _ => Err(format!(
                "unknown forward mode {s:?} (io, mac, rxonly, txonly)"
            )),
        }
    }
}

/// testpmd's own options (after `--`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestpmdOptions {
    /// Forwarding mode.
    pub forward_mode: ForwardMode,
    /// Forwarding cores; `None` fits them to the CPUs and ports.
    pub nb_cores: Option<usize>,
    /// Print port statistics every N seconds (non-interactive only).
    pub stats_period: Option<u32>,
    /// Size of the mbuf pool; `None` derives it from the memory.
    pub total_num_mbufs: Option<u32>,
    /// Interactive prompt (`-i`) instead of `--auto-start`.
    pub interactive: bool,
    /// Send a first burst on start (`--tx-first`), needed to start traffic in io mode.
    pub tx_first: bool,
    /// Queues per virtio_user port.
    pub queues: u16,
}

impl Default for TestpmdOptions {
    fn default() -> Self {
        Self {
            forward_mode: ForwardMode::Io,
            nb_cores: None,
            stats_period: Some(1),
            total_num_mbufs: None,
            interactive: false,
            tx_first: true,
            queues: 1,
        }
    }
}

/// The two halves of the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EalArgs {
    /// EAL arguments (before `--`).
    pub eal: Vec<String>,
    /// Application (testpmd) arguments (after `--`).
    pub app: Vec<String>,
}

impl EalArgs {
    /// `program EAL… -- APP…`.
    pub fn argv(&self, program: &str) -> Vec<String> {
        let mut v = Vec::with_capacity(self.eal.len() + self.app.len() + 2);
        v.push(program.to_owned());
        v.extend(self.eal.iter().cloned());
        v.push("--".to_owned());
        v.extend(self.app.iter().cloned());
        v
    }

    /// The argv as one line that a POSIX shell turns back into the same words.
    pub fn shell_line(&self, program: &str) -> String {
        shell_join(&self.argv(program))
    }
}

/// Joins words with POSIX shell quoting (`shlex`'s), leaving plain words bare: the commas
/// and `=` of EAL device arguments need no quotes, and a line without them reads better.
/// A NUL byte cannot be passed to a program, so a word holding one is quoted as it is.
pub fn shell_join(words: &[String]) -> String {
    let quoter = shlex::Quoter::new().allow_nul(true);
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=,./:@%+".contains(&b));
            if plain {
                w.clone()
            } else {
                quoter
                    .quote(w)
                    .map_or_else(|_| format!("'{w}'"), |q| q.into_owned())
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the EAL and testpmd arguments for a set of interfaces.
#[derive(Debug, Clone)]
pub struct EalBuilder<'a> {
    version: DpdkVersion,
    interfaces: &'a [PodInterface],
    cpus: CpuSet,
    memory: Memory,
    file_prefix: String,
    testpmd: TestpmdOptions,
}

impl<'a> EalBuilder<'a> {
    /// A builder for the given DPDK version. Defaults: no interfaces, CPU 0, 256 MiB without
    /// hugepages, file prefix `usrsp`, default testpmd options.
    pub fn new(version: DpdkVersion) -> Self {
        Self {
            version,
            interfaces: &[],
            cpus: CpuSet::from_iter([0]),
            memory: Memory::NoHuge(Memory::DEFAULT_MB),
            file_prefix: "usrsp".to_owned(),
            testpmd: TestpmdOptions::default(),
        }
    }

    /// The interfaces to attach, in port order.
    pub fn with_interfaces(mut self, interfaces: &'a [PodInterface]) -> Self {
        self.interfaces = interfaces;
        self
    }

    /// The CPUs the process may use.
    pub fn with_cpus(mut self, cpus: CpuSet) -> Self {
        self.cpus = cpus;
        self
    }

    /// Memory source and size.
    pub fn with_memory(mut self, memory: Memory) -> Self {
        self.memory = memory;
        self
    }

    /// `--file-prefix`, which keeps this process's runtime files apart from other DPDK
    /// processes sharing `/dev/hugepages` or `/var/run/dpdk`.
    pub fn with_file_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.file_prefix = prefix.into();
        self
    }

    /// testpmd options.
    pub fn with_testpmd(mut self, options: TestpmdOptions) -> Self {
        self.testpmd = options;
        self
    }

    /// The command line, or the first reason it cannot be made.
    pub fn build(&self) -> Result<EalArgs, EalError> {
        let features = Features::of(self.version).ok_or(EalError::TooOld(self.version))?;
        if self.interfaces.is_empty() {
            return Err(EalError::NoInterfaces);
        }
        if self.memory.mb() < Memory::MIN_MB {
            return Err(EalError::TooLittleMemory {
                have_mb: self.memory.mb(),
                min_mb: Memory::MIN_MB,
            });
        }
        let mut eal = Vec::new();
        let nb_cores = self.cores(&features, &mut eal)?;
        self.memory_args(&mut eal);
        self.devices(&features, &mut eal)?;
        let app = self.testpmd_args(nb_cores);
        Ok(EalArgs { eal, app })
    }

    /// Queue pairs per port: the most any interface asks for (testpmd opens as many on every
    /// port), at least the options' count.
    fn queues(&self) -> u16 {
        self.interfaces
            .iter()
            .filter_map(|i| i.queues.as_ref().map(|q| q.value))
            .fold(self.testpmd.queues, u16::max)
            .max(1)
    }

    /// The largest MTU of the interfaces, when any has one above the Ethernet default.
    fn mtu(&self) -> Option<u32> {
        self.interfaces
            .iter()
            .filter_map(|i| i.mtu.as_ref().map(|m| m.value))
            .max()
            .filter(|m| *m > 1500)
    }

    /// Cores: the first usable CPU is the main lcore, the rest forward. A pod with one CPU
    /// still needs a forwarding lcore, so two lcores share that CPU. Returns `--nb-cores`.
    fn cores(&self, features: &Features, eal: &mut Vec<String>) -> Result<usize, EalError> {
        let cpus: Vec<u32> = self.cpus.iter().collect();
        let Some(&main) = cpus.first() else {
            return Err(EalError::NoCpus);
        };
        let workers = cpus.len() - 1;
        let nb_ports = self.interfaces.len();
        let nb_cores = match self.testpmd.nb_cores {
            Some(n) if n > workers.max(1) => {
                return Err(EalError::TooManyCores {
                    asked: n,
                    needed: n + 1,
                    have: cpus.len(),
                    cpus: self.cpus.to_string(),
                });
            }
            Some(n) => n.max(1),
            // Each queue of each port is a stream testpmd can give its own core.
            None => workers.min(nb_ports * usize::from(self.queues())).max(1),
        };
        if workers == 0 {
            eal.push(format!("--lcores=0@{main},1@{main}"));
            eal.push(features.main_lcore_flag.to_owned());
            eal.push("0".to_owned());
        } else {
            let used: Vec<String> = cpus.iter().take(nb_cores + 1).map(u32::to_string).collect();
            eal.push("-l".to_owned());
            eal.push(used.join(","));
            eal.push(features.main_lcore_flag.to_owned());
            eal.push(main.to_string());
        }
        Ok(nb_cores)
    }

    /// Memory, and the file prefix that keeps this process's runtime files apart.
    fn memory_args(&self, eal: &mut Vec<String>) {
        match self.memory {
            Memory::Hugepages(mb) => {
                // --in-memory leaves no hugepage files behind when the process ends (with
                // plain --single-file-segments a `<prefix>map_0` file keeps pinning pages).
                eal.extend([
                    "-m".to_owned(),
                    mb.to_string(),
                    "--in-memory".to_owned(),
                    "--single-file-segments".to_owned(),
                ]);
            }
            Memory::NoHuge(mb) => {
                eal.extend(["--no-huge".to_owned(), "-m".to_owned(), mb.to_string()]);
            }
        }
        eal.push(format!("--file-prefix={}", self.file_prefix));
    }

    /// Devices, numbered per PMD in port order; PCI devices are allowed by address after
    /// the virtual ones (or `--no-pci` when there is none).
    fn devices(&self, features: &Features, eal: &mut Vec<String>) -> Result<(), EalError> {
        let mut pci = Vec::new();
        let (mut n_virtio, mut n_memif) = (0usize, 0usize);
        for iface in self.interfaces {
            let name = &iface.name;
            match iface
                .kind()
                .ok_or_else(|| EalError::UnknownKind(name.clone()))?
            {
                InterfaceKind::VhostUser => {
                    let dev = virtio_user_vdev(n_virtio, iface, self.queues())?;
                    n_virtio += 1;
                    eal.push(format!("--vdev={dev}"));
                }
                InterfaceKind::Memif => {
                    eal.push(format!("--vdev={}", memif_vdev(n_memif, iface, features)?));
                    n_memif += 1;
                }
                InterfaceKind::Pci => {
                    let addr = iface
                        .pci_address
                        .as_ref()
                        .ok_or_else(|| EalError::NoPciAddress(name.clone()))?;
                    pci.push(addr.value.to_string());
                }
                InterfaceKind::Vdpa => {
                    let path = iface
                        .vdpa_path
                        .as_ref()
                        .ok_or_else(|| EalError::NoVdpaPath(name.clone()))?;
                    let path = checked_path(name, &path.value)?;
                    eal.push(format!(
                        "--vdev=net_virtio_user{n_virtio},path={path},queues={}",
                        self.queues()
                    ));
                    n_virtio += 1;
                }
            }
        }
        if pci.is_empty() {
            eal.push("--no-pci".to_owned());
        } else {
            for a in pci {
                eal.push(features.allow_flag.to_owned());
                eal.push(a);
            }
        }
        Ok(())
    }

    /// testpmd's own arguments, after `--`.
    fn testpmd_args(&self, nb_cores: usize) -> Vec<String> {
        let t = &self.testpmd;
        let mut app = Vec::new();
        if t.interactive {
            app.push("-i".to_owned());
        } else {
            app.push("--auto-start".to_owned());
            if let Some(p) = t.stats_period {
                app.push(format!("--stats-period={p}"));
            }
        }
        if t.tx_first && !t.interactive {
            app.push("--tx-first".to_owned());
        }
        app.push(format!("--forward-mode={}", t.forward_mode));
        app.push(format!("--nb-cores={nb_cores}"));
        let mut data_room = DEFAULT_DATA_ROOM;
        if let Some(mtu) = self.mtu() {
            let frame = mtu + FRAME_OVERHEAD;
            app.push(format!("--max-pkt-len={frame}"));
            // A frame in one mbuf, so that no PMD needs scattered rx or multi-segment tx.
            if frame + MBUF_HEADROOM > DEFAULT_DATA_ROOM {
                data_room = (frame + MBUF_HEADROOM).div_ceil(64) * 64;
                app.push(format!("--mbuf-size={data_room}"));
            }
        }
        let mbufs = t
            .total_num_mbufs
            .unwrap_or_else(|| default_mbufs(self.memory.mb(), data_room));
        app.push(format!("--total-num-mbufs={mbufs}"));
        // What a tuned line does for vhost-user and memif (measured by
        // scripts/bench-dataplane.sh): the largest per-core mbuf cache, and 1024-descriptor
        // rings where the pool can fill them. The burst stays testpmd's 32: `start tx_first N`
        // sends N bursts of it, which scripts count on.
        app.push(format!("--mbcache={}", TUNED_MBCACHE.min(mbufs / 2)));
        if mbufs >= RINGS_NEED_MBUFS {
            app.push(format!("--rxd={TUNED_RING}"));
            app.push(format!("--txd={TUNED_RING}"));
        }
        let queues = self.queues();
        if queues > 1 {
            app.push(format!("--rxq={queues}"));
            app.push(format!("--txq={queues}"));
        }
        // No --no-lsc-interrupt: testpmd asks for link-state interrupts only from devices that
        // have them, and virtio_user in server mode takes a restarted switch's new connection
        // on that interrupt (with the flag, only when something reads the link status).
        app
    }
}

/// `net_memif<n>`: DPDK's memif PMD does ethernet mode only; the role is named
/// server/client where [`Features::memif_server_client`] says so (master/slave before).
fn memif_vdev(n: usize, iface: &PodInterface, features: &Features) -> Result<String, EalError> {
    if let Some(mode) = iface.memif_mode.as_ref().map(|m| m.value)
        && mode != MemifMode::Ethernet
    {
        return Err(EalError::MemifMode {
            iface: iface.name.clone(),
            mode,
        });
    }
    let path = socket_path(iface)?;
    let role = match (role(iface), features.memif_server_client) {
        (SocketRole::Server, true) => "server",
        (SocketRole::Client, true) => "client",
        (SocketRole::Server, false) => "master",
        (SocketRole::Client, false) => "slave",
    };
    let mut dev = format!("net_memif{n},role={role},socket={path}");
    if features.memif_socket_abstract {
        // Since 20.11 memif defaults to abstract sockets; ours are files.
        dev.push_str(",socket-abstract=no");
    }
    dev.push_str(",id=0");
    if let Some(mac) = &iface.mac {
        dev.push_str(&format!(",mac={}", mac.value));
    }
    Ok(dev)
}

/// DPDK's largest per-lcore mempool cache (`RTE_MEMPOOL_CACHE_MAX_SIZE`).
const TUNED_MBCACHE: u32 = 512;
const TUNED_RING: u32 = 1024;
/// Enough mbufs for 1024-descriptor rx and tx rings on several ports and queues, plus caches.
const RINGS_NEED_MBUFS: u32 = 16_384;
/// testpmd's default mbuf data room (2048 bytes of data behind 128 of headroom).
const DEFAULT_DATA_ROOM: u32 = 2176;
/// DPDK's `RTE_PKTMBUF_HEADROOM`.
const MBUF_HEADROOM: u32 = 128;
/// Ethernet header, CRC and one VLAN tag on top of the MTU: testpmd's `--max-pkt-len`.
const FRAME_OVERHEAD: u32 = 18;

/// About a third of the memory for the mbuf pool (each mbuf is its data room plus ≈384
/// bytes of header and mempool overhead: 2.5 KiB at the default size), leaving the rest to
/// rings and the EAL.
fn default_mbufs(mb: u64, data_room: u32) -> u32 {
    let n = mb * 1024 * 1024 / 3 / (u64::from(data_room) + 384);
    u32::try_from(n.clamp(2048, 262_144)).unwrap_or(262_144)
}

/// The `net_virtio_user<n>` device string for a vhost-user interface: the socket, `server=1`
/// when the app creates it, the queues and the MAC the CNI result gave.
pub fn virtio_user_vdev(n: usize, iface: &PodInterface, queues: u16) -> Result<String, EalError> {
    let path = socket_path(iface)?;
    let mut dev = format!("net_virtio_user{n},path={path}");
    if role(iface) == SocketRole::Server {
        dev.push_str(",server=1");
    }
    dev.push_str(&format!(",queues={}", queues.max(1)));
    if let Some(mac) = &iface.mac {
        dev.push_str(&format!(",mac={}", mac.value));
    }
    Ok(dev)
}

fn role(iface: &PodInterface) -> SocketRole {
    // Without a role the classic layout is assumed: the host's switch created the socket.
    iface.role.as_ref().map_or(SocketRole::Client, |r| r.value)
}

fn socket_path(iface: &PodInterface) -> Result<String, EalError> {
    let path = iface
        .socket_path
        .as_ref()
        .ok_or_else(|| EalError::NoSocketPath(iface.name.clone()))?;
    let s = checked_path(&iface.name, &path.value)?;
    if s.len() > MAX_SOCKET_PATH {
        return Err(EalError::PathTooLong {
            iface: iface.name.clone(),
            len: s.len(),
            path: s,
        });
    }
    Ok(s)
}

fn checked_path(iface: &str, path: &Path) -> Result<String, EalError> {
    let s = path.to_string_lossy().into_owned();
    if s.contains(',') || s.contains('=') {
        return Err(EalError::UnsafePath {
            iface: iface.to_owned(),
            path: s,
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::interfaces::{Fact, Source};

    const V22: DpdkVersion = DpdkVersion::new(22, 11, 11);

    fn vhost(name: &str, path: &str, role: SocketRole) -> PodInterface {
        let mut i = PodInterface::new(name);
        i.kind = Some(Fact::new(
            InterfaceKind::VhostUser,
            Source::ConfigurationData,
        ));
        i.socket_path = Some(Fact::new(PathBuf::from(path), Source::ConfigurationData));
        i.role = Some(Fact::new(role, Source::ConfigurationData));
        i
    }

    fn memif(name: &str, path: &str, role: SocketRole) -> PodInterface {
        let mut i = vhost(name, path, role);
        i.kind = Some(Fact::new(InterfaceKind::Memif, Source::ConfigurationData));
        i
    }

    fn cpus(list: &str) -> CpuSet {
        list.parse().unwrap()
    }

    #[test]
    fn queues_mtu_and_mac_of_the_interfaces_shape_the_vdevs_and_testpmd() {
        let mut a = vhost("net1", "/s/a-net1", SocketRole::Server);
        a.queues = Some(Fact::new(2, Source::ConfigurationData));
        a.mtu = Some(Fact::new(9000, Source::ConfigurationData));
        a.mac = Some(Fact::new(
            "02:00:00:aa:bb:01".parse().unwrap(),
            Source::ConfigurationData,
        ));
        let b = memif("net2", "/s/memif-a-net2.sock", SocketRole::Client);
        let ifaces = [a, b];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_cpus(cpus("0-2"))
            .with_memory(Memory::NoHuge(256))
            .with_file_prefix("p")
            .build()
            .unwrap();
        assert_eq!(
            args.eal[args.eal.len() - 3..],
            [
                "--vdev=net_virtio_user0,path=/s/a-net1,server=1,queues=2,mac=02:00:00:aa:bb:01",
                "--vdev=net_memif0,role=client,socket=/s/memif-a-net2.sock,socket-abstract=no,id=0",
                "--no-pci",
            ]
        );
        assert_eq!(
            args.app,
            [
                "--auto-start",
                "--stats-period=1",
                "--tx-first",
                "--forward-mode=io",
                "--nb-cores=2",
                "--max-pkt-len=9018",
                "--mbuf-size=9152",
                "--total-num-mbufs=9383",
                "--mbcache=512",
                "--rxq=2",
                "--txq=2",
            ]
        );
    }

    #[test]
    fn one_vhost_client_on_hugepages_gives_the_exact_line() {
        let ifaces = [vhost(
            "net1",
            "/var/lib/cni/usrspcni/4d578250ad8d-net1",
            SocketRole::Client,
        )];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_cpus(cpus("2-3"))
            .with_memory(Memory::Hugepages(256))
            .with_file_prefix("usrsp-4d578250ad8d-7")
            .build()
            .unwrap();
        assert_eq!(
            args.shell_line("dpdk-testpmd"),
            "dpdk-testpmd -l 2,3 --main-lcore 2 -m 256 --in-memory --single-file-segments \
             --file-prefix=usrsp-4d578250ad8d-7 \
             --vdev=net_virtio_user0,path=/var/lib/cni/usrspcni/4d578250ad8d-net1,queues=1 --no-pci \
             -- --auto-start --stats-period=1 --tx-first --forward-mode=io --nb-cores=1 \
             --total-num-mbufs=34952 --mbcache=512 --rxd=1024 --txd=1024"
        );
    }

    #[test]
    fn a_pod_that_is_the_vhost_server_gets_server_1_and_its_mac() {
        let mut i = vhost("net1", "/s/a-net1", SocketRole::Server);
        i.mac = Some(Fact::new(
            "02:00:00:00:00:0a".parse().unwrap(),
            Source::ConfigurationData,
        ));
        let args = EalBuilder::new(V22)
            .with_interfaces(std::slice::from_ref(&i))
            .build()
            .unwrap();
        assert!(
            args.eal.contains(
                &"--vdev=net_virtio_user0,path=/s/a-net1,server=1,queues=1,mac=02:00:00:00:00:0a"
                    .to_owned()
            )
        );
    }

    #[test]
    fn memif_uses_file_sockets_and_modern_role_names() {
        let ifaces = [memif("net2", "/s/memif-a-net2.sock", SocketRole::Client)];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .build()
            .unwrap();
        assert!(args.eal.contains(&"--vdev=net_memif0,role=client,socket=/s/memif-a-net2.sock,socket-abstract=no,id=0".to_owned()));
    }

    #[test]
    fn memif_on_dpdk_19_11_uses_master_slave_and_no_socket_abstract() {
        let ifaces = [memif("net2", "/s/m.sock", SocketRole::Server)];
        let args = EalBuilder::new(DpdkVersion::new(19, 11, 0))
            .with_interfaces(&ifaces)
            .build()
            .unwrap();
        assert!(
            args.eal
                .contains(&"--vdev=net_memif0,role=master,socket=/s/m.sock,id=0".to_owned())
        );
        assert!(args.eal.contains(&"--master-lcore".to_owned()));
    }

    #[test]
    fn memif_ip_mode_is_refused_because_dpdk_only_does_ethernet() {
        let mut i = memif("net2", "/s/m.sock", SocketRole::Client);
        i.memif_mode = Some(Fact::new(MemifMode::Ip, Source::ConfigurationData));
        let e = EalBuilder::new(V22)
            .with_interfaces(std::slice::from_ref(&i))
            .build()
            .unwrap_err();
        assert!(matches!(e, EalError::MemifMode { .. }));
    }

    #[test]
    fn devices_are_numbered_per_driver_in_port_order() {
        let ifaces = [
            vhost("net1", "/s/v1", SocketRole::Client),
            memif("net2", "/s/m2.sock", SocketRole::Client),
            vhost("net3", "/s/v3", SocketRole::Client),
        ];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .build()
            .unwrap();
        let vdevs: Vec<_> = args
            .eal
            .iter()
            .filter(|a| a.starts_with("--vdev="))
            .map(|a| &a[7..18])
            .collect();
        assert_eq!(vdevs, ["net_virtio_", "net_memif0,", "net_virtio_"]);
        assert!(
            args.eal
                .iter()
                .any(|a| a.starts_with("--vdev=net_virtio_user1,path=/s/v3"))
        );
    }

    #[test]
    fn pci_devices_are_allowed_by_address_and_no_pci_is_dropped() {
        let mut i = PodInterface::new("net1");
        i.kind = Some(Fact::new(InterfaceKind::Pci, Source::NetworkStatus));
        i.pci_address = Some(Fact::new(
            "0000:03:02.1".parse().unwrap(),
            Source::NetworkStatus,
        ));
        let args = EalBuilder::new(V22)
            .with_interfaces(std::slice::from_ref(&i))
            .build()
            .unwrap();
        assert!(args.eal.windows(2).any(|w| w == ["-a", "0000:03:02.1"]));
        assert!(!args.eal.contains(&"--no-pci".to_owned()));
    }

    #[test]
    fn a_pod_with_one_cpu_runs_two_lcores_on_it() {
        let ifaces = [vhost("net1", "/s/v1", SocketRole::Client)];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_cpus(cpus("5"))
            .build()
            .unwrap();
        assert_eq!(args.eal[..3], ["--lcores=0@5,1@5", "--main-lcore", "0"]);
        assert!(args.app.contains(&"--nb-cores=1".to_owned()));
    }

    #[test]
    fn forwarding_cores_are_fitted_to_cpus_and_ports() {
        let ifaces = [
            vhost("net1", "/s/v1", SocketRole::Client),
            vhost("net2", "/s/v2", SocketRole::Client),
        ];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_cpus(cpus("0-7"))
            .build()
            .unwrap();
        assert_eq!(args.eal[..4], ["-l", "0,1,2", "--main-lcore", "0"]);
        assert!(args.app.contains(&"--nb-cores=2".to_owned()));
    }

    #[test]
    fn asking_for_more_cores_than_the_pod_has_is_an_error() {
        let ifaces = [vhost("net1", "/s/v1", SocketRole::Client)];
        let opts = TestpmdOptions {
            nb_cores: Some(3),
            ..TestpmdOptions::default()
        };
        let e = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_cpus(cpus("0-1"))
            .with_testpmd(opts)
            .build()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("--nb-cores=3 needs 4 CPUs but the pod may use only 2 (0-1)"),
            "{e}"
        );
    }

    #[test]
    fn without_hugepages_memory_is_no_huge() {
        let ifaces = [vhost("net1", "/s/v1", SocketRole::Client)];
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_memory(Memory::NoHuge(512))
            .build()
            .unwrap();
        assert!(args.eal.windows(3).any(|w| w == ["--no-huge", "-m", "512"]));
        assert!(
            !args
                .eal
                .iter()
                .any(|a| a == "--in-memory" || a == "--single-file-segments")
        );
    }

    #[test]
    fn interactive_mode_replaces_auto_start() {
        let ifaces = [vhost("net1", "/s/v1", SocketRole::Client)];
        let opts = TestpmdOptions {
            interactive: true,
            ..TestpmdOptions::default()
        };
        let args = EalBuilder::new(V22)
            .with_interfaces(&ifaces)
            .with_testpmd(opts)
            .build()
            .unwrap();
        assert_eq!(args.app[0], "-i");
        assert!(
            !args.app.iter().any(|a| a == "--auto-start"
                || a == "--tx-first"
                || a.starts_with("--stats-period"))
        );
    }

    #[test]
    fn paths_dpdk_cannot_carry_are_refused() {
        let ifaces = [vhost("net1", "/s/a,b", SocketRole::Client)];
        assert!(matches!(
            EalBuilder::new(V22).with_interfaces(&ifaces).build(),
            Err(EalError::UnsafePath { .. })
        ));
        let long = format!("/{}", "x".repeat(120));
        let ifaces = [vhost("net1", &long, SocketRole::Client)];
        assert!(matches!(
            EalBuilder::new(V22).with_interfaces(&ifaces).build(),
            Err(EalError::PathTooLong { .. })
        ));
    }

    #[test]
    fn no_interfaces_is_an_error_not_an_empty_line() {
        assert_eq!(
            EalBuilder::new(V22).build().unwrap_err(),
            EalError::NoInterfaces
        );
    }

    #[test]
    fn shell_line_quotes_only_what_needs_it() {
        let words = [
            "a".to_owned(),
            "b c".to_owned(),
            "it's".to_owned(),
            String::new(),
        ];
        let line = shell_join(&words);
        assert_eq!(line, r#"a 'b c' "it's" ''"#);
        assert_eq!(
            shlex::split(&line).unwrap(),
            words,
            "the shell gets the words back"
        );
    }
}
