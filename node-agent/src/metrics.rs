//! The exposition: at each scrape the state directory is read and joined with what the
//! switch monitors hold, and `prometheus-client` encodes the result (Prometheus text 0.0.4 or
//! OpenMetrics, as the scraper asks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use userspace_plugin::engine::EngineRecord;

use crate::ovs::SharedView;
use crate::state::{self, AttachmentLabels, Scan};
use crate::vpp_counters::{self, VppReading};

/// The per-attachment counters: (OVSDB `statistics` key, metric name, help).
pub const COUNTERS: [(&str, &str, &str); 8] = [
    (
        "rx_packets",
        "userspace_attachment_rx_packets",
        "Packets the switch received from the pod's interface.",
    ),
    (
        "tx_packets",
        "userspace_attachment_tx_packets",
        "Packets the switch sent to the pod's interface.",
    ),
    (
        "rx_bytes",
        "userspace_attachment_rx_bytes",
        "Bytes the switch received from the pod's interface.",
    ),
    (
        "tx_bytes",
        "userspace_attachment_tx_bytes",
        "Bytes the switch sent to the pod's interface.",
    ),
    (
        "rx_dropped",
        "userspace_attachment_rx_drops",
        "Packets from the pod the switch dropped.",
    ),
    (
        "tx_dropped",
        "userspace_attachment_tx_drops",
        "Packets to the pod the switch dropped (the pod's ring was full or gone).",
    ),
    (
        "rx_errors",
        "userspace_attachment_rx_errors",
        "Receive errors on the pod's interface.",
    ),
    (
        "tx_errors",
        "userspace_attachment_tx_errors",
        "Transmit errors on the pod's interface.",
    ),
];

/// Labels of node-level series per engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
pub struct EngineLabel {
    /// `ovs-dpdk` or `vpp`.
    pub engine: String,
}

/// One attachment's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentReading {
    /// Its labels.
    pub labels: AttachmentLabels,
    /// Counters by OVSDB key; empty when the switch is not reachable.
    pub counters: BTreeMap<String, u64>,
    /// Link state; down when unknown.
    pub link_up: bool,
    /// The switch answers and has no such port.
    pub missing: bool,
}

/// Everything one scrape exposes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Whether the state directory could be listed.
    pub state_dir_readable: bool,
    /// The attachments.
    pub attachments: Vec<AttachmentReading>,
    /// Journals not committed.
    pub uncommitted: u64,
    /// Journals that cannot be read.
    pub unreadable: u64,
    /// Reachability of each configured switch.
    pub switches: BTreeMap<String, bool>,
    /// VPP restarts seen, attachments re-applied, failures, when VPP is watched.
    pub vpp: Option<(u64, u64, u64)>,
    /// OVS ports re-created, with `--repair`.
    pub repaired: Option<u64>,
}

/// The agent's sources.
#[derive(Debug)]
pub struct Sources {
    /// The plugin's state directory.
    pub state_dir: PathBuf,
    /// The OVS monitor, when OVS is configured.
    pub ovs: Option<SharedView>,
    /// OVS ports re-created (`--repair`).
    pub repaired: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// The VPP watcher, when VPP is configured.
    pub vpp: Option<std::sync::Arc<crate::vpp::VppStatus>>,
    /// VPP's API and stats sockets, for VPP attachments' counters and link state.
    pub vpp_sockets: Option<crate::vpp_counters::VppSockets>,
    /// The last error reading VPP's counters, so it is logged when it changes only.
    vpp_error: Mutex<Option<String>>,
    /// Ports reported missing at the last scrape, so a missing port is logged once.
    missing: Mutex<BTreeSet<AttachmentLabels>>,
    /// The state directory's reader (caches readings of unchanged journals).
    scanner: Mutex<state::Scanner>,
}

impl Sources {
    /// Sources for a state directory and, optionally, an OVS monitor.
    pub fn new(state_dir: PathBuf, ovs: Option<SharedView>) -> Self {
        Self {
            state_dir,
            ovs,
            vpp: None,
            vpp_sockets: None,
            vpp_error: Mutex::default(),
            repaired: None,
            missing: Mutex::default(),
            scanner: Mutex::default(),
        }
    }

    /// Reads the state directory and the monitors now.
    pub fn snapshot(&self) -> Snapshot {
        let scanned = self
            .scanner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .scan(&self.state_dir);
        let (scan, readable) = match scanned {
            Ok(s) => (s, true),
            Err(e) => {
                tracing::warn!("{e}");
                (Scan::default(), false)
            }
        };
        let mut switches = BTreeMap::new();
        let ovs = self
            .ovs
            .as_ref()
            .map(|v| v.read().unwrap_or_else(|p| p.into_inner()));
        if let Some(v) = &ovs {
            switches.insert("ovs-dpdk".to_owned(), v.reachable);
        }
        let vpp = self.vpp.as_ref().map(|v| {
            use std::sync::atomic::Ordering::Relaxed;
            switches.insert("vpp".to_owned(), v.reachable.load(Relaxed));
            (
                v.restarts.load(Relaxed),
                v.reapplied.load(Relaxed),
                v.failures.load(Relaxed),
            )
        });
        let vpp_reading = self.read_vpp(&scan);
        let attachments: Vec<AttachmentReading> = scan
            .attachments
            .into_iter()
            .map(|a| {
                if let (EngineRecord::Vpp(r), Some(v)) = (&a.record, &vpp_reading) {
                    let seen = v.interface(&r.owner, &r.network);
                    return AttachmentReading {
                        counters: seen
                            .map(|i| vpp_counters::as_statistics(&i.counters))
                            .unwrap_or_default(),
                        link_up: seen.is_some_and(|i| i.link_up),
                        missing: seen.is_none(),
                        labels: a.labels,
                    };
                }
                let seen = match (a.labels.engine.as_str(), &ovs) {
                    // OVN's pods are ports of this node's OVS too.
                    ("ovs-dpdk" | "ovn", Some(v)) if v.reachable => {
                        Some(v.interfaces.get(&a.labels.port))
                    }
                    _ => None,
                };
                AttachmentReading {
                    counters: seen
                        .flatten()
                        .map(|s| s.counters.iter().map(|(k, v)| (k.clone(), *v)).collect())
                        .unwrap_or_default(),
                    link_up: seen.flatten().and_then(|s| s.link_up).unwrap_or(false),
                    missing: matches!(seen, Some(None)),
                    labels: a.labels,
                }
            })
            .collect();
        drop(ovs);
        self.log_missing(&attachments);
        Snapshot {
            state_dir_readable: readable,
            attachments,
            uncommitted: scan.uncommitted,
            unreadable: scan.unreadable,
            switches,
            vpp,
            repaired: self
                .repaired
                .as_ref()
                .map(|r| r.load(std::sync::atomic::Ordering::Relaxed)),
        }
    }

    /// VPP's interfaces and counters, when VPP is configured and has attachments here.
    fn read_vpp(&self, scan: &Scan) -> Option<VppReading> {
        let sockets = self.vpp_sockets.as_ref()?;
        if !scan
            .attachments
            .iter()
            .any(|a| matches!(a.record, EngineRecord::Vpp(_)))
        {
            return None;
        }
        let read = VppReading::read(sockets);
        let error = read.as_ref().err().map(ToString::to_string);
        let mut last = self.vpp_error.lock().unwrap_or_else(|p| p.into_inner());
        if *last != error {
            match &error {
                Some(e) => tracing::warn!("VPP attachments' counters not read: {e}"),
                None => tracing::info!("VPP attachments' counters read again"),
            }
            *last = error;
        }
        read.ok()
    }

    fn log_missing(&self, attachments: &[AttachmentReading]) {
        let now: BTreeSet<AttachmentLabels> = attachments
            .iter()
            .filter(|a| a.missing)
            .map(|a| a.labels.clone())
            .collect();
        let mut before = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        for l in now.difference(&before) {
            tracing::warn!(port = %l.port, namespace = %l.namespace, pod = %l.pod, "journaled port is missing from the switch");
        }
        *before = now;
    }
}

impl Collector for Sources {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_snapshot(&self.snapshot(), encoder)
    }
}

/// A registry holding the agent's collector.
pub fn registry(sources: std::sync::Arc<Sources>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(sources));
    r
}

fn gauge_family<'a, L: EncodeLabelSet + 'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (&'a L, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        ConstGauge::new(v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn single_gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: i64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// Encodes a snapshot.
pub fn encode_snapshot(s: &Snapshot, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
    for (key, name, help) in COUNTERS {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        for a in &s.attachments {
            if let Some(v) = a.counters.get(key) {
                ConstCounter::new(*v).encode(m.encode_family(&a.labels)?)?;
            }
        }
    }
    gauge_family(
        &mut enc,
        "userspace_attachment_link_up",
        "1 when the pod's interface link is up on the switch, 0 when down, unknown or missing.",
        s.attachments
            .iter()
            .map(|a| (&a.labels, i64::from(a.link_up))),
    )?;
    gauge_family(
        &mut enc,
        "userspace_attachment_port_missing",
        "1 when the switch answers and has no port the journal says was made.",
        s.attachments
            .iter()
            .map(|a| (&a.labels, i64::from(a.missing))),
    )?;
    encode_node(s, &mut enc)
}

/// What the agent made again: OVS ports (`--repair`), VPP attachments after restarts.
fn encode_healing(s: &Snapshot, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    if let Some(n) = s.repaired {
        let m = enc.encode_descriptor(
            "userspace_node_ports_repaired",
            "OVS ports missing from OVSDB that --repair made again.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(n).encode(m)?;
    }
    if let Some((restarts, reapplied, failures)) = s.vpp {
        for (name, help, v) in [
            (
                "userspace_node_vpp_restarts",
                "VPP restarts seen (its API session lost, then back).",
                restarts,
            ),
            (
                "userspace_node_reapplied",
                "Attachments re-applied on VPP after a restart.",
                reapplied,
            ),
            (
                "userspace_node_reapply_failures",
                "Re-applications on VPP that failed (retried).",
                failures,
            ),
        ] {
            let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(v).encode(m)?;
        }
    }
    Ok(())
}

/// The node-level families.
fn encode_node(s: &Snapshot, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let mut by_engine: BTreeMap<EngineLabel, i64> = ["ovs-dpdk", "vpp", "ovn"]
        .into_iter()
        .map(|e| {
            (
                EngineLabel {
                    engine: e.to_owned(),
                },
                0,
            )
        })
        .collect();
    for a in &s.attachments {
        *by_engine
            .entry(EngineLabel {
                engine: a.labels.engine.clone(),
            })
            .or_default() += 1;
    }
    gauge_family(
        enc,
        "userspace_node_attachments",
        "Committed attachments in the state directory, by engine.",
        by_engine.iter().map(|(l, v)| (l, *v)),
    )?;
    single_gauge(
        enc,
        "userspace_node_journals_uncommitted",
        "Journals whose ADD has not committed: running now, or killed and waiting for DEL.",
        gauge_value(s.uncommitted),
    )?;
    single_gauge(
        enc,
        "userspace_node_journals_unreadable",
        "Journal files that cannot be read whole; skipped.",
        gauge_value(s.unreadable),
    )?;
    single_gauge(
        enc,
        "userspace_node_state_dir_readable",
        "1 when the plugin's state directory can be listed.",
        i64::from(s.state_dir_readable),
    )?;
    let switches: Vec<(EngineLabel, i64)> = s
        .switches
        .iter()
        .map(|(e, up)| (EngineLabel { engine: e.clone() }, i64::from(*up)))
        .collect();
    gauge_family(
        enc,
        "userspace_node_switch_reachable",
        "1 when the configured switch answers.",
        switches.iter().map(|(l, v)| (l, *v)),
    )?;
    let missing: Vec<(EngineLabel, i64)> = s
        .switches
        .keys()
        .map(|e| {
            let n = s
                .attachments
                .iter()
                .filter(|a| a.missing && &a.labels.engine == e)
                .count();
            (EngineLabel { engine: e.clone() }, gauge_value(n as u64))
        })
        .collect();
    encode_healing(s, enc)?;
    gauge_family(
        enc,
        "userspace_node_ports_missing",
        "Journaled ports the switch does not have.",
        missing.iter().map(|(l, v)| (l, *v)),
    )
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The two exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// What an `Accept` header asks for: OpenMetrics when it names it, else Prometheus text.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Encodes the registry.
    pub fn encode(self, registry: &Registry) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        match self {
            Self::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?
            }
            Self::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry)?,
        }
        Ok(out)
    }
}
