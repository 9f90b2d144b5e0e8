//! Pods on two nodes through OVN, end to end on real parts: the two-node rig of
//! `test-support` (OVN central, two namespaces with their own ovsdb-server, DPDK
//! ovs-vswitchd and ovn-controller, Geneve between them) and the plugin binary, with
//! `host.engine: ovn`, creating the logical switch and taking the pods' addresses from OVN's
//! own IPAM. Each pod's testpmd is the one `userspace-agent testpmd` builds from what the
//! plugin published (the pod side knows nothing of OVN). One cluster, the scenarios in order:
//!
//! 1. STATUS on both nodes; ADD a pod on each; distinct OVN addresses; CHECK both;
//! 2. exact counts both ways (256/256) across the tunnel; again after node A's ovs-vswitchd
//!    restarts, and after node B's ovn-controller restarts (each time after the tunnel
//!    neighbour is warmed up), and CHECK still passes;
//! 3. the pod on A deleted: B's logical port untouched, A's gone, no Port_Binding left;
//! 4. a kill at every step of ADD (including between the northbound insert and the local
//!    port) and of DEL, then DEL: nothing left on either side;
//! 5. a logical port a central controller made (untagged) is bound, and left at DEL;
//! 6. GC removes this node's ports not in the list and nothing of the other node's;
//! 7. STATUS fails with the reason when this node's ovn-controller is gone;
//! 8. zero residue: northbound, southbound, both OVSDBs, files, state, DPDK files, netns.
//!
//! With `USERSPACE_OVN_REPORT=<file>` it writes the report `scripts/demo.sh two-nodes` prints.
//! Needs root, Debian's `dpdk-dev`, `openvswitch-switch-dpdk` and OVN (`scripts/setup-host.sh`)
//! and `cargo build --workspace` (for the agent); fails, never skips, unless
//! `USERSPACE_TESTS_NO_DPDK=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use userspace_test_support::ovn::{OvnCluster, OvnNode};
use userspace_test_support::{DpdkNeeds, Testpmd, agent_binary, agent_testpmd, require_dpdk};

const NETWORK: &str = "ovn-net";
const SWITCH: &str = "ls-userspace";
const SUBNET: &str = "10.244.0.0/24";
/// 8 bursts of 32: what the receiver's ring holds while it shares the CPUs.
const BURSTS: u64 = 8;
const SENT: u64 = BURSTS * 32;
const WAIT: Duration = Duration::from_secs(30);
const ID_A: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";
const ID_B: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";

/// One node's plugin configuration and directories.
struct Site<'a> {
    node: &'a OvnNode,
    dir: tempfile::TempDir,
    northbound: String,
}

impl<'a> Site<'a> {
    fn new(node: &'a OvnNode, northbound: String) -> Self {
        Self {
            node,
            dir: tempfile::Builder::new()
                .prefix("usovnsite")
                .tempdir_in("/tmp")
                .unwrap(),
            northbound,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self) -> Value {
        json!({
            "cniVersion": "1.0.0", "name": NETWORK, "type": "userspace",
            "ovsdbSocket": self.node.ovsdb_endpoint(),
            "sharedDir": self.path("shared"), "stateDir": self.path("state"),
            "socketAliasRoot": self.path("vs"),
            "host": {"engine": "ovn", "iftype": "vhostuser", "vhost": {"mode": "client"}},
            "ovn": {"logicalSwitch": SWITCH, "northbound": self.northbound,
                    "createSwitch": true, "subnet": SUBNET, "installTimeoutSeconds": 30}
        })
    }

    /// The plugin binary, as a runtime runs it; `extra` env (the crash hook).
    fn cni(&self, verb: &str, id: &str, conf: &Value, extra: &[(&str, &str)]) -> (Value, i32) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_userspace"));
        cmd.env("CNI_COMMAND", verb)
            .env("CNI_CONTAINERID", id)
            .env("CNI_IFNAME", "net1")
            .env("CNI_NETNS", "/proc/self/ns/net")
            .env("CNI_PATH", "/usr/lib/cni")
            .env_remove("USERSPACE_OVN_NB")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        if code != 0 {
            eprintln!(
                "[{} {verb} {id}] exit {code}: {}{}",
                self.node.label(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            code,
        )
    }

    fn ok(&self, verb: &str, id: &str, conf: &Value) -> Value {
        let (res, code) = self.cni(verb, id, conf, &[]);
        assert_eq!(code, 0, "{} {verb} {id}: {res}", self.node.label());
        res
    }

    /// The pod's testpmd as the agent builds it, on the CPU its node's PMD does not use.
    fn pod(&self, ovn: &OvnCluster, name: &str, id: &str, cpu: &str, extra: &[String]) -> Testpmd {
        let prefix = ovn.dpdk_prefix(&format!("pod{name}"));
        let podinfo = self.path(&format!("podinfo-{name}"));
        std::fs::create_dir_all(&podinfo).unwrap();
        let mut extra = extra.to_vec();
        extra.push("--total-num-mbufs=16384".into());
        let shared = self.path("shared").join(&id[..12]);
        let mut cmd = agent_testpmd(&agent_binary(), cpu, &podinfo, id, &shared, &prefix, &extra);
        let mut p = Testpmd::spawn_command(name, &mut cmd, &[&prefix]);
        p.wait_for("testpmd> ", 1, Duration::from_secs(60));
        p.wait_link(0, true, WAIT);
        p
    }

    /// Files under the site's directories (sockets, published files, journals).
    fn files(&self) -> Vec<PathBuf> {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, out);
                    } else {
                        out.push(p);
                    }
                }
            }
        }
        let mut v = Vec::new();
        for d in ["shared", "state", "vs"] {
            walk(&self.path(d), &mut v);
        }
        v
    }

    /// The plugin's ports on this node's integration bridge.
    fn ports(&self) -> Vec<String> {
        self.node
            .br_int_ports()
            .into_iter()
            .filter(|p| !p.starts_with("ovn-"))
            .collect()
    }
}

/// The northbound logical ports of the network, by name.
fn lsps(ovn: &OvnCluster) -> Vec<String> {
    let out = ovn.nbctl(&["--bare", "--columns=name", "list", "Logical_Switch_Port"]);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn lsp_name(id: &str) -> String {
    format!("{NETWORK}_{id}_net1")
}

/// VIF bindings in the southbound database, polled until they are `want` (northd and the
/// controllers take a moment).
fn wait_bindings(ovn: &OvnCluster, want: &[String]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = ovn.sbctl(&[
            "--bare",
            "--columns=logical_port",
            "find",
            "Port_Binding",
            "type=\"\"",
        ]);
        let mut have: Vec<String> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        have.sort();
        if have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "southbound bindings {have:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `from` sends 256 frames to the other pod: exactly 256 leave and exactly 256 arrive.
fn exact(pods: &mut [Testpmd; 2], from: usize, when: &str, report: &mut String) {
    let to = 1 - from;
    for p in pods.iter_mut() {
        p.cmd("clear port stats all");
    }
    pods[to].cmd("start");
    pods[from].cmd(&format!("start tx_first {BURSTS}"));
    let _ = pods[to].stats_until(&format!("{when}: {SENT} received"), WAIT, |s| {
        s[0].0 >= SENT
    });
    pods[from].cmd("stop");
    pods[to].cmd("stop");
    let (sent, received) = (pods[from].port_stats()[0].1, pods[to].port_stats()[0].0);
    let dir = ["A -> B", "B -> A"][from];
    writeln!(
        report,
        "  {when:<44} {dir}: {sent} sent, {received} received"
    )
    .unwrap();
    assert_eq!(sent, SENT, "{when}: {dir} sent");
    assert_eq!(received, SENT, "{when}: {dir} received");
}

fn both_ways(pods: &mut [Testpmd; 2], when: &str, report: &mut String) {
    exact(pods, 0, when, report);
    exact(pods, 1, when, report);
}

/// ADD's kill points: every journal step kind the ADD reaches, the engine's two inner
/// points, the commit.
fn add_kill_points() -> Vec<String> {
    let mut v: Vec<String> = ["claim#0", "claim#1", "dir#0", "port#0", "file#0", "file#1"]
        .iter()
        .flat_map(|k| ["before", "after"].map(|p| format!("{k}:{p}")))
        .collect();
    v.push("ovn-northbound#0:inserted".into());
    v.push("ovn-local#0:added".into());
    v.push("commit#0:before".into());
    v
}

#[test]
fn pods_on_two_nodes_talk_through_ovn_and_everything_goes_at_del() {
    let Some(_dpdk) = require_dpdk(DpdkNeeds {
        programs: &[
            ("ovs-vswitchd", "openvswitch-switch-dpdk"),
            ("ovn-northd", "ovn-central"),
            ("ovn-controller", "ovn-host"),
            ("ovn-nbctl", "ovn-common"),
            ("taskset", "util-linux"),
            ("stdbuf", "coreutils"),
            ("ping", "iputils-ping"),
        ],
        hugepages: None,
    }) else {
        return;
    };
    let t0 = Instant::now();
    let mut report = String::new();
    let ovn = OvnCluster::start();
    // Node A reaches the northbound database over TCP, node B over its unix socket.
    let a = Site::new(ovn.a(), ovn.nb_tcp_endpoint());
    let b = Site::new(ovn.b(), ovn.nb_endpoint());
    writeln!(report, "cluster up in {:?}", t0.elapsed()).unwrap();

    // 1. STATUS, ADD on each node, distinct addresses from OVN, CHECK.
    for s in [&a, &b] {
        let mut st = s.conf();
        st["cniVersion"] = json!("1.1.0");
        s.ok("STATUS", "", &st);
    }
    // Both first ADDs at once: each may create the switch; one does, the other joins it.
    let t = Instant::now();
    let (res_a, res_b) = std::thread::scope(|sc| {
        let on_b = sc.spawn(|| b.ok("ADD", ID_B, &b.conf()));
        let on_a = a.ok("ADD", ID_A, &a.conf());
        (on_a, on_b.join().unwrap())
    });
    let add_ms = t.elapsed();
    assert_eq!(
        ovn.nbctl(&["--bare", "--columns=name", "list", "Logical_Switch"]),
        SWITCH,
        "one switch, made by whichever ADD came first"
    );
    let ip = |r: &Value| r["ips"][0]["address"].as_str().unwrap().to_owned();
    let mac = |r: &Value| r["interfaces"][0]["mac"].as_str().unwrap().to_owned();
    let (ip_a, ip_b) = (ip(&res_a), ip(&res_b));
    assert_ne!(ip_a, ip_b, "OVN's IPAM gives each pod its own address");
    for ip in [&ip_a, &ip_b] {
        assert!(ip.starts_with("10.244.0.") && ip.ends_with("/24"), "{ip}");
    }
    assert_eq!(lsps(&ovn), [lsp_name(ID_A), lsp_name(ID_B)]);
    for (s, id) in [(&a, ID_A), (&b, ID_B)] {
        let chassis = ovn.nbctl(&[
            "get",
            "Logical_Switch_Port",
            &lsp_name(id),
            "options:requested-chassis",
        ]);
        assert_eq!(chassis.trim_matches('"'), s.node.system_id());
        assert_eq!(
            ovn.nbctl(&["get", "Logical_Switch_Port", &lsp_name(id), "up"]),
            "true"
        );
    }
    writeln!(
        report,
        "pod A on {}: {ip_a} {}; pod B on {}: {ip_b} {} (addresses from OVN); both ADDs at once took {add_ms:?}",
        a.node.system_id(),
        mac(&res_a),
        b.node.system_id(),
        mac(&res_b)
    )
    .unwrap();
    writeln!(report, "node A's NetConf: {}", a.conf()).unwrap();
    let lsp_a = lsp_name(ID_A);
    let row = ovn.nbctl(&[
        "--columns=name,addresses,dynamic_addresses,port_security,options,up",
        "list",
        "Logical_Switch_Port",
        &lsp_a,
    ]);
    writeln!(report, "northbound, the plugin's logical port for pod A:").unwrap();
    for l in row.lines() {
        writeln!(report, "    {l}").unwrap();
    }
    let port_a = a.ports()[0].clone();
    writeln!(
        report,
        "node A's br-int port {port_a}: type {}, iface-id {}, ovn-installed {}",
        a.node.vsctl(&["get", "Interface", &port_a, "type"]),
        a.node
            .vsctl(&["get", "Interface", &port_a, "external_ids:iface-id"]),
        a.node
            .vsctl(&["get", "Interface", &port_a, "external_ids:ovn-installed"]),
    )
    .unwrap();
    let check = |s: &Site<'_>, id: &str, prev: &Value| {
        let mut c = s.conf();
        c["prevResult"] = prev.clone();
        s.ok("CHECK", id, &c);
    };
    check(&a, ID_A, &res_a);
    check(&b, ID_B, &res_b);

    // 2. Traffic across the tunnel, then across restarts.
    let addr = |ip: &str| ip.split('/').next().unwrap().to_owned();
    let pod_args = |mine: &Value, peer: &Value| {
        vec![
            format!("--eth-peer=0,{}", mac(peer)),
            format!("--tx-ip={},{}", addr(&ip(mine)), addr(&ip(peer))),
        ]
    };
    let mut pods = [
        a.pod(&ovn, "A", ID_A, "1", &pod_args(&res_a, &res_b)),
        b.pod(&ovn, "B", ID_B, "0", &pod_args(&res_b, &res_a)),
    ];
    ovn.warm_up();
    both_ways(&mut pods, "at start", &mut report);
    ovn.a().restart_vswitchd();
    pods[0].wait_link(0, true, WAIT);
    ovn.a().wait_port_polled(&a.ports()[0]);
    ovn.warm_up();
    both_ways(
        &mut pods,
        "after node A's ovs-vswitchd restarted",
        &mut report,
    );
    ovn.b().restart_controller();
    ovn.warm_up();
    both_ways(
        &mut pods,
        "after node B's ovn-controller restarted",
        &mut report,
    );
    check(&a, ID_A, &res_a);
    check(&b, ID_B, &res_b);
    drop(pods);
    // CHECK asks OVN where the port is pinned: another chassis is an error that says so.
    let pin = |chassis: &str| {
        ovn.nbctl(&[
            "set",
            "Logical_Switch_Port",
            &lsp_name(ID_A),
            &format!("options:requested-chassis={chassis}"),
        ]);
    };
    pin(b.node.system_id());
    let mut c = a.conf();
    c["prevResult"] = res_a.clone();
    let (res, code) = a.cni("CHECK", ID_A, &c, &[]);
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains(b.node.system_id()),
        "{res}"
    );
    pin(a.node.system_id());
    writeln!(
        report,
        "CHECK of a port pinned to the other node: {}",
        res["msg"]
    )
    .unwrap();

    // A missing switch the plugin may not create: refused, nothing made.
    let mut strict = a.conf();
    strict["ovn"]["createSwitch"] = json!(false);
    strict["ovn"]["logicalSwitch"] = json!("no-such-switch");
    let (res, code) = a.cni("ADD", "e0e0e0e0e0e0e0e0", &strict, &[]);
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains("does not exist"),
        "{res}"
    );
    assert_eq!(lsps(&ovn), [lsp_name(ID_A), lsp_name(ID_B)]);
    assert_eq!(a.ports().len(), 1);

    // 3. DEL of A's pod: its logical port and binding go, B's stay.
    a.ok("DEL", ID_A, &a.conf());
    assert_eq!(
        lsps(&ovn),
        [lsp_name(ID_B)],
        "only B's logical port is left"
    );
    wait_bindings(&ovn, &[lsp_name(ID_B)]);
    assert!(a.ports().is_empty(), "node A's br-int: {:?}", a.ports());
    assert_eq!(b.ports().len(), 1, "node B's port untouched");
    a.ok("DEL", ID_A, &a.conf());
    writeln!(
        report,
        "DEL of pod A: its logical port and binding gone, B's untouched"
    )
    .unwrap();

    // 4. A kill at every step of ADD, then at every step of DEL: DEL finishes both sides.
    let id_k = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
    let mut hit = 0;
    for at in add_kill_points() {
        let (_, code) = a.cni("ADD", id_k, &a.conf(), &[("USERSPACE_CRASH_AT", &at)]);
        hit += usize::from(code != 0);
        a.ok("DEL", id_k, &a.conf());
        assert_eq!(lsps(&ovn), [lsp_name(ID_B)], "after a kill at {at}");
        assert!(
            a.ports().is_empty(),
            "after a kill at {at}: {:?}",
            a.ports()
        );
        assert!(
            a.files().is_empty(),
            "after a kill at {at}: {:?}",
            a.files()
        );
    }
    assert!(hit >= 10, "only {hit} kill points of ADD were reached");
    for at in [
        "undo-port#0:before",
        "undo-port#0:after",
        "undo-claim#0:after",
    ] {
        a.ok("ADD", id_k, &a.conf());
        let (_, code) = a.cni("DEL", id_k, &a.conf(), &[("USERSPACE_CRASH_AT", at)]);
        assert_ne!(code, 0, "{at} was not reached");
        a.ok("DEL", id_k, &a.conf());
        assert_eq!(lsps(&ovn), [lsp_name(ID_B)], "after a kill at {at}");
        assert!(
            a.ports().is_empty() && a.files().is_empty(),
            "after a kill at {at}"
        );
    }
    writeln!(
        report,
        "kills at {hit} points of ADD and 3 of DEL, each then DEL: nothing left"
    )
    .unwrap();

    // 5. A port a central controller made is bound, and left at DEL.
    let id_c = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
    let central = lsp_name(id_c);
    ovn.nbctl(&[
        "lsp-add",
        SWITCH,
        &central,
        "--",
        "lsp-set-addresses",
        &central,
        "02:00:00:00:0c:01 10.244.0.200",
    ]);
    let mut conf_c = a.conf();
    conf_c["runtimeConfig"] = json!({"mac": "02:00:00:00:0c:01"});
    let res_c = a.ok("ADD", id_c, &conf_c);
    assert_eq!(ip(&res_c), "10.244.0.200/24", "the central port's address");
    a.ok("DEL", id_c, &conf_c);
    assert!(
        lsps(&ovn).contains(&central),
        "a port the plugin did not make stays"
    );
    assert!(a.ports().is_empty());
    ovn.nbctl(&["lsp-del", &central]);
    writeln!(
        report,
        "a centrally made logical port: bound, and left at DEL"
    )
    .unwrap();

    // 6. GC: this node's ports outside the list go, the other node's stay.
    a.ok("ADD", id_k, &a.conf());
    let mut gc = a.conf();
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([]);
    a.ok("GC", "", &gc);
    assert_eq!(lsps(&ovn), [lsp_name(ID_B)], "GC took A's port only");
    assert!(a.ports().is_empty() && a.files().is_empty());
    writeln!(report, "GC on node A: its port gone, node B's untouched").unwrap();

    // 7. STATUS names the missing chassis.
    ovn.b().controller_appctl(&["exit"]);
    let mut st = b.conf();
    st["cniVersion"] = json!("1.1.0");
    let (res, code) = b.cni("STATUS", "", &st, &[]);
    assert_ne!(code, 0);
    let msg = res["msg"].as_str().unwrap_or_default().to_owned();
    assert!(
        msg.contains("chassis") || msg.contains("not reachable"),
        "{res}"
    );
    writeln!(report, "STATUS without node B's ovn-controller: {msg}").unwrap();
    // ADD without the node's ovn-controller: 11 once the bounded wait ends, nothing left.
    let id_t = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    let mut quick = b.conf();
    quick["ovn"]["installTimeoutSeconds"] = json!(2);
    let (res, code) = b.cni("ADD", id_t, &quick, &[]);
    assert_eq!((code, res["code"].as_u64()), (1, Some(11)), "{res}");
    let msg = res["msg"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains("ovn-controller did not install"), "{res}");
    assert_eq!(lsps(&ovn), [lsp_name(ID_B)], "its logical port undone");
    assert_eq!(b.ports().len(), 1, "its br-int port undone");
    writeln!(report, "ADD without node B's ovn-controller: {msg}").unwrap();

    // 8. The last DEL; then nothing anywhere.
    b.ok("DEL", ID_B, &b.conf());
    assert!(lsps(&ovn).is_empty(), "no logical port left");
    wait_bindings(&ovn, &[]);
    assert_eq!(
        ovn.nbctl(&["--bare", "--columns=name", "list", "Logical_Switch"]),
        "",
        "the switch the plugin made goes with its last port"
    );
    for s in [&a, &b] {
        assert!(s.ports().is_empty(), "{}: {:?}", s.node.label(), s.ports());
        assert!(s.files().is_empty(), "{}: {:?}", s.node.label(), s.files());
    }
    drop((a, b));
    let residue = ovn.teardown();
    assert!(residue.is_empty(), "left behind: {residue:#?}");
    writeln!(
        report,
        "zero residue; the whole scenario took {:?}",
        t0.elapsed()
    )
    .unwrap();
    eprintln!("{report}");
    if let Some(path) = std::env::var_os("USERSPACE_OVN_REPORT") {
        std::fs::write(path, report).unwrap();
    }
}
