//! Putting it together: read every source a pod has and produce one [`PodView`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::container_id::{self, ContainerId, Discovered};
use crate::dpdk::{DpdkVersion, EalBuilder, Memory};
use crate::interfaces::{
    Conflict, InterfaceKind, Merger, Observation, PodInterface, Source, Warning,
    from_configuration_data, from_network_status, from_pci_resources, scan_shared_dir,
};
use crate::podinfo::PodInfo;
use crate::podinfo::pcidevice::{self, PciAddress};
use crate::resources::{Resources, Roots};
use crate::wire::{
    CONFIGURATION_DATA_ANNOTATION, ConfigurationData, MAPPED_DIR_ANNOTATION,
    NETWORK_STATUS_ANNOTATION, NETWORKS_STATUS_ANNOTATION_DEPRECATED, NetworkStatus,
    parse_configuration_data, parse_network_status,
};

/// Where the shared directory is mounted when nothing says otherwise (the Go plugin's default
/// `mountPath`).
pub const DEFAULT_SHARED_DIR: &str = "/var/lib/cni/usrspcni";

/// Where the host plugin keeps per-attachment state when the NetConf does not say: beside
/// the default shared directory, so one host path holds everything the plugin owns.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cni/usrspcni/state";

/// Where the inputs are. Every field can be pointed at a fixture.
#[derive(Debug, Clone)]
pub struct Locations {
    /// `/proc` (mountinfo, cgroup, status of `self`).
    pub proc_root: PathBuf,
    /// `/sys` (cgroup files, hugepages, NUMA).
    pub sys_root: PathBuf,
    /// The downward-API volume (`annotations`, `labels`, hugepage files).
    pub podinfo_dir: PathBuf,
    /// The shared directory as mounted in this container; `None`: the `userspace/mapped-dir`
    /// annotation, else [`DEFAULT_SHARED_DIR`].
    pub shared_dir: Option<PathBuf>,
    /// A container ID that overrides discovery.
    pub container_id: Option<String>,
    /// The environment (`PCIDEVICE_*`).
    pub env: Vec<(String, String)>,
}

impl Default for Locations {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
            podinfo_dir: PathBuf::from("/etc/podinfo"),
            shared_dir: None,
            container_id: None,
            env: std::env::vars().collect(),
        }
    }
}

impl Locations {
    /// The defaults, each overridable by the same environment variables the agent reads:
    /// `USERSPACE_PROC_ROOT`, `USERSPACE_SYS_ROOT`, `USERSPACE_PODINFO`,
    /// `USERSPACE_SHARED_DIR`, `USERSPACE_CONTAINER_ID`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let d = Self::default();
        Self {
            proc_root: var("USERSPACE_PROC_ROOT").map_or(d.proc_root, PathBuf::from),
            sys_root: var("USERSPACE_SYS_ROOT").map_or(d.sys_root, PathBuf::from),
            podinfo_dir: var("USERSPACE_PODINFO").map_or(d.podinfo_dir, PathBuf::from),
            shared_dir: var("USERSPACE_SHARED_DIR").map(PathBuf::from),
            container_id: var("USERSPACE_CONTAINER_ID").map(|v| v.to_string_lossy().into_owned()),
            env: d.env,
        }
    }
}

/// A source that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The downward-API files are malformed.
    #[error(transparent)]
    PodInfo(#[from] crate::podinfo::PodInfoError),
    /// An annotation holds malformed JSON.
    #[error("annotation {key} in {file}: {message}")]
    Annotation {
        /// The annotation key.
        key: &'static str,
        /// The annotations file.
        file: PathBuf,
        /// The parse error.
        message: String,
    },
    /// A `PCIDEVICE_*` variable is malformed.
    #[error(transparent)]
    PciDevice(#[from] pcidevice::PciDeviceError),
    /// The container ID override is malformed, or the sources disagree.
    #[error(transparent)]
    ContainerId(#[from] container_id::ContainerIdError),
    /// The shared directory exists but cannot be listed.
    #[error(transparent)]
    SharedDir(#[from] crate::interfaces::SharedDirError),
    /// CPU / hugepage discovery failed.
    #[error(transparent)]
    Resources(#[from] crate::resources::ResourceError),
}

/// Where the shared directory path came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedDir {
    /// The directory inside the container.
    pub path: PathBuf,
    /// `override`, `annotation userspace/mapped-dir` or `default`.
    pub source: String,
    /// Whether it exists.
    pub exists: bool,
}

/// Everything the SDK found about this pod.
#[derive(Debug, Clone, Serialize)]
pub struct PodView {
    /// This container's (sandbox) ID and how it was found, if it was.
    pub container: Option<Discovered>,
    /// The shared directory.
    pub shared_dir: SharedDir,
    /// The userspace interfaces, in name order.
    pub interfaces: Vec<PodInterface>,
    /// Disagreements between sources.
    pub conflicts: Vec<Conflict>,
    /// Things that were odd but not fatal.
    pub warnings: Vec<Warning>,
    /// CPUs, hugepages, NUMA node.
    pub resources: Resources,
}

/// The configuration-data and network-status annotations, parsed; a malformed one names
/// the annotations file.
fn parse_annotations(
    podinfo: &PodInfo,
    podinfo_dir: &Path,
) -> Result<(Vec<ConfigurationData>, Vec<NetworkStatus>), DiscoveryError> {
    let annotation_err =
        |key: &'static str, e: &dyn std::error::Error| DiscoveryError::Annotation {
            key,
            file: podinfo_dir.join("annotations"),
            message: crate::error_chain(e),
        };
    let config_data = match podinfo.annotations.get(CONFIGURATION_DATA_ANNOTATION) {
        Some(text) => parse_configuration_data(text)
            .map_err(|e| annotation_err(CONFIGURATION_DATA_ANNOTATION, &e))?,
        None => Vec::new(),
    };
    let status_text = podinfo
        .annotations
        .get(NETWORK_STATUS_ANNOTATION)
        .or_else(|| {
            podinfo
                .annotations
                .get(NETWORKS_STATUS_ANNOTATION_DEPRECATED)
        });
    let network_status = match status_text {
        Some(text) => {
            parse_network_status(text).map_err(|e| annotation_err(NETWORK_STATUS_ANNOTATION, &e))?
        }
        None => Vec::new(),
    };
    Ok((config_data, network_status))
}

/// PCI devices already named by network-status keep that name.
fn pci_names(network_status: &[NetworkStatus]) -> BTreeMap<PciAddress, String> {
    let mut names = BTreeMap::new();
    let (status_reports, _) = from_network_status(network_status);
    for r in &status_reports {
        for f in &r.facts {
            if let Observation::PciAddress(a) = f {
                names.insert(a.clone(), r.interface.clone());
            }
        }
    }
    names
}

impl PodView {
    /// Reads every source.
    pub fn discover(loc: &Locations) -> Result<Self, DiscoveryError> {
        let podinfo_dir = podinfo_dir(
            &loc.podinfo_dir,
            Path::new(DEFAULT_PODINFO_DIR),
            Path::new(PODNETINFO_DIR),
        );
        let podinfo = PodInfo::read_dir(&podinfo_dir)?;
        let (config_data, network_status) = parse_annotations(&podinfo, &podinfo_dir)?;

        let mut warnings = Vec::new();

        // Container ID: override, mountinfo, then the annotation's entries.
        let mountinfo = std::fs::read_to_string(loc.proc_root.join("self/mountinfo")).ok();
        let ann_ids: Vec<&str> = config_data
            .iter()
            .map(|c| c.container_id.as_str())
            .collect();
        let container = match container_id::discover(
            loc.container_id.as_deref(),
            mountinfo.as_deref(),
            &ann_ids,
        ) {
            Ok(d) => Some(d),
            Err(e) if loc.container_id.is_none() => {
                warnings.push(Warning {
                    source: "container id".into(),
                    message: e.to_string(),
                });
                None
            }
            Err(e) => return Err(e.into()),
        };
        let own_id: Option<&ContainerId> = container.as_ref().map(|d| &d.id);

        let shared_dir = shared_dir(
            loc,
            podinfo
                .annotations
                .get_key_value(MAPPED_DIR_ANNOTATION)
                .or_else(|| podinfo.annotations.get_key_value(MAPPED_DIR_GO_EXAMPLE)),
        );

        let mut merger = Merger::new();
        let (r, w) = from_network_status(&network_status);
        merger.extend(r);
        warnings.extend(w);
        let (r, w) = from_configuration_data(
            &config_data,
            &shared_dir.path,
            own_id,
            &Source::ConfigurationData,
        );
        merger.extend(r);
        warnings.extend(w);
        if shared_dir.exists {
            let (r, w) = scan_shared_dir(&shared_dir.path, own_id)?;
            merger.extend(r);
            warnings.extend(w);
        }

        let pci = pcidevice::from_env(loc.env.iter().cloned())?;
        merger.extend(from_pci_resources(&pci, &pci_names(&network_status)));

        let (all, conflicts) = merger.finish();
        let mut interfaces = Vec::new();
        for iface in all {
            if iface.kind.is_some() {
                interfaces.push(iface);
            } else {
                let network = iface
                    .network
                    .as_ref()
                    .map(|n| n.value.clone())
                    .unwrap_or_default();
                warnings.push(Warning {
                    source: "interfaces".into(),
                    message: format!(
                        "{} (network {network}) is not a userspace interface according to any source; ignored",
                        iface.name
                    ),
                });
            }
        }

        let roots = Roots::new(&loc.proc_root, &loc.sys_root);
        let resources = Resources::discover(&roots)?;
        Ok(Self {
            container,
            shared_dir,
            interfaces,
            conflicts,
            warnings,
            resources,
        })
    }

    /// Hugepages when the pod has usable ones, else ordinary memory; at most
    /// [`Memory::DEFAULT_MB`].
    pub fn memory(&self) -> Memory {
        match self.resources.hugepages.usable_bytes() {
            Some(b) if b / (1 << 20) >= Memory::MIN_MB => {
                Memory::Hugepages((b / (1 << 20)).min(Memory::DEFAULT_MB))
            }
            _ => Memory::NoHuge(Memory::DEFAULT_MB),
        }
    }

    /// A file prefix unique to this container and process.
    pub fn file_prefix(&self, pid: u32) -> String {
        match &self.container {
            Some(c) => format!("usrsp-{}-{pid}", c.id.prefix12()),
            None => format!("usrsp-{pid}"),
        }
    }

    /// An EAL builder preloaded with this pod's interfaces, CPUs and memory.
    pub fn eal_builder(&self, version: DpdkVersion, pid: u32) -> EalBuilder<'_> {
        EalBuilder::new(version)
            .with_interfaces(&self.interfaces)
            .with_cpus(self.resources.cpus.usable.clone())
            .with_memory(self.memory())
            .with_file_prefix(self.file_prefix(pid))
    }

    /// The socket paths the app will use, with whether it must wait for them to appear
    /// (host-created sockets) or will create them itself.
    pub fn sockets(&self) -> Vec<(&PodInterface, &Path, bool)> {
        self.interfaces
            .iter()
            .filter_map(|i| {
                let path = i.socket_path.as_ref()?;
                let host_made = i
                    .role
                    .as_ref()
                    .is_none_or(|r| r.value == crate::interfaces::SocketRole::Client);
                Some((i, path.value.as_path(), host_made))
            })
            .collect()
    }

    /// The view as environment variables for scripts: `USERSPACE_CONTAINER_ID`,
    /// `USERSPACE_IFACES=net1 net2`, and per interface `USERSPACE_<IF>_{KIND,SOCKET,ROLE,MAC,IPS,GATEWAY,PCI}`.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if let Some(c) = &self.container {
            v.push(("USERSPACE_CONTAINER_ID".to_owned(), c.id.to_string()));
        }
        v.push((
            "USERSPACE_SHARED_DIR".to_owned(),
            self.shared_dir.path.display().to_string(),
        ));
        v.push((
            "USERSPACE_IFACES".to_owned(),
            self.interfaces
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ));
        v.push((
            "USERSPACE_CPUS".to_owned(),
            self.resources.cpus.usable.to_string(),
        ));
        for i in &self.interfaces {
            let p = format!(
                "USERSPACE_{}_",
                i.name
                    .to_ascii_uppercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            );
            let mut put = |k: &str, val: String| v.push((format!("{p}{k}"), val));
            if let Some(k) = i.kind() {
                put("KIND", k.to_string());
            }
            if let Some(s) = &i.socket_path {
                put("SOCKET", s.value.display().to_string());
            }
            if let Some(r) = &i.role {
                put("ROLE", r.value.to_string());
            }
            if let Some(m) = &i.mac {
                put("MAC", m.value.to_string());
            }
            if let Some(ips) = &i.ips {
                put(
                    "IPS",
                    ips.value
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            if let Some(g) = &i.gateway {
                put("GATEWAY", g.value.to_string());
            }
            if let Some(a) = &i.pci_address {
                put("PCI", a.value.to_string());
            }
        }
        v
    }

    /// Interfaces of a kind.
    pub fn of_kind(&self, kind: InterfaceKind) -> impl Iterator<Item = &PodInterface> {
        self.interfaces
            .iter()
            .filter(move |i| i.kind() == Some(kind))
    }
}

/// The downward-API directory when none is given: `/etc/podinfo`.
pub const DEFAULT_PODINFO_DIR: &str = "/etc/podinfo";
/// Where app-netutil and NRI examples mount the downward API: read when the default has no
/// `annotations` file.
pub const PODNETINFO_DIR: &str = "/etc/podnetinfo";
/// The Go plugin's example pods spell the mapped-dir annotation this way; read when
/// `userspace/mapped-dir` is absent.
pub const MAPPED_DIR_GO_EXAMPLE: &str = "userspace/mappedDir";

/// `given`, unless it is the default and has no `annotations` while `alternative` has.
fn podinfo_dir(given: &Path, default: &Path, alternative: &Path) -> PathBuf {
    if given == default
        && !given.join("annotations").exists()
        && alternative.join("annotations").exists()
    {
        alternative.to_path_buf()
    } else {
        given.to_path_buf()
    }
}

fn shared_dir(loc: &Locations, mapped: Option<(&String, &String)>) -> SharedDir {
    let (path, source) = match (&loc.shared_dir, mapped) {
        (Some(p), _) => (p.clone(), "override".to_owned()),
        (None, Some((key, m))) if !m.trim().is_empty() => {
            (PathBuf::from(m.trim()), format!("annotation {key}"))
        }
        _ => (PathBuf::from(DEFAULT_SHARED_DIR), "default".to_owned()),
    };
    let exists = path.is_dir();
    SharedDir {
        path,
        source,
        exists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_lives_under_the_default_shared_dir() {
        assert_eq!(
            Path::new(DEFAULT_STATE_DIR).parent(),
            Some(Path::new(DEFAULT_SHARED_DIR))
        );
    }

    #[test]
    fn the_default_podinfo_falls_back_to_podnetinfo_only_when_it_has_no_annotations() {
        let root = tempfile::tempdir().unwrap();
        let (default, alt) = (root.path().join("podinfo"), root.path().join("podnetinfo"));
        std::fs::create_dir_all(&alt).unwrap();
        std::fs::write(alt.join("annotations"), "a=\"1\"").unwrap();
        assert_eq!(podinfo_dir(&default, &default, &alt), alt);
        std::fs::create_dir_all(&default).unwrap();
        std::fs::write(default.join("annotations"), "a=\"1\"").unwrap();
        assert_eq!(podinfo_dir(&default, &default, &alt), default);
        let given = root.path().join("elsewhere");
        assert_eq!(
            podinfo_dir(&given, &default, &alt),
            given,
            "an override is kept"
        );
    }

    #[test]
    fn the_go_examples_mapped_dir_key_is_read_when_the_plugins_is_absent() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("annotations"),
            "userspace/mappedDir=\"/var/lib/cni/usrspcni/\"",
        )
        .unwrap();
        let loc = Locations {
            proc_root: root.path().join("proc"),
            sys_root: root.path().join("sys"),
            podinfo_dir: root.path().to_path_buf(),
            shared_dir: None,
            container_id: Some("ab".repeat(32)),
            env: Vec::new(),
        };
        let view = PodView::discover(&loc).unwrap();
        assert_eq!(view.shared_dir.path, Path::new("/var/lib/cni/usrspcni"));
        assert_eq!(view.shared_dir.source, "annotation userspace/mappedDir");
    }
}
