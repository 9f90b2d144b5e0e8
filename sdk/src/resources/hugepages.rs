//! Hugepages the process can use: hugetlbfs mounts, hugetlb cgroup limits (v1
//! `hugetlb.<size>.limit_in_bytes`, v2 `hugetlb.<size>.max`) and free pages in sysfs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use super::{ResourceError, Roots, read_optional};
use crate::procfs::cgroup::{self, CgroupEntry, CgroupVersion};
use crate::procfs::mountinfo::MountInfo;

/// A hugepage size in bytes, parsed from `2M`, `1G`, `2048kB` or `hugepages-2048kB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HugepageSize {
    /// Bytes.
    pub bytes: u64,
}

impl FromStr for HugepageSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches("hugepages-");
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let n: u64 = n.parse().map_err(|_| format!("bad hugepage size {s:?}"))?;
        let mult = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1 << 10,
            "m" | "mb" => 1 << 20,
            "g" | "gb" => 1 << 30,
            _ => return Err(format!("bad hugepage size unit in {s:?}")),
        };
        Ok(Self { bytes: n * mult })
    }
}

impl HugepageSize {
    /// The cgroup file spelling (`2MB`, `1GB`).
    pub fn cgroup_name(&self) -> String {
        if self.bytes >= 1 << 30 {
            format!("{}GB", self.bytes >> 30)
        } else if self.bytes >= 1 << 20 {
            format!("{}MB", self.bytes >> 20)
        } else {
            format!("{}KB", self.bytes >> 10)
        }
    }
}

/// A hugetlbfs mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HugetlbfsMount {
    /// Where it is mounted.
    pub path: PathBuf,
    /// Its page size, when the mount says.
    pub page_size: Option<u64>,
}

/// A hugetlb cgroup limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HugetlbLimit {
    /// Page size.
    pub page_size: u64,
    /// Limit in bytes; `None` = unlimited.
    pub limit_bytes: Option<u64>,
    /// The file read.
    pub file: PathBuf,
}

/// Free and total pages of one size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreePages {
    /// Page size.
    pub page_size: u64,
    /// Free pages.
    pub free: u64,
    /// All pages.
    pub total: u64,
}

/// Hugepage facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hugepages {
    /// hugetlbfs mounts.
    pub mounts: Vec<HugetlbfsMount>,
    /// cgroup limits.
    pub limits: Vec<HugetlbLimit>,
    /// Free pages per size.
    pub free_pages: Vec<FreePages>,
    /// The system's default hugepage size.
    pub default_size: Option<u64>,
}

/// v1 reports "no limit" as the largest page-aligned i64.
const V1_UNLIMITED: u64 = 1 << 62;

impl Hugepages {
    /// Reads mounts, limits and sysfs.
    pub fn discover(
        roots: &Roots,
        mounts: &[MountInfo],
        entries: &[CgroupEntry],
    ) -> Result<Self, ResourceError> {
        let hmounts: Vec<HugetlbfsMount> = mounts
            .iter()
            .filter(|m| m.fs_type == "hugetlbfs")
            .map(|m| HugetlbfsMount {
                path: m.mount_point.clone(),
                page_size: m
                    .super_option("pagesize")
                    .and_then(|p| p.parse::<HugepageSize>().ok())
                    .map(|s| s.bytes),
            })
            .collect();
        let mut free_pages = Vec::new();
        let hp_dir = roots.sys.join("kernel/mm/hugepages");
        if let Ok(dir) = std::fs::read_dir(&hp_dir) {
            let mut names: Vec<_> = dir
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let Ok(size) = name.parse::<HugepageSize>() else {
                    continue;
                };
                let free = read_u64(&hp_dir.join(&name).join("free_hugepages"))?.unwrap_or(0);
                let total = read_u64(&hp_dir.join(&name).join("nr_hugepages"))?.unwrap_or(0);
                free_pages.push(FreePages {
                    page_size: size.bytes,
                    free,
                    total,
                });
            }
        }
        let mut limits = Vec::new();
        if let Some((version, dir)) = cgroup::controller_dir(mounts, entries, "hugetlb") {
            let dir = roots.host_path(&dir);
            for fp in &free_pages {
                let size = HugepageSize {
                    bytes: fp.page_size,
                };
                let file = match version {
                    CgroupVersion::V1 => {
                        dir.join(format!("hugetlb.{}.limit_in_bytes", size.cgroup_name()))
                    }
                    CgroupVersion::V2 => dir.join(format!("hugetlb.{}.max", size.cgroup_name())),
                };
                if let Some(text) = read_optional(&file)? {
                    let t = text.trim();
                    let limit_bytes = if t == "max" {
                        None
                    } else {
                        let n: u64 = t.parse().map_err(|_| ResourceError::Value {
                            path: file.clone(),
                            message: format!("{t:?} is not a byte count"),
                        })?;
                        (n < V1_UNLIMITED).then_some(n)
                    };
                    limits.push(HugetlbLimit {
                        page_size: fp.page_size,
                        limit_bytes,
                        file,
                    });
                }
            }
        }
        let default_size = read_optional(&roots.proc.join("meminfo"))?.and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Hugepagesize:"))
                .and_then(|v| {
                    v.split_whitespace()
                        .collect::<String>()
                        .parse::<HugepageSize>()
                        .ok()
                })
                .map(|s| s.bytes)
        });
        Ok(Self {
            mounts: hmounts,
            limits,
            free_pages,
            default_size,
        })
    }

    /// Whether DPDK can use hugepages at all.
    pub fn has_hugepages(&self) -> bool {
        self.usable_bytes().is_some()
    }

    /// The page size DPDK will use: the first mount's, else the default size.
    pub fn page_size(&self) -> Option<u64> {
        self.mounts
            .iter()
            .find_map(|m| m.page_size)
            .or(self.default_size)
            .or_else(|| self.free_pages.first().map(|f| f.page_size))
    }

    /// Bytes of hugepages available: free pages of the mount's size, capped by the cgroup
    /// limit. `None` without a mount, without free pages, or with a zero limit.
    pub fn usable_bytes(&self) -> Option<u64> {
        if self.mounts.is_empty() {
            return None;
        }
        let size = self.page_size()?;
        let free = self.free_pages.iter().find(|f| f.page_size == size)?.free * size;
        let limit = self
            .limits
            .iter()
            .find(|l| l.page_size == size)
            .and_then(|l| l.limit_bytes);
        let bytes = limit.map_or(free, |l| l.min(free));
        (bytes > 0).then_some(bytes)
    }
}

fn read_u64(path: &Path) -> Result<Option<u64>, ResourceError> {
    read_optional(path)?
        .map(|t| {
            t.trim().parse().map_err(|_| ResourceError::Value {
                path: path.to_owned(),
                message: format!("{:?} is not a number", t.trim()),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_every_spelling() {
        for (s, b) in [
            ("2M", 2 << 20),
            ("1G", 1 << 30),
            ("2048kB", 2 << 20),
            ("hugepages-1048576kB", 1 << 30),
            ("1024M", 1 << 30),
        ] {
            assert_eq!(s.parse::<HugepageSize>().unwrap().bytes, b, "{s}");
        }
        assert_eq!(HugepageSize { bytes: 2 << 20 }.cgroup_name(), "2MB");
        assert_eq!(HugepageSize { bytes: 1 << 30 }.cgroup_name(), "1GB");
    }

    #[test]
    fn a_zero_limit_means_no_hugepages() {
        let h = Hugepages {
            mounts: vec![HugetlbfsMount {
                path: "/dev/hugepages".into(),
                page_size: Some(2 << 20),
            }],
            limits: vec![HugetlbLimit {
                page_size: 2 << 20,
                limit_bytes: Some(0),
                file: "x".into(),
            }],
            free_pages: vec![FreePages {
                page_size: 2 << 20,
                free: 100,
                total: 100,
            }],
            default_size: None,
        };
        assert_eq!(h.usable_bytes(), None);
    }
}
