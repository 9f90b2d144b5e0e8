//! Control plane at scale: ADD then DEL of N = 100, 1,000 and 2,000 vhost-user interfaces on
//! one node with 8 concurrent invocations (as a busy kubelet would), against a private
//! ovsdb-server with host-local IPAM. Per component: host-local alone, the switch alone
//! (`ovs-vsctl add-port` / `del-port` to the same port count) and the plugin, each as batch
//! time per interface; the plugin's own part is the median over the invocations of each one's
//! wall time less the host-local time it reports (`USERSPACE_PROFILE`), and how that grows
//! from 100 is the summary. A residue check (ports, leases, state, files) ends it.
//!
//! Run: `cargo bench -p userspace --bench scale`.

#[path = "../tests/support/mod.rs"]
#[allow(clippy::unwrap_used)]
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use userspace_test_support::ovs::Ovs;

const WORKERS: usize = 8;
const PLUGIN: &str = env!("CARGO_BIN_EXE_userspace");
const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

fn main() {
    let db = Ovs::start_db("ovs");
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
    let ipam_conf = json!({"cniVersion": "1.0.0", "name": "scale-ipam", "ipam": {"type": "host-local", "subnet": "10.41.0.0/16", "dataDir": dir.path().join("ipam")}}).to_string();
    db.add_netdev_bridge("br-vsctl");
    println!(
        "ADD then DEL of N interfaces, {WORKERS} concurrent invocations, private ovsdb-server + host-local, 2 cores, {}",
        date()
    );
    println!(
        "| N | host-local ADD / DEL per interface | ovs-vsctl add-port / del-port per port | plugin ADD / DEL per interface | plugin's own ADD / DEL (median per invocation, host-local's time inside taken out) | own ADD vs N=100 |"
    );
    println!("|---|---|---|---|---|---|");
    let mut base = None;
    let mut growth_1000 = 0.0;
    // SCALE_NS=100,1000 for a quicker look; the README's table uses the default.
    let ns: Vec<usize> = std::env::var("SCALE_NS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000, 2000]);
    for n in ns {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:08x}{n:04x}abcdef")).collect();
        let per = |d: Duration| d / n as u32;
        let ipam_add = per(run_all(&ids, |id| cni(HOST_LOCAL, "ADD", id, &ipam_conf)));
        let ipam_del = per(run_all(&ids, |id| cni(HOST_LOCAL, "DEL", id, &ipam_conf)));
        let sw_add = per(run_all(&ids, |id| {
            let port = format!("{}-vs", &id[..12]);
            vsctl(
                &db,
                &[
                    "add-port",
                    "br-vsctl",
                    &port,
                    "--",
                    "set",
                    "Interface",
                    &port,
                    "type=dpdkvhostuserclient",
                ],
            );
        }));
        let sw_del = per(run_all(&ids, |id| {
            vsctl(&db, &["del-port", "br-vsctl", &format!("{}-vs", &id[..12])]);
        }));
        let own = Mutex::new((Vec::new(), Vec::new()));
        let add = per(run_all(&ids, |id| {
            let d = own_part(PLUGIN, "ADD", id, &conf);
            own.lock().expect("own").0.push(d);
        }));
        assert_eq!(db.ports("br0").len(), n, "one port per interface");
        let del = per(run_all(&ids, |id| {
            let d = own_part(PLUGIN, "DEL", id, &conf);
            own.lock().expect("own").1.push(d);
        }));
        let (adds, dels) = own.into_inner().expect("own");
        let (own_add, own_del) = (median(adds), median(dels));
        let growth = base
            .map(|b: Duration| own_add.as_secs_f64() / b.as_secs_f64())
            .unwrap_or(1.0);
        base.get_or_insert(own_add);
        if n == 1000 {
            growth_1000 = growth;
        }
        println!(
            "| {n} | {} / {} | {} / {} | {} / {} | {} / {} | {growth:.2}x |",
            ms(ipam_add),
            ms(ipam_del),
            ms(sw_add),
            ms(sw_del),
            ms(add),
            ms(del),
            ms(own_add),
            ms(own_del)
        );
    }
    let ports = db.rows("Port") - 1; // br-vsctl's own port
    let leases = count(&dir.path().join("ipam/scale"), |n| n.starts_with("10."))
        + count(&dir.path().join("ipam/scale-ipam"), |n| {
            n.starts_with("10.")
        });
    let state = count(&dir.path().join("state"), |n| n.ends_with(".json"));
    let files = count(&dir.path().join("shared"), |_| true);
    println!(
        "\nresidue after all DELs: {ports} ports, {leases} leases, {state} state files, {files} shared-dir entries"
    );
    assert_eq!(ports + leases + state + files, 0, "residue");
    println!("plugin's own per-interface ADD cost, N=1000 vs N=100: {growth_1000:.2}x");
}

/// Runs `f` for every id on WORKERS threads; the wall time of the whole batch.
fn run_all(ids: &[String], f: impl Fn(&str) + Sync) -> Duration {
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    f(id);
                }
            });
        }
    });
    t.elapsed()
}

/// One plugin invocation with `USERSPACE_PROFILE`: its wall time less the time it spent in
/// host-local (the `ipam` phase it reports). Measured inside each invocation, because with 8
/// at once host-local's own lock serialises its runs, so "plugin minus host-local alone" is
/// not the plugin's part.
fn own_part(bin: &str, verb: &str, id: &str, stdin: &str) -> Duration {
    let (wall, phases) = support::run_profiled(bin, verb, id, stdin);
    let ipam = phases
        .get("ipam")
        .copied()
        .expect("the plugin's USERSPACE_PROFILE line");
    wall.saturating_sub(Duration::from_micros(ipam))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn cni(bin: &str, verb: &str, id: &str, stdin: &str) {
    let (out, code) = support::run_plugin(bin, verb, id, "net1", "", &[], stdin.as_bytes());
    assert_eq!(code, 0, "{bin} {verb} {id}: {out}");
}

/// ovs-vsctl as the Go plugin runs it, with room for its growth: it reads the whole database
/// on every call, so at a thousand ports eight at once take longer than the tests' timeout.
fn vsctl(db: &Ovs, args: &[&str]) {
    let out = Command::new("ovs-vsctl")
        .arg(format!("--db={}", db.endpoint()))
        .args(["--no-wait", "--timeout=300"])
        .args(args)
        .output()
        .expect("ovs-vsctl");
    assert!(
        out.status.success(),
        "ovs-vsctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
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
