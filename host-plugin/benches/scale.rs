//! Control plane at scale: ADD then DEL of 100 and of 1,000 vhost-user interfaces on one node
//! with 8 concurrent plugin invocations (as a busy kubelet would), against a private
//! ovsdb-server with host-local IPAM; total and per-interface time, how it grows from 100 to
//! 1,000, and a residue check (ports, leases, state, files) at the end.
//!
//! Run: `cargo bench -p userspace --bench scale`.

#[path = "../tests/support/mod.rs"]
#[allow(clippy::unwrap_used)]
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

const WORKERS: usize = 8;

fn main() {
    let db = support::Ovsdb::start();
    let dir = tempfile::Builder::new()
        .prefix("scale")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let conf = json!({
        "cniVersion": "1.0.0", "name": "scale", "type": "userspace",
        "ovsdbSocket": db.endpoint(), "sharedDir": dir.path().join("shared"), "stateDir": dir.path().join("state"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
        "ipam": {"type": "host-local", "subnet": "10.40.0.0/16", "dataDir": dir.path().join("ipam")}
    })
    .to_string();
    println!(
        "ADD then DEL of N interfaces, {WORKERS} concurrent invocations, private ovsdb-server + host-local, 2 cores, {}",
        date()
    );
    println!(
        "| N | ADD total | ADD per interface | DEL total | DEL per interface | per-interface ADD vs N=100 |"
    );
    println!("|---|---|---|---|---|---|");
    let mut base = None;
    for n in [100usize, 1000] {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:08x}{n:04x}abcdef")).collect();
        let add = run_all(&ids, "ADD", &conf);
        assert_eq!(db.ports("br0").len(), n, "one port per interface");
        let del = run_all(&ids, "DEL", &conf);
        let per_add = add / n as u32;
        let per_del = del / n as u32;
        let growth = base
            .map(|b: Duration| per_add.as_secs_f64() / b.as_secs_f64())
            .unwrap_or(1.0);
        base.get_or_insert(per_add);
        println!(
            "| {n} | {:.2} s | {:.2} ms | {:.2} s | {:.2} ms | {growth:.2}x |",
            add.as_secs_f64(),
            per_add.as_secs_f64() * 1e3,
            del.as_secs_f64(),
            per_del.as_secs_f64() * 1e3
        );
    }
    let ports = db.rows("Port");
    let leases = count(&dir.path().join("ipam/scale"), |n| n.starts_with("10."));
    let state = count(&dir.path().join("state"), |n| n.ends_with(".json"));
    let files = count(&dir.path().join("shared"), |_| true);
    println!(
        "\nresidue after all DELs: {ports} ports, {leases} leases, {state} state files, {files} shared-dir entries"
    );
    assert_eq!(ports + leases + state + files, 0, "residue");
}

fn run_all(ids: &[String], verb: &str, conf: &str) -> Duration {
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    cni(verb, id, conf);
                }
            });
        }
    });
    t.elapsed()
}

fn cni(verb: &str, id: &str, stdin: &str) {
    let (out, code) = support::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        verb,
        id,
        "net1",
        "",
        &[],
        stdin.as_bytes(),
    );
    assert_eq!(code, 0, "{verb} {id}: {out}");
}

fn count(dir: &Path, f: impl Fn(&str) -> bool) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| f(&e.file_name().to_string_lossy()))
                .count()
        })
        .unwrap_or(0)
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
