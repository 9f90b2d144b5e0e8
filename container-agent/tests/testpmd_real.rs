//! The agent launches the real dpdk-testpmd on a fixture pod's interfaces, against a backend
//! testpmd started by the test, and exact packet counts are checked:
//! `start tx_first 8` on one port sends 8 bursts of 32 = 256 packets, all received.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Pod, Testpmd, agent_bin, config_entry, require_dpdk};

const BURSTS: u64 = 8;
const PER_PORT: u64 = BURSTS * 32;
/// How long packets may take to be counted before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// Polls until the receivers' RX counters add up to `n` packets.
fn received(t: &mut Testpmd, n: u64) -> Vec<(u64, u64)> {
    t.stats_until("all packets received", WAIT, |s| {
        s.iter().map(|p| p.0).sum::<u64>() >= n
    })
}

fn backend_args(prefix: &str, huge: bool, vdevs: &[String]) -> Vec<String> {
    let mut v = vec![
        "-l".into(),
        "0,1".into(),
        format!("--file-prefix={prefix}"),
        "--no-pci".into(),
    ];
    if huge {
        v.extend(["-m".into(), "256".into()]);
    } else {
        v.extend(["--no-huge".into(), "-m".into(), "256".into()]);
    }
    for d in vdevs {
        v.push(format!("--vdev={d}"));
    }
    v.extend(
        [
            "--",
            "-i",
            "--forward-mode=rxonly",
            "--total-num-mbufs=16384",
            "--nb-cores=1",
        ]
        .map(String::from),
    );
    v
}

/// Starts the agent's testpmd, sends `start tx_first 8`, and returns (agent, its TX per port).
fn run_agent(pod: &Pod, huge: bool, extra_global: &[String]) -> (Testpmd, Vec<(u64, u64)>) {
    let prefix = format!("agt{}", pod.id12());
    let mut args: Vec<String> = extra_global.to_vec();
    args.extend(pod.agent_args(&[
        "testpmd",
        "--interactive",
        "--huge",
        if huge { "yes" } else { "no" },
        "--file-prefix",
        &prefix,
        "--wait-timeout",
        "20s",
    ]));
    let mut agent = Testpmd::spawn("agent", agent_bin(), &args, Some(&prefix));
    agent.wait_for("testpmd> ", 1, Duration::from_secs(60));
    agent.cmd(&format!("start tx_first {BURSTS}"));
    let stats = agent.stats_until("every port's first bursts sent", WAIT, |s| {
        s.iter().map(|p| p.1).sum::<u64>() >= s.len() as u64 * PER_PORT
    });
    agent.cmd("stop");
    (agent, stats)
}

fn vhost_client_pod(pod: &Pod, ifnames: &[&str]) {
    let entries: Vec<_> = ifnames
        .iter()
        .enumerate()
        .map(|(i, ifname)| {
            config_entry(
                &pod.id,
                ifname,
                json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
                       "vhost": {"mode": "client", "socketfile": format!("{}-{ifname}", pod.id12())}}),
                &format!("10.56.217.{}/24", 10 + i),
            )
        })
        .collect();
    pod.configure(&entries, None);
}

fn vhost_user_case(huge: bool) {
    let Some(_dpdk) = require_dpdk(huge) else {
        return;
    };
    let pod = Pod::new();
    vhost_client_pod(&pod, &["net1"]);
    // The backend plays the switch's dpdkvhostuser port: it creates the socket.
    let sock = pod.shared().join(format!("{}-net1", pod.id12()));
    let be_prefix = format!("be{}", pod.id12());
    let mut backend = Testpmd::spawn(
        "backend",
        "dpdk-testpmd",
        &backend_args(
            &be_prefix,
            huge,
            &[format!("net_vhost0,iface={},client=0", sock.display())],
        ),
        Some(&be_prefix),
    );
    backend.wait_for("testpmd> ", 1, Duration::from_secs(60));
    backend.cmd("start");

    let (agent, agent_stats) = run_agent(&pod, huge, &[]);
    assert_eq!(agent_stats[0].1, PER_PORT, "agent TX-packets");
    let be_stats = received(&mut backend, PER_PORT);
    assert_eq!(be_stats[0].0, PER_PORT, "backend RX-packets");
    agent.quit();
    let prefix = format!("agt{}", pod.id12());
    let pinned: Vec<_> = support::runtime_files(&prefix)
        .into_iter()
        .filter(|p| p.starts_with("/dev/hugepages"))
        .collect();
    assert!(
        pinned.is_empty(),
        "the agent's testpmd left hugepage files: {pinned:?}"
    );
    backend.cmd("stop");
    backend.quit();
}

#[test]
fn vhost_user_client_moves_exactly_256_packets_on_hugepages() {
    vhost_user_case(true);
}

#[test]
fn vhost_user_client_moves_exactly_256_packets_without_hugepages() {
    vhost_user_case(false);
}

fn vhost_server_case(huge: bool) {
    let Some(_dpdk) = require_dpdk(huge) else {
        return;
    };
    // dpdkvhostuserclient: the pod's virtio_user is the server, the switch connects to it.
    let pod = Pod::new();
    let ifname = "net1";
    let entries = vec![config_entry(
        &pod.id,
        ifname,
        json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
               "vhost": {"mode": "server", "socketfile": format!("{}-{ifname}", pod.id12())}}),
        "10.56.217.20/24",
    )];
    pod.configure(&entries, None);
    let sock = pod.shared().join(format!("{}-{ifname}", pod.id12()));
    let prefix = format!("agt{}", pod.id12());
    let mut agent = Testpmd::spawn(
        "agent",
        agent_bin(),
        &pod.agent_args(&[
            "testpmd",
            "--interactive",
            "--huge",
            if huge { "yes" } else { "no" },
            "--file-prefix",
            &prefix,
        ]),
        Some(&prefix),
    );
    // The backend connects once the agent's server socket listens (DPDK prints this after
    // listen(); the socket file alone appears at bind(), a moment earlier).
    agent.wait_for("waiting for client connection", 1, Duration::from_secs(60));
    assert!(sock.exists());
    let be_prefix = format!("be{}", pod.id12());
    let mut backend = Testpmd::spawn(
        "backend",
        "dpdk-testpmd",
        &backend_args(
            &be_prefix,
            huge,
            &[format!("net_vhost0,iface={},client=1", sock.display())],
        ),
        Some(&be_prefix),
    );
    backend.wait_for("testpmd> ", 1, Duration::from_secs(60));
    backend.cmd("start");
    agent.wait_for("testpmd> ", 1, Duration::from_secs(60));
    agent.wait_link(0, true, WAIT);
    agent.cmd(&format!("start tx_first {BURSTS}"));
    let sent = agent.stats_until("the first bursts sent", WAIT, |s| s[0].1 >= PER_PORT);
    assert_eq!(sent[0].1, PER_PORT, "agent TX-packets");
    assert_eq!(
        received(&mut backend, PER_PORT)[0].0,
        PER_PORT,
        "backend RX-packets"
    );
    agent.cmd("stop");
    backend.cmd("stop");
    // The switch side goes away first, as when ovs-vswitchd restarts: the agent's testpmd must
    // survive it (it ignores SIGPIPE) and quit cleanly afterwards.
    backend.quit();
    agent.wait_link(0, false, WAIT);
    agent.quit();
}

#[test]
fn vhost_user_server_moves_exactly_256_packets_on_hugepages() {
    vhost_server_case(true);
}

#[test]
fn vhost_user_server_moves_exactly_256_packets_without_hugepages() {
    vhost_server_case(false);
}

fn memif_case(huge: bool) {
    let Some(_dpdk) = require_dpdk(huge) else {
        return;
    };
    // The host's memif master (VPP in production) is played by a testpmd memif server; the
    // pod is the slave (client) and sends.
    let pod = Pod::new();
    let ifname = "net1";
    let sockfile = format!("memif-{}-{ifname}.sock", pod.id12());
    let entries = vec![config_entry(
        &pod.id,
        ifname,
        json!({"engine": "vpp", "iftype": "memif", "netType": "interface",
               "memif": {"role": "slave", "mode": "ethernet", "socketfile": sockfile}}),
        "10.56.217.30/24",
    )];
    pod.configure(&entries, None);
    let sock = pod.shared().join(&sockfile);
    let be_prefix = format!("be{}", pod.id12());
    let mut backend = Testpmd::spawn(
        "backend",
        "dpdk-testpmd",
        &backend_args(
            &be_prefix,
            huge,
            &[format!(
                "net_memif0,role=server,socket={},socket-abstract=no,id=0",
                sock.display()
            )],
        ),
        Some(&be_prefix),
    );
    backend.wait_for("testpmd> ", 1, Duration::from_secs(60));
    backend.cmd("start");
    let (agent, agent_stats) = run_agent(&pod, huge, &[]);
    assert_eq!(agent_stats[0].1, PER_PORT, "agent TX-packets");
    assert_eq!(
        received(&mut backend, PER_PORT)[0].0,
        PER_PORT,
        "backend RX-packets"
    );
    // DPDK 22.11's memif server can crash when a client leaves while it receives: stop first.
    backend.cmd("stop");
    agent.quit();
    backend.quit();
}

#[test]
fn memif_client_moves_exactly_256_packets_on_hugepages() {
    memif_case(true);
}

#[test]
fn memif_client_moves_exactly_256_packets_without_hugepages() {
    memif_case(false);
}

/// The seed README's recipe: two vhost-user ports made by the switch in the vhost-user CNI
/// layout (`/vhu/<ID>/<ID:0:12>-net1`, `-net2`), no annotations at all. The agent finds the
/// container's directory and sockets itself and its line runs on DPDK 22.11.
#[test]
fn seed_recipe_two_vhost_ports_in_the_vhostuser_cni_layout() {
    let Some(_dpdk) = require_dpdk(true) else {
        return;
    };
    let pod = Pod::new();
    let vhu = pod.shared();
    let dir = vhu.join(&pod.id);
    std::fs::create_dir_all(&dir).unwrap();
    let socks: Vec<_> = ["net1", "net2"]
        .iter()
        .map(|i| dir.join(format!("{}-{i}", pod.id12())))
        .collect();
    let be_prefix = format!("be{}", pod.id12());
    let mut backend = Testpmd::spawn(
        "backend",
        "dpdk-testpmd",
        &backend_args(
            &be_prefix,
            true,
            &socks
                .iter()
                .enumerate()
                .map(|(n, s)| format!("net_vhost{n},iface={},client=0", s.display()))
                .collect::<Vec<_>>(),
        ),
        Some(&be_prefix),
    );
    backend.wait_for("testpmd> ", 1, Duration::from_secs(60));
    backend.cmd("start");
    let shared = ["--shared-dir".to_owned(), vhu.display().to_string()];
    let (agent, stats) = run_agent(&pod, true, &shared);
    assert_eq!(stats.len(), 2);
    assert_eq!(
        stats[0].1 + stats[1].1,
        2 * PER_PORT,
        "agent TX-packets on both ports"
    );
    let be = received(&mut backend, 2 * PER_PORT);
    assert_eq!(
        be[0].0 + be[1].0,
        2 * PER_PORT,
        "backend RX-packets on both ports"
    );
    agent.quit();
    backend.cmd("stop");
    backend.quit();
}

/// Two pods joined by one memif socket, the agent on both sides: pod A is the memif server
/// (master) and sends, pod B the client (slave) and receives. (The sender is the server because
/// DPDK 22.11's memif server can crash when a client leaves while it receives.)
#[test]
fn memif_pair_with_the_agent_on_both_sides() {
    let Some(_dpdk) = require_dpdk(true) else {
        return;
    };
    let a = Pod::new();
    let b = Pod::new();
    let sockfile = "memif-pair.sock";
    for (pod, role) in [(&a, "master"), (&b, "slave")] {
        let entries = vec![config_entry(
            &pod.id,
            "net1",
            json!({"engine": "vpp", "iftype": "memif", "netType": "interface",
                   "memif": {"role": role, "mode": "ethernet", "socketfile": sockfile}}),
            "10.56.219.1/24",
        )];
        // Both pods mount the same host directory: pod A's.
        pod.configure(&entries, Some(&a.shared()));
    }
    let start = |pod: &Pod, name: &str, mode: &str| {
        let prefix = format!("{name}{}", pod.id12());
        Testpmd::spawn(
            name,
            agent_bin(),
            &pod.agent_args(&[
                "testpmd",
                "--interactive",
                "--forward-mode",
                mode,
                "--file-prefix",
                &prefix,
            ]),
            Some(&prefix),
        )
    };
    let mut server = start(&a, "srv", "io");
    server.wait_for("testpmd> ", 1, Duration::from_secs(60));
    let mut client = start(&b, "cli", "rxonly");
    client.wait_for("testpmd> ", 1, Duration::from_secs(60));
    client.cmd("start");
    server.wait_link(0, true, WAIT);
    server.cmd(&format!("start tx_first {BURSTS}"));
    let sent = server.stats_until("the first bursts sent", WAIT, |s| s[0].1 >= PER_PORT);
    assert_eq!(sent[0].1, PER_PORT, "server TX-packets");
    assert_eq!(
        received(&mut client, PER_PORT)[0].0,
        PER_PORT,
        "client RX-packets"
    );
    server.cmd("stop");
    client.cmd("stop");
    client.quit();
    server.quit();
    assert!(
        !a.shared().join(sockfile).exists(),
        "the memif server removed its socket"
    );
}
