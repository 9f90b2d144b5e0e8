//! NUMA node of the CPUs and of PCI devices, from sysfs.

use std::path::Path;

use super::cpuset::CpuSet;

/// The node whose `cpulist` holds the first usable CPU.
pub fn numa_node_of_cpus(sys_root: &Path, cpus: &CpuSet) -> Option<u32> {
    let first = cpus.first()?;
    let dir = std::fs::read_dir(sys_root.join("devices/system/node")).ok()?;
    dir.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let n: u32 = name.strip_prefix("node")?.parse().ok()?;
        let list: CpuSet = std::fs::read_to_string(e.path().join("cpulist"))
            .ok()?
            .parse()
            .ok()?;
        list.contains(first).then_some(n)
    })
}

/// A PCI device's node (`-1`, unknown, is `None`).
pub fn numa_node_of_pci(sys_root: &Path, bdf: &str) -> Option<i32> {
    let t = std::fs::read_to_string(sys_root.join("bus/pci/devices").join(bdf).join("numa_node"))
        .ok()?;
    t.trim().parse().ok().filter(|n: &i32| *n >= 0)
}
