//! End to end: two testpmd pods on a private OVS-DPDK, attached by the plugin's ADD (with the
//! pods' names in `CNI_ARGS`); pod A sends `start tx_first 8` (256 frames) to pod B. The
//! agent's `/metrics` shows them on both attachments with the pod labels, and a real
//! Prometheus scraping the agent returns the same series from its query API.
//!
//! Counters are the switch port's: OVS *receives* A's 256 frames on A's port (`rx`) and
//! *sends* them on B's (`tx`).
//!
//! Needs root, 2 MiB hugepages for OVS, Debian's `dpdk-dev`, `openvswitch-switch-dpdk` and
//! `prometheus` (`scripts/setup-host.sh`); fails, never skips, unless
//! `USERSPACE_TESTS_NO_DPDK=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, free_port, get, poll, sample};
use userspace_plugin::attachment::AttachmentId;
use userspace_plugin::attachment::journal::Store;
use userspace_test_support::cni_vars;
use userspace_test_support::ovs::Ovs;
use userspace_test_support::{DpdkNeeds, Testpmd, require_dpdk};

/// OVS writes `Interface.statistics` every 5 s (its minimum); Prometheus starts in seconds.
const WAIT: Duration = Duration::from_secs(60);

fn conf(dir: &Path, ovsdb: &str) -> Value {
    json!({
        "cniVersion": "1.0.0", "name": "net-e2e", "type": "userspace",
        "ovsdbSocket": ovsdb,
        "sharedDir": dir.join("shared"), "stateDir": dir.join("state"), "socketAliasRoot": dir.join("vs"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                 "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br-e2e"}}
    })
}

/// ADD for pod `default/<pod>`; returns the socket the switch was given.
fn add(dir: &Path, ovsdb: &str, id: &str, pod: &str) -> PathBuf {
    let env = cni_vars(
        "ADD",
        id,
        "net1",
        &format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod}"),
    );
    let out = userspace_plugin::run(&env, conf(dir, ovsdb).to_string().as_bytes());
    assert_eq!(out.code, 0, "ADD {pod}: {}", out.stdout);
    let j = Store::new(dir.join("state"))
        .load(&AttachmentId::new(id, "net1").unwrap())
        .unwrap()
        .unwrap();
    j.port().unwrap().socket().to_owned()
}

/// The pod's testpmd: virtio_user as the vhost-user server OVS's `dpdkvhostuserclient` dials.
fn pod(name: &str, socket: &Path) -> Testpmd {
    let prefix = format!("nodee2e{name}{}", std::process::id());
    let args: Vec<String> = [
        "-l",
        "0,1",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        &format!("--file-prefix={prefix}"),
        &format!("--vdev=net_virtio_user0,path={},server=1", socket.display()),
        "--",
        "-i",
        "--rxd=1024",
        "--txd=1024",
        "--total-num-mbufs=4096",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut p = Testpmd::spawn(name, "dpdk-testpmd", &args, Some(&prefix));
    p.wait_for("testpmd> ", 1, WAIT);
    p.wait_link(0, true, WAIT);
    p
}

/// A Prometheus with a private config and data directory on loopback, scraping `target`
/// every second; stopped on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: userspace-node\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// The instant query's result vector, `None` while Prometheus does not answer.
    fn query(&self, q: &str) -> Option<Vec<Value>> {
        let enc: String = q
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let r = get(self.port, &format!("/api/v1/query?query={enc}"), None)?;
        let v: Value = serde_json::from_str(&r.body).ok()?;
        v["data"]["result"].as_array().cloned()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tx_first_8_between_two_pods_is_counted_per_pod_and_reaches_prometheus() {
    let Some(_dpdk) = require_dpdk(DpdkNeeds {
        programs: &[
            ("ovs-vswitchd", "openvswitch-switch-dpdk"),
            ("ovsdb-server", "openvswitch-switch-dpdk"),
            ("ovs-vsctl", "openvswitch-switch-dpdk"),
            ("prometheus", "prometheus"),
            ("promtool", "prometheus"),
        ],
        hugepages: Some(256),
    }) else {
        return;
    };
    let ovs = Ovs::start_dpdk("nodee2e");
    let dir = tempfile::Builder::new()
        .prefix("nodee2e")
        .tempdir_in("/tmp")
        .unwrap();
    let (ida, idb) = ("a7".repeat(32), "b8".repeat(32));
    let sock_a = add(dir.path(), &ovs.endpoint(), &ida, "sender");
    let sock_b = add(dir.path(), &ovs.endpoint(), &idb, "receiver");
    let mut b = pod("receiver", &sock_b);
    let mut a = pod("sender", &sock_a);
    b.cmd("set fwd rxonly");
    b.cmd("start");
    a.cmd("set fwd io");
    a.cmd("start tx_first 8");
    b.stats_until("256 frames received", WAIT, |s| s[0].0 >= 256);
    a.cmd("stop");
    b.cmd("stop");

    let agent = Agent::start(&dir.path().join("state"), &["--ovsdb", &ovs.endpoint()]);
    let sender = [
        ("namespace", "default"),
        ("pod", "sender"),
        ("network", "net-e2e"),
    ];
    let receiver = [
        ("namespace", "default"),
        ("pod", "receiver"),
        ("network", "net-e2e"),
    ];
    let body = poll("OVS's statistics reach /metrics", WAIT, || {
        let body = agent.get("/metrics", None).body;
        let rx = sample(&body, "userspace_attachment_rx_packets_total", &sender);
        let tx = sample(&body, "userspace_attachment_tx_packets_total", &receiver);
        (rx == Some(256.0) && tx == Some(256.0))
            .then(|| body.clone())
            .ok_or(body)
    });
    // The README's sample scrape comes from here (`--nocapture`).
    eprintln!("/metrics after tx_first 8:\n{body}");
    assert_eq!(
        sample(&body, "userspace_attachment_rx_bytes_total", &sender),
        sample(&body, "userspace_attachment_tx_bytes_total", &receiver),
        "{body}"
    );
    assert_eq!(
        sample(&body, "userspace_attachment_link_up", &sender),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "userspace_attachment_tx_drops_total", &receiver),
        Some(0.0),
        "{body}"
    );

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), body.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let prometheus = Prometheus::start(agent.port);
    for (query, pod) in [
        (
            "userspace_attachment_rx_packets_total{pod=\"sender\"}",
            "sender",
        ),
        (
            "userspace_attachment_tx_packets_total{pod=\"receiver\"}",
            "receiver",
        ),
    ] {
        let result = poll(&format!("Prometheus answers {query}"), WAIT, || {
            let r = prometheus.query(query).unwrap_or_default();
            (r.len() == 1 && r[0]["value"][1] == "256")
                .then(|| r.clone())
                .ok_or_else(|| format!("{r:?}"))
        });
        let metric = &result[0]["metric"];
        assert_eq!(metric["namespace"], "default");
        assert_eq!(metric["pod"], pod);
        assert_eq!(metric["kind"], "vhostuser");
        assert_eq!(metric["engine"], "ovs-dpdk");
    }
    drop((a, b));
}
