//! The write-ahead journal: one file per attachment, `<stateDir>/<key>.json`, holding the
//! attachment's identity and every side effect in the order it was made. A step is written
//! *before* its effect, so whatever moment a process dies at, the journal names everything
//! that may exist, and a later DEL replays the undo of each step in reverse. Every undo is
//! safe whether or not the effect happened.
//!
//! Intents are written through the page cache (a killed process loses nothing written);
//! the completed journal is fsynced once, when ADD succeeds.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AttachmentId;
use super::claims::{ClaimName, Claims};
use super::lock::{self, AttachmentLock, DirectoryLock};
use crate::engine::EngineRecord;

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

/// One side effect, with what its undo needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// A claim on a shared name.
    Claim {
        /// The name.
        name: ClaimName,
    },
    /// The shared directory, removed when empty and no sibling attachment holds it.
    Dir {
        /// The directory.
        path: PathBuf,
        /// Whether the directory is the plugin's own (a per-container directory under
        /// `sharedDir`), claimed by this container's attachments; a pod volume is not.
        managed: bool,
    },
    /// A short bind-mounted alias of the shared directory, this attachment's own.
    Alias {
        /// The mount point.
        mount: PathBuf,
    },
    /// An IPAM lease.
    Lease {
        /// The IPAM plugin.
        plugin: String,
    },
    /// The switch's port or interface.
    Port {
        /// What the engine planned and, once done, made.
        record: EngineRecord,
    },
    /// A file for the pod (its temp file too).
    File {
        /// The file.
        path: PathBuf,
    },
    /// This attachment's entry in the pod's annotations.
    Annotation {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
}

/// The kinds of [`Step`], for the crash hook and the tests that visit every boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// [`Step::Claim`].
    Claim,
    /// [`Step::Dir`].
    Dir,
    /// [`Step::Alias`].
    Alias,
    /// [`Step::Lease`].
    Lease,
    /// [`Step::Port`].
    Port,
    /// [`Step::File`].
    File,
    /// [`Step::Annotation`].
    Annotation,
}

impl StepKind {
    /// Every kind.
    pub const ALL: [StepKind; 7] = [
        Self::Claim,
        Self::Dir,
        Self::Alias,
        Self::Lease,
        Self::Port,
        Self::File,
        Self::Annotation,
    ];

    /// The name used by the crash hook.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claim => "claim",
            Self::Dir => "dir",
            Self::Alias => "alias",
            Self::Lease => "lease",
            Self::Port => "port",
            Self::File => "file",
            Self::Annotation => "annotation",
        }
    }
}

impl Step {
    /// Its kind.
    pub fn kind(&self) -> StepKind {
        match self {
            Self::Claim { .. } => StepKind::Claim,
            Self::Dir { .. } => StepKind::Dir,
            Self::Alias { .. } => StepKind::Alias,
            Self::Lease { .. } => StepKind::Lease,
            Self::Port { .. } => StepKind::Port,
            Self::File { .. } => StepKind::File,
            Self::Annotation { .. } => StepKind::Annotation,
        }
    }
}

/// A step and whether its effect is known to have happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// Whether the effect was made (known only to the invocation that made it; a replay
    /// undoes every entry).
    #[serde(default)]
    pub done: bool,
}

/// One attachment's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// Format version.
    pub version: u32,
    /// Whose.
    #[serde(flatten)]
    pub id: AttachmentId,
    /// The network.
    pub network: String,
    /// Whether ADD finished (CHECK and a second ADD look at this).
    pub complete: bool,
    /// The result ADD returned, in the 1.1.0 layout, once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The steps, in the order they were begun.
    pub entries: Vec<Entry>,
}

/// The current journal format.
pub const FORMAT: u32 = 1;

impl Journal {
    /// An empty journal.
    pub fn new(id: AttachmentId, network: &str) -> Self {
        Self {
            version: FORMAT,
            id,
            network: network.to_owned(),
            complete: false,
            result: None,
            entries: Vec::new(),
        }
    }

    /// The engine record, if a port step was begun.
    pub fn port(&self) -> Option<&EngineRecord> {
        self.entries.iter().find_map(|e| match &e.step {
            Step::Port { record } => Some(record),
            _ => None,
        })
    }

    /// The files written for the pod.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.entries.iter().filter_map(|e| match &e.step {
            Step::File { path } => Some(path.as_path()),
            _ => None,
        })
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
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

    fn path(&self, id: &AttachmentId) -> PathBuf {
        self.dir.join(format!("{}.json", id.key()))
    }

    fn tmp_path(&self, id: &AttachmentId) -> PathBuf {
        self.dir.join(format!("{}.json.tmp", id.key()))
    }

    /// The claims of this store.
    pub fn claims(&self) -> Claims {
        Claims::new(&self.dir)
    }

    /// Takes the attachment's lock (blocking).
    pub fn lock(&self, id: &AttachmentId) -> Result<AttachmentLock, StoreError> {
        lock::ensure_dir(&self.dir)?;
        AttachmentLock::acquire(self.dir.join(format!("{}.lock", id.key())))
    }

    /// Takes the lock of the shared names (blocking; hold briefly).
    pub fn names_lock(&self) -> Result<DirectoryLock, StoreError> {
        DirectoryLock::acquire(&self.dir)
    }

    /// Reads an attachment's journal, `None` when there is none.
    pub fn load(&self, id: &AttachmentId) -> Result<Option<Journal>, StoreError> {
        read_journal(&self.path(id))
    }

    /// Writes the journal (replacing it atomically); `durable` also fsyncs it.
    pub fn save(&self, j: &Journal, durable: bool) -> Result<(), StoreError> {
        lock::ensure_dir(&self.dir)?;
        let path = self.path(&j.id);
        let bytes = serde_json::to_vec(j).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_replacing(&path, &bytes, durable)
    }

    /// Removes an attachment's journal and its temp file; missing files are fine.
    pub fn remove(&self, id: &AttachmentId) -> Result<(), StoreError> {
        for path in [self.path(id), self.tmp_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::io("cannot remove", &path, source)),
            }
        }
        Ok(())
    }

    /// Every journal (for GC), with the identities of unreadable ones skipped.
    pub fn list(&self) -> Result<Vec<Journal>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::io("cannot list", &self.dir, source)),
        };
        let mut v = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json")
                && let Some(j) = read_journal(&p)?
            {
                v.push(j);
            }
        }
        Ok(v)
    }
}

fn read_journal(path: &Path) -> Result<Option<Journal>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Corrupt {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::io("cannot read state file", path, source)),
    }
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

/// Where a debug build may be told to die, as `kill -9` would: `USERSPACE_CRASH_AT` =
/// `<where>#<n>:<phase>`, e.g. `port#0:before` (ADD: after the intent was written, before
/// the effect), `file#2:after` (after the third file was written, before anything else),
/// `undo-lease#0:after` (DEL: after the lease was released). Release builds ignore it, so a
/// plugin on a node never aborts on an environment variable.
pub fn crash_point(place: &str, n: usize, phase: &str) {
    #[cfg(debug_assertions)]
    if let Ok(want) = std::env::var("USERSPACE_CRASH_AT")
        && want == format!("{place}#{n}:{phase}")
    {
        eprintln!("userspace: USERSPACE_CRASH_AT={want}: aborting");
        // SIGKILL, not abort(): no handler, no core, exactly what a node's OOM killer does.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = (place, n, phase);
}

/// An open journal being written by ADD: each step is recorded before its effect.
pub struct Writer<'a> {
    store: &'a Store,
    /// The journal so far.
    pub journal: Journal,
}

impl<'a> Writer<'a> {
    /// Starts the journal of an attachment that has none.
    pub fn begin(store: &'a Store, id: AttachmentId, network: &str) -> Self {
        Self {
            store,
            journal: Journal::new(id, network),
        }
    }

    fn occurrence(&self, kind: StepKind) -> usize {
        self.journal
            .entries
            .iter()
            .filter(|e| e.step.kind() == kind)
            .count()
    }

    /// Records `step` as intended (written before returning); returns its index.
    pub fn intend(&mut self, step: Step) -> Result<usize, StoreError> {
        let kind = step.kind();
        let n = self.occurrence(kind);
        self.journal.entries.push(Entry { step, done: false });
        self.store.save(&self.journal, false)?;
        crash_point(kind.as_str(), n, "before");
        Ok(self.journal.entries.len() - 1)
    }

    /// Marks the step done, with the record of what was made (in memory; the next write
    /// carries it).
    pub fn done(&mut self, index: usize, step: Option<Step>) {
        if let Some(e) = self.journal.entries.get_mut(index) {
            if let Some(s) = step {
                e.step = s;
            }
            e.done = true;
            let kind = e.step.kind();
            let n = self.journal.entries[..index]
                .iter()
                .filter(|e| e.step.kind() == kind)
                .count();
            crash_point(kind.as_str(), n, "after");
        }
    }

    /// Records the step, runs `effect`, and marks it done when the effect succeeded. The
    /// effect may return an updated step (e.g. the engine's full record).
    pub fn run<T, E: From<StoreError>>(
        &mut self,
        step: Step,
        effect: impl FnOnce(&Step) -> Result<(T, Option<Step>), E>,
    ) -> Result<T, E> {
        let i = self.intend(step)?;
        let (out, updated) = effect(&self.journal.entries[i].step)?;
        self.done(i, updated);
        Ok(out)
    }

    /// ADD finished: the result is recorded and the journal made durable.
    pub fn commit(&mut self, result: serde_json::Value) -> Result<(), StoreError> {
        self.journal.complete = true;
        self.journal.result = Some(result);
        crash_point("commit", 0, "before");
        self.store.save(&self.journal, true)?;
        crash_point("commit", 0, "after");
        Ok(())
    }
}
