//! Locks. Per attachment: `flock` on `<stateDir>/<key>.lock`, re-checked after acquiring so
//! that the file can be unlinked by whoever holds it (DEL, a failed ADD) without letting a
//! waiter and a newcomer both in: a waiter that wakes on an unlinked inode opens the path
//! again. For the short names several attachments share (claims, shared directories,
//! aliases): `flock` on the state directory itself, which leaves no file behind.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::files::StoreError;
pub use super::files::ensure_dir;

/// An exclusive lock on one attachment, released on drop.
#[derive(Debug)]
pub struct AttachmentLock {
    _flock: Flock<File>,
    path: PathBuf,
}

impl AttachmentLock {
    /// Blocks until this process holds the lock at `path`.
    pub fn acquire(path: PathBuf) -> Result<Self, StoreError> {
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| StoreError::io("cannot open lock file", &path, source))?;
            let flock = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| StoreError::io("cannot lock", &path, std::io::Error::from(e)))?;
            let held = flock
                .metadata()
                .map_err(|source| StoreError::io("cannot stat lock file", &path, source))?;
            match fs::metadata(&path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(Self {
                        _flock: flock,
                        path,
                    });
                }
                // Unlinked (or replaced) by the holder we waited for: the lock that counts is
                // the one at the path now.
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(StoreError::io("cannot stat lock file", &path, source)),
            }
        }
    }

    /// Unlinks the lock file while still holding it, then releases it. Only for when the
    /// attachment has no state left: the next invocation starts from nothing.
    pub fn remove(self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::io(
                "cannot remove lock file",
                &self.path,
                source,
            )),
        }
    }
}

/// An exclusive lock on the state directory, for the sections that create or remove names
/// shared between attachments. Held briefly; released on drop.
#[derive(Debug)]
pub struct DirectoryLock {
    _flock: Flock<File>,
}

impl DirectoryLock {
    /// Blocks until this process holds the directory lock.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        ensure_dir(dir)?;
        let file = File::open(dir)
            .map_err(|source| StoreError::io("cannot open state directory", dir, source))?;
        let flock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| {
            StoreError::io("cannot lock state directory", dir, std::io::Error::from(e))
        })?;
        Ok(Self { _flock: flock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_lock_unlinked_by_its_holder_does_not_let_a_waiter_and_a_newcomer_both_in() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("a.lock");
        let first = AttachmentLock::acquire(path.clone()).unwrap();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(3));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (path, inside, start) = (path.clone(), inside.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let l = AttachmentLock::acquire(path).unwrap();
                    let n = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    std::thread::yield_now();
                    inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    l.remove().unwrap();
                    n
                })
            })
            .collect();
        start.wait();
        first.remove().unwrap();
        for w in workers {
            assert_eq!(w.join().unwrap(), 0, "two holders at once");
        }
        assert!(!path.exists());
    }
}
