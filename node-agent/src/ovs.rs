//! OVS: one OVSDB `monitor` of the `Interface` table's counters and link state (the `ovsdb`
//! crate's monitor and row cache), kept current by the server's `update` notifications (ovs-vswitchd writes `statistics` every
//! `stats-update-interval`, 5 s by default). A lost connection is retried with backoff; while
//! it is down the view says so and holds no counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ovsdb::{Client, Endpoint, MonitorRequest};
use serde_json::Value;
use userspace_cni_sdk::wire::Engine as EngineKind;
use userspace_plugin::attachment::journal::Store;
use userspace_plugin::engine::ovs::OvsEngine;

use crate::state::Scanner;
use crate::vpp::{HealError, remake_missing};

/// One interface's counters and link state, as OVSDB holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    /// `statistics`: `rx_packets`, `tx_bytes`, … (absent keys are absent here).
    pub counters: HashMap<String, u64>,
    /// `link_state`, when ovs-vswitchd has set it.
    pub link_up: Option<bool>,
}

/// What the monitor knows.
#[derive(Debug, Default)]
pub struct OvsView {
    /// Whether the monitor is connected.
    pub reachable: bool,
    /// Interfaces by name (only while reachable).
    pub interfaces: HashMap<String, InterfaceStats>,
}

/// The monitor's shared view.
pub type SharedView = Arc<RwLock<OvsView>>;

const MONITOR_ID: &str = "userspace-node";
const COLUMNS: [&str; 3] = ["name", "statistics", "link_state"];
/// How long a read waits before the stop flag is looked at again: SIGTERM is honoured within
/// this much.
const TICK: Duration = Duration::from_millis(200);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Runs the monitor on a thread of its own (the OVSDB client is blocking) until `stop`.
pub fn spawn_monitor(
    endpoint: Endpoint,
    view: SharedView,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut backoff = BACKOFF_MIN;
        while !stop.load(Ordering::Relaxed) {
            match monitor_once(&endpoint, &view, &stop) {
                Ok(()) => return,
                Err(e) => {
                    let was_up = set_down(&view);
                    if was_up {
                        tracing::warn!(%endpoint, "OVSDB monitor lost: {e}");
                        backoff = BACKOFF_MIN;
                    } else {
                        tracing::debug!(%endpoint, ?backoff, "OVSDB unreachable: {e}");
                    }
                }
            }
            sleep_unless_stopped(backoff, &stop);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    })
}

fn set_down(view: &SharedView) -> bool {
    let mut v = view.write().unwrap_or_else(|p| p.into_inner());
    v.interfaces.clear();
    std::mem::replace(&mut v.reachable, false)
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let step = left.min(TICK);
        std::thread::sleep(step);
        left -= step;
    }
}

/// `--repair`: once a second, when OVSDB answers and a committed attachment's port is not in
/// the monitor's view, re-creates the missing ports with the OVS engine's own attach (under
/// each attachment's lock, the journal appended); `repaired` counts them.
pub fn spawn_repair(
    endpoint: String,
    store: Store,
    view: SharedView,
    repaired: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut scanner = Scanner::default();
        while !stop.load(Ordering::Relaxed) {
            sleep_unless_stopped(Duration::from_secs(1), &stop);
            let missing = {
                let v = view.read().unwrap_or_else(|p| p.into_inner());
                v.reachable
                    && scanner.scan(store.dir()).is_ok_and(|s| {
                        s.attachments.iter().any(|a| {
                            a.labels.engine == "ovs-dpdk"
                                && !v.interfaces.contains_key(&a.labels.port)
                        })
                    })
            };
            if !missing {
                continue;
            }
            let pass = OvsEngine::open(&endpoint)
                .map_err(HealError::from)
                .and_then(|mut e| remake_missing(&store, &mut e, EngineKind::OvsDpdk));
            match pass {
                Ok(p) => {
                    repaired.fetch_add(p.reapplied, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!("repair pass failed: {e}"),
            }
        }
    })
}

/// One connection: the monitor's initial rows, then updates until an error or `stop`.
fn monitor_once(
    endpoint: &Endpoint,
    view: &SharedView,
    stop: &AtomicBool,
) -> Result<(), ovsdb::Error> {
    let mut client = Client::connect(endpoint, None, "Open_vSwitch", Duration::from_secs(5))?;
    client.monitor(MONITOR_ID, &[MonitorRequest::new("Interface", &COLUMNS)])?;
    publish(view, &client);
    tracing::info!(%endpoint, "OVSDB monitor up");
    while !stop.load(Ordering::Relaxed) {
        if client.poll(TICK)? > 0 {
            publish(view, &client);
        }
    }
    Ok(())
}

/// Replaces the view's interfaces by the monitor's cached rows: OVSDB answers.
fn publish(view: &SharedView, client: &Client) {
    let interfaces = interfaces(client.cache().table("Interface").map(|(_, row)| row));
    let mut v = view.write().unwrap_or_else(|p| p.into_inner());
    v.interfaces = interfaces;
    v.reachable = true;
}

/// Interfaces by name from `Interface` rows (`name`, `statistics`, `link_state`).
pub fn interfaces<'a>(
    rows: impl Iterator<Item = &'a serde_json::Map<String, Value>>,
) -> HashMap<String, InterfaceStats> {
    rows.filter_map(|row| {
        let name = row.get("name")?.as_str()?.to_owned();
        let stats = InterfaceStats {
            counters: decode_counters(row.get("statistics").unwrap_or(&Value::Null)),
            link_up: decode_link_state(row.get("link_state").unwrap_or(&Value::Null)),
        };
        Some((name, stats))
    })
    .collect()
}

/// `["map", [["rx_packets", 256], …]]`; non-integer values are skipped.
fn decode_counters(v: &Value) -> HashMap<String, u64> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "map" => a[1]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get(0)?.as_str()?.to_owned(), p.get(1)?.as_u64()?)))
            .collect(),
        _ => HashMap::new(),
    }
}

/// `"up"`, `"down"`, or the empty set `["set", []]` when unknown.
fn decode_link_state(v: &Value) -> Option<bool> {
    match v.as_str()? {
        "up" => Some(true),
        "down" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;
    use serde_json::json;

    fn row(name: &str, rx: u64, link: Value) -> serde_json::Map<String, Value> {
        json!({"name": name, "statistics": ["map", [["rx_packets", rx], ["tx_packets", 3]]], "link_state": link})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn rows_give_counters_and_link_state_by_name() {
        let rows = [
            row("p1", 256, json!("up")),
            row("p2", 0, json!(["set", []])),
        ];
        let v = interfaces(rows.iter());
        assert_eq!(v["p1"].counters["rx_packets"], 256);
        assert_eq!(v["p1"].link_up, Some(true));
        assert_eq!(v["p2"].link_up, None, "no link_state yet");
    }

    #[test]
    fn a_row_without_a_name_is_skipped() {
        let mut r = row("p1", 1, json!("down"));
        r.remove("name");
        assert!(interfaces([r].iter()).is_empty());
    }
}
