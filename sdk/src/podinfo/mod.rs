//! What Kubernetes tells the pod about itself: the downward-API volume (annotations, labels,
//! hugepage request/limit files) and the SR-IOV device plugin's `PCIDEVICE_*` variables.

pub mod downward;
pub mod pcidevice;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The downward-API directory's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodInfo {
    /// `annotations` file.
    pub annotations: BTreeMap<String, String>,
    /// `labels` file.
    pub labels: BTreeMap<String, String>,
    /// Files whose name starts with `hugepages` (resourceFieldRef of hugepage requests and
    /// limits, e.g. `hugepages_2M_limit_app`), as integers in the divisor the pod chose.
    pub hugepage_files: BTreeMap<String, u64>,
}

/// A downward-API file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PodInfoError {
    /// Unreadable.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Malformed.
    #[error("{path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (line, key, column).
        #[source]
        source: downward::DownwardError,
    },
    /// A hugepage file without an integer.
    #[error("{path}: expected an integer, found {found:?}")]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: String,
    },
}

impl PodInfo {
    /// Reads a downward-API directory; missing files are empty.
    pub fn read_dir(dir: &Path) -> Result<Self, PodInfoError> {
        let mut info = Self {
            annotations: read_map(&dir.join("annotations"))?,
            labels: read_map(&dir.join("labels"))?,
            hugepage_files: BTreeMap::new(),
        };
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with("hugepages") {
                    continue;
                }
                let path = e.path();
                let text = fs::read_to_string(&path).map_err(|source| PodInfoError::Io {
                    path: path.clone(),
                    source,
                })?;
                let n = text.trim().parse().map_err(|_| PodInfoError::NotANumber {
                    path: path.clone(),
                    found: text.trim().to_owned(),
                })?;
                info.hugepage_files.insert(name, n);
            }
        }
        Ok(info)
    }
}

fn read_map(path: &Path) -> Result<BTreeMap<String, String>, PodInfoError> {
    match fs::read_to_string(path) {
        Ok(text) => downward::parse(&text).map_err(|source| PodInfoError::Parse {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(PodInfoError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_annotations_labels_and_hugepage_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("annotations"),
            include_str!("../../tests/fixtures/podinfo/annotations"),
        )
        .unwrap();
        fs::write(
            d.path().join("labels"),
            "app=\"dpdk\"\npod-template-hash=\"7d9f\"",
        )
        .unwrap();
        fs::write(d.path().join("hugepages_2M_limit_app"), "512\n").unwrap();
        let info = PodInfo::read_dir(d.path()).unwrap();
        assert!(
            info.annotations
                .contains_key("userspace/configuration-data")
        );
        assert_eq!(info.labels["app"], "dpdk");
        assert_eq!(info.hugepage_files["hugepages_2M_limit_app"], 512);
    }

    #[test]
    fn a_missing_directory_is_empty_pod_info() {
        assert_eq!(
            PodInfo::read_dir(Path::new("/nonexistent/podinfo")).unwrap(),
            PodInfo::default()
        );
    }

    #[test]
    fn a_malformed_file_names_its_path_and_line() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("annotations"), "a=\"1\"\nb=\"unterminated").unwrap();
        let e = PodInfo::read_dir(d.path()).unwrap_err();
        assert!(
            e.to_string().ends_with("annotations"),
            "the path, without its cause: {e}"
        );
        let e = crate::error_chain(&e);
        assert!(e.contains("annotations") && e.contains("line 2"), "{e}");
    }
}
