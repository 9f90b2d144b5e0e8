//! Usable CPUs: the affinity mask intersected with the cgroup cpuset.

use std::path::PathBuf;

use serde::Serialize;

use super::cpuset::CpuSet;
use super::{ResourceError, Roots, read_optional};
use crate::procfs::cgroup::{self, CgroupEntry, CgroupVersion};
use crate::procfs::mountinfo::MountInfo;
use crate::procfs::status;

/// The CPUs this process may run on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cpus {
    /// Affinity ∩ cgroup (whichever are known).
    pub usable: CpuSet,
    /// `Cpus_allowed_list`.
    pub affinity: Option<CpuSet>,
    /// The cgroup's effective cpuset.
    pub cgroup: Option<CpuSet>,
    /// Which files decided.
    pub source: String,
}

impl Cpus {
    /// Reads affinity and the cgroup cpuset.
    pub fn discover(
        roots: &Roots,
        mounts: &[MountInfo],
        entries: &[CgroupEntry],
    ) -> Result<Self, ResourceError> {
        let affinity = match status::cpus_allowed(&roots.proc) {
            Ok(s) => Some(s),
            Err(status::StatusError::Io { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let cgroup = cgroup_cpuset(roots, mounts, entries)?;
        let (usable, source) = match (&affinity, &cgroup) {
            (Some(a), Some((c, p))) => (a.intersection(c), format!("affinity ∩ {p}")),
            (Some(a), None) => (a.clone(), "affinity (Cpus_allowed_list)".to_owned()),
            (None, Some((c, p))) => (c.clone(), p.clone()),
            (None, None) => (CpuSet::from_iter([0]), "unknown: assuming CPU 0".to_owned()),
        };
        Ok(Self {
            usable,
            affinity,
            cgroup: cgroup.map(|(c, _)| c),
            source,
        })
    }
}

fn cgroup_cpuset(
    roots: &Roots,
    mounts: &[MountInfo],
    entries: &[CgroupEntry],
) -> Result<Option<(CpuSet, String)>, ResourceError> {
    let Some((version, dir)) = cgroup::controller_dir(mounts, entries, "cpuset") else {
        return Ok(None);
    };
    let mut dir = roots.host_path(&dir);
    let files: &[&str] = match version {
        CgroupVersion::V2 => &["cpuset.cpus.effective"],
        CgroupVersion::V1 => &["cpuset.effective_cpus", "cpuset.cpus"],
    };
    // An empty cpuset in v2 means "inherit": walk up to the first non-empty parent.
    let sys_root = roots.sys.join("fs/cgroup");
    loop {
        for f in files {
            let path: PathBuf = dir.join(f);
            if let Some(text) = read_optional(&path)? {
                let set: CpuSet =
                    text.parse()
                        .map_err(|e: super::cpuset::CpuSetError| ResourceError::Value {
                            path: path.clone(),
                            message: e.to_string(),
                        })?;
                if !set.is_empty() {
                    let v = if version == CgroupVersion::V2 {
                        "cgroup v2"
                    } else {
                        "cgroup v1"
                    };
                    return Ok(Some((set, format!("{v} {}", path.display()))));
                }
            }
        }
        if dir == sys_root || !dir.pop() || !dir.starts_with(&sys_root) {
            return Ok(None);
        }
    }
}
