//! A VPP restart healed: three pods (memif bridge, memif L3, vhost-user bridge) attached by
//! the plugin's ADD to the fake VPP, which then restarts as VPP 25.10 does (everything the API
//! made gone, the same socket ids and `sw_if_index` sequence handed out again). The agent
//! makes exactly what ADD made again, records it in the journals, and DEL of each afterwards
//! leaves VPP as it started.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, poll, sample};
use userspace_node::vpp::{Pass, reapply_all};
use userspace_plugin::attachment::AttachmentId;
use userspace_plugin::attachment::journal::Store;
use userspace_test_support::cni_vars;
use vpp_api::fake::{FakeVpp, State};

struct Node {
    // Dropped before the directory: stopping the fake connects to its socket.
    vpp: FakeVpp,
    dir: tempfile::TempDir,
}

const PODS: [(&str, &str); 3] = [
    ("memif-bridge", "a1"),
    ("memif-l3", "b2"),
    ("vhost-bridge", "c3"),
];

impl Node {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let vpp = FakeVpp::start(dir.path().join("api.sock")).unwrap();
        Self { vpp, dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self, pod: &str) -> Value {
        let host = match pod {
            "memif-bridge" => json!({"engine": "vpp", "iftype": "memif", "netType": "bridge",
                "memif": {"role": "master", "mode": "ethernet"}, "bridge": {"bridgeName": "4"}}),
            "memif-l3" => json!({"engine": "vpp", "iftype": "memif", "netType": "interface"}),
            _ => json!({"engine": "vpp", "iftype": "vhostuser", "netType": "bridge",
                "vhost": {"mode": "server"}, "bridge": {"bridgeName": "7"}}),
        };
        let container = if pod == "vhost-bridge" {
            json!({"engine": "vpp", "iftype": "vhostuser"})
        } else {
            json!({"engine": "vpp", "iftype": "memif", "netType": "interface"})
        };
        json!({
            "cniVersion": "1.0.0", "name": "userspace-vpp", "type": "userspace",
            "vppApiSocket": self.vpp.path(),
            "sharedDir": self.path("shared"), "stateDir": self.path("state"),
            "host": host, "container": container,
            "ipam": {"type": "host-local", "subnet": "10.56.217.0/24", "gateway": "10.56.217.1",
                     "dataDir": self.path("ipam"), "routes": [{"dst": "0.0.0.0/0"}]}
        })
    }

    fn cni(&self, verb: &str, pod: &str, id: &str) {
        let cid = id.repeat(32);
        let env = cni_vars(
            verb,
            cid.as_str(),
            "net1",
            &format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod}"),
        );
        let out = userspace_plugin::run(&env, self.conf(pod).to_string().as_bytes());
        assert_eq!(out.code, 0, "{verb} {pod}: {}", out.stdout);
    }

    fn add_all(&self) {
        for (pod, id) in PODS {
            self.cni("ADD", pod, id);
        }
    }

    fn store(&self) -> Store {
        Store::new(self.path("state"))
    }

    /// The requests since the last call that change VPP (dumps, pings and the session's own
    /// messages left out).
    fn take_changes(&self) -> Vec<String> {
        let mut st = self.vpp.state();
        let changes = st
            .requests()
            .into_iter()
            .filter(|n| {
                !n.ends_with("_dump")
                    && ![
                        "sockclnt_create",
                        "sockclnt_delete",
                        "show_version",
                        "memclnt_keepalive",
                    ]
                    .contains(&n.as_str())
            })
            .collect();
        st.log.clear();
        changes
    }
}

fn journal_lines(store: &Store, id: &str) -> usize {
    let key = AttachmentId::new(&id.repeat(32), "net1").unwrap().key();
    std::fs::read_to_string(store.dir().join(format!("{key}.json")))
        .unwrap()
        .lines()
        .count()
}

/// What the fake VPP holds, as names of what the API can make.
fn contents(st: &State) -> (Vec<u32>, Vec<u32>, Vec<u32>, usize, usize) {
    (
        st.sockets.keys().copied().collect(),
        st.interfaces.keys().copied().collect(),
        st.bridge_domains.keys().copied().collect(),
        st.routes.len(),
        st.proxy_arps.len(),
    )
}

#[test]
fn after_a_vpp_restart_exactly_what_add_made_is_made_again_and_journaled() {
    let node = Node::start();
    let empty = contents(&node.vpp.state());
    node.take_changes();
    node.add_all();
    let made_by_add = node.take_changes();
    let before = contents(&node.vpp.state());
    let lines: Vec<usize> = PODS
        .iter()
        .map(|(_, id)| journal_lines(&node.store(), id))
        .collect();

    node.vpp.restart();
    assert_eq!(
        contents(&node.vpp.state()),
        empty,
        "the restart took everything"
    );
    let pass = reapply_all(&node.store(), node.vpp.path()).unwrap();
    assert_eq!(
        pass,
        Pass {
            reapplied: 3,
            present: 0,
            failed: 0
        }
    );
    assert_eq!(
        node.take_changes(),
        made_by_add,
        "the same requests, in ADD's order"
    );
    assert_eq!(
        contents(&node.vpp.state()),
        before,
        "the same objects, the same indexes"
    );
    for ((_, id), n) in PODS.iter().zip(lines) {
        assert_eq!(
            journal_lines(&node.store(), id),
            n + 1,
            "one record appended to {id}"
        );
        let j = node
            .store()
            .load(&AttachmentId::new(&id.repeat(32), "net1").unwrap())
            .unwrap()
            .unwrap();
        assert!(j.is_whole(), "{:?}", j.damage);
    }
}

#[test]
fn a_second_pass_changes_nothing() {
    let node = Node::start();
    node.add_all();
    node.vpp.restart();
    reapply_all(&node.store(), node.vpp.path()).unwrap();
    node.take_changes();
    let pass = reapply_all(&node.store(), node.vpp.path()).unwrap();
    assert_eq!(
        pass,
        Pass {
            reapplied: 0,
            present: 3,
            failed: 0
        }
    );
    assert_eq!(node.take_changes(), Vec::<String>::new());
}

#[test]
fn del_of_each_healed_pod_leaves_vpp_as_it_started() {
    let node = Node::start();
    let empty = contents(&node.vpp.state());
    node.add_all();
    node.vpp.restart();
    reapply_all(&node.store(), node.vpp.path()).unwrap();
    for (pod, id) in PODS {
        node.cni("DEL", pod, id);
    }
    assert_eq!(contents(&node.vpp.state()), empty);
    assert_eq!(node.store().list().unwrap().len(), 0, "no journal left");
}

#[test]
fn a_restart_during_re_application_ends_consistent_after_the_next_pass() {
    let node = Node::start();
    node.add_all();
    let before = contents(&node.vpp.state());
    node.vpp.restart();
    // The pass is cut in the middle: the second memif (memif_create_v2) is refused, as by a VPP going away.
    {
        let mut st = node.vpp.state();
        st.fail
            .insert("memif_create_v2".into(), vpp_api::Retval::InvalidValue);
        st.fail_after.insert("memif_create_v2".into(), 1);
    }
    let cut = reapply_all(&node.store(), node.vpp.path()).unwrap();
    assert_eq!(cut.failed, 1, "{cut:?}");
    node.vpp.restart_into(|st| {
        st.fail.clear();
        st.fail_after.clear();
    });
    let next = reapply_all(&node.store(), node.vpp.path()).unwrap();
    assert_eq!(
        next,
        Pass {
            reapplied: 3,
            present: 0,
            failed: 0
        }
    );
    assert_eq!(contents(&node.vpp.state()), before);
    for (pod, id) in PODS {
        node.cni("DEL", pod, id);
    }
}

#[test]
fn an_add_racing_a_pass_ends_with_every_pod_on_vpp() {
    let node = Node::start();
    node.add_all();
    node.vpp.restart();
    let (store, socket) = (node.store(), node.vpp.path().to_owned());
    let pass = std::thread::spawn(move || reapply_all(&store, &socket));
    // A fourth pod (vhost-user on bridge domain 7, shared with a healed one).
    node.cni("ADD", "racer", "d4");
    let first = pass.join().unwrap().unwrap();
    assert_eq!(first.failed, 0, "{first:?}");
    let settled = reapply_all(&node.store(), node.vpp.path()).unwrap();
    assert_eq!(
        settled,
        Pass {
            reapplied: 0,
            present: 4,
            failed: 0
        }
    );
    for (pod, id) in PODS.into_iter().chain([("racer", "d4")]) {
        node.cni("DEL", pod, id);
    }
    assert_eq!(contents(&node.vpp.state()), contents(&State::default()));
}

#[test]
fn the_agent_sees_the_restart_and_heals_it() {
    let node = Node::start();
    node.add_all();
    let before = contents(&node.vpp.state());
    let sock = node.vpp.path().display().to_string();
    let agent = Agent::start(&node.path("state"), &["--vpp-socket", &sock]);
    let counter = |b: &str, n: &str| sample(b, n, &[]);
    poll("VPP answers", Duration::from_secs(30), || {
        let b = agent.get("/metrics", None).body;
        (sample(&b, "userspace_node_switch_reachable", &[("engine", "vpp")]) == Some(1.0))
            .then_some(())
            .ok_or(b)
    });
    node.vpp.restart();
    poll(
        "the restart is seen and healed",
        Duration::from_secs(30),
        || {
            let b = agent.get("/metrics", None).body;
            (counter(&b, "userspace_node_vpp_restarts_total") == Some(1.0)
                && counter(&b, "userspace_node_reapplied_total") == Some(3.0))
            .then_some(())
            .ok_or(b)
        },
    );
    assert_eq!(contents(&node.vpp.state()), before);
    assert_eq!(agent.get("/readyz", None).status, 200);
}
