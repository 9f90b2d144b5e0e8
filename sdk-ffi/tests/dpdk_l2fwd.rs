//! `examples/c/l2fwd.c`, a DPDK program in C that takes its EAL arguments from the SDK's C
//! API, built with `pkg-config libdpdk` and `libuserspace_cni.a`, moving counted packets:
//!
//! - against a `dpdk-testpmd` playing the switch (`net_vhost`): one vhost-user port looped
//!   back, 8 bursts of 32 out and all 256 back;
//! - as a pod's application under `userspace-agent run --`, through a private OVS-DPDK
//!   (`dpdkvhostuserclient` ports, the pod's virtio_user ports are servers) with flows
//!   peer0 <-> net1 and net2 <-> peer1, a testpmd "peer pod" sending 256 packets on each of its
//!   ports: l2fwd receives and sends exactly 256 on each port, the peer receives 256 on each.
//!
//! Needs root, hugepages, Debian's `dpdk-dev` and `openvswitch-switch-dpdk`
//! (`scripts/setup-host.sh`) and `cargo build --workspace` (for the agent); fails, never skips,
//! unless `USERSPACE_TESTS_NO_DPDK=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::MutexGuard;
use std::time::Duration;

use serde_json::json;
use support::*;
use userspace_test_support::ovs::Ovs;
use userspace_test_support::{DpdkNeeds, Testpmd};

const BURSTS: u64 = 8;
const PER_PORT: u64 = BURSTS * 32;

/// Serialises the tests of this file (they busy-poll the machine's CPUs), or `None` with the
/// documented opt-out. A missing prerequisite fails with what to install.
fn require_dpdk() -> Option<MutexGuard<'static, ()>> {
    userspace_test_support::require_dpdk(DpdkNeeds {
        programs: &[
            ("pkg-config", "pkg-config"),
            ("make", "make"),
            ("taskset", "util-linux"),
        ],
        hugepages: Some(512),
    })
}

/// `make -C examples/c l2fwd` into a temporary directory, against this build's library.
fn build_l2fwd(out: &Path) -> PathBuf {
    run_ok(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(workspace().join("examples/c"))
            .arg(format!("O={}", out.display()))
            .arg(format!("SDK_LIB={}", lib_dir().display()))
            .arg(out.join("l2fwd")),
    );
    out.join("l2fwd")
}

/// l2fwd's closing lines: (port, interface, rx, tx, dropped) per port.
fn l2fwd_counts(out: &str) -> Vec<(u16, String, u64, u64, u64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("l2fwd: port "))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            // "<id> <iface>: rx <n> tx <n> dropped <n> (ethdev: …)"
            (w.len() >= 8 && w[2] == "rx" && w[4] == "tx" && w[6] == "dropped").then(|| {
                (
                    w[0].parse().unwrap(),
                    w[1].trim_end_matches(':').to_owned(),
                    w[3].parse().unwrap(),
                    w[5].parse().unwrap(),
                    w[7].parse().unwrap(),
                )
            })
        })
        .collect()
}

fn taskset0(program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", "0", "stdbuf", "-oL"]).arg(program);
    c
}

/// A pod whose interfaces are vhost-user with the given pod-side mode, one socket each in the
/// shared directory.
fn vhost_pod(mode: &str, ifnames: &[&str]) -> Pod {
    let pod = Pod::new();
    let entries: Vec<_> = ifnames
        .iter()
        .enumerate()
        .map(|(i, n)| {
            config_entry(
                n,
                "userspace-ovs",
                vhost(mode, &format!("{ID12}-{n}")),
                result(
                    n,
                    Some(&format!("02:00:00:00:00:{:02x}", i + 1)),
                    &format!("10.56.217.{}/24", 10 + i),
                    "10.56.217.1",
                    json!([]),
                ),
            )
        })
        .collect();
    pod.configure(&entries, None);
    pod
}

fn pod_env<'a>(cmd: &'a mut Command, pod: &Pod) -> &'a mut Command {
    cmd.env("USERSPACE_PODINFO", pod.podinfo())
        .env("USERSPACE_CONTAINER_ID", ID)
        .env_remove("USERSPACE_SHARED_DIR")
        .env_remove("USERSPACE_DPDK_VERSION")
        .env_remove("USERSPACE_PROC_ROOT")
        .env_remove("USERSPACE_SYS_ROOT")
}

#[test]
fn l2fwd_loops_one_vhost_user_port_back_to_testpmd_exact_counts() {
    let Some(_dpdk) = require_dpdk() else {
        return;
    };
    let build = tempfile::tempdir().unwrap();
    let l2fwd = build_l2fwd(build.path());
    let pod = vhost_pod("client", &["net1"]);
    let sock = pod.shared().join(format!("{ID12}-net1"));

    // The switch's side: testpmd creates the socket (like OVS's dpdkvhostuser ports).
    let be_prefix = format!("l2be{}", std::process::id());
    let mut backend = Testpmd::spawn_command(
        "backend",
        taskset0(Path::new("dpdk-testpmd"))
            .arg("--lcores=0@0,1@0")
            .args(["--main-lcore", "0", "--no-pci", "--no-huge", "-m", "256"])
            .arg(format!("--file-prefix={be_prefix}"))
            .arg(format!(
                "--vdev=net_vhost0,iface={},client=0",
                sock.display()
            ))
            .args([
                "--",
                "-i",
                "--forward-mode=rxonly",
                "--total-num-mbufs=16384",
                "--nb-cores=1",
            ]),
        &[&be_prefix],
    );
    backend.wait_for("testpmd> ", 1, Duration::from_secs(60));

    let app_prefix = format!("l2app{}", std::process::id());
    let mut app = Testpmd::spawn_command(
        "l2fwd",
        // An EAL option of the program's own, before "--": added to the SDK's.
        pod_env(&mut taskset0(&l2fwd), &pod)
            .arg(format!("--file-prefix={app_prefix}"))
            .arg("--"),
        &[&app_prefix],
    );
    app.wait_for("l2fwd: forwarding on lcore", 1, Duration::from_secs(60));
    let out = app.output();
    assert!(out.contains("interfaces (1):"), "no SDK report:\n{out}");
    assert!(
        out.contains(&format!(
            "--vdev=net_virtio_user0,path={},queues=1,mac=02:00:00:00:00:01",
            sock.display()
        )),
        "{out}"
    );
    backend.cmd(&format!("start tx_first {BURSTS}"));
    let be = backend.stats_until(
        "every port received the bursts",
        Duration::from_secs(10),
        |s| s.iter().all(|p| p.0 >= PER_PORT),
    );
    backend.cmd("stop");
    assert_eq!(
        app.terminate(),
        0,
        "l2fwd did not exit cleanly:\n{}",
        app.output()
    );
    let counts = l2fwd_counts(&app.output());
    assert_eq!(
        counts,
        [(0, "net1".to_owned(), PER_PORT, PER_PORT, 0)],
        "l2fwd's counts:\n{}",
        app.output()
    );
    assert!(app.output().contains(&format!(
        "l2fwd: total rx {PER_PORT} tx {PER_PORT} dropped 0"
    )));
    assert_eq!(be, [(PER_PORT, PER_PORT)], "backend (RX, TX)");
    assert_eq!(backend.quit_code(), 0);
}

/// What this test does on the private OVS-DPDK (test-support's) besides its netdev bridge:
/// vhost-user client ports with fixed OpenFlow numbers, and flows between them.
trait L2fwdSwitch {
    fn add_vhost_client_port(&self, br: &str, name: &str, sock: &Path, ofport: u16);
    fn flows(&self, br: &str, flows: &[&str]);
}

impl L2fwdSwitch for Ovs {
    /// A `dpdkvhostuserclient` port: OVS connects to `sock`, which the other side creates.
    fn add_vhost_client_port(&self, br: &str, name: &str, sock: &Path, ofport: u16) {
        run_ok(&mut self.vsctl(&[
            "add-port",
            br,
            name,
            "--",
            "set",
            "Interface",
            name,
            "type=dpdkvhostuserclient",
            &format!("options:vhost-server-path={}", sock.display()),
            &format!("ofport_request={ofport}"),
        ]));
    }

    fn flows(&self, br: &str, flows: &[&str]) {
        run_ok(self.cmd("ovs-ofctl").args(["del-flows", br]));
        for f in flows {
            run_ok(self.cmd("ovs-ofctl").args(["add-flow", br, f]));
        }
    }
}

#[test]
fn l2fwd_under_the_agent_forwards_between_two_ports_through_ovs_dpdk_exact_counts() {
    let Some(_dpdk) = require_dpdk() else {
        return;
    };
    let agent = bin_dir().join("userspace-agent");
    assert!(
        agent.exists(),
        "no {}: run `cargo build --workspace` first (scripts/test.sh does)",
        agent.display()
    );
    let build = tempfile::tempdir().unwrap();
    let l2fwd = build_l2fwd(build.path());

    // The pod's app is the vhost-user server of both its interfaces (dpdkvhostuserclient).
    let pod = vhost_pod("server", &["net1", "net2"]);
    let net1 = pod.shared().join(format!("{ID12}-net1"));
    let net2 = pod.shared().join(format!("{ID12}-net2"));
    let peer_dir = tempfile::Builder::new()
        .prefix("usfpeer")
        .tempdir_in("/tmp")
        .unwrap();
    let p0 = peer_dir.path().join("p0.sock");
    let p1 = peer_dir.path().join("p1.sock");

    let ovs = Ovs::start_dpdk("l2fwd");
    let br = "brffi";
    ovs.add_netdev_bridge(br);
    ovs.add_vhost_client_port(br, "app-net1", &net1, 1);
    ovs.add_vhost_client_port(br, "app-net2", &net2, 2);
    ovs.add_vhost_client_port(br, "peer-p0", &p0, 3);
    ovs.add_vhost_client_port(br, "peer-p1", &p1, 4);
    ovs.flows(
        br,
        &[
            "in_port=3,actions=output:1",
            "in_port=1,actions=output:3",
            "in_port=4,actions=output:2",
            "in_port=2,actions=output:4",
        ],
    );

    // The peer pod: testpmd with two virtio_user servers, receiving only (nothing loops).
    let peer_prefix = format!("l2peer{}", std::process::id());
    let mut peer = Testpmd::spawn_command(
        "peer",
        taskset0(Path::new("dpdk-testpmd"))
            .arg("--lcores=0@0,1@0")
            .args(["--main-lcore", "0", "--no-pci", "--no-huge", "-m", "256"])
            .arg(format!("--file-prefix={peer_prefix}"))
            .arg(format!(
                "--vdev=net_virtio_user0,path={},server=1",
                p0.display()
            ))
            .arg(format!(
                "--vdev=net_virtio_user1,path={},server=1",
                p1.display()
            ))
            .args([
                "--",
                "-i",
                "--forward-mode=rxonly",
                "--total-num-mbufs=16384",
                "--nb-cores=1",
            ]),
        &[&peer_prefix],
    );
    peer.wait_for("testpmd> ", 1, Duration::from_secs(60));

    // The pod: the agent waits for the interfaces, exports USERSPACE_*, runs l2fwd as PID 1
    // would, forwards SIGTERM to it and returns its exit code.
    let app_prefix = format!("l2ovs{}", std::process::id());
    let mut app = Testpmd::spawn_command(
        "agent",
        pod_env(&mut taskset0(&agent), &pod)
            .args(["-v", "run", "--min-interfaces", "2", "--"])
            .arg(&l2fwd)
            .arg(format!("--file-prefix={app_prefix}"))
            .arg("--"),
        &[&app_prefix],
    );
    app.wait_for("l2fwd: forwarding on lcore", 1, Duration::from_secs(60));
    let out = app.output();
    assert!(out.contains("interfaces (2):"), "no SDK report:\n{out}");
    for (n, sock) in [(0, &net1), (1, &net2)] {
        let dev = format!(
            "--vdev=net_virtio_user{n},path={},server=1,queues=1,mac=02:00:00:00:00:0{}",
            sock.display(),
            n + 1
        );
        assert!(out.contains(&dev), "no {dev} in:\n{out}");
    }
    assert!(out.contains("USERSPACE_IFACES=net1 net2"), "{out}");

    peer.cmd(&format!("start tx_first {BURSTS}"));
    let peer_stats = peer.stats_until(
        "every port received the bursts",
        Duration::from_secs(15),
        |s| s.iter().all(|p| p.0 >= PER_PORT),
    );
    peer.cmd("stop");
    assert_eq!(
        app.terminate(),
        0,
        "the agent / l2fwd did not exit cleanly:\n{}",
        app.output()
    );
    let counts = l2fwd_counts(&app.output());
    assert_eq!(
        counts,
        [
            (0, "net1".to_owned(), PER_PORT, PER_PORT, 0),
            (1, "net2".to_owned(), PER_PORT, PER_PORT, 0)
        ],
        "l2fwd's counts:\n{}\nOVS:\n{}",
        app.output(),
        ovs.log()
    );
    assert_eq!(
        peer_stats,
        [(PER_PORT, PER_PORT), (PER_PORT, PER_PORT)],
        "peer (RX, TX) per port"
    );
    assert_eq!(peer.quit_code(), 0);
    drop(app);
    let left: Vec<_> = ["/dev/hugepages"]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&app_prefix))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "l2fwd left hugepage files: {left:?}");
}
