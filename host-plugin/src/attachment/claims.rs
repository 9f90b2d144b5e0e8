//! Claims on the names several attachments could derive alike: the stem of the short names
//! (port, socket, files, alias: all use the 12-character ID prefix), a socket path, and the
//! per-container shared directory. A claim is a small file under `<stateDir>/claims/` naming
//! its owner; it is taken and released under the state directory's lock, so checking and
//! taking cannot interleave with another invocation.
//!
//! Claims are renamed into place without fsync, so a power cut can leave one empty. An
//! unreadable claim proves nobody's ownership: it is never taken over (the name counts as
//! someone's), and whoever releases the name, or GC when no journal names it, removes it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{StoreError, ensure_dir, write_replacing};
use crate::identity::fnv1a64;

/// A name that may be claimed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

    fn path(&self, name: &ClaimName) -> PathBuf {
        self.dir.join(name.file_name())
    }

    fn read(&self, name: &ClaimName) -> Result<Read, StoreError> {
        let path = self.path(name);
        Ok(match read_claim(&path)? {
            Read::Claim(c) if &c.name != name => {
                // Another name with the same hash: treat as taken, never overwrite it.
                Read::Claim(Claim {
                    owner: format!("{} (hash collision)", c.owner),
                    ..c
                })
            }
            other => other,
        })
    }

    fn write(&self, c: &Claim) -> Result<(), StoreError> {
        ensure_dir(&self.dir)?;
        let path = self.path(&c.name);
        let bytes = serde_json::to_vec(c).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_replacing(&path, &bytes, false)
    }

    /// Who owns `name`, if anyone (an unreadable claim: someone unknown).
    pub fn owner(&self, name: &ClaimName) -> Result<Option<String>, StoreError> {
        Ok(match self.read(name)? {
            Read::None => None,
            Read::Claim(c) => Some(c.owner),
            Read::Unreadable(p) => Some(unreadable_owner(&p)),
        })
    }

    /// Whether `name` is provably another's than `owner`'s: a readable claim of another owner.
    pub fn is_others(&self, name: &ClaimName, owner: &str) -> Result<bool, StoreError> {
        Ok(matches!(self.read(name)?, Read::Claim(c) if c.owner != owner))
    }

    /// Takes `name` for `owner` on behalf of `holder` (an attachment key). Taking a name the
    /// same owner holds already adds the holder.
    pub fn take(&self, name: &ClaimName, owner: &str, holder: &str) -> Result<Taken, StoreError> {
        let mut c = match self.read(name)? {
            Read::Claim(c) if c.owner != owner => return Ok(Taken::ByOther(c.owner)),
            Read::Unreadable(p) => return Ok(Taken::ByOther(unreadable_owner(&p))),
            Read::Claim(c) => c,
            Read::None => Claim {
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
    /// gone, and the caller may remove what it names). A claim held by another owner is left
    /// alone (`false`); none, or an unreadable one (removed), is `true`.
    pub fn release(&self, name: &ClaimName, holder: &str) -> Result<bool, StoreError> {
        // A take killed between its temp write and the rename leaves the temp file.
        let _ = fs::remove_file(self.dir.join(format!("{}.tmp", name.file_name())));
        let mut c = match self.read(name)? {
            Read::None => {
                let _ = fs::remove_dir(&self.dir);
                return Ok(true);
            }
            Read::Unreadable(path) => {
                tracing::warn!(
                    "claim {} on {name:?} does not read: removed by {holder}, which names it",
                    path.display()
                );
                self.remove_file(&path)?;
                return Ok(true);
            }
            Read::Claim(c) => c,
        };
        if !c.holders.remove(holder) {
            return Ok(c.holders.is_empty());
        }
        if c.holders.is_empty() {
            self.remove_file(&self.path(name))?;
            Ok(true)
        } else {
            self.write(&c)?;
            Ok(false)
        }
    }

    /// Removes a claim file, and the claims directory once empty, so a clean node has no
    /// trace of the plugin.
    fn remove_file(&self, path: &Path) -> Result<(), StoreError> {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::io("cannot remove claim", path, source)),
        }
        let _ = fs::remove_dir(&self.dir);
        Ok(())
    }

    /// The names whose readable claims list `holder`.
    pub fn held_by(&self, holder: &str) -> Result<Vec<ClaimName>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter_map(|(_, r)| match r {
                Read::Claim(c) if c.holders.contains(holder) => Some(c.name),
                _ => None,
            })
            .collect())
    }

    /// GC of the claims themselves: an unreadable claim that no journal names goes (nobody
    /// could ever release it). `named` is every claim name the readable journals hold.
    /// Readable claims stay: their holders' DEL (or GC, once a journal or a tagged port says
    /// which network they are of) releases them.
    pub fn collect_unreadable(&self, named: &[ClaimName]) -> Result<(), StoreError> {
        let named: BTreeSet<String> = named.iter().map(ClaimName::file_name).collect();
        for (path, r) in self.all()? {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            if matches!(r, Read::Unreadable(_)) && file.is_some_and(|f| !named.contains(&f)) {
                tracing::warn!(
                    "removing unreadable claim {} (no journal names it)",
                    path.display()
                );
                self.remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// Every claim file (temp files of a killed take included: they are removed).
    fn all(&self) -> Result<Vec<(PathBuf, Read)>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::io("cannot list", &self.dir, source)),
        };
        let mut v = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "json") {
                let r = read_claim(&path)?;
                v.push((path, r));
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }
}

/// A claim file as read.
enum Read {
    None,
    Claim(Claim),
    /// Empty, cut short or garbage: a power cut or a full disk.
    Unreadable(PathBuf),
}

fn read_claim(path: &Path) -> Result<Read, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(serde_json::from_slice::<Claim>(&b)
            .map_or_else(|_| Read::Unreadable(path.to_owned()), Read::Claim)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Read::None),
        Err(source) => Err(StoreError::io("cannot read claim", path, source)),
    }
}

fn unreadable_owner(path: &Path) -> String {
    format!("unknown (claim {} does not read)", path.display())
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

    #[test]
    fn an_unreadable_claim_is_never_taken_over_but_its_releaser_removes_it() {
        let d = tempfile::tempdir().unwrap();
        let c = Claims::new(d.path());
        let stem = ClaimName::Stem("4d578250ad8d-net1".into());
        c.take(&stem, "a@net1", "a@net1").unwrap();
        for bytes in [&b""[..], &[0u8; 40][..], b"{\"name\":{\"ki"] {
            fs::create_dir_all(&c.dir).unwrap();
            fs::write(c.path(&stem), bytes).unwrap();
            assert!(matches!(
                c.take(&stem, "b@net1", "b@net1").unwrap(),
                Taken::ByOther(_)
            ));
            assert!(c.release(&stem, "a@net1").unwrap());
            assert!(!c.path(&stem).exists());
        }
    }

    #[test]
    fn gc_removes_unreadable_claims_that_no_journal_names() {
        let d = tempfile::tempdir().unwrap();
        let c = Claims::new(d.path());
        let kept = ClaimName::Stem("kept".into());
        let lost = ClaimName::Stem("lost".into());
        let named = ClaimName::Stem("named".into());
        c.take(&kept, "x@net1", "x@net1").unwrap();
        fs::write(c.path(&lost), b"").unwrap();
        fs::write(c.path(&named), b"").unwrap();
        c.collect_unreadable(std::slice::from_ref(&named)).unwrap();
        assert_eq!(c.held_by("x@net1").unwrap(), [kept]);
        assert!(!c.path(&lost).exists());
        assert!(
            c.path(&named).exists(),
            "a journal names it: its DEL releases it"
        );
    }
}
