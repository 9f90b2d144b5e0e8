//! VPP attachments' counters: two pods attached by the plugin's ADD to the fake VPP, whose
//! stats segment is laid out as VPP 25.10's; the agent reads each attachment's interface
//! (found by its tag) in the segment. After a VPP restart that hands out other
//! `sw_if_index`es, with zeroed counters, and the agent's healing, the series follow the new
//! interfaces.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use support::{Agent, poll, sample};
use userspace_plugin::attachment::AttachmentId;
use userspace_plugin::engine::vpp::attach::interface_tag;
use userspace_test_support::cni_vars;
use vpp_api::fake::{FakeVpp, IfKind, IfSettings, Interface};
use vpp_api::stats::InterfaceCounters;

struct Node {
    // Dropped before the directory: stopping the fake connects to its sockets.
    vpp: FakeVpp,
    dir: tempfile::TempDir,
}

const PODS: [(&str, &str); 2] = [("pod-a", "a1"), ("pod-b", "b2")];

impl Node {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let vpp = FakeVpp::start(dir.path().join("api.sock"))
            .unwrap()
            .with_stats(dir.path().join("stats.sock"), 2)
            .unwrap();
        Self { vpp, dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn add(&self, pod: &str, id: &str) {
        let conf = json!({
            "cniVersion": "1.0.0", "name": "userspace-vpp", "type": "userspace",
            "vppApiSocket": self.vpp.path(),
            "sharedDir": self.path("shared"), "stateDir": self.path("state"),
            "host": {"engine": "vpp", "iftype": "memif", "netType": "bridge",
                "memif": {"role": "master", "mode": "ethernet"}, "bridge": {"bridgeName": "4"}},
            "container": {"engine": "vpp", "iftype": "memif", "netType": "interface"},
        });
        let env = cni_vars(
            "ADD",
            &id.repeat(32),
            "net1",
            &format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod}"),
        );
        let out = userspace_plugin::run(&env, conf.to_string().as_bytes());
        assert_eq!(out.code, 0, "ADD {pod}: {}", out.stdout);
    }

    /// The `sw_if_index` of the pod's interface now, by its tag.
    fn sw_if_index(&self, id: &str) -> Option<u32> {
        let key = AttachmentId::new(&id.repeat(32), "net1").unwrap().key();
        let tag = interface_tag(&key, "userspace-vpp");
        let st = self.vpp.state();
        st.interfaces
            .iter()
            .find(|(_, i)| i.tag == tag)
            .map(|(sw, _)| *sw)
    }
}

fn counters(seed: u64) -> InterfaceCounters {
    InterfaceCounters {
        rx_packets: seed + 1,
        rx_bytes: seed + 2,
        tx_packets: seed + 3,
        tx_bytes: seed + 4,
        drops: seed + 5,
        rx_errors: seed + 6,
        tx_errors: seed + 7,
    }
}

/// The pod's VPP series: (metric, value) for each one present.
fn series(exposition: &str, pod: &str) -> Vec<(&'static str, Option<f64>)> {
    let labels = [
        ("namespace", "default"),
        ("pod", pod),
        ("network", "userspace-vpp"),
        ("interface", "net1"),
        ("engine", "vpp"),
        ("kind", "memif"),
    ];
    [
        "userspace_attachment_rx_packets_total",
        "userspace_attachment_rx_bytes_total",
        "userspace_attachment_tx_packets_total",
        "userspace_attachment_tx_bytes_total",
        "userspace_attachment_rx_drops_total",
        "userspace_attachment_tx_drops_total",
        "userspace_attachment_rx_errors_total",
        "userspace_attachment_tx_errors_total",
        "userspace_attachment_link_up",
        "userspace_attachment_port_missing",
    ]
    .into_iter()
    .map(|m| (m, sample(exposition, m, &labels)))
    .collect()
}

/// What `series` must show for counters summed to `c`; VPP has no transmit drop counter, and
/// the fake models no link (a memif without its peer is down on VPP too).
fn expected(c: InterfaceCounters) -> Vec<(&'static str, Option<f64>)> {
    let f = |v: u64| Some(v as f64);
    vec![
        ("userspace_attachment_rx_packets_total", f(c.rx_packets)),
        ("userspace_attachment_rx_bytes_total", f(c.rx_bytes)),
        ("userspace_attachment_tx_packets_total", f(c.tx_packets)),
        ("userspace_attachment_tx_bytes_total", f(c.tx_bytes)),
        ("userspace_attachment_rx_drops_total", f(c.drops)),
        ("userspace_attachment_tx_drops_total", None),
        ("userspace_attachment_rx_errors_total", f(c.rx_errors)),
        ("userspace_attachment_tx_errors_total", f(c.tx_errors)),
        ("userspace_attachment_link_up", Some(0.0)),
        ("userspace_attachment_port_missing", Some(0.0)),
    ]
}

fn sum(a: InterfaceCounters, b: InterfaceCounters) -> InterfaceCounters {
    InterfaceCounters {
        rx_packets: a.rx_packets + b.rx_packets,
        rx_bytes: a.rx_bytes + b.rx_bytes,
        tx_packets: a.tx_packets + b.tx_packets,
        tx_bytes: a.tx_bytes + b.tx_bytes,
        drops: a.drops + b.drops,
        rx_errors: a.rx_errors + b.rx_errors,
        tx_errors: a.tx_errors + b.tx_errors,
    }
}

#[test]
fn each_vpp_attachment_shows_its_interface_counters_and_follows_it_across_a_restart() {
    let node = Node::start();
    for (pod, id) in PODS {
        node.add(pod, id);
    }
    let (a, b) = (
        node.sw_if_index("a1").unwrap(),
        node.sw_if_index("b2").unwrap(),
    );
    assert_ne!(a, b);
    let stats = node.vpp.stats().unwrap();
    // Pod a's traffic on two threads, pod b's on one.
    stats.set(0, a, counters(100));
    stats.set(1, a, counters(2000));
    stats.set(1, b, counters(30));
    let api = node.vpp.path().display().to_string();
    let stats_sock = node.path("stats.sock").display().to_string();
    let agent = Agent::start(
        &node.path("state"),
        &["--vpp-socket", &api, "--vpp-stats-socket", &stats_sock],
    );

    poll("pod a's and b's counters", Duration::from_secs(30), || {
        let body = agent.get("/metrics", None).body;
        (series(&body, "pod-a") == expected(sum(counters(100), counters(2000)))
            && series(&body, "pod-b") == expected(counters(30)))
        .then_some(())
        .ok_or(body)
    });

    // VPP restarts with an interface of its own first, so the healed pods get other indexes.
    node.vpp.restart_into(|st| {
        st.add_interface(Interface {
            name: "loop100".into(),
            kind: IfKind::Loopback { instance: 100 },
            mac: [2, 0, 0, 0, 1, 0],
            admin_up: true,
            addresses: Vec::new(),
            bridge: None,
            l2: IfSettings::default(),
            tag: String::new(),
            unnumbered: None,
        });
    });
    let healed = poll("both pods made again", Duration::from_secs(30), || {
        match (node.sw_if_index("a1"), node.sw_if_index("b2")) {
            (Some(a), Some(b)) => Ok((a, b)),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(
        healed.0 != a && healed.1 != b,
        "new indexes: {healed:?} after {a}, {b}"
    );
    poll(
        "zeroed counters after the restart",
        Duration::from_secs(30),
        || {
            let body = agent.get("/metrics", None).body;
            (series(&body, "pod-a") == expected(InterfaceCounters::default())
                && series(&body, "pod-b") == expected(InterfaceCounters::default()))
            .then_some(())
            .ok_or(body)
        },
    );
    // Counters left on the old indexes belong to nobody now.
    stats.set(0, a, counters(9000));
    stats.set(0, healed.0, counters(7));
    stats.set(1, healed.1, counters(8));
    poll(
        "the new interfaces' counters",
        Duration::from_secs(30),
        || {
            let body = agent.get("/metrics", None).body;
            (series(&body, "pod-a") == expected(counters(7))
                && series(&body, "pod-b") == expected(counters(8)))
            .then_some(())
            .ok_or(body)
        },
    );
}
