//! The write-ahead journal: one file per attachment, `<stateDir>/<key>.json`, holding the
//! attachment's identity and every side effect in the order it was made. A step is written
//! *before* its effect, so whatever moment a process dies at, the journal names everything
//! that may exist, and a later DEL replays the undo of each step in reverse. Every undo is
//! safe whether or not the effect happened.
//!
//! The file is a log, appended to and never rewritten: a header line (the identity), then one
//! JSON line per event — a step intended, a step done (with what the effect made), the commit.
//! Intents are appended through the page cache (a killed process loses nothing written); the
//! log is fsynced once, at the commit, when ADD succeeds. Whatever a power cut or a full disk
//! leaves (an empty file, NUL bytes, a line cut short, garbage) is read as far as it reads and
//! marked damaged ([`Journal::damage`]): the verbs then find the rest by other evidence.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::claims::{ClaimName, Claims};
use super::files::ensure_dir;
pub use super::files::{StoreError, write_replacing};
use super::lock::{AttachmentLock, DirectoryLock};
use crate::crash::crash_point;
use crate::engine::EngineRecord;
use crate::identity::AttachmentId;

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

    /// Where the profile counts the time of its effect.
    pub fn phase(self) -> crate::profile::Phase {
        use crate::profile::Phase;
        match self {
            Self::Claim => Phase::State,
            Self::Dir | Self::Alias => Phase::Dirs,
            Self::Lease => Phase::Ipam,
            Self::Port => Phase::Switch,
            Self::File => Phase::Files,
            Self::Annotation => Phase::Kube,
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
    /// The pod, when the runtime named it in `CNI_ARGS` (journals of earlier versions have
    /// none): the node agent labels the attachment's metrics with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRef>,
    /// Whether ADD finished (CHECK and a second ADD look at this).
    pub complete: bool,
    /// The result ADD returned, in the 1.1.0 layout, once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The steps, in the order they were begun.
    pub entries: Vec<Entry>,
    /// Why the file could not be read whole (a power cut, a full disk, garbage), when it
    /// could not: `entries` then holds the steps read before the damage, and what came after
    /// is found by the switch's tags and the claims instead.
    #[serde(skip)]
    pub damage: Option<String>,
}

/// A pod as the runtime named it (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl PodRef {
    /// The pod `CNI_ARGS` names, if it names both.
    pub fn from_args(args: &std::collections::BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| args.get(k).filter(|v| !v.is_empty()).cloned();
        Some(Self {
            namespace: get("K8S_POD_NAMESPACE")?,
            name: get("K8S_POD_NAME")?,
        })
    }
}

/// The current journal format: a header line and event lines.
pub const FORMAT: u32 = 2;

/// One line of the log after its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Event {
    /// A step is about to be begun.
    Intend(Step),
    /// Entry `index` was made, with the record of what was made when it differs.
    Done {
        index: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<Step>,
    },
    /// ADD finished with this result (1.1.0 layout).
    Commit(serde_json::Value),
}

impl Journal {
    fn apply(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Intend(step) => self.entries.push(Entry { step, done: false }),
            Event::Done { index, step } => {
                let e = self
                    .entries
                    .get_mut(index)
                    .ok_or_else(|| format!("event for entry {index}, which was never intended"))?;
                if let Some(s) = step {
                    e.step = s;
                }
                e.done = true;
            }
            Event::Commit(result) => {
                self.complete = true;
                self.result = Some(result);
            }
        }
        Ok(())
    }
}

impl Journal {
    /// An empty journal.
    pub fn new(id: AttachmentId, network: &str) -> Self {
        Self {
            version: FORMAT,
            id,
            network: network.to_owned(),
            pod: None,
            complete: false,
            result: None,
            entries: Vec::new(),
            damage: None,
        }
    }

    /// Whether the journal alone names everything this attachment made: ADD committed it
    /// (durably: the commit fsyncs every line before it) and it was read whole. Otherwise a
    /// power cut may have lost lines whose effects happened.
    pub fn is_whole(&self) -> bool {
        self.complete && self.damage.is_none()
    }

    /// The claim names its steps hold.
    pub fn claim_names(&self) -> impl Iterator<Item = ClaimName> + '_ {
        self.entries.iter().filter_map(|e| match &e.step {
            Step::Claim { name } => Some(name.clone()),
            Step::Dir {
                path,
                managed: true,
            } => Some(ClaimName::Dir(path.clone())),
            _ => None,
        })
    }

    /// The engine record, if a port step was begun.
    pub fn port(&self) -> Option<&EngineRecord> {
        self.entries.iter().find_map(|e| match &e.step {
            Step::Port { record } => Some(record),
            _ => None,
        })
    }

    /// The index of the port step, if one was begun.
    pub fn port_index(&self) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(e.step, Step::Port { .. }))
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

    /// The claims of this store.
    pub fn claims(&self) -> Claims {
        Claims::new(&self.dir)
    }

    /// Takes the attachment's lock (blocking).
    pub fn lock(&self, id: &AttachmentId) -> Result<AttachmentLock, StoreError> {
        ensure_dir(&self.dir)?;
        AttachmentLock::acquire(self.dir.join(format!("{}.lock", id.key())))
    }

    /// Takes the lock of the shared names (blocking; hold briefly).
    pub fn names_lock(&self) -> Result<DirectoryLock, StoreError> {
        DirectoryLock::acquire(&self.dir)
    }

    /// Reads an attachment's journal, `None` when there is none. A file that cannot be read
    /// whole is still this attachment's journal: what could be read, with its
    /// [`Journal::damage`].
    pub fn load(&self, id: &AttachmentId) -> Result<Option<Journal>, StoreError> {
        let path = self.path(id);
        Ok(read_bytes(&path)?.map(|b| parse_journal(id.clone(), &b)))
    }

    /// Removes an attachment's journal; a missing one is fine.
    pub fn remove(&self, id: &AttachmentId) -> Result<(), StoreError> {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::io("cannot remove", &path, source)),
        }
    }

    /// Whether the attachment has a journal file, readable or not.
    pub fn exists(&self, id: &AttachmentId) -> bool {
        fs::symlink_metadata(self.path(id)).is_ok()
    }

    fn keys_with_suffix(&self, suffix: &str) -> Result<Vec<AttachmentId>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::io("cannot list", &self.dir, source)),
        };
        let mut v: Vec<AttachmentId> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                AttachmentId::from_key(name.to_str()?.strip_suffix(suffix)?)
            })
            .collect();
        v.sort();
        Ok(v)
    }

    /// Every journal (for GC), damaged ones included (named by their file). A file in the
    /// directory whose name is no attachment's is not a journal.
    pub fn list(&self) -> Result<Vec<Journal>, StoreError> {
        let mut v = Vec::new();
        for id in self.keys_with_suffix(".json")? {
            if let Some(j) = self.load(&id)? {
                v.push(j);
            }
        }
        Ok(v)
    }

    /// Records, durably, that entry `index` was made again with `step` (the node agent
    /// re-applying a committed attachment after its switch restarted). An event appended to
    /// the log like any other, so a later DEL or CHECK reads the new record. Call with the
    /// attachment's lock held.
    pub fn record_remade(
        &self,
        id: &AttachmentId,
        index: usize,
        step: Step,
    ) -> Result<(), StoreError> {
        let path = self.path(id);
        let mut line = serde_json::to_vec(&Event::Done {
            index,
            step: Some(step),
        })
        .map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        line.push(b'\n');
        let io = |what, source| StoreError::io(what, &path, source);
        // Appending to an existing journal only: a journal DEL removed stays removed.
        let mut f = OpenOptions::new()
            .append(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io("cannot open", e))?;
        f.write_all(&line).map_err(|e| io("cannot append to", e))?;
        f.sync_data().map_err(|e| io("cannot sync", e))
    }

    /// The keys of the attachments with a journal or a lock file, whatever their content
    /// (the evidence of whose a tagged port may be; a DEL in progress holds its lock file).
    pub fn named_attachments(&self) -> Vec<String> {
        let mut keys: Vec<String> = [".json", ".lock"]
            .iter()
            .flat_map(|s| self.keys_with_suffix(s).unwrap_or_default())
            .map(|id| id.key())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Attachments with a lock file but no journal: left by a process killed between
    /// removing the one and the other.
    pub fn stray_locks(&self) -> Result<Vec<AttachmentId>, StoreError> {
        Ok(self
            .keys_with_suffix(".lock")?
            .into_iter()
            .filter(|id| !self.exists(id))
            .collect())
    }
}

fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::io("cannot read state file", path, source)),
    }
}

/// Reads a log as far as it is readable. The header must name the attachment the file is
/// named for; the first line that does not read (cut short, NUL bytes, garbage, an event for
/// an entry never intended) ends the reading, and the journal says so.
fn parse_journal(id: AttachmentId, bytes: &[u8]) -> Journal {
    let damaged = |why: String| Journal {
        damage: Some(why),
        ..Journal::new(id.clone(), "")
    };
    let mut lines = bytes.split_inclusive(|b| *b == b'\n');
    let Some(first) = lines.next() else {
        return damaged("the file is empty".into());
    };
    let mut journal: Journal = match serde_json::from_slice::<Journal>(first) {
        Ok(j) if j.id == id => j,
        Ok(j) => return damaged(format!("its header names another attachment, {}", j.id)),
        Err(e) => return damaged(format!("its header does not read: {e}")),
    };
    for (n, line) in lines.enumerate() {
        let event = serde_json::from_slice::<Event>(line).map_err(|e| e.to_string());
        if let Err(why) = event.and_then(|ev| journal.apply(ev)) {
            journal.damage = Some(format!("line {} does not read: {why}", n + 2));
            break;
        }
    }
    if journal.damage.is_none() && !bytes.ends_with(b"\n") {
        journal.damage = Some("its last line is cut short".into());
    }
    journal
}

/// An open journal being written by ADD: each step is recorded before its effect.
pub struct Writer<'a> {
    store: &'a Store,
    /// The journal so far.
    pub journal: Journal,
    /// The log, once its header is written.
    file: Option<fs::File>,
    /// Event lines not yet written (a step done travels with the next intent).
    pending: Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Starts the journal of an attachment that has none; `pod` is the pod the runtime
    /// named, recorded in the header for the node agent's labels.
    pub fn begin(store: &'a Store, id: AttachmentId, network: &str, pod: Option<PodRef>) -> Self {
        Self {
            store,
            journal: Journal {
                pod,
                ..Journal::new(id, network)
            },
            file: None,
            pending: Vec::new(),
        }
    }

    fn push(&mut self, event: &Event) -> Result<(), StoreError> {
        let path = self.store.path(&self.journal.id);
        serde_json::to_writer(&mut self.pending, event)
            .map_err(|source| StoreError::Corrupt { path, source })?;
        self.pending.push(b'\n');
        Ok(())
    }

    /// Appends the pending lines (the header first, on the first write); `durable` fsyncs.
    fn flush(&mut self, durable: bool) -> Result<(), StoreError> {
        let path = self.store.path(&self.journal.id);
        let io = |what, source| StoreError::io(what, &path, source);
        if self.file.is_none() {
            ensure_dir(&self.store.dir)?;
            let mut header = serde_json::to_vec(&Journal {
                pod: self.journal.pod.clone(),
                ..Journal::new(self.journal.id.clone(), &self.journal.network)
            })
            .map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
            header.push(b'\n');
            header.append(&mut self.pending);
            self.pending = header;
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_APPEND)
                .open(&path)
                .map_err(|e| io("cannot create", e))?;
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        use crate::profile::{Phase, time};
        time(Phase::State, || f.write_all(&self.pending)).map_err(|e| io("cannot append to", e))?;
        self.pending.clear();
        if durable {
            time(Phase::Commit, || f.sync_data()).map_err(|e| io("cannot sync", e))?;
        }
        Ok(())
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
        self.push(&Event::Intend(step.clone()))?;
        self.journal.entries.push(Entry { step, done: false });
        self.flush(false)?;
        crash_point(kind.as_str(), n, "before");
        Ok(self.journal.entries.len() - 1)
    }

    /// Marks the step done, with the record of what was made (in memory; the next write
    /// carries it).
    pub fn done(&mut self, index: usize, step: Option<Step>) -> Result<(), StoreError> {
        self.push(&Event::Done {
            index,
            step: step.clone(),
        })?;
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
        Ok(())
    }

    /// Records the step, runs `effect`, and marks it done when the effect succeeded. The
    /// effect may return an updated step (e.g. the engine's full record).
    pub fn run<T, E: From<StoreError>>(
        &mut self,
        step: Step,
        effect: impl FnOnce(&Step) -> Result<(T, Option<Step>), E>,
    ) -> Result<T, E> {
        let i = self.intend(step)?;
        let phase = self.journal.entries[i].step.kind().phase();
        let (out, updated) = crate::profile::time(phase, || effect(&self.journal.entries[i].step))?;
        self.done(i, updated)?;
        Ok(out)
    }

    /// ADD finished: the result is recorded and the journal made durable.
    pub fn commit(&mut self, result: serde_json::Value) -> Result<(), StoreError> {
        self.push(&Event::Commit(result.clone()))?;
        self.journal.complete = true;
        self.journal.result = Some(result);
        crash_point("commit", 0, "before");
        self.flush(true)?;
        crash_point("commit", 0, "after");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;

    const CID: &str = "4d578250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";

    fn writer_with_two_steps(store: &Store) -> AttachmentId {
        let id = AttachmentId::new(CID, "net1").unwrap();
        let mut w = Writer::begin(store, id.clone(), "net", None);
        w.run(
            Step::Lease {
                plugin: "host-local".into(),
            },
            |_| Ok::<_, StoreError>(((), None)),
        )
        .unwrap();
        w.intend(Step::File {
            path: "/tmp/x".into(),
        })
        .unwrap();
        id
    }

    #[test]
    fn the_log_reads_back_as_the_writer_left_it() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = writer_with_two_steps(&store);
        let j = store.load(&id).unwrap().unwrap();
        assert_eq!(j.entries.len(), 2);
        assert!(!j.complete);
        let text = fs::read_to_string(store.path(&id)).unwrap();
        assert_eq!(
            text.lines().count(),
            4,
            "header, intent, done, intent: {text}"
        );
    }

    #[test]
    fn the_header_records_the_invocations_pod_and_reads_without_it() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let pod = PodRef {
            namespace: "ns".into(),
            name: "web-0".into(),
        };
        let id = AttachmentId::new(CID, "net1").unwrap();
        let mut w = Writer::begin(&store, id.clone(), "net", Some(pod.clone()));
        w.intend(Step::File {
            path: "/tmp/x".into(),
        })
        .unwrap();
        assert_eq!(store.load(&id).unwrap().unwrap().pod, Some(pod));
        let old = r#"{"version":2,"containerId":"abc","ifname":"net1","network":"n","complete":false,"entries":[]}"#;
        let j: Journal = serde_json::from_str(old).unwrap();
        assert_eq!(j.pod, None, "a journal of an earlier version has no pod");
        let d2 = tempfile::tempdir().unwrap();
        let id = writer_with_two_steps(&Store::new(d2.path()));
        assert_eq!(Store::new(d2.path()).load(&id).unwrap().unwrap().pod, None);
    }

    #[test]
    fn a_record_remade_after_the_commit_is_what_the_journal_reads() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = AttachmentId::new(CID, "net1").unwrap();
        let mut w = Writer::begin(&store, id.clone(), "net", None);
        w.intend(Step::File {
            path: "/tmp/old".into(),
        })
        .unwrap();
        w.commit(serde_json::json!({})).unwrap();
        let new = Step::File {
            path: "/tmp/new".into(),
        };
        store.record_remade(&id, 0, new.clone()).unwrap();
        let j = store.load(&id).unwrap().unwrap();
        assert!(j.is_whole(), "{:?}", j.damage);
        assert_eq!(j.entries[0].step, new);
    }

    #[test]
    fn a_committed_journal_read_whole_is_whole() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = AttachmentId::new(CID, "net1").unwrap();
        let mut w = Writer::begin(&store, id.clone(), "net", None);
        w.intend(Step::File {
            path: "/tmp/x".into(),
        })
        .unwrap();
        w.commit(serde_json::json!({})).unwrap();
        let j = store.load(&id).unwrap().unwrap();
        assert!(j.is_whole(), "{:?}", j.damage);
    }

    #[test]
    fn a_last_line_cut_short_keeps_the_lines_before_and_is_damage() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = writer_with_two_steps(&store);
        let mut f = OpenOptions::new()
            .append(true)
            .open(store.path(&id))
            .unwrap();
        f.write_all(br#"{"intend":{"step":"fi"#).unwrap();
        let j = store.load(&id).unwrap().unwrap();
        assert_eq!(j.entries.len(), 2);
        assert!(j.damage.is_some());
    }

    #[test]
    fn a_header_cut_short_is_a_damaged_journal_of_the_file_s_attachment() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = AttachmentId::new(CID, "net1").unwrap();
        fs::write(store.path(&id), br#"{"version":2,"contai"#).unwrap();
        let j = store.load(&id).unwrap().unwrap();
        assert_eq!(j.id, id);
        assert!(j.entries.is_empty());
        assert!(j.damage.is_some() && !j.is_whole());
    }

    #[test]
    fn an_empty_file_nul_bytes_or_garbage_are_damaged_journals_not_errors() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = AttachmentId::new(CID, "net1").unwrap();
        for bytes in [&b""[..], &[0u8; 300][..], b"garbage", b"garbage\n{}\n"] {
            fs::write(store.path(&id), bytes).unwrap();
            let j = store.load(&id).unwrap().unwrap();
            assert!(j.damage.is_some(), "{bytes:?}");
            assert_eq!(j.id, id);
            assert_eq!(store.list().unwrap().len(), 1);
        }
    }

    #[test]
    fn a_broken_line_in_the_middle_ends_the_reading_there() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = writer_with_two_steps(&store);
        let text = fs::read_to_string(store.path(&id)).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = "{not json";
        fs::write(store.path(&id), lines.join("\n") + "\n").unwrap();
        let j = store.load(&id).unwrap().unwrap();
        assert_eq!(j.entries.len(), 1, "the intent before the broken line");
        assert!(j.damage.as_deref().unwrap().contains("line 3"));
    }

    #[test]
    fn a_header_naming_another_attachment_yields_no_steps() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = writer_with_two_steps(&store);
        let other = AttachmentId::new(CID, "net2").unwrap();
        fs::copy(store.path(&id), store.path(&other)).unwrap();
        let j = store.load(&other).unwrap().unwrap();
        assert!(j.entries.is_empty() && j.damage.is_some());
    }

    #[test]
    fn a_lock_without_its_journal_is_stray() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let id = writer_with_two_steps(&store);
        let other = AttachmentId::new(CID, "net2").unwrap();
        drop(store.lock(&id).unwrap());
        drop(store.lock(&other).unwrap());
        assert_eq!(store.stray_locks().unwrap(), vec![other]);
    }
}
