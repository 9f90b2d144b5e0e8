//! `/proc/self/status`: the CPU affinity list (`Cpus_allowed_list`), which is what
//! sched_getaffinity returns, readable from a fixture tree.

use std::path::{Path, PathBuf};

use crate::resources::cpuset::{CpuSet, CpuSetError};

/// `status` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Unreadable.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No `Cpus_allowed_list:` line.
    #[error("{0}: no Cpus_allowed_list line")]
    Missing(PathBuf),
    /// A malformed list.
    #[error("{path}: Cpus_allowed_list")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: CpuSetError,
    },
}

/// The affinity list of `<proc_root>/self/status`.
pub fn cpus_allowed(proc_root: &Path) -> Result<CpuSet, StatusError> {
    let path = proc_root.join("self/status");
    let text = std::fs::read_to_string(&path).map_err(|source| StatusError::Io {
        path: path.clone(),
        source,
    })?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .ok_or_else(|| StatusError::Missing(path.clone()))?;
    line.trim()
        .parse()
        .map_err(|source| StatusError::Parse { path, source })
}
