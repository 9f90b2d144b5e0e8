//! Claims on the names several attachments could derive alike: the stem of the short names
//! (port, socket, files, alias: all use the 12-character ID prefix), a socket path, and the
//! per-container shared directory. A claim is a small file under `<stateDir>/claims/` naming
//! its owner; it is taken and released under the state directory's lock, so checking and
//! taking cannot interleave with another invocation.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fnv1a64;
use super::journal::StoreError;

/// A name that may be claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum ClaimName {
    /// The stem of an attachment's short names; exclusive to one attachment.
    Stem(String),
    /// A socket path on the host; exclusive to one attachment.
    Socket(PathBuf),
    /// A per-container shared directory the plugin made; shared by that container's
    /// attachments, removed when the last of them leaves.
    Dir(PathBuf),
}

impl ClaimName {
    fn file_name(&self) -> String {
        let (kind, value) = match self {
            Self::Stem(s) => ("stem", s.as_bytes()),
            Self::Socket(p) => ("socket", p.as_os_str().as_encoded_bytes()),
            Self::Dir(p) => ("dir", p.as_os_str().as_encoded_bytes()),
        };
        format!("{kind}-{:016x}.json", fnv1a64(value))
    }
}

/// What a claim file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claim {
    name: ClaimName,
    /// Who may hold it: an attachment key, or a container ID for a directory.
    owner: String,
    /// The attachments holding it now.
    holders: BTreeSet<String>,
}

/// The claims of one state directory. Every call must be made under its
/// [`super::lock::DirectoryLock`].
#[derive(Debug, Clone)]
pub struct Claims {
    dir: PathBuf,
}

/// The outcome of [`Claims::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The name is this owner's now.
    Yes,
    /// Another owner holds it.
    ByOther(String),
}

impl Claims {
    /// The claims under `<state_dir>/claims`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("claims"),
        }
    }

    fn read(&self, name: &ClaimName) -> Result<Option<Claim>, StoreError> {
        let path = self.dir.join(name.file_name());
        match fs::read(&path) {
            Ok(b) => match serde_json::from_slice::<Claim>(&b) {
                Ok(c) if &c.name == name => Ok(Some(c)),
                // Another name with the same hash: treat as taken, never overwrite it.
                Ok(c) => Ok(Some(Claim {
                    owner: format!("{} (hash collision)", c.owner),
                    ..c
                })),
                Err(source) => Err(StoreError::Corrupt { path, source }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::io("cannot read claim", &path, source)),
        }
    }

    fn write(&self, c: &Claim) -> Result<(), StoreError> {
        super::lock::ensure_dir(&self.dir)?;
        let path = self.dir.join(c.name.file_name());
        let bytes = serde_json::to_vec(c).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        super::journal::write_replacing(&path, &bytes, false)
    }

    /// Who owns `name`, if anyone.
    pub fn owner(&self, name: &ClaimName) -> Result<Option<String>, StoreError> {
        Ok(self.read(name)?.map(|c| c.owner))
    }

    /// Takes `name` for `owner` on behalf of `holder` (an attachment key). Taking a name the
    /// same owner holds already adds the holder.
    pub fn take(&self, name: &ClaimName, owner: &str, holder: &str) -> Result<Taken, StoreError> {
        let mut c = match self.read(name)? {
            Some(c) if c.owner != owner => return Ok(Taken::ByOther(c.owner)),
            Some(c) => c,
            None => Claim {
                name: name.clone(),
                owner: owner.to_owned(),
                holders: BTreeSet::new(),
            },
        };
        if c.holders.insert(holder.to_owned()) {
            self.write(&c)?;
        }
        Ok(Taken::Yes)
    }

    /// Drops `holder` from `name`; returns whether nobody holds it any more (the claim is then
    /// gone, and the caller may remove what it names). A claim held by another owner, or none,
    /// is left alone (`false` for another owner's, `true` for none).
    pub fn release(&self, name: &ClaimName, holder: &str) -> Result<bool, StoreError> {
        // A take killed between its temp write and the rename leaves the temp file.
        let _ = fs::remove_file(self.dir.join(format!("{}.tmp", name.file_name())));
        let Some(mut c) = self.read(name)? else {
            let _ = fs::remove_dir(&self.dir);
            return Ok(true);
        };
        if !c.holders.remove(holder) {
            return Ok(c.holders.is_empty());
        }
        if c.holders.is_empty() {
            let path = self.dir.join(name.file_name());
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::io("cannot remove claim", &path, source)),
            }
            // Empty claims directory: gone too, so a clean node has no trace of the plugin.
            let _ = fs::remove_dir(&self.dir);
            Ok(true)
        } else {
            self.write(&c)?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusive_name_taken_by_one_attachment_is_refused_to_another() {
        let d = tempfile::tempdir().unwrap();
        let c = Claims::new(d.path());
        let stem = ClaimName::Stem("4d578250ad8d-net1".into());
        assert_eq!(c.take(&stem, "a@net1", "a@net1").unwrap(), Taken::Yes);
        assert_eq!(
            c.take(&stem, "b@net1", "b@net1").unwrap(),
            Taken::ByOther("a@net1".into())
        );
        assert!(!c.release(&stem, "b@net1").unwrap(), "not b's to release");
        assert!(c.release(&stem, "a@net1").unwrap());
        assert_eq!(c.take(&stem, "b@net1", "b@net1").unwrap(), Taken::Yes);
    }

    #[test]
    fn a_shared_directory_is_released_by_its_last_holder_whatever_the_order() {
        let d = tempfile::tempdir().unwrap();
        let c = Claims::new(d.path());
        let dir = ClaimName::Dir("/s/4d578250ad8d".into());
        c.take(&dir, "4d578250ad8d3b5c", "x@net1").unwrap();
        c.take(&dir, "4d578250ad8d3b5c", "x@net2").unwrap();
        assert!(!c.release(&dir, "x@net1").unwrap());
        assert!(c.release(&dir, "x@net2").unwrap());
        assert!(!d.path().join("claims").exists(), "nothing left");
    }
}
