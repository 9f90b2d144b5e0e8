//! Per-attachment state: what ADD did, so that DEL can undo exactly that even when the
//! config or the switch changed since. Written atomically (temp file + rename) while holding
//! a per-attachment lock, so concurrent verbs on the same attachment serialise.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// What ADD created for one (container, ifname).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// Network name.
    pub network: String,
    /// `ovs-dpdk` or `vpp`.
    pub engine: String,
    /// Bridge the port was added to.
    pub bridge: String,
    /// Whether this ADD created the bridge.
    pub bridge_created: bool,
    /// Switch port name.
    pub port: String,
    /// Socket path on the host.
    pub socket: PathBuf,
    /// A short bind-mounted alias of the shared directory used for the switch's socket path
    /// when the real path exceeds the unix socket limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<PathBuf>,
    /// The Kubernetes pod (`namespace/name`) whose annotation has this attachment's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Whether the socket is a bind mount of OVS's own socket (EXDEV fallback).
    #[serde(default)]
    pub socket_bind_mounted: bool,
    /// What ADD did on VPP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpp: Option<crate::vpp::VppAttached>,
    /// The host shared directory.
    pub shared_dir: PathBuf,
    /// Whether the plugin created the shared directory (then DEL removes it when empty).
    pub shared_dir_created: bool,
    /// Files written for the pod (removed by DEL).
    pub files: Vec<PathBuf>,
    /// IPAM plugin type, when IPAM ran.
    pub ipam: Option<String>,
    /// The result returned by ADD (for CHECK).
    pub result: serde_json::Value,
}

/// State-store failures.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Filesystem error on a named path.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file that is not ours or is corrupt.
    #[error("state file {path} is corrupt")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// An exclusive lock on one attachment, released on drop.
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

impl Store {
    /// A store rooted at `dir` (created on first use, mode 0700).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|source| StateError::Io {
                what: "cannot create state directory",
                path: self.dir.clone(),
                source,
            })
    }

    fn path(&self, container_id: &str, ifname: &str) -> PathBuf {
        self.dir.join(format!("{container_id}-{ifname}.json"))
    }

    /// Takes the attachment's lock (blocking).
    pub fn lock(&self, container_id: &str, ifname: &str) -> Result<Lock, StateError> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{container_id}-{ifname}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StateError::Io {
                what: "cannot open lock file",
                path: path.clone(),
                source,
            })?;
        let flock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StateError::Io {
                what: "cannot lock",
                path,
                source: e.into(),
            })?;
        Ok(Lock { _flock: flock })
    }

    /// Reads an attachment's state, `None` when there is none.
    pub fn load(&self, container_id: &str, ifname: &str) -> Result<Option<Attachment>, StateError> {
        let path = self.path(container_id, ifname);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StateError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                what: "cannot read state file",
                path,
                source,
            }),
        }
    }

    /// Writes an attachment's state atomically.
    pub fn save(&self, a: &Attachment) -> Result<(), StateError> {
        self.ensure_dir()?;
        let path = self.path(&a.container_id, &a.ifname);
        let tmp = path.with_extension("json.tmp");
        let io = |what, source| StateError::Io {
            what,
            path: tmp.clone(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(a).map_err(|source| StateError::Corrupt {
            path: path.clone(),
            source,
        })?;
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io("cannot create", e))?;
            f.write_all(&bytes).map_err(|e| io("cannot write", e))?;
            f.sync_all().map_err(|e| io("cannot sync", e))?;
        }
        fs::rename(&tmp, &path).map_err(|source| StateError::Io {
            what: "cannot rename into",
            path,
            source,
        })
    }

    /// Removes an attachment's state and lock file; missing files are fine.
    pub fn remove(&self, container_id: &str, ifname: &str) -> Result<(), StateError> {
        for path in [
            self.path(container_id, ifname),
            self.dir.join(format!("{container_id}-{ifname}.lock")),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StateError::Io {
                        what: "cannot remove",
                        path,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Every attachment with state (for GC).
    pub fn list(&self) -> Result<Vec<Attachment>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Io {
                    what: "cannot list",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut v = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let bytes = fs::read(&p).map_err(|source| StateError::Io {
                    what: "cannot read",
                    path: p.clone(),
                    source,
                })?;
                v.push(
                    serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
                        path: p.clone(),
                        source,
                    })?,
                );
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Attachment {
        Attachment {
            container_id: "abc".into(),
            ifname: "net1".into(),
            network: "n".into(),
            engine: "ovs-dpdk".into(),
            bridge: "br0".into(),
            bridge_created: true,
            port: "abc-net1".into(),
            socket: "/s/abc-net1".into(),
            alias: None,
            pod: None,
            socket_bind_mounted: false,
            vpp: None,
            shared_dir: "/s".into(),
            shared_dir_created: false,
            files: vec!["/s/configData-abc-net1.json".into()],
            ipam: Some("host-local".into()),
            result: serde_json::json!({"cniVersion": "1.0.0"}),
        }
    }

    #[test]
    fn saved_state_loads_back_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"));
        s.save(&sample()).unwrap();
        assert_eq!(s.load("abc", "net1").unwrap(), Some(sample()));
        let mode = fs::metadata(d.path().join("state/abc-net1.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.list().unwrap().len(), 1);
    }

    #[test]
    fn removing_twice_is_fine_and_missing_state_is_none() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        s.save(&sample()).unwrap();
        s.remove("abc", "net1").unwrap();
        s.remove("abc", "net1").unwrap();
        assert_eq!(s.load("abc", "net1").unwrap(), None);
    }

    #[test]
    fn a_corrupt_state_file_is_reported_with_its_path() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        fs::write(d.path().join("abc-net1.json"), "{not json").unwrap();
        let e = s.load("abc", "net1").unwrap_err();
        assert!(e.to_string().contains("abc-net1.json"), "{e}");
    }
}
