//! # userspace-cni-sdk
//!
//! Everything a pod's DPDK or VPP program needs to use the userspace interfaces that the
//! `userspace` CNI plugin gave it, and everything the plugin itself writes:
//!
//! - [`wire`]: the wire formats (NetConf, pod annotations, NPWG device-info, CNI results, legacy
//!   per-port files) as serde types;
//! - [`container_id`]: which container (pod sandbox) we are, from mountinfo;
//! - [`limits`]: kernel limits on names, such as [`MAX_SOCKET_PATH`];
//! - [`report`]: the human-readable report of a discovered pod;
//! - [`shared_files`]: the names of the files and sockets in the shared directory;
//! - [`podinfo`]: the downward-API annotations file and the SR-IOV `PCIDEVICE_*` variables;
//! - [`resources`]: usable CPUs, hugepages and NUMA node from affinity, cgroups v1/v2 and sysfs;
//! - `interfaces`: one merged, typed view of the pod's interfaces with the source of each fact;
//! - [`dpdk`]: detection of the installed DPDK and the EAL / testpmd argument builder.
//!
//! The C API over all this (`libuserspace_cni`, header `userspace_cni.h`) is the separate
//! crate `userspace-cni-sdk-ffi` in `sdk-ffi/`, so that Rust users of the SDK do not build it.
#![deny(missing_docs)]

pub mod container_id;
pub mod discovery;
pub mod dpdk;
pub mod interfaces;
pub mod limits;
pub mod mac;
pub mod podinfo;
pub mod procfs;
pub mod report;
pub mod resources;
pub mod shared_files;
pub mod vpp;
pub mod wire;

pub use limits::MAX_SOCKET_PATH;
pub use mac::MacAddr;

/// An error and its causes on one line, `outer: cause: root`. The SDK's errors leave their
/// cause out of their own message (it is their `source()`), so a caller that wants the
/// whole story as text, not through `anyhow`'s `{:#}`, formats it with this.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
