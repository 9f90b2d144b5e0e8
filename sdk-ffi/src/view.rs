//! `userspace_view`: the pod as the SDK sees it, with interfaces, conflicts, warnings, CPUs and
//! hugepages behind accessor functions.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::sync::OnceLock;

use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkVersion;
use userspace_cni_sdk::interfaces::{
    Conflict, Fact, InterfaceKind, PodInterface, SocketRole, Source,
};
use userspace_cni_sdk::resources::cpuset::CpuSet;
use userspace_cni_sdk::wire::MemifMode;

use crate::options::{UserspaceOptions, options_or_default};
use crate::{
    Error, Result, UserspaceStatus, borrow, cstring, give_string, status_call, str_arg, value_call,
};

/// What backs an interface, which decides how DPDK attaches to it.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceKind {
    /// No source said (never the case for an interface of a view), or a NULL interface.
    Unknown = 0,
    /// A vhost-user socket; DPDK uses `net_virtio_user`.
    VhostUser = 1,
    /// A memif socket; DPDK uses `net_memif`.
    Memif = 2,
    /// A PCI function (SR-IOV VF or PF) bound to a userspace driver.
    Pci = 3,
    /// A vDPA device (`/dev/vhost-vdpa-N`), used through `net_virtio_user`.
    Vdpa = 4,
}

/// The role the application plays on a socket.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceRole {
    /// No source said; the EAL arguments then assume `CLIENT` (the host created the socket).
    Unknown = 0,
    /// The application creates and listens on the socket (virtio_user `server=1`, memif server).
    Server = 1,
    /// The application connects to a socket the host side created.
    Client = 2,
}

/// memif mode.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceMemifMode {
    /// Not a memif interface, or no source said.
    Unknown = 0,
    /// Ethernet frames (the only mode DPDK's `net_memif` has).
    Ethernet = 1,
    /// IP packets.
    Ip = 2,
    /// Punt/inject.
    InjectPunt = 3,
}

/// A fact about an interface, to ask where it came from (`userspace_interface_source`) or
/// which field a conflict is about (`userspace_conflict_field`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceField {
    /// Not a field (a NULL conflict).
    Unknown = 0,
    /// `userspace_interface_kind`.
    Kind = 1,
    /// `userspace_interface_network`.
    Network = 2,
    /// `userspace_interface_socket_path`.
    SocketPath = 3,
    /// `userspace_interface_role`.
    Role = 4,
    /// `userspace_interface_memif_mode`.
    MemifMode = 5,
    /// `userspace_interface_pci_address`.
    PciAddress = 6,
    /// `userspace_interface_vdpa_path`.
    VdpaPath = 7,
    /// `userspace_interface_mac`.
    Mac = 8,
    /// `userspace_interface_address`.
    Addresses = 9,
    /// `userspace_interface_gateway`.
    Gateway = 10,
    /// `userspace_interface_route_destination`.
    Routes = 11,
}

const FIELDS: usize = 12;

impl UserspaceField {
    fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::Kind,
            2 => Self::Network,
            3 => Self::SocketPath,
            4 => Self::Role,
            5 => Self::MemifMode,
            6 => Self::PciAddress,
            7 => Self::VdpaPath,
            8 => Self::Mac,
            9 => Self::Addresses,
            10 => Self::Gateway,
            11 => Self::Routes,
            _ => return None,
        })
    }

    fn from_sdk(name: &str) -> Self {
        match name {
            "kind" => Self::Kind,
            "network" => Self::Network,
            "socket_path" => Self::SocketPath,
            "role" => Self::Role,
            "memif_mode" => Self::MemifMode,
            "pci_address" => Self::PciAddress,
            "vdpa_path" => Self::VdpaPath,
            "mac" => Self::Mac,
            "ips" => Self::Addresses,
            "gateway" => Self::Gateway,
            "routes" => Self::Routes,
            _ => Self::Unknown,
        }
    }
}

/// Where a fact came from.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceSourceKind {
    /// The interface has no such fact (or the arguments were bad).
    None = 0,
    /// Multus' `k8s.v1.cni.cncf.io/network-status` annotation.
    NetworkStatus = 1,
    /// The `userspace/configuration-data` annotation written by the plugin.
    ConfigurationData = 2,
    /// A `configData-<id12>-<ifname>.json` file in the shared directory.
    ConfigDataFile = 3,
    /// The vhost-user CNI's `<id12>-<ifname>.json` / `-ip4.conf` files.
    VhostUserCniFile = 4,
    /// kuryr-kubernetes' `<containerID>-<ifname>` file.
    KuryrFile = 5,
    /// A socket file found in the shared directory.
    SharedDirSocket = 6,
    /// An SR-IOV device plugin `PCIDEVICE_*` environment variable.
    PciDeviceEnv = 7,
}

impl UserspaceSourceKind {
    fn of(s: &Source) -> Self {
        match s {
            Source::NetworkStatus => Self::NetworkStatus,
            Source::ConfigurationData => Self::ConfigurationData,
            Source::ConfigDataFile(_) => Self::ConfigDataFile,
            Source::VhostUserCniFile(_) => Self::VhostUserCniFile,
            Source::KuryrFile(_) => Self::KuryrFile,
            Source::SharedDirSocket(_) => Self::SharedDirSocket,
            Source::PciDeviceEnv(_) => Self::PciDeviceEnv,
        }
    }
}

#[derive(Debug)]
struct FactSource {
    kind: UserspaceSourceKind,
    text: CString,
    confirmed_by: Vec<CString>,
}

impl FactSource {
    fn of<T>(f: &Fact<T>) -> Self {
        Self {
            kind: UserspaceSourceKind::of(&f.source),
            text: cstring(&f.source.to_string()),
            confirmed_by: f
                .confirmed_by
                .iter()
                .map(|s| cstring(&s.to_string()))
                .collect(),
        }
    }
}

/// One interface of a view. Opaque; borrowed from its view (valid until
/// `userspace_view_free`), never freed on its own.
#[derive(Debug)]
pub struct UserspaceInterface {
    name: CString,
    kind: UserspaceKind,
    network: Option<CString>,
    socket_path: Option<CString>,
    role: UserspaceRole,
    memif_mode: UserspaceMemifMode,
    pci_address: Option<CString>,
    vdpa_path: Option<CString>,
    mac: Option<CString>,
    mac_octets: Option<[u8; 6]>,
    addresses: Vec<CString>,
    gateway: Option<CString>,
    routes: Vec<(CString, Option<CString>)>,
    dpdk_device: Option<CString>,
    sources: [Option<FactSource>; FIELDS],
}

/// A disagreement between two sources about one field of one interface. Opaque; borrowed from
/// its view.
#[derive(Debug)]
pub struct UserspaceConflict {
    interface: CString,
    field: UserspaceField,
    field_name: CString,
    kept_value: CString,
    kept_source: CString,
    other_value: CString,
    other_source: CString,
    affects_dataplane: bool,
    message: CString,
}

#[derive(Debug, Clone, Copy)]
struct Pool {
    page_size: u64,
    free: u64,
    total: u64,
    limit: u64,
}

/// The pod view: every source the SDK reads, merged. Opaque; made by `userspace_view_open`,
/// released by `userspace_view_free`. Read-only: may be used from several threads.
#[derive(Debug)]
pub struct UserspaceView {
    pub(crate) pod: PodView,
    pub(crate) options: UserspaceOptions,
    dpdk: OnceLock<std::result::Result<(DpdkVersion, CString), String>>,
    container_id: Option<CString>,
    container_source: Option<CString>,
    shared_dir: CString,
    shared_dir_source: CString,
    interfaces: Vec<UserspaceInterface>,
    conflicts: Vec<UserspaceConflict>,
    warnings: Vec<(CString, CString)>,
    cpus: Vec<(u32, i32)>,
    cpu_list: CString,
    cpu_source: CString,
    huge_mounts: Vec<CString>,
    huge_pools: Vec<Pool>,
}

fn opt_c<T>(f: &Option<Fact<T>>, show: impl Fn(&T) -> String) -> Option<CString> {
    f.as_ref().map(|f| cstring(&show(&f.value)))
}

fn path_c(p: &Path) -> CString {
    cstring(&p.to_string_lossy())
}

/// `<sys>/devices/system/node/node<N>/cpulist`, inverted.
fn numa_of_cpus(sys: &Path) -> BTreeMap<u32, i32> {
    let mut map = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(sys.join("devices/system/node")) else {
        return map;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(list) = std::fs::read_to_string(e.path().join("cpulist"))
            .ok()
            .and_then(|t| t.parse::<CpuSet>().ok())
        else {
            continue;
        };
        for c in list.iter() {
            map.insert(c, n);
        }
    }
    map
}

/// The error and every cause under it, as one line (the SDK's own formatting).
fn chain(e: &dyn std::error::Error) -> String {
    userspace_cni_sdk::error_chain(e)
}

/// The DPDK device names the EAL arguments create, numbered per PMD in interface order as the
/// SDK's `EalBuilder` numbers them (`tests` check the two agree).
fn dpdk_devices(ifaces: &[PodInterface]) -> Vec<Option<String>> {
    let (mut virtio, mut memif) = (0usize, 0usize);
    ifaces
        .iter()
        .map(|i| match i.kind() {
            Some(InterfaceKind::VhostUser | InterfaceKind::Vdpa) => {
                virtio += 1;
                Some(format!("net_virtio_user{}", virtio - 1))
            }
            Some(InterfaceKind::Memif) => {
                memif += 1;
                Some(format!("net_memif{}", memif - 1))
            }
            Some(InterfaceKind::Pci) => i.pci_address.as_ref().map(|a| a.value.to_string()),
            None => None,
        })
        .collect()
}

fn interface(i: &PodInterface, dpdk_device: Option<String>) -> UserspaceInterface {
    let mut sources: [Option<FactSource>; FIELDS] = Default::default();
    let mut put = |field: UserspaceField, s: Option<FactSource>| sources[field as usize] = s;
    put(UserspaceField::Kind, i.kind.as_ref().map(FactSource::of));
    put(
        UserspaceField::Network,
        i.network.as_ref().map(FactSource::of),
    );
    put(
        UserspaceField::SocketPath,
        i.socket_path.as_ref().map(FactSource::of),
    );
    put(UserspaceField::Role, i.role.as_ref().map(FactSource::of));
    put(
        UserspaceField::MemifMode,
        i.memif_mode.as_ref().map(FactSource::of),
    );
    put(
        UserspaceField::PciAddress,
        i.pci_address.as_ref().map(FactSource::of),
    );
    put(
        UserspaceField::VdpaPath,
        i.vdpa_path.as_ref().map(FactSource::of),
    );
    put(UserspaceField::Mac, i.mac.as_ref().map(FactSource::of));
    put(
        UserspaceField::Addresses,
        i.ips.as_ref().map(FactSource::of),
    );
    put(
        UserspaceField::Gateway,
        i.gateway.as_ref().map(FactSource::of),
    );
    put(
        UserspaceField::Routes,
        i.routes.as_ref().map(FactSource::of),
    );
    UserspaceInterface {
        name: cstring(&i.name),
        kind: match i.kind() {
            None => UserspaceKind::Unknown,
            Some(InterfaceKind::VhostUser) => UserspaceKind::VhostUser,
            Some(InterfaceKind::Memif) => UserspaceKind::Memif,
            Some(InterfaceKind::Pci) => UserspaceKind::Pci,
            Some(InterfaceKind::Vdpa) => UserspaceKind::Vdpa,
        },
        network: opt_c(&i.network, Clone::clone),
        socket_path: opt_c(&i.socket_path, |p| p.to_string_lossy().into_owned()),
        role: match i.role.as_ref().map(|r| r.value) {
            None => UserspaceRole::Unknown,
            Some(SocketRole::Server) => UserspaceRole::Server,
            Some(SocketRole::Client) => UserspaceRole::Client,
        },
        memif_mode: match i.memif_mode.as_ref().map(|m| m.value) {
            None => UserspaceMemifMode::Unknown,
            Some(MemifMode::Ethernet) => UserspaceMemifMode::Ethernet,
            Some(MemifMode::Ip) => UserspaceMemifMode::Ip,
            Some(MemifMode::InjectPunt) => UserspaceMemifMode::InjectPunt,
        },
        pci_address: opt_c(&i.pci_address, ToString::to_string),
        vdpa_path: opt_c(&i.vdpa_path, |p| p.to_string_lossy().into_owned()),
        mac: opt_c(&i.mac, ToString::to_string),
        mac_octets: i.mac.as_ref().map(|m| m.value.octets()),
        addresses: i
            .ips
            .as_ref()
            .map(|f| f.value.iter().map(|n| cstring(&n.to_string())).collect())
            .unwrap_or_default(),
        gateway: opt_c(&i.gateway, ToString::to_string),
        routes: i
            .routes
            .as_ref()
            .map(|f| {
                f.value
                    .iter()
                    .map(|r| {
                        (
                            cstring(&r.dst.to_string()),
                            r.gw.map(|g| cstring(&g.to_string())),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dpdk_device: dpdk_device.map(|d| cstring(&d)),
        sources,
    }
}

fn conflict(c: &Conflict) -> UserspaceConflict {
    UserspaceConflict {
        interface: cstring(&c.interface),
        field: UserspaceField::from_sdk(c.field),
        field_name: cstring(c.field),
        kept_value: cstring(&c.kept.0),
        kept_source: cstring(&c.kept.1.to_string()),
        other_value: cstring(&c.other.0),
        other_source: cstring(&c.other.1.to_string()),
        affects_dataplane: c.affects_dataplane(),
        message: cstring(&c.to_string()),
    }
}

impl UserspaceView {
    /// Reads the pod with the options' locations (the agent's environment variables otherwise).
    pub(crate) fn open(options: UserspaceOptions) -> Result<Self> {
        let env = Locations::from_env();
        let o = &options;
        let loc = Locations {
            proc_root: o.proc_root.clone().unwrap_or(env.proc_root),
            sys_root: o.sys_root.clone().unwrap_or(env.sys_root),
            podinfo_dir: o.podinfo_dir.clone().unwrap_or(env.podinfo_dir),
            shared_dir: o.shared_dir.clone().or(env.shared_dir),
            container_id: o.container_id.clone().or(env.container_id),
            env: env.env,
        };
        let pod = PodView::discover(&loc)
            .map_err(|e| Error::new(UserspaceStatus::Discovery, chain(&e)))?;
        Ok(Self::from_pod(pod, options, &loc.sys_root))
    }

    fn from_pod(pod: PodView, options: UserspaceOptions, sys_root: &Path) -> Self {
        let devices = dpdk_devices(&pod.interfaces);
        let numa = numa_of_cpus(sys_root);
        let h = &pod.resources.hugepages;
        let huge_pools = h
            .free_pages
            .iter()
            .map(|f| Pool {
                page_size: f.page_size,
                free: f.free,
                total: f.total,
                limit: h
                    .limits
                    .iter()
                    .find(|l| l.page_size == f.page_size)
                    .and_then(|l| l.limit_bytes)
                    .unwrap_or(u64::MAX),
            })
            .collect();
        Self {
            container_id: pod.container.as_ref().map(|c| cstring(c.id.as_str())),
            container_source: pod
                .container
                .as_ref()
                .map(|c| cstring(&format!("{} ({})", c.rule.name(), c.evidence))),
            shared_dir: path_c(&pod.shared_dir.path),
            shared_dir_source: cstring(&pod.shared_dir.source),
            interfaces: pod
                .interfaces
                .iter()
                .zip(devices)
                .map(|(i, d)| interface(i, d))
                .collect(),
            conflicts: pod.conflicts.iter().map(conflict).collect(),
            warnings: pod
                .warnings
                .iter()
                .map(|w| (cstring(&w.source), cstring(&w.message)))
                .collect(),
            cpus: pod
                .resources
                .cpus
                .usable
                .iter()
                .map(|c| (c, numa.get(&c).copied().unwrap_or(-1)))
                .collect(),
            cpu_list: cstring(&pod.resources.cpus.usable.to_string()),
            cpu_source: cstring(&pod.resources.cpus.source),
            huge_mounts: h.mounts.iter().map(|m| path_c(&m.path)).collect(),
            huge_pools,
            dpdk: OnceLock::new(),
            pod,
            options,
        }
    }

    /// The DPDK version (resolved once, on first use) and how it was found.
    pub(crate) fn dpdk(&self) -> Result<(DpdkVersion, &CStr)> {
        let r = self.dpdk.get_or_init(|| {
            crate::dpdk::resolve(self.options.dpdk_version.as_ref())
                .map(|(v, how)| (v, cstring(&how)))
        });
        match r {
            Ok((v, how)) => Ok((*v, how.as_c_str())),
            Err(e) => Err(Error::new(UserspaceStatus::DpdkVersion, e.clone())),
        }
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

fn index_of<'a, T>(v: &'a [T], i: usize, what: &str) -> Result<&'a T> {
    v.get(i).ok_or_else(|| {
        Error::invalid(format!(
            "{what} index {i} is out of range (there are {})",
            v.len()
        ))
    })
}

/// Runs an accessor on a view.
fn on_view<T>(
    v: *const UserspaceView,
    fallback: T,
    f: impl FnOnce(&UserspaceView) -> Result<T>,
) -> T {
    value_call(fallback, || {
        // SAFETY: every public function that calls this documents that `v` is NULL or live.
        let v = unsafe { borrow(v, "view") }?;
        f(v)
    })
}

fn on_iface<T>(
    i: *const UserspaceInterface,
    fallback: T,
    f: impl FnOnce(&UserspaceInterface) -> Result<T>,
) -> T {
    value_call(fallback, || {
        // SAFETY: as in on_view.
        let i = unsafe { borrow(i, "interface") }?;
        f(i)
    })
}

fn on_conflict<T>(
    c: *const UserspaceConflict,
    fallback: T,
    f: impl FnOnce(&UserspaceConflict) -> Result<T>,
) -> T {
    value_call(fallback, || {
        // SAFETY: as in on_view.
        let c = unsafe { borrow(c, "conflict") }?;
        f(c)
    })
}

// ---------------------------------------------------------------------------------------------
// Opening and closing

/// Reads every source of this pod (downward-API annotations, the shared directory,
/// `PCIDEVICE_*`, mountinfo, cgroups, sysfs) and merges them. `options` may be NULL for the
/// defaults, and may be freed as soon as this returns. On success `*out` is a view to release
/// with `userspace_view_free`; on failure it is set to NULL. A pod with no userspace
/// interfaces is not a failure (its interface count is 0).
///
/// # Safety
/// `options` must be NULL or live; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_open(
    options: *const UserspaceOptions,
    out: *mut *mut UserspaceView,
) -> UserspaceStatus {
    status_call(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: the caller promises NULL or a live handle.
        let options = unsafe { options_or_default(options) };
        let view = UserspaceView::open(options)?;
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(Box::new(view)) };
        Ok(())
    })
}

/// Frees a view and everything borrowed from it (interfaces, conflicts, strings). NULL is
/// ignored. Argument vectors made from it stay valid.
///
/// # Safety
/// `view` must be NULL or from `userspace_view_open`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_free(view: *mut UserspaceView) {
    value_call((), || {
        if !view.is_null() {
            // SAFETY: made by Box::into_raw in userspace_view_open.
            drop(unsafe { Box::from_raw(view) });
        }
        Ok(())
    })
}

/// The whole view as JSON, the same document as `userspace-agent inspect --json`, described
/// by `sdk/schema/pod-view-v1.json`. `*out` is owned by the caller
/// (`userspace_string_free`).
///
/// # Safety
/// `view` must be NULL or live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_json(
    view: *const UserspaceView,
    out: *mut *mut c_char,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        let text = serde_json::to_string_pretty(&v.pod)
            .map_err(|e| Error::new(UserspaceStatus::Panic, e.to_string()))?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { give_string(out, &text) }
    })
}

/// A human-readable report of the view, as `userspace-agent inspect` prints it: container,
/// shared directory, each interface with the source of each fact, conflicts, warnings, CPUs,
/// hugepages and the DPDK version. `*out` is owned by the caller (`userspace_string_free`).
///
/// # Safety
/// `view` must be NULL or live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_report(
    view: *const UserspaceView,
    out: *mut *mut c_char,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        let text = crate::report::render(v);
        // SAFETY: the caller promises `out` is writable.
        unsafe { give_string(out, &text) }
    })
}

// ---------------------------------------------------------------------------------------------
// The pod

/// This container's (pod sandbox) ID, or NULL when it could not be found (a warning says why).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_container_id(view: *const UserspaceView) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(opt_ptr(&v.container_id)))
}

/// How the container ID was found (`"containers-storage (<mountinfo line>)"`, `"override
/// (…)"`…), or NULL.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_container_source(
    view: *const UserspaceView,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(opt_ptr(&v.container_source)))
}

/// The shared directory as this container sees it (where the sockets are).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_shared_dir(view: *const UserspaceView) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(v.shared_dir.as_ptr()))
}

/// Where the shared directory path came from: `override`, `annotation userspace/mapped-dir`
/// or `default`.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_shared_dir_source(
    view: *const UserspaceView,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(v.shared_dir_source.as_ptr()))
}

/// Whether the shared directory exists.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_shared_dir_exists(view: *const UserspaceView) -> bool {
    on_view(view, false, |v| Ok(v.pod.shared_dir.exists))
}

// ---------------------------------------------------------------------------------------------
// Interfaces

/// The number of userspace interfaces (0 for a pod without any, or a NULL view), in name
/// order (`net2` before `net10`), which is the order of their devices in the EAL arguments.
/// DPDK numbers ports by probe order (PCI devices first), so find an interface's port with
/// `rte_eth_dev_get_port_by_name(userspace_interface_dpdk_device(iface), &port)`.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_interface_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.interfaces.len()))
}

/// Interface `index` (from 0), borrowed from the view; NULL when out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_interface(
    view: *const UserspaceView,
    index: usize,
) -> *const UserspaceInterface {
    on_view(view, std::ptr::null(), |v| {
        index_of(&v.interfaces, index, "interface").map(|i| i as *const _)
    })
}

/// The interface called `name` (`net1`), borrowed from the view; NULL when there is none
/// (recorded as `USERSPACE_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `view` must be NULL or live; `name` NULL or a valid string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_interface_by_name(
    view: *const UserspaceView,
    name: *const c_char,
) -> *const UserspaceInterface {
    on_view(view, std::ptr::null(), |v| {
        // SAFETY: the caller promises a valid string or NULL.
        let name = unsafe { str_arg(name, "name") }?.ok_or_else(|| Error::null("name"))?;
        v.interfaces
            .iter()
            .find(|i| i.name.to_bytes() == name.as_bytes())
            .map(|i| i as *const _)
            .ok_or_else(|| Error::invalid(format!("no interface {name:?}")))
    })
}

/// The interface name inside the pod (`net1`), or `pci-<address>` for a device no network
/// names.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_name(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(i.name.as_ptr()))
}

/// What backs the interface.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_kind(
    iface: *const UserspaceInterface,
) -> UserspaceKind {
    on_iface(iface, UserspaceKind::Unknown, |i| Ok(i.kind))
}

/// The name of a `userspace_kind` value: `vhost-user`, `memif`, `pci`, `vdpa`, `unknown`.
/// Static.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_kind_name(kind: i32) -> *const c_char {
    match kind {
        1 => c"vhost-user",
        2 => c"memif",
        3 => c"pci",
        4 => c"vdpa",
        _ => c"unknown",
    }
    .as_ptr()
}

/// The NetworkAttachmentDefinition (network) name, or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_network(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.network)))
}

/// The socket path (vhost-user, memif) as this container sees it, or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_socket_path(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.socket_path)))
}

/// The application's role on the socket.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_role(
    iface: *const UserspaceInterface,
) -> UserspaceRole {
    on_iface(iface, UserspaceRole::Unknown, |i| Ok(i.role))
}

/// The memif mode.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_memif_mode(
    iface: *const UserspaceInterface,
) -> UserspaceMemifMode {
    on_iface(iface, UserspaceMemifMode::Unknown, |i| Ok(i.memif_mode))
}

/// The PCI address (`0000:03:00.1`) of a PCI or vDPA device, or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_pci_address(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.pci_address)))
}

/// The vhost-vdpa character device (`/dev/vhost-vdpa-0`), or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_vdpa_path(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.vdpa_path)))
}

/// The MAC the application should use (`02:00:00:00:00:01`), or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_mac(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.mac)))
}

/// Copies the MAC's 6 octets to `out` (`out_len` must be at least 6; a `struct
/// rte_ether_addr`'s `addr_bytes` fits). `USERSPACE_STATUS_INVALID_ARGUMENT` when the
/// interface has no MAC.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view; `out` NULL or writable for `out_len`
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_mac_octets(
    iface: *const UserspaceInterface,
    out: *mut u8,
    out_len: usize,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live interface.
        let i = unsafe { borrow(iface, "interface") }?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        if out_len < 6 {
            return Err(Error::invalid(format!(
                "out_len is {out_len}; a MAC needs 6 bytes"
            )));
        }
        let m = i.mac_octets.ok_or_else(|| {
            Error::invalid(format!("interface {} has no MAC", i.name.to_string_lossy()))
        })?;
        // SAFETY: `out` is writable for out_len >= 6 bytes, as the caller promises.
        unsafe { std::ptr::copy_nonoverlapping(m.as_ptr(), out, 6) };
        Ok(())
    })
}

/// How many addresses IPAM gave the interface.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_address_count(
    iface: *const UserspaceInterface,
) -> usize {
    on_iface(iface, 0, |i| Ok(i.addresses.len()))
}

/// Address `index` with its prefix length (`10.56.217.10/24`, `fd00::2/64`); NULL when out of
/// range.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_address(
    iface: *const UserspaceInterface,
    index: usize,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| {
        index_of(&i.addresses, index, "address").map(|a| a.as_ptr())
    })
}

/// The interface's default gateway, or NULL.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_gateway(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.gateway)))
}

/// How many routes IPAM gave the interface.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_route_count(
    iface: *const UserspaceInterface,
) -> usize {
    on_iface(iface, 0, |i| Ok(i.routes.len()))
}

/// Route `index`'s destination (`0.0.0.0/0`); NULL when out of range.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_route_destination(
    iface: *const UserspaceInterface,
    index: usize,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| {
        index_of(&i.routes, index, "route").map(|r| r.0.as_ptr())
    })
}

/// Route `index`'s next hop, or NULL when it has none (the interface's gateway applies) or is
/// out of range.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_route_gateway(
    iface: *const UserspaceInterface,
    index: usize,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| {
        index_of(&i.routes, index, "route").map(|r| opt_ptr(&r.1))
    })
}

/// The name of the DPDK device that the EAL arguments make for this interface
/// (`net_virtio_user0`, `net_memif0`, or the PCI address): find its port with
/// `rte_eth_dev_get_port_by_name()`. NULL for a PCI interface without an address.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_dpdk_device(
    iface: *const UserspaceInterface,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| Ok(opt_ptr(&i.dpdk_device)))
}

fn fact_source(i: &UserspaceInterface, field: i32) -> Result<Option<&FactSource>> {
    let f = UserspaceField::from_i32(field)
        .ok_or_else(|| Error::invalid(format!("{field} is not a userspace_field")))?;
    Ok(i.sources[f as usize].as_ref())
}

/// Where a fact (a `userspace_field` value) about the interface came from;
/// `USERSPACE_SOURCE_KIND_NONE` when the interface has no such fact.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_source_kind(
    iface: *const UserspaceInterface,
    field: i32,
) -> UserspaceSourceKind {
    on_iface(iface, UserspaceSourceKind::None, |i| {
        Ok(fact_source(i, field)?.map_or(UserspaceSourceKind::None, |s| s.kind))
    })
}

/// The source of a fact, in words (`annotation userspace/configuration-data`, `file
/// /var/lib/cni/usrspcni/configData-…json`, `env PCIDEVICE_…`), or NULL when the interface
/// has no such fact.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_source(
    iface: *const UserspaceInterface,
    field: i32,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| {
        Ok(fact_source(i, field)?.map_or(std::ptr::null(), |s| s.text.as_ptr()))
    })
}

/// How many other sources reported the same value for a fact.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_confirmation_count(
    iface: *const UserspaceInterface,
    field: i32,
) -> usize {
    on_iface(iface, 0, |i| {
        Ok(fact_source(i, field)?.map_or(0, |s| s.confirmed_by.len()))
    })
}

/// Confirming source `index` of a fact, in words; NULL when out of range.
///
/// # Safety
/// `iface` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_interface_confirmation(
    iface: *const UserspaceInterface,
    field: i32,
    index: usize,
) -> *const c_char {
    on_iface(iface, std::ptr::null(), |i| {
        let list: &[CString] = fact_source(i, field)?.map_or(&[], |s| &s.confirmed_by);
        index_of(list, index, "confirmation").map(|c| c.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------------
// Conflicts and warnings

/// How many disagreements between sources the view has.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_conflict_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.conflicts.len()))
}

/// Conflict `index`, borrowed from the view; NULL when out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_conflict(
    view: *const UserspaceView,
    index: usize,
) -> *const UserspaceConflict {
    on_view(view, std::ptr::null(), |v| {
        index_of(&v.conflicts, index, "conflict").map(|c| c as *const _)
    })
}

/// The interface a conflict is about.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_interface(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.interface.as_ptr()))
}

/// The field a conflict is about.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_field(
    conflict: *const UserspaceConflict,
) -> UserspaceField {
    on_conflict(conflict, UserspaceField::Unknown, |c| Ok(c.field))
}

/// The field's name as the JSON spells it (`socket_path`, `mac`, `ips`…).
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_field_name(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.field_name.as_ptr()))
}

/// The value that was kept (the preferred source's), as the SDK renders it (strings quoted).
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_kept_value(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.kept_value.as_ptr()))
}

/// The source of the kept value, in words.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_kept_source(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.kept_source.as_ptr()))
}

/// The value that was not used.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_other_value(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.other_value.as_ptr()))
}

/// The source of the value that was not used, in words.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_other_source(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.other_source.as_ptr()))
}

/// Whether the field changes how DPDK attaches (kind, socket, role, mode, device, MAC): such a
/// conflict makes `userspace_eal_args` refuse unless `USERSPACE_OPTION_ALLOW_CONFLICTS`
/// is set.
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_affects_dataplane(
    conflict: *const UserspaceConflict,
) -> bool {
    on_conflict(conflict, false, |c| Ok(c.affects_dataplane))
}

/// The conflict in one sentence (`net1: socket_path is "/a" according to …, but "/b" according
/// to …`).
///
/// # Safety
/// `conflict` must be NULL or borrowed from a live view.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_conflict_message(
    conflict: *const UserspaceConflict,
) -> *const c_char {
    on_conflict(conflict, std::ptr::null(), |c| Ok(c.message.as_ptr()))
}

/// How many warnings (odd but not fatal things: a malformed optional file, an entry for another
/// container…) the view has.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_warning_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.warnings.len()))
}

/// What warning `index` was reading (`container id`, `interfaces`, a file); NULL when out of
/// range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_warning_source(
    view: *const UserspaceView,
    index: usize,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| {
        index_of(&v.warnings, index, "warning").map(|w| w.0.as_ptr())
    })
}

/// Warning `index`'s message; NULL when out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_warning_message(
    view: *const UserspaceView,
    index: usize,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| {
        index_of(&v.warnings, index, "warning").map(|w| w.1.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------------
// CPUs and hugepages

/// How many CPUs the process may use (affinity ∩ cgroup cpuset).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_cpu_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.cpus.len()))
}

/// Usable CPU `index` (ascending), or -1 when out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_cpu(view: *const UserspaceView, index: usize) -> i32 {
    on_view(view, -1, |v| {
        index_of(&v.cpus, index, "cpu").map(|c| i32::try_from(c.0).unwrap_or(-1))
    })
}

/// The NUMA node of usable CPU `index`, or -1 when unknown or out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_cpu_numa_node(
    view: *const UserspaceView,
    index: usize,
) -> i32 {
    on_view(view, -1, |v| index_of(&v.cpus, index, "cpu").map(|c| c.1))
}

/// The usable CPUs as a Linux CPU list (`2-3,8`), what app-netutil's `GetCPUInfo` gave.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_cpu_list(view: *const UserspaceView) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(v.cpu_list.as_ptr()))
}

/// Which files decided the usable CPUs (`affinity ∩ cgroup v2 …/cpuset.cpus.effective`).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_cpu_source(view: *const UserspaceView) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(v.cpu_source.as_ptr()))
}

/// The NUMA node of the first usable CPU (where the main lcore runs), or -1 when unknown.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_numa_node(view: *const UserspaceView) -> i32 {
    on_view(view, -1, |v| {
        Ok(v.pod
            .resources
            .numa_node
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(-1))
    })
}

/// Bytes of hugepages DPDK can use: free pages of the mount's size, capped by the hugetlb cgroup
/// limit. 0 when there are none (no hugetlbfs mount, no free pages, or a zero limit): the EAL
/// arguments then use `--no-huge`.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_usable_bytes(view: *const UserspaceView) -> u64 {
    on_view(view, 0, |v| {
        Ok(v.pod.resources.hugepages.usable_bytes().unwrap_or(0))
    })
}

/// The hugepage size DPDK will use, in bytes (the first mount's, else the default), or 0.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_size(view: *const UserspaceView) -> u64 {
    on_view(view, 0, |v| {
        Ok(v.pod.resources.hugepages.page_size().unwrap_or(0))
    })
}

/// How many hugetlbfs mounts this container has.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_mount_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.huge_mounts.len()))
}

/// hugetlbfs mount `index`'s path; NULL when out of range.
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_mount(
    view: *const UserspaceView,
    index: usize,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| {
        index_of(&v.huge_mounts, index, "hugepage mount").map(|m| m.as_ptr())
    })
}

/// How many hugepage sizes the system has (one pool each).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_pool_count(view: *const UserspaceView) -> usize {
    on_view(view, 0, |v| Ok(v.huge_pools.len()))
}

/// Pool `index`: its page size in bytes, free and total pages, and this pod's hugetlb cgroup
/// limit in bytes (`UINT64_MAX` when unlimited). Any out pointer may be NULL.
///
/// # Safety
/// `view` must be NULL or live; each out pointer NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_hugepage_pool(
    view: *const UserspaceView,
    index: usize,
    page_size: *mut u64,
    free_pages: *mut u64,
    total_pages: *mut u64,
    limit_bytes: *mut u64,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        let p = *index_of(&v.huge_pools, index, "hugepage pool")?;
        for (out, val) in [
            (page_size, p.page_size),
            (free_pages, p.free),
            (total_pages, p.total),
            (limit_bytes, p.limit),
        ] {
            // SAFETY: each pointer is NULL or writable, as the caller promises.
            if let Some(o) = unsafe { out.as_mut() } {
                *o = val;
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// DPDK

/// The DPDK release the EAL arguments are spelled for: `USERSPACE_OPTION_DPDK_VERSION` if the
/// program set it, else `$USERSPACE_DPDK_VERSION`, `pkg-config --modversion libdpdk`, or the
/// ABI of the installed `librte_eal.so` (found once, then remembered). Any out pointer may be
/// NULL. `USERSPACE_STATUS_DPDK_VERSION` when it cannot be told or is older than 18.11.
///
/// # Safety
/// `view` must be NULL or live; each out pointer NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_dpdk_version(
    view: *const UserspaceView,
    major: *mut u32,
    minor: *mut u32,
    patch: *mut u32,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        let (ver, _) = v.dpdk()?;
        for (out, val) in [(major, ver.major), (minor, ver.minor), (patch, ver.patch)] {
            // SAFETY: each pointer is NULL or writable, as the caller promises.
            if let Some(o) = unsafe { out.as_mut() } {
                *o = val;
            }
        }
        Ok(())
    })
}

/// How the DPDK version was found (`set by the program (DPDK 22.11.4)`, `pkg-config
/// --modversion libdpdk`…), or NULL when it cannot be told (the error is recorded).
///
/// # Safety
/// `view` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_dpdk_version_source(
    view: *const UserspaceView,
) -> *const c_char {
    on_view(view, std::ptr::null(), |v| Ok(v.dpdk()?.1.as_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use userspace_cni_sdk::dpdk::{DpdkVersion, EalBuilder};
    use userspace_cni_sdk::interfaces::{Merger, Observation, Report};

    /// The device names handed to C match the `--vdev` / `-a` arguments the SDK's builder makes.
    #[test]
    fn device_names_follow_the_eal_builders_numbering() {
        let mut m = Merger::new();
        let sock = |n: &str| Observation::SocketPath(format!("/s/{n}").into());
        for (name, kind, extra) in [
            ("net1", InterfaceKind::VhostUser, sock("a")),
            ("net2", InterfaceKind::Memif, sock("b")),
            (
                "net3",
                InterfaceKind::Pci,
                Observation::PciAddress("0000:03:00.1".parse().expect("bdf")),
            ),
            (
                "net4",
                InterfaceKind::Vdpa,
                Observation::VdpaPath("/dev/vhost-vdpa-0".into()),
            ),
            ("net5", InterfaceKind::VhostUser, sock("c")),
            ("net6", InterfaceKind::Memif, sock("d")),
        ] {
            m.add(Report {
                interface: name.into(),
                source: Source::ConfigurationData,
                facts: vec![Observation::Kind(kind), extra],
            });
        }
        let (ifaces, _) = m.finish();
        let eal = EalBuilder::new(DpdkVersion::new(22, 11, 0))
            .with_interfaces(&ifaces)
            .build()
            .expect("eal");
        let mut from_builder: Vec<String> = Vec::new();
        let mut words = eal.eal.iter();
        while let Some(w) = words.next() {
            if let Some(d) = w.strip_prefix("--vdev=") {
                from_builder.push(d.split(',').next().unwrap_or_default().to_owned());
            } else if w == "-a" {
                from_builder.push(words.next().cloned().unwrap_or_default());
            }
        }
        let mut ours: Vec<String> = dpdk_devices(&ifaces).into_iter().flatten().collect();
        // The builder lists PCI devices after the vdevs; compare as sets of names.
        ours.sort();
        from_builder.sort();
        assert_eq!(ours, from_builder);
        assert_eq!(
            dpdk_devices(&ifaces),
            [
                Some("net_virtio_user0".to_owned()),
                Some("net_memif0".to_owned()),
                Some("0000:03:00.1".to_owned()),
                Some("net_virtio_user1".to_owned()),
                Some("net_virtio_user2".to_owned()),
                Some("net_memif1".to_owned()),
            ]
        );
    }
}
