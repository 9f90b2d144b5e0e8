//! What crossing a node costs, on the two-node OVN rig of `test-support` (real OVN, two DPDK
//! ovs-vswitchd, Geneve over a veth), printed, never asserted:
//!
//! - ADD (and DEL) time of the plugin binary with `host.engine: ovn` — including the wait
//!   for this node's ovn-controller to install the port — beside `host.engine: ovs-dpdk` on
//!   the same node's OVS, in the same run (ratio);
//! - packets per second from a txonly testpmd to an rxonly testpmd across the tunnel beside
//!   the same two pods on one node (ratio).
//!
//! `cargo bench -p userspace --bench ovn` (root; `scripts/setup-host.sh` first).
//! `BENCH_N` ADD/DEL rounds (default 10), `BENCH_SECS` seconds of traffic (default 5).

#![allow(clippy::unwrap_used)] // a bench: a failed unwrap is a failed run

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use userspace_test_support::ovn::{OvnCluster, OvnNode};
use userspace_test_support::{DpdkNeeds, Testpmd, require_dpdk};

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn conf(node: &OvnNode, dir: &std::path::Path, nb: &str, engine: &str) -> Value {
    let mut c = json!({
        "cniVersion": "1.1.0", "name": "bench-net", "type": "userspace",
        "ovsdbSocket": node.ovsdb_endpoint(),
        "sharedDir": dir.join("shared"), "stateDir": dir.join("state"),
        "socketAliasRoot": dir.join("vs"),
        "host": {"engine": engine, "iftype": "vhostuser", "vhost": {"mode": "client"}},
        "ovn": {"logicalSwitch": "ls-bench", "northbound": nb, "createSwitch": true,
                "subnet": "10.245.0.0/24"}
    });
    if engine == "ovs-dpdk" {
        c["host"]["netType"] = json!("bridge");
        c["host"]["bridge"] = json!({"bridgeName": "br-bench"});
    }
    c
}

fn cni(verb: &str, id: &str, conf: &Value) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_userspace"))
        .env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "net1")
        .env("CNI_NETNS", "/proc/self/ns/net")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{verb} {id}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median ADD and DEL times over `n` rounds.
fn add_del(conf: &Value, n: u64) -> (Duration, Duration) {
    let (mut adds, mut dels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let id = format!("bench{i:04}0000000000000000");
        let t = Instant::now();
        cni("ADD", &id, conf);
        adds.push(t.elapsed());
        let t = Instant::now();
        cni("DEL", &id, conf);
        dels.push(t.elapsed());
    }
    (median(adds), median(dels))
}

/// A plain testpmd on the socket the plugin published, sending (txonly) or counting
/// (rxonly), its forwarding lcore on `cpu`.
fn pod(ovn: &OvnCluster, name: &str, res: &Value, peer: &Value, mode: &str, cpu: &str) -> Testpmd {
    let prefix = ovn.dpdk_prefix(&format!("bench{name}"));
    let socket = res["interfaces"][0]["socketPath"].as_str().unwrap();
    let mac = |r: &Value| r["interfaces"][0]["mac"].as_str().unwrap().to_owned();
    let ip = |r: &Value| {
        r["ips"][0]["address"]
            .as_str()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let args: Vec<String> = vec![
        "-l".into(),
        format!("0,1"),
        "--main-lcore".into(),
        if cpu == "0" { "1".into() } else { "0".into() },
        "--no-pci".into(),
        "--no-huge".into(),
        "-m".into(),
        "256".into(),
        format!("--file-prefix={prefix}"),
        "--vdev".into(),
        format!(
            "net_virtio_user0,path={socket},server=1,queues=1,mac={}",
            mac(res)
        ),
        "--".into(),
        "-i".into(),
        "--nb-cores=1".into(),
        "--total-num-mbufs=16384".into(),
        format!("--forward-mode={mode}"),
        format!("--eth-peer=0,{}", mac(peer)),
        format!("--tx-ip={},{}", ip(res), ip(peer)),
    ];
    let mut p = Testpmd::spawn(name, "dpdk-testpmd", &args, Some(&prefix));
    p.wait_for("testpmd> ", 1, Duration::from_secs(60));
    p.wait_link(0, true, Duration::from_secs(30));
    p
}

/// Packets per second the receiver counted while the sender ran `secs` seconds.
fn pps(ovn: &OvnCluster, tx: &mut Testpmd, rx: &mut Testpmd, secs: u64) -> (f64, f64) {
    ovn.warm_up();
    tx.cmd("clear port stats all");
    rx.cmd("clear port stats all");
    rx.cmd("start");
    let t = Instant::now();
    tx.cmd("start");
    std::thread::sleep(Duration::from_secs(secs));
    tx.cmd("stop");
    let elapsed = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    rx.cmd("stop");
    let sent = tx.port_stats()[0].1 as f64;
    let received = rx.port_stats()[0].0 as f64;
    (sent / elapsed, received / elapsed)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(_dpdk) = require_dpdk(DpdkNeeds {
        programs: &[
            ("ovs-vswitchd", "openvswitch-switch-dpdk"),
            ("ovn-northd", "ovn-central"),
            ("ovn-controller", "ovn-host"),
        ],
        hugepages: None,
    }) else {
        return;
    };
    let n = env_num("BENCH_N", 10);
    let secs = env_num("BENCH_SECS", 5);
    let ovn = OvnCluster::start();
    let dir = tempfile::Builder::new()
        .prefix("usovnbench")
        .tempdir_in("/tmp")
        .unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let nb = ovn.nb_endpoint();
    let ovn_a = conf(ovn.a(), &da, &nb, "ovn");
    let ovs_a = conf(ovn.a(), &da, &nb, "ovs-dpdk");
    let ovn_b = conf(ovn.b(), &db, &nb, "ovn");

    // Warm both paths once (first connections, the bridge and switch creation).
    add_del(&ovs_a, 1);
    add_del(&ovn_a, 1);
    let (ovs_add, ovs_del) = add_del(&ovs_a, n);
    let (ovn_add, ovn_del) = add_del(&ovn_a, n);

    // Traffic: X on node A sends; Y on node B, then Y2 on node A, receives.
    let x = cni("ADD", "x000000000000000", &ovn_a);
    let y = cni("ADD", "y000000000000000", &ovn_b);
    let y2 = cni("ADD", "z000000000000000", &ovn_a);
    let (cross_tx, cross_rx) = {
        let mut tx = pod(&ovn, "X", &x, &y, "txonly", "1");
        let mut rx = pod(&ovn, "Y", &y, &x, "rxonly", "0");
        pps(&ovn, &mut tx, &mut rx, secs)
    };
    let (local_tx, local_rx) = {
        let mut tx = pod(&ovn, "X", &x, &y2, "txonly", "1");
        let mut rx = pod(&ovn, "Y2", &y2, &x, "rxonly", "0");
        pps(&ovn, &mut tx, &mut rx, secs)
    };
    cni("DEL", "x000000000000000", &ovn_a);
    cni("DEL", "y000000000000000", &ovn_b);
    cni("DEL", "z000000000000000", &ovn_a);
    let residue = ovn.teardown();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("OVN across two nodes on one machine ({n} ADD/DEL rounds, {secs} s of traffic)");
    println!();
    println!("| what | ovs-dpdk (one node) | ovn | ratio ovn / ovs-dpdk |");
    println!("|---|---|---|---|");
    println!(
        "| ADD, median (ovn: until ovn-installed) | {:.1} ms | {:.1} ms | {:.2} |",
        ms(ovs_add),
        ms(ovn_add),
        ms(ovn_add) / ms(ovs_add)
    );
    println!(
        "| DEL, median | {:.1} ms | {:.1} ms | {:.2} |",
        ms(ovs_del),
        ms(ovn_del),
        ms(ovn_del) / ms(ovs_del)
    );
    println!();
    println!("| path (64-byte frames, txonly -> rxonly) | offered Mpps | received Mpps |");
    println!("|---|---|---|");
    println!(
        "| same node (both pods on node A's br-int) | {:.3} | {:.3} |",
        local_tx / 1e6,
        local_rx / 1e6
    );
    println!(
        "| across nodes (Geneve, A -> B) | {:.3} | {:.3} |",
        cross_tx / 1e6,
        cross_rx / 1e6
    );
    println!(
        "| ratio across / same node (received) | | {:.2} |",
        cross_rx / local_rx.max(1.0)
    );
    println!();
    println!(
        "Two cores run two OVS PMDs (one per node), the sender's and the receiver's lcores and \
         the rest of the machine: the figures are set mostly by the scheduler (see README, Many \
         nodes: OVN). residue after teardown: {residue:?}"
    );
}
