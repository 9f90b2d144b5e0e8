//! What the state directory says: the committed attachments with their labels, and the
//! journals that are not (yet) attachments.

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

/// Reads every journal in `dir`. Only a directory that cannot be listed is an error; a
/// journal that cannot be read is counted in [`Scan::unreadable`] and skipped.
pub fn scan(dir: &Path) -> Result<Scan, StoreError> {
    let store = Store::new(dir);
    let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
        what: "cannot list state directory",
        path: dir.to_owned(),
        source,
    })?;
    let mut out = Scan::default();
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
        match store.load(&id) {
            Ok(Some(j)) if j.damage.is_some() => {
                tracing::debug!(attachment = %id, damage = ?j.damage, "journal not readable whole");
                out.unreadable += 1;
            }
            Ok(Some(j)) if !j.complete => out.uncommitted += 1,
            Ok(Some(j)) => out.attachments.extend(attachment(&j)),
            // Removed by a DEL since the listing.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(attachment = %id, "journal unreadable: {e}");
                out.unreadable += 1;
            }
        }
    }
    out.attachments.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
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
    let kind = match &record {
        EngineRecord::OvsDpdk(_) => "vhostuser",
        EngineRecord::Vpp(r) => r.iftype.as_str(),
    };
    Some(Attachment {
        labels: AttachmentLabels {
            namespace,
            pod,
            network: j.network.clone(),
            interface: j.id.ifname.clone(),
            engine: record.kind().as_str().to_owned(),
            kind: kind.to_owned(),
            port: record.name(),
        },
        record,
    })
}
