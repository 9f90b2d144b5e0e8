//! End to end on a private OVS-DPDK with real testpmd pods: the plugin's ADD (in-process, real
//! OVSDB) makes `dpdkvhostuserclient` ports from NetConfs with `mtu: 9000`, two queues, a
//! VLAN and a chosen MAC; each pod's testpmd is the one `userspace-agent testpmd` builds from
//! what the plugin published. Then, counted:
//!
//! - pod A (VLAN 10, MAC from `runtimeConfig.mac`) shows that MAC in `show port info`;
//! - A sends 9000-byte frames on both of its queues (testpmd's per-queue xstats), OVS polls
//!   both of A's rx queues (`dpif-netdev/pmd-rxq-show`);
//! - pod B (VLAN 10) receives every one of them, 9000 bytes each, on both of its rx queues
//!   (OVS spreads by hash: `tx-steering=hash`, set by the plugin for multi-queue ports);
//!   pod C (VLAN 20, same bridge) receives none;
//! - DEL removes the ports and the bridge the plugin made.
//!
//! Needs root, 2 MiB hugepages for OVS, Debian's `dpdk-dev` and `openvswitch-switch-dpdk`
//! (`scripts/setup-host.sh`) and `cargo build --workspace` (for the agent); fails, never skips,
//! unless `USERSPACE_TESTS_NO_DPDK=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use userspace_test_support::{
    DpdkNeeds, Testpmd, agent_binary, agent_testpmd, cni_vars, ovs::Ovs, require_dpdk,
};

/// Bursts of 32 per tx queue: 256 frames in all, what the receiver's 1024-descriptor ring
/// holds while it shares CPU 0 with the sender.
const BURSTS: u64 = 4;
const FRAME: u64 = 9000;

struct Node {
    dir: tempfile::TempDir,
    ovsdb: String,
}

impl Node {
    fn conf(&self, vlan: u16, mac: Option<&str>) -> Value {
        let d = self.dir.path();
        let mut c = json!({
            "cniVersion": "1.0.0", "name": "feat-net", "type": "userspace",
            "ovsdbSocket": self.ovsdb, "mtu": 9000,
            "sharedDir": d.join("shared"), "stateDir": d.join("state"), "socketAliasRoot": d.join("vs"),
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                     "vhost": {"mode": "client", "queues": 2},
                     "bridge": {"bridgeName": "br-feat", "vlanId": vlan}}
        });
        if let Some(m) = mac {
            c["runtimeConfig"] = json!({ "mac": m });
        }
        c
    }

    fn cni(&self, verb: &str, id: &str, conf: &Value) -> (Value, i32) {
        let env = cni_vars(verb, id, "net1", "");
        let out = userspace_plugin::run(&env, conf.to_string().as_bytes());
        (
            serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
            out.code,
        )
    }

    /// The pod's testpmd as the agent builds it from the published files, on CPU 0.
    fn pod(&self, name: &str, id: &str, extra: &[&str]) -> Testpmd {
        let prefix = format!("feat{name}{}", std::process::id());
        let podinfo = self.dir.path().join(format!("podinfo-{name}"));
        std::fs::create_dir_all(&podinfo).unwrap();
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let shared = self.dir.path().join("shared").join(&id[..12]);
        let mut cmd = agent_testpmd(&agent_binary(), "0", &podinfo, id, &shared, &prefix, &extra);
        let mut p = Testpmd::spawn_command(name, &mut cmd, &[&prefix]);
        p.wait_for("testpmd> ", 1, Duration::from_secs(60));
        // One handshake with the switch at a time: the next pod starts once this link is up.
        p.wait_link(0, true, Duration::from_secs(30));
        p
    }
}

#[test]
fn vlan_isolation_jumbo_frames_two_queues_and_the_chosen_mac_through_ovs_dpdk() {
    let Some(_dpdk) = require_dpdk(DpdkNeeds {
        programs: &[
            ("taskset", "util-linux"),
            ("stdbuf", "coreutils"),
            ("ovs-vswitchd", "openvswitch-switch-dpdk"),
            ("ovsdb-server", "openvswitch-switch-dpdk"),
            ("ovs-vsctl", "openvswitch-switch-dpdk"),
            ("ovs-appctl", "openvswitch-switch-dpdk"),
        ],
        // OVS's 512 MiB come from hugepages.
        hugepages: Some(256),
    }) else {
        return;
    };
    let ovs = Ovs::start_dpdk("ovsfeat");
    let node = Node {
        dir: tempfile::Builder::new()
            .prefix("feat")
            .tempdir_in("/tmp")
            .unwrap(),
        ovsdb: ovs.endpoint(),
    };
    let ids = [
        ("a", "a1".repeat(32), 10, Some("02:00:00:aa:bb:01")),
        ("b", "b2".repeat(32), 10, None),
        ("c", "c3".repeat(32), 20, None),
    ];
    for (name, id, vlan, mac) in &ids {
        let (res, code) = node.cni("ADD", id, &node.conf(*vlan, *mac));
        assert_eq!(code, 0, "ADD {name}: {res}");
        assert_eq!(res["interfaces"][0]["mtu"], 9000, "{res}");
        let port = format!("{}-net1", &id[..12]);
        let get = |table: &str, col: &str| ovs.vsctl_ok(&["get", table, &port, col]);
        assert_eq!(get("Port", "tag"), vlan.to_string());
        assert_eq!(get("Interface", "mtu_request"), "9000");
    }
    // A varies the source address per frame, so OVS's hash steering has flows to spread.
    let mut a = node.pod("a", &ids[0].1, &["--txonly-multi-flow"]);
    let mut b = node.pod("b", &ids[1].1, &[]);
    let mut c = node.pod("c", &ids[2].1, &[]);
    for (p, mac) in [(&a, Some("02:00:00:aa:bb:01")), (&b, None), (&c, None)] {
        let out = p.output();
        assert!(out.contains(",queues=2"), "[{}] {out}", p.name);
        for arg in [
            "--max-pkt-len=9018",
            "--mbuf-size=9152",
            "--rxq=2",
            "--txq=2",
        ] {
            assert!(out.contains(arg), "[{}] no {arg} in {out}", p.name);
        }
        if let Some(m) = mac {
            assert!(out.contains(&format!(",mac={m}")), "[{}] {out}", p.name);
        }
    }
    let info = a.cmd("show port info 0");
    assert!(
        info.to_ascii_lowercase()
            .contains("mac address: 02:00:00:aa:bb:01"),
        "{info}"
    );
    let rxq = ovs.appctl(&["dpif-netdev/pmd-rxq-show"]);
    let a_port = format!("{}-net1", &ids[0].1[..12]);
    for q in ["queue-id:  0", "queue-id:  1"] {
        assert!(
            rxq.lines().any(|l| l.contains(&a_port) && l.contains(q)),
            "OVS does not poll {q} of {a_port}:\n{rxq}"
        );
    }

    for p in [&mut b, &mut c] {
        p.cmd("start");
    }
    a.cmd(&format!("set txpkts {FRAME}"));
    a.cmd(&format!("start tx_first {BURSTS}"));
    let sent = BURSTS * 32 * 2; // every burst on each of A's two tx queues
    let start = Instant::now();
    while b.xstat(0, "rx_good_packets") < sent && start.elapsed() < Duration::from_secs(15) {
        thread::sleep(Duration::from_millis(200));
    }
    a.cmd("stop");
    for q in 0..2 {
        assert_eq!(
            a.xstat(0, &format!("tx_q{q}_good_packets")),
            BURSTS * 32,
            "A's tx queue {q}"
        );
    }
    assert_eq!(a.xstat(0, "tx_good_packets"), sent);
    assert_eq!(
        b.xstat(0, "rx_good_packets"),
        sent,
        "B (VLAN 10) gets all of A's frames\nOVS:\n{}",
        ovs.log()
    );
    assert_eq!(b.xstat(0, "rx_good_bytes"), sent * FRAME, "9000 bytes each");
    let per_queue = [
        b.xstat(0, "rx_q0_good_packets"),
        b.xstat(0, "rx_q1_good_packets"),
    ];
    assert!(
        per_queue.iter().all(|&n| n > 0),
        "B receives on both of its queues (OVS tx-steering=hash): {per_queue:?}"
    );
    assert_eq!(per_queue.iter().sum::<u64>(), sent);
    assert_eq!(c.xstat(0, "rx_good_packets"), 0, "C (VLAN 20) gets none");

    drop((a, b, c));
    for (name, id, vlan, mac) in &ids {
        let (res, code) = node.cni("DEL", id, &node.conf(*vlan, *mac));
        assert_eq!(code, 0, "DEL {name}: {res}");
    }
    assert_eq!(
        ovs.vsctl_ok(&["list-br"]),
        "",
        "the last DEL removes the plugin-made bridge"
    );
    assert_eq!(ovs.vsctl_ok(&["--columns=name", "list", "Interface"]), "");
}
