//! What the pod may use: CPUs (affinity ∩ cgroup cpuset), hugepages (hugetlbfs mounts,
//! hugetlb cgroup limits, free pages) and the NUMA node. Every path is read below [`Roots`] so
//! that fixture trees stand in for a real pod.

pub mod cpus;
pub mod cpuset;
pub mod hugepages;
pub mod numa;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use cpus::Cpus;
pub use hugepages::Hugepages;

use crate::procfs::{cgroup, mountinfo};

/// Where `/proc` and `/sys` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// `/proc`.
    pub proc: PathBuf,
    /// `/sys`.
    pub sys: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self::new("/proc", "/sys")
    }
}

impl Roots {
    /// Roots from two paths.
    pub fn new(proc: impl Into<PathBuf>, sys: impl Into<PathBuf>) -> Self {
        Self {
            proc: proc.into(),
            sys: sys.into(),
        }
    }

    /// Maps an absolute path seen in mountinfo into these roots (`/sys/…` → `<sys>/…`).
    pub fn host_path(&self, p: &Path) -> PathBuf {
        if let Ok(rest) = p.strip_prefix("/sys") {
            return self.sys.join(rest);
        }
        if let Ok(rest) = p.strip_prefix("/proc") {
            return self.proc.join(rest);
        }
        p.to_owned()
    }
}

/// A resource file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Unreadable file.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Malformed mountinfo.
    #[error("{path}")]
    MountInfo {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: mountinfo::MountInfoError,
    },
    /// Malformed cgroup file.
    #[error("{path}")]
    Cgroup {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: cgroup::CgroupError,
    },
    /// Malformed status file.
    #[error(transparent)]
    Status(#[from] crate::procfs::status::StatusError),
    /// A value in a file that is not what the kernel writes.
    #[error("{path}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads an optional file: `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ResourceError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ResourceError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// CPUs, hugepages and NUMA node of this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resources {
    /// CPUs.
    pub cpus: Cpus,
    /// Hugepages.
    pub hugepages: Hugepages,
    /// NUMA node of the first usable CPU.
    pub numa_node: Option<u32>,
}

impl Resources {
    /// Reads mountinfo, cgroup and status of `self`, and sysfs.
    pub fn discover(roots: &Roots) -> Result<Self, ResourceError> {
        let mi_path = roots.proc.join("self/mountinfo");
        let mounts = match read_optional(&mi_path)? {
            Some(t) => mountinfo::parse(&t).map_err(|source| ResourceError::MountInfo {
                path: mi_path,
                source,
            })?,
            None => Vec::new(),
        };
        let cg_path = roots.proc.join("self/cgroup");
        let entries = match read_optional(&cg_path)? {
            Some(t) => cgroup::parse(&t).map_err(|source| ResourceError::Cgroup {
                path: cg_path,
                source,
            })?,
            None => Vec::new(),
        };
        let cpus = Cpus::discover(roots, &mounts, &entries)?;
        let hugepages = Hugepages::discover(roots, &mounts, &entries)?;
        let numa_node = numa::numa_node_of_cpus(&roots.sys, &cpus.usable);
        Ok(Self {
            cpus,
            hugepages,
            numa_node,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Roots {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/resources")
            .join(name);
        Roots::new(base.join("proc"), base.join("sys"))
    }

    #[test]
    fn a_guaranteed_pod_on_cgroup_v2_gets_its_cpuset_and_hugepage_limit() {
        let r = Resources::discover(&fixture("cgroup-v2-pod")).unwrap();
        assert_eq!(r.cpus.usable.to_string(), "2-3");
        assert_eq!(
            r.hugepages.usable_bytes(),
            Some(512 << 20),
            "limited by hugetlb.2MB.max"
        );
        assert_eq!(r.numa_node, Some(0));
    }

    #[test]
    fn a_cgroup_v1_pod_reads_the_cpuset_and_hugetlb_hierarchies() {
        let r = Resources::discover(&fixture("cgroup-v1-pod")).unwrap();
        assert_eq!(r.cpus.usable.to_string(), "4,6");
        assert!(r.cpus.source.contains("cgroup v1"), "{}", r.cpus.source);
        assert_eq!(
            r.hugepages.usable_bytes(),
            Some(2 << 30),
            "two free 1G pages, limit 4G"
        );
    }

    #[test]
    fn a_pod_without_hugepages_has_none_usable() {
        let r = Resources::discover(&fixture("no-hugepages")).unwrap();
        assert!(!r.hugepages.has_hugepages());
        assert_eq!(r.hugepages.usable_bytes(), None);
        assert_eq!(r.cpus.usable.to_string(), "0-7");
    }

    #[test]
    fn sys_and_proc_paths_map_into_the_roots() {
        let r = Roots::new("/fx/proc", "/fx/sys");
        assert_eq!(
            r.host_path(Path::new("/sys/fs/cgroup/cpuset.cpus")),
            PathBuf::from("/fx/sys/fs/cgroup/cpuset.cpus")
        );
        assert_eq!(
            r.host_path(Path::new("/dev/hugepages")),
            PathBuf::from("/dev/hugepages")
        );
    }
}
