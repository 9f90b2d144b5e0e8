//! `/proc/self/cgroup` and where a controller's files are, for cgroup v1, v2 and hybrid hosts.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::mountinfo::MountInfo;

/// One line of `/proc/self/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupEntry {
    /// Hierarchy ID (0 for the v2 unified hierarchy).
    pub hierarchy_id: u32,
    /// Controllers (empty for v2).
    pub controllers: Vec<String>,
    /// Path of the cgroup in the hierarchy.
    pub path: String,
}

/// cgroup version of a controller's hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CgroupVersion {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// A malformed `/proc/self/cgroup` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cgroup line {line}: {text:?} is not ID:CONTROLLERS:PATH")]
pub struct CgroupError {
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
}

/// Parses `/proc/self/cgroup`.
pub fn parse(text: &str) -> Result<Vec<CgroupEntry>, CgroupError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let err = || CgroupError {
                line: i + 1,
                text: l.to_owned(),
            };
            let mut it = l.splitn(3, ':');
            let id = it.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
            let ctrl = it.next().ok_or_else(err)?;
            let path = it.next().ok_or_else(err)?;
            Ok(CgroupEntry {
                hierarchy_id: id,
                controllers: ctrl
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// The directory holding `controller`'s files for this process: a v1 hierarchy that has the
/// controller, else the v2 unified one. The directory is the mount point plus the cgroup path
/// relative to the mount's root (inside a cgroup namespace both are usually `/`).
pub fn controller_dir(
    mounts: &[MountInfo],
    entries: &[CgroupEntry],
    controller: &str,
) -> Option<(CgroupVersion, PathBuf)> {
    let v1 = entries
        .iter()
        .find(|e| e.controllers.iter().any(|c| c == controller))
        .and_then(|e| {
            let m = mounts.iter().find(|m| {
                m.fs_type == "cgroup" && m.super_options.split(',').any(|o| o == controller)
            })?;
            Some((CgroupVersion::V1, join_cgroup(m, &e.path)))
        });
    v1.or_else(|| {
        let e = entries
            .iter()
            .find(|e| e.hierarchy_id == 0 && e.controllers.is_empty())?;
        let m = mounts.iter().find(|m| m.fs_type == "cgroup2")?;
        Some((CgroupVersion::V2, join_cgroup(m, &e.path)))
    })
}

fn join_cgroup(m: &MountInfo, path: &str) -> PathBuf {
    let rel = Path::new(path)
        .strip_prefix(&m.root)
        .unwrap_or(Path::new(path));
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    m.mount_point.join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::mountinfo;

    #[test]
    fn v1_and_v2_lines_are_parsed() {
        let e = parse("12:cpuset:/kubepods/pod1/abc\n3:cpu,cpuacct:/kubepods\n0::/\n").unwrap();
        assert_eq!(e[0].controllers, ["cpuset"]);
        assert_eq!(e[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            (
                e[2].hierarchy_id,
                e[2].controllers.is_empty(),
                e[2].path.as_str()
            ),
            (0, true, "/")
        );
        assert!(parse("garbage").is_err());
    }

    #[test]
    fn the_controller_dir_is_the_mount_plus_the_path_below_its_root() {
        let mounts = mountinfo::parse(
            "30 25 0:33 /kubepods/pod1 /sys/fs/cgroup/cpuset ro - cgroup cgroup rw,cpuset\n\
             31 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw",
        )
        .unwrap();
        let entries = parse("4:cpuset:/kubepods/pod1/abc\n0::/system.slice/x").unwrap();
        assert_eq!(
            controller_dir(&mounts, &entries, "cpuset"),
            Some((
                CgroupVersion::V1,
                PathBuf::from("/sys/fs/cgroup/cpuset/abc")
            ))
        );
        assert_eq!(
            controller_dir(&mounts, &entries, "hugetlb"),
            Some((
                CgroupVersion::V2,
                PathBuf::from("/sys/fs/cgroup/unified/system.slice/x")
            ))
        );
    }
}
