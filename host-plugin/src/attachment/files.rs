//! The state directory's files: its error type, its creation, and the atomic replacement
//! every state file is written with.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// State-store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Filesystem error on a named path.
    #[error("{what} {}", path.display())]
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
    #[error("state file {} is corrupt", path.display())]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.to_owned(),
            source,
        }
    }
}

/// Creates the state directory (0700) if needed.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::io("cannot create state directory", dir, source))
}

/// Replaces `path` atomically through `<path>.tmp` (a fixed name, so a replay after a kill
/// finds and removes it), mode 0600 whatever the umask.
pub fn write_replacing(path: &Path, bytes: &[u8], durable: bool) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |what, source| StoreError::io(what, &tmp, source);
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| io("cannot create", e))?;
    f.write_all(bytes).map_err(|e| io("cannot write", e))?;
    if durable {
        f.sync_all().map_err(|e| io("cannot sync", e))?;
    }
    fs::rename(&tmp, path).map_err(|source| StoreError::io("cannot rename into", path, source))
}
