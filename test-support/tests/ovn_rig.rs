//! The two-node OVN rig itself, with no plugin code: a logical switch with one port per node
//! (made with `ovn-nbctl` and `ovs-vsctl`), a plain testpmd "pod" on each node's `br-int`,
//! and exact counts across the Geneve tunnel both ways; again after node A's `ovs-vswitchd`
//! restarts and after node B's `ovn-controller` restarts; nothing left after the teardown.
//!
//! Needs root, Debian's `dpdk-dev`, `openvswitch-switch-dpdk` and OVN
//! (`scripts/setup-host.sh`); fails, never skips, unless `USERSPACE_TESTS_NO_DPDK=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use userspace_test_support::ovn::{OvnCluster, OvnNode};
use userspace_test_support::{DpdkNeeds, Testpmd, require_dpdk};

/// 8 bursts of 32: what the receiver's ring holds while it shares the CPUs.
const BURSTS: u64 = 8;
const SENT: u64 = BURSTS * 32;
const WAIT: Duration = Duration::from_secs(30);

/// A logical port and the pod behind it.
struct Pod {
    lsp: &'static str,
    mac: &'static str,
    ip: &'static str,
}

const PODS: [Pod; 2] = [
    Pod {
        lsp: "pA",
        mac: "02:00:00:00:00:0a",
        ip: "10.244.0.10",
    },
    Pod {
        lsp: "pB",
        mac: "02:00:00:00:00:0b",
        ip: "10.244.0.11",
    },
];

fn socket(node: &OvnNode, pod: &Pod) -> String {
    node.run_dir()
        .join(format!("{}.sock", pod.lsp))
        .display()
        .to_string()
}

/// The LSP, pinned to the node, with the pod's addresses as port security.
fn add_logical_port(ovn: &OvnCluster, node: &OvnNode, pod: &Pod) {
    let addresses = format!("{} {}", pod.mac, pod.ip);
    ovn.nbctl(&[
        "lsp-add",
        "ls0",
        pod.lsp,
        "--",
        "lsp-set-addresses",
        pod.lsp,
        &addresses,
        "--",
        "lsp-set-port-security",
        pod.lsp,
        &addresses,
        "--",
        "lsp-set-options",
        pod.lsp,
        &format!("requested-chassis={}", node.system_id()),
    ]);
}

/// What the CNI plugin will do instead: a vhost-user client port on `br-int`, bound by
/// its `iface-id`.
fn add_ovs_port(node: &OvnNode, pod: &Pod) {
    node.vsctl(&[
        "add-port",
        "br-int",
        pod.lsp,
        "--",
        "set",
        "Interface",
        pod.lsp,
        "type=dpdkvhostuserclient",
        &format!("options:vhost-server-path={}", socket(node, pod)),
        &format!("external_ids:iface-id={}", pod.lsp),
    ]);
}

/// A plain testpmd holding the vhost-user server socket, sending with the pod's own MAC
/// and IP (OVN's port security drops anything else) to the other pod. Its forwarding lcore
/// is the CPU the node's PMD does not use.
fn start_pod(ovn: &OvnCluster, i: usize) -> Testpmd {
    let (node, pod, peer) = (ovn.node(i), &PODS[i], &PODS[1 - i]);
    let prefix = ovn.dpdk_prefix(&format!("pod{}", pod.lsp));
    let args: Vec<String> = [
        "-l",
        "0,1",
        "--main-lcore",
        ["0", "1"][i],
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        &format!("--file-prefix={prefix}"),
        "--vdev",
        &format!(
            "net_virtio_user0,path={},server=1,queues=1,mac={}",
            socket(node, pod),
            pod.mac
        ),
        "--",
        "-i",
        "--nb-cores=1",
        "--total-num-mbufs=16384",
        "--forward-mode=rxonly",
        &format!("--eth-peer=0,{}", peer.mac),
        &format!("--tx-ip={},{}", pod.ip, peer.ip),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut p = Testpmd::spawn(pod.lsp, "dpdk-testpmd", &args, Some(&prefix));
    p.wait_for("testpmd> ", 1, Duration::from_secs(60));
    p.wait_link(0, true, WAIT);
    node.wait_port_polled(pod.lsp);
    p
}

/// `from` sends 256 frames to `to`: exactly 256 leave and exactly 256 arrive.
fn exact(ovn: &OvnCluster, pods: &mut [Testpmd; 2], from: usize, when: &str) {
    let to = 1 - from;
    for p in pods.iter_mut() {
        p.cmd("clear port stats all");
    }
    pods[to].cmd("start");
    let t = Instant::now();
    pods[from].cmd(&format!("start tx_first {BURSTS}"));
    let stats = pods[to].stats_until(&format!("{when}: {SENT} received"), WAIT, |s| {
        s[0].0 >= SENT
    });
    pods[from].cmd("stop");
    pods[to].cmd("stop");
    let (sent, received) = (pods[from].port_stats()[0].1, pods[to].port_stats()[0].0);
    let dir = format!("{} -> {}", PODS[from].lsp, PODS[to].lsp);
    eprintln!(
        "{when}: {dir}: {sent} sent, {received} received in {:?}",
        t.elapsed()
    );
    assert_eq!(sent, SENT, "{when}: {dir} sent");
    assert_eq!(
        received,
        SENT,
        "{when}: {dir} received (first look {stats:?})\n{}",
        ovn.logs()
    );
}

fn both_ways(ovn: &OvnCluster, pods: &mut [Testpmd; 2], when: &str) {
    exact(ovn, pods, 0, when);
    exact(ovn, pods, 1, when);
}

#[test]
fn two_nodes_pass_exact_counts_over_geneve_across_restarts_and_leave_nothing() {
    let Some(_dpdk) = require_dpdk(DpdkNeeds {
        programs: &[
            ("ovs-vswitchd", "openvswitch-switch-dpdk"),
            ("ovn-northd", "ovn-central"),
            ("ovn-controller", "ovn-host"),
            ("ovn-nbctl", "ovn-common"),
            ("stdbuf", "coreutils"),
            ("ping", "iputils-ping"),
        ],
        hugepages: None,
    }) else {
        return;
    };
    let t = Instant::now();
    let ovn = OvnCluster::start();
    let nodes = [ovn.a(), ovn.b()];
    assert_ne!(nodes[0].system_id(), nodes[1].system_id());
    for n in nodes {
        assert_eq!(
            n.vsctl(&["get", "Bridge", "br-int", "datapath_type"]),
            "netdev"
        );
        assert_eq!(n.vsctl(&["get", "Bridge", "br-int", "fail_mode"]), "secure");
    }
    assert_eq!(ovn.nbctl(&["ls-list"]), "", "the fixture makes no switch");
    let chassis = ovn.sbctl(&["--bare", "--columns=name", "list", "Chassis"]);
    for n in nodes {
        assert!(chassis.contains(n.system_id()), "{chassis}");
    }
    // The TCP endpoint is the same NB.
    let tcp = std::process::Command::new("ovn-nbctl")
        .args([&format!("--db={}", ovn.nb_tcp_endpoint()), "show"])
        .output()
        .unwrap();
    assert!(tcp.status.success(), "{tcp:?}");

    ovn.nbctl(&["ls-add", "ls0"]);
    for (i, n) in nodes.iter().enumerate() {
        add_logical_port(&ovn, n, &PODS[i]);
        add_ovs_port(n, &PODS[i]);
    }
    for (i, n) in nodes.iter().enumerate() {
        n.wait_ovn_installed(PODS[i].lsp);
        ovn.nbctl(&[
            "--timeout=30",
            "wait-until",
            "Logical_Switch_Port",
            PODS[i].lsp,
            "up=true",
        ]);
    }
    let mut pods = [start_pod(&ovn, 0), start_pod(&ovn, 1)];
    ovn.warm_up();
    both_ways(&ovn, &mut pods, "at start");

    let r = Instant::now();
    ovn.a().restart_vswitchd();
    pods[0].wait_link(0, true, WAIT);
    ovn.a().wait_port_polled(PODS[0].lsp);
    ovn.warm_up();
    eprintln!("node A's ovs-vswitchd restarted in {:?}", r.elapsed());
    both_ways(&ovn, &mut pods, "after node A's ovs-vswitchd restarted");

    let r = Instant::now();
    ovn.b().restart_controller();
    ovn.warm_up();
    eprintln!("node B's ovn-controller restarted in {:?}", r.elapsed());
    both_ways(&ovn, &mut pods, "after node B's ovn-controller restarted");

    drop(pods);
    for (i, n) in nodes.iter().enumerate() {
        n.vsctl(&["del-port", "br-int", PODS[i].lsp]);
        ovn.nbctl(&["lsp-del", PODS[i].lsp]);
    }
    ovn.nbctl(&["ls-del", "ls0"]);
    ovn.nbctl(&["--wait=sb", "sync"]);
    assert_eq!(
        ovn.sbctl(&[
            "--bare",
            "--columns=logical_port",
            "find",
            "Port_Binding",
            "type=\"\""
        ]),
        "",
        "no VIF binding left in the SB"
    );
    let residue = ovn.teardown();
    assert!(residue.is_empty(), "left behind: {residue:#?}");
    eprintln!("the whole rig: {:?}", t.elapsed());
}
