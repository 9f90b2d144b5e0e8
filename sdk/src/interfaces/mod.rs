//! One merged, typed view of a pod's userspace interfaces.
//!
//! Each fact about an interface (its kind, socket path, role, MAC, addresses…) is kept with the
//! [`Source`] it came from. Several sources may describe the same interface: equal values
//! confirm each other, different values become a [`Conflict`] that is reported to the user
//! instead of being merged silently. The first source in [`Source::priority`] order keeps its
//! value so that a consumer that chooses to go on anyway gets a deterministic answer.

mod from_annotations;
mod from_env;
mod from_shared_dir;
mod merge;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Serialize;

use crate::mac::MacAddr;
use crate::podinfo::pcidevice::PciAddress;
use crate::wire::MemifMode;

pub use from_annotations::{from_configuration_data, from_network_status};
pub use from_env::from_pci_resources;
pub use from_shared_dir::{SharedDirError, scan_shared_dir};
pub use merge::Merger;

/// What kind of device backs an interface, which decides how DPDK attaches to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceKind {
    /// A vhost-user socket; the app uses `net_virtio_user`.
    VhostUser,
    /// A memif socket; the app uses `net_memif`.
    Memif,
    /// A PCI function (SR-IOV VF or PF) bound to a userspace driver.
    Pci,
    /// A vDPA device (`/dev/vhost-vdpa-N`).
    Vdpa,
}

impl fmt::Display for InterfaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::VhostUser => "vhost-user",
            Self::Memif => "memif",
            Self::Pci => "pci",
            Self::Vdpa => "vdpa",
        })
    }
}

/// The role the *application in the pod* plays on a socket.
///
/// vhost-user: `Server` means the app creates the socket (virtio_user `server=1`, the switch
/// port is a `dpdkvhostuserclient`). memif: `Server` is the memif master, which creates the
/// socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketRole {
    /// The app creates and listens on the socket.
    Server,
    /// The app connects to a socket that the host side created.
    Client,
}

impl fmt::Display for SocketRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Server => "server",
            Self::Client => "client",
        })
    }
}

/// Where a fact came from, for diagnostics and for conflict reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "source", content = "detail", rename_all = "kebab-case")]
pub enum Source {
    /// Multus' `k8s.v1.cni.cncf.io/network-status` annotation (device-info, ips, mac).
    NetworkStatus,
    /// The `userspace/configuration-data` annotation written by the plugin.
    ConfigurationData,
    /// A `configData-<id12>-<ifname>.json` file in the shared directory.
    ConfigDataFile(PathBuf),
    /// A socket file found in the shared directory.
    SharedDirSocket(PathBuf),
    /// The vhost-user CNI's `<id12>-<ifname>.json` / `-ip4.conf` files.
    VhostUserCniFile(PathBuf),
    /// kuryr-kubernetes' `<containerID>-<ifname>` file.
    KuryrFile(PathBuf),
    /// An SR-IOV device plugin `PCIDEVICE_*` environment variable.
    PciDeviceEnv(String),
}

impl Source {
    /// Lower is preferred when two sources disagree: what Multus and the plugin published
    /// for this exact pod beats files, which beat environment variables.
    pub fn priority(&self) -> u8 {
        match self {
            Self::NetworkStatus => 0,
            Self::ConfigurationData => 1,
            Self::ConfigDataFile(_) => 2,
            Self::VhostUserCniFile(_) => 3,
            Self::KuryrFile(_) => 4,
            Self::SharedDirSocket(_) => 5,
            Self::PciDeviceEnv(_) => 6,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NetworkStatus => f.write_str("annotation k8s.v1.cni.cncf.io/network-status"),
            Self::ConfigurationData => f.write_str("annotation userspace/configuration-data"),
            Self::ConfigDataFile(p) => write!(f, "file {}", p.display()),
            Self::SharedDirSocket(p) => write!(f, "socket {}", p.display()),
            Self::VhostUserCniFile(p) => write!(f, "vhost-user CNI file {}", p.display()),
            Self::KuryrFile(p) => write!(f, "kuryr file {}", p.display()),
            Self::PciDeviceEnv(v) => write!(f, "env {v}"),
        }
    }
}

/// A value and the source that supplied it, plus any other sources that agreed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact<T> {
    /// The value.
    pub value: T,
    /// The preferred source of the value.
    pub source: Source,
    /// Other sources that reported the same value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmed_by: Vec<Source>,
}

impl<T> Fact<T> {
    /// A fact from one source.
    pub fn new(value: T, source: Source) -> Self {
        Self {
            value,
            source,
            confirmed_by: Vec::new(),
        }
    }
}

/// One route for an interface, as IPAM gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// Destination prefix.
    pub dst: IpNet,
    /// Next hop, when not the interface's gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

/// Everything known about one userspace interface of the pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodInterface {
    /// The interface name inside the pod (`net1`), or `pci-<BDF>` for a device that no
    /// network names.
    pub name: String,
    /// The kind of device.
    pub kind: Option<Fact<InterfaceKind>>,
    /// The NetworkAttachmentDefinition (network) name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Fact<String>>,
    /// The socket path as seen inside this container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_path: Option<Fact<PathBuf>>,
    /// The app's role on the socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Fact<SocketRole>>,
    /// memif mode (ethernet / ip / inject-punt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memif_mode: Option<Fact<MemifMode>>,
    /// PCI address of a PCI or vDPA device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<Fact<PciAddress>>,
    /// The vDPA character device path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vdpa_path: Option<Fact<PathBuf>>,
    /// The MAC the app should use on this interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<Fact<MacAddr>>,
    /// Queue pairs the app should open on it (the pod side's `vhost`/`memif` `queues`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<Fact<u16>>,
    /// The interface's MTU (the CNI result's, from the NetConf's `mtu`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Fact<u32>>,
    /// The host port's access VLAN (the host side's `bridge.vlanId`; the pod sends untagged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Fact<u16>>,
    /// Addresses IPAM gave this interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ips: Option<Fact<Vec<IpNet>>>,
    /// Default gateway for this interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Fact<IpAddr>>,
    /// Routes for this interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Fact<Vec<RouteInfo>>>,
}

impl PodInterface {
    /// An interface about which nothing is known yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: None,
            network: None,
            socket_path: None,
            role: None,
            memif_mode: None,
            pci_address: None,
            vdpa_path: None,
            mac: None,
            queues: None,
            mtu: None,
            vlan: None,
            ips: None,
            gateway: None,
            routes: None,
        }
    }

    /// The kind, if any source said it.
    pub fn kind(&self) -> Option<InterfaceKind> {
        self.kind.as_ref().map(|f| f.value)
    }
}

/// Two sources that disagree about one field of one interface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// The interface name.
    pub interface: String,
    /// The field (`socket_path`, `mac`, …).
    pub field: &'static str,
    /// The value that was kept and its source.
    pub kept: (String, Source),
    /// The value that was not used and its source.
    pub other: (String, Source),
}

impl Conflict {
    /// Whether the field changes how DPDK attaches to the interface (kind, socket, role, mode,
    /// device, MAC); disagreements about addresses or names do not.
    pub fn affects_dataplane(&self) -> bool {
        matches!(
            self.field,
            "kind"
                | "socket_path"
                | "role"
                | "memif_mode"
                | "pci_address"
                | "vdpa_path"
                | "mac"
                | "queues"
                | "mtu"
        )
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} is {} according to {}, but {} according to {}",
            self.interface, self.field, self.kept.0, self.kept.1, self.other.0, self.other.1
        )
    }
}

/// One fact offered by a source about one interface; the [`Merger`] folds these together.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// See [`PodInterface::kind`].
    Kind(InterfaceKind),
    /// See [`PodInterface::network`].
    Network(String),
    /// See [`PodInterface::socket_path`].
    SocketPath(PathBuf),
    /// See [`PodInterface::role`].
    Role(SocketRole),
    /// See [`PodInterface::memif_mode`].
    MemifMode(MemifMode),
    /// See [`PodInterface::pci_address`].
    PciAddress(PciAddress),
    /// See [`PodInterface::vdpa_path`].
    VdpaPath(PathBuf),
    /// See [`PodInterface::mac`].
    Mac(MacAddr),
    /// See [`PodInterface::queues`].
    Queues(u16),
    /// See [`PodInterface::mtu`].
    Mtu(u32),
    /// See [`PodInterface::vlan`].
    Vlan(u16),
    /// See [`PodInterface::ips`].
    Ips(Vec<IpNet>),
    /// See [`PodInterface::gateway`].
    Gateway(IpAddr),
    /// See [`PodInterface::routes`].
    Routes(Vec<RouteInfo>),
}

/// A batch of observations from one source about one interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The interface name (the key the sources are merged on).
    pub interface: String,
    /// Where these facts come from.
    pub source: Source,
    /// The facts.
    pub facts: Vec<Observation>,
}

/// Something odd but not fatal noticed while reading a source (a malformed optional file, an
/// entry for another container…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What was being read.
    pub source: String,
    /// What is wrong and what was done about it.
    pub message: String,
}
