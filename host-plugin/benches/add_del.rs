//! ADD and DEL latency of the `userspace` binary against a private ovsdb-server, side by side
//! with the ovs-vsctl sequence the Go plugin runs for the same attachment (plus the same
//! host-local exec), and host-local alone to show the plugin's own overhead.
//!
//! Run: `cargo bench -p userspace --bench add_del` (needs ovsdb-server, host-local).

#[path = "../tests/support/mod.rs"]
#[allow(clippy::unwrap_used)]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

const N: usize = 150;

fn main() {
    let db = support::Ovsdb::start();
    let dir = tempfile::Builder::new()
        .prefix("bench")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let conf = json!({
        "cniVersion": "1.0.0", "name": "bench", "type": "userspace",
        "ovsdbSocket": db.endpoint(), "sharedDir": dir.path().join("shared"), "stateDir": dir.path().join("state"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
        "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "dataDir": dir.path().join("ipam")}
    })
    .to_string();
    let ipam_conf = json!({"cniVersion": "1.0.0", "name": "bench-ipam", "ipam": {"type": "host-local", "subnet": "10.89.0.0/16", "dataDir": dir.path().join("ipam")}}).to_string();
    // A bridge the Go sequence finds, as in a running cluster.
    db.vsctl(&[
        "add-br",
        "br1",
        "--",
        "set",
        "bridge",
        "br1",
        "datapath_type=netdev",
    ]);
    db.vsctl(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ]);

    let (mut add, mut del, mut go_add, mut go_del, mut ipam_add, mut ipam_del) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..N {
        let id = format!("{i:012x}feedc0de");
        add.push(time(|| {
            cni(env!("CARGO_BIN_EXE_userspace"), "ADD", &id, &conf)
        }));
        del.push(time(|| {
            cni(env!("CARGO_BIN_EXE_userspace"), "DEL", &id, &conf)
        }));

        let port = format!("{}-net1", &id[..12]);
        let sock = dir.path().join("shared").join(&port).display().to_string();
        go_add.push(time(|| {
            db.vsctl(&["--bare", "--columns=name", "find", "bridge", "name=br1"]);
            db.vsctl(&[
                "add-port",
                "br1",
                &port,
                "--",
                "set",
                "Interface",
                &port,
                "type=dpdkvhostuserclient",
                &format!("options:vhost-server-path={sock}"),
            ]);
            db.vsctl(&[
                "--bare",
                "--columns=mac",
                "find",
                "port",
                &format!("name={port}"),
            ]);
            cni("/usr/lib/cni/host-local", "ADD", &id, &ipam_conf);
        }));
        go_del.push(time(|| {
            db.vsctl(&["--if-exists", "del-port", "br1", &port]);
            db.vsctl(&["list-ports", "br1"]);
            cni("/usr/lib/cni/host-local", "DEL", &id, &ipam_conf);
        }));
        ipam_add.push(time(|| {
            cni("/usr/lib/cni/host-local", "ADD", &id, &ipam_conf)
        }));
        ipam_del.push(time(|| {
            cni("/usr/lib/cni/host-local", "DEL", &id, &ipam_conf)
        }));
    }
    let residue = db.rows("Port") - 2 + db.ports("br0").len();
    println!(
        "CNI ADD/DEL of one vhost-user port on OVS (ovsdb-server only, no vswitchd), {N} runs each, 2 cores, {}",
        date()
    );
    println!("| operation | median | p99 | vs. Go plugin's ovs-vsctl sequence |");
    println!("|---|---|---|---|");
    row(
        "ADD: userspace (one OVSDB transaction + host-local)",
        &mut add,
        Some(&mut go_add.clone()),
    );
    row(
        "ADD: ovs-vsctl find + add-port + find mac, + host-local",
        &mut go_add,
        None,
    );
    row("DEL: userspace", &mut del, Some(&mut go_del.clone()));
    row(
        "DEL: ovs-vsctl del-port + list-ports, + host-local",
        &mut go_del,
        None,
    );
    row("host-local ADD alone", &mut ipam_add, None);
    row("host-local DEL alone", &mut ipam_del, None);
    let (a, i) = (median(&mut add), median(&mut ipam_add));
    println!(
        "\nplugin's own ADD overhead beyond host-local: {:?} (median); ports left in br0 after the run: {residue}",
        a.saturating_sub(i)
    );
}

fn cni(bin: &str, verb: &str, id: &str, stdin: &str) {
    let (out, code) = support::run_plugin(bin, verb, id, "net1", "", &[], stdin.as_bytes());
    assert_eq!(code, 0, "{bin} {verb}: {out}");
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() * 99 / 100]
}

fn row(name: &str, v: &mut [Duration], baseline: Option<&mut Vec<Duration>>) {
    let (m, p) = (median(v), p99(v));
    let ratio = baseline
        .map(|b| format!("{:.2}x", m.as_secs_f64() / median(b).as_secs_f64()))
        .unwrap_or_else(|| "1.00x".into());
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {ratio} |",
        m.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3
    );
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
