//! OVS: one OVSDB `monitor` of the `Interface` table's counters and link state, kept current
//! by the server's `update` notifications (ovs-vswitchd writes `statistics` every
//! `stats-update-interval`, 5 s by default). A lost connection is retried with backoff; while
//! it is down the view says so and holds no counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use userspace_cni_sdk::wire::Engine as EngineKind;
use userspace_plugin::attachment::journal::Store;
use userspace_plugin::engine::ovs::OvsEngine;
use userspace_plugin::ovs::jsonrpc::{Connection, Endpoint, RpcError};

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
fn monitor_once(endpoint: &Endpoint, view: &SharedView, stop: &AtomicBool) -> Result<(), RpcError> {
    let mut conn = Connection::connect(endpoint, Duration::from_secs(5))?;
    let initial = conn.call(
        "monitor",
        json!(["Open_vSwitch", MONITOR_ID, {"Interface": {"columns": COLUMNS}}]),
    )?;
    // Row UUID -> interface name: a deletion names only the UUID.
    let mut names = HashMap::new();
    {
        let mut v = view.write().unwrap_or_else(|p| p.into_inner());
        v.interfaces.clear();
        apply(&mut v, &initial, &mut names);
        v.reachable = true;
    }
    tracing::info!(%endpoint, "OVSDB monitor up");
    while !stop.load(Ordering::Relaxed) {
        if let Some((method, params)) = conn.next_notification(TICK)?
            && method == "update"
            && params.get(0).and_then(Value::as_str) == Some(MONITOR_ID)
        {
            let mut v = view.write().unwrap_or_else(|p| p.into_inner());
            apply(&mut v, params.get(1).unwrap_or(&Value::Null), &mut names);
        }
    }
    Ok(())
}

/// Applies `<table-updates>` (RFC 7047 §4.1.6): a row with `new` is inserted or modified
/// (`new` holds every monitored column), one without is deleted.
pub fn apply(view: &mut OvsView, updates: &Value, names: &mut HashMap<String, String>) {
    let Some(rows) = updates.get("Interface").and_then(Value::as_object) else {
        return;
    };
    for (uuid, row) in rows {
        match row.get("new") {
            Some(new) => {
                let Some(name) = new.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let stats = InterfaceStats {
                    counters: decode_counters(new.get("statistics").unwrap_or(&Value::Null)),
                    link_up: decode_link_state(new.get("link_state").unwrap_or(&Value::Null)),
                };
                if let Some(old) = names.insert(uuid.clone(), name.to_owned())
                    && old != name
                {
                    view.interfaces.remove(&old);
                }
                view.interfaces.insert(name.to_owned(), stats);
            }
            None => {
                if let Some(name) = names.remove(uuid) {
                    view.interfaces.remove(&name);
                }
            }
        }
    }
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

    fn row(name: &str, rx: u64, link: Value) -> Value {
        json!({"new": {"name": name, "statistics": ["map", [["rx_packets", rx], ["tx_packets", 3]]], "link_state": link}})
    }

    #[test]
    fn initial_rows_give_counters_and_link_state_by_name() {
        let mut v = OvsView::default();
        let mut names = HashMap::new();
        apply(
            &mut v,
            &json!({"Interface": {"u1": row("p1", 256, json!("up")), "u2": row("p2", 0, json!(["set", []]))}}),
            &mut names,
        );
        assert_eq!(v.interfaces["p1"].counters["rx_packets"], 256);
        assert_eq!(v.interfaces["p1"].link_up, Some(true));
        assert_eq!(v.interfaces["p2"].link_up, None, "no link_state yet");
    }

    #[test]
    fn a_modify_replaces_the_row_and_a_delete_by_uuid_removes_it() {
        let mut v = OvsView::default();
        let mut names = HashMap::new();
        apply(
            &mut v,
            &json!({"Interface": {"u1": row("p1", 1, json!("down"))}}),
            &mut names,
        );
        apply(
            &mut v,
            &json!({"Interface": {"u1": {"old": {"statistics": []}, "new": row("p1", 9, json!("up"))["new"]}}}),
            &mut names,
        );
        assert_eq!(v.interfaces["p1"].counters["rx_packets"], 9);
        apply(
            &mut v,
            &json!({"Interface": {"u1": {"old": {}}}}),
            &mut names,
        );
        assert!(v.interfaces.is_empty());
    }
}
