//! What the state directory says: the committed attachments with their labels, and the
//! journals that are not (yet) attachments.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use prometheus_client::encoding::EncodeLabelSet;
use userspace_plugin::attachment::AttachmentId;
use userspace_plugin::attachment::journal::{Journal, Step, Store, StoreError};
use userspace_plugin::engine::EngineRecord;

/// The labels of one attachment's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
pub struct AttachmentLabels {
    /// The pod's namespace (empty when the runtime did not name it).
    pub namespace: String,
    /// The pod's name (empty when the runtime did not name it).
    pub pod: String,
    /// The network (NetConf `name`).
    pub network: String,
    /// The pod's interface name (`CNI_IFNAME`).
    pub interface: String,
    /// `ovs-dpdk` or `vpp`.
    pub engine: String,
    /// `vhostuser` or `memif`.
    pub kind: String,
    /// The switch's name of the port or interface.
    pub port: String,
}

/// One committed attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Its labels.
    pub labels: AttachmentLabels,
    /// What the engine made.
    pub record: EngineRecord,
}

/// One reading of the state directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Committed, whole journals with a port, sorted by labels.
    pub attachments: Vec<Attachment>,
    /// Journals whose ADD has not committed (running now, or killed and waiting for DEL).
    pub uncommitted: u64,
    /// Journal files that cannot be read (or not whole): counted, never fatal.
    pub unreadable: u64,
}

/// What one journal file was found to be.
#[derive(Debug, Clone, PartialEq)]
enum Reading {
    Attachment(Box<Attachment>),
    Uncommitted,
    Unreadable,
    /// Committed without a port (nothing to expose).
    Portless,
}

/// A journal file's identity and size: a journal is only ever appended to (or replaced by a
/// new file), so an unchanged stamp means an unchanged reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn stamp(m: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        ino: m.ino(),
        len: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    }
}

/// Reads the state directory, re-reading only the journals that changed since the last
/// scan. The cache holds one entry per journal file present at the last scan, no more.
#[derive(Debug, Default)]
pub struct Scanner {
    cache: HashMap<OsString, (Stamp, Reading)>,
}

impl Scanner {
    /// Reads every journal in `dir`. Only a directory that cannot be listed is an error; a
    /// journal that cannot be read is counted in [`Scan::unreadable`] and skipped.
    pub fn scan(&mut self, dir: &Path) -> Result<Scan, StoreError> {
        let store = Store::new(dir);
        let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
            what: "cannot list state directory",
            path: dir.to_owned(),
            source,
        })?;
        let mut out = Scan::default();
        let mut seen = HashMap::with_capacity(self.cache.len());
        for entry in entries {
            let Ok(entry) = entry else {
                out.unreadable += 1;
                continue;
            };
            let name = entry.file_name();
            // Claims, locks and temp files are not journals; a `.json` not named for an
            // attachment is nobody's.
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(AttachmentId::from_key)
            else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                // Removed by a DEL since the listing.
                continue;
            };
            let st = stamp(&meta);
            let reading = match self.cache.remove(&name) {
                Some((cached, r)) if cached == st => r,
                _ => match read(&store, &id) {
                    Some(r) => r,
                    None => continue,
                },
            };
            match &reading {
                Reading::Attachment(a) => out.attachments.push((**a).clone()),
                Reading::Uncommitted => out.uncommitted += 1,
                Reading::Unreadable => out.unreadable += 1,
                Reading::Portless => {}
            }
            seen.insert(name, (st, reading));
        }
        self.cache = seen;
        out.attachments.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

/// Reads one journal; `None` when it is gone.
fn read(store: &Store, id: &AttachmentId) -> Option<Reading> {
    match store.load(id) {
        Ok(Some(j)) if j.damage.is_some() => {
            tracing::debug!(attachment = %id, damage = ?j.damage, "journal not readable whole");
            Some(Reading::Unreadable)
        }
        Ok(Some(j)) if !j.complete => Some(Reading::Uncommitted),
        Ok(Some(j)) => Some(match attachment(&j) {
            Some(a) => Reading::Attachment(Box::new(a)),
            None => Reading::Portless,
        }),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(attachment = %id, "journal unreadable: {e}");
            Some(Reading::Unreadable)
        }
    }
}

/// The attachment a committed journal describes, if it made a port.
pub fn attachment(j: &Journal) -> Option<Attachment> {
    let record = j.port()?.clone();
    // Journals written before the header named the pod: the annotation step names it when
    // the plugin had a kubeconfig.
    let (namespace, pod) = match &j.pod {
        Some(p) => (p.namespace.clone(), p.name.clone()),
        None => j
            .entries
            .iter()
            .find_map(|e| match &e.step {
                Step::Annotation { namespace, name } => Some((namespace.clone(), name.clone())),
                _ => None,
            })
            .unwrap_or_default(),
    };
    Some(Attachment {
        labels: AttachmentLabels {
            namespace,
            pod,
            network: j.network.clone(),
            interface: j.id.ifname.clone(),
            engine: record.kind().as_str().to_owned(),
            kind: record.iftype().as_str().to_owned(),
            // What the switch counts: for OVN the br-int port, not the logical port.
            port: record.counted_port(),
        },
        record,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;
    use userspace_plugin::attachment::journal::{Entry, Writer};

    fn uncommitted(store: &Store, cid: &str) -> AttachmentId {
        let id = AttachmentId::new(cid, "net1").unwrap();
        let mut w = Writer::begin(store, id.clone(), "n", None);
        w.intend(Step::Lease {
            plugin: "host-local".into(),
        })
        .unwrap();
        id
    }

    #[test]
    fn a_journal_changed_or_removed_since_the_last_scan_is_read_again() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let mut scanner = Scanner::default();
        let a = uncommitted(&store, &"a1".repeat(32));
        assert_eq!(scanner.scan(d.path()).unwrap().uncommitted, 1);
        // Appended to: garbage after the header makes it unreadable.
        let path = d.path().join(format!("{}.json", a.key()));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"garbage\n");
        std::fs::write(&path, bytes).unwrap();
        let s = scanner.scan(d.path()).unwrap();
        assert_eq!((s.uncommitted, s.unreadable), (0, 1));
        store.remove(&a).unwrap();
        assert_eq!(scanner.scan(d.path()).unwrap(), Scan::default());
        assert!(scanner.cache.is_empty(), "nothing cached for a file gone");
    }

    #[test]
    fn an_ovn_attachment_is_counted_by_its_br_int_port_not_its_logical_port() {
        let id = AttachmentId::new(&"c3".repeat(32), "net1").unwrap();
        let record: EngineRecord = serde_json::from_value(serde_json::json!({
            "engine": "ovn", "owner": id.key(), "network": "n", "logicalSwitch": "ls0",
            "port": "n_default_pod_net1", "addresses": {"kind": "dynamic", "mac": "02:00:00:00:00:01"},
            "local": {"owner": id.key(), "network": "n", "bridge": "br-int", "port": "c3c3c3c3c3c3-net1",
                      "portType": "dpdkVhostUserClient", "socket": "/s", "runDir": "/r",
                      "ifaceId": "n_default_pod_net1"}
        }))
        .unwrap();
        let mut j = Journal::new(id, "n");
        j.entries.push(Entry {
            step: Step::Port { record },
            done: true,
        });
        let a = attachment(&j).unwrap();
        assert_eq!(a.labels.engine, "ovn");
        assert_eq!(a.labels.port, "c3c3c3c3c3c3-net1");
        assert_eq!(a.labels.kind, "vhostuser");
    }
}
