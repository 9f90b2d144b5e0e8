//! VPP attachments' counters and link state, read at each scrape.
//!
//! Counters come from VPP's stats segment ([`vpp_api::stats`]): VPP 25.10 publishes
//! per-interface counters nowhere else. They are indexed by `sw_if_index`, which a VPP
//! restart hands out again to whatever is made first, so an attachment's index is taken
//! from a `sw_interface_dump` by the interface's tag (the hash of owner and network the
//! plugin sets, the same proof healing relies on), never trusted from the journal alone:
//! between a restart and the healing pass the journal's index may name another interface.
//! The same dump gives the link state (`IF_STATUS_API_FLAG_LINK_UP`).
//!
//! Both connections are made per scrape: the stats segment is re-created by a VPP restart,
//! and a fresh connection is the only way to get the new one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use userspace_plugin::engine::vpp::attach::interface_tag;
use vpp_api::messages::interface::{ANY_SW_IF_INDEX, IfStatusFlags, SwInterfaceDump};
use vpp_api::stats::{InterfaceCounters, StatsError, StatsSegment};

/// How long a scrape waits for VPP's API.
const API_TIMEOUT: Duration = Duration::from_secs(2);

/// Why VPP's counters could not be read this scrape.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    /// The API (for the interface list) failed.
    #[error("VPP API: {0}")]
    Api(#[from] vpp_api::VppError),
    /// The stats segment failed.
    #[error("VPP stats: {0}")]
    Stats(#[from] StatsError),
}

/// Where VPP is read.
#[derive(Debug, Clone)]
pub struct VppSockets {
    /// The API socket.
    pub api: PathBuf,
    /// The stats socket.
    pub stats: PathBuf,
}

/// One interface as read this scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceReading {
    /// VPP's index now.
    pub sw_if_index: u32,
    /// Its counters, summed over VPP's threads.
    pub counters: InterfaceCounters,
    /// `IF_STATUS_API_FLAG_LINK_UP`.
    pub link_up: bool,
}

/// VPP's tagged interfaces by tag, with their counters.
#[derive(Debug, Default)]
pub struct VppReading {
    by_tag: HashMap<String, InterfaceReading>,
}

impl VppReading {
    /// Reads the interface list and the stats segment.
    pub fn read(sockets: &VppSockets) -> Result<Self, CountersError> {
        // The stats socket first: without it (no stats segment configured in VPP) no API
        // session is opened for nothing.
        let segment = StatsSegment::connect(&sockets.stats)?;
        let mut client =
            vpp_api::Client::connect(&sockets.api, "userspace-node-metrics", API_TIMEOUT)?;
        let all = client.dump(&SwInterfaceDump {
            sw_if_index: ANY_SW_IF_INDEX,
            name_filter_valid: false,
            name_filter: String::new(),
        })?;
        drop(client);
        let counters = segment.interface_counters()?;
        let by_tag = all
            .into_iter()
            .filter(|d| !d.tag.0.is_empty())
            .map(|d| {
                let reading = InterfaceReading {
                    sw_if_index: d.sw_if_index,
                    // An interface newer than the segment's vectors has counted nothing yet.
                    counters: counters.get(&d.sw_if_index).copied().unwrap_or_default(),
                    link_up: d.flags.0 & IfStatusFlags::LINK_UP.0 != 0,
                };
                (d.tag.0, reading)
            })
            .collect();
        Ok(Self { by_tag })
    }

    /// The interface of the attachment `owner` on `network`, found by its tag.
    pub fn interface(&self, owner: &str, network: &str) -> Option<&InterfaceReading> {
        self.by_tag.get(&interface_tag(owner, network))
    }
}

/// The counters as the exposition names them (OVSDB's `statistics` keys). VPP has no
/// per-interface transmit drop counter: `/if/drops` counts what the interface received and
/// VPP dropped, so it is `rx_dropped`, and `tx_dropped` is absent.
pub fn as_statistics(c: &InterfaceCounters) -> BTreeMap<String, u64> {
    [
        ("rx_packets", c.rx_packets),
        ("rx_bytes", c.rx_bytes),
        ("tx_packets", c.tx_packets),
        ("tx_bytes", c.tx_bytes),
        ("rx_dropped", c.drops),
        ("rx_errors", c.rx_errors),
        ("tx_errors", c.tx_errors),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
