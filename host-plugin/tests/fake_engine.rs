//! The verbs in-process against the recording fake switch: which engine calls each verb makes,
//! in which order, and what a failing or missing switch does to them. No ovsdb-server, no IPAM.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;

use serde_json::{Value, json};
use userspace_plugin::engine::fake::FakeSwitch;

struct Node {
    dir: tempfile::TempDir,
    switch: FakeSwitch,
}

impl Node {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            switch: FakeSwitch::new(),
        }
    }

    fn conf(&self) -> Value {
        let d = self.dir.path();
        json!({
            "cniVersion": "1.1.0", "name": "fake-net", "type": "userspace",
            "sharedDir": d.join("shared"), "stateDir": d.join("state"), "socketAliasRoot": d.join("vs"),
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}}
        })
    }

    fn run(&self, verb: &str, id: &str, conf: &Value) -> (Value, i32) {
        let env: BTreeMap<String, String> = [
            ("CNI_COMMAND", verb),
            ("CNI_CONTAINERID", id),
            ("CNI_IFNAME", "net1"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_PATH", "/usr/lib/cni"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = userspace_plugin::run_with(&env, conf.to_string().as_bytes(), &self.switch);
        let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        (v, out.code)
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut self.switch.state().calls)
    }
}

#[test]
fn add_connects_to_the_configured_engine_and_attaches_one_port() {
    let node = Node::new();
    let (res, code) = node.run("ADD", "abc", &node.conf());
    assert_eq!(code, 0, "{res}");
    assert_eq!(node.calls(), ["connect ovs-dpdk", "attach abc-net1"]);
    assert_eq!(node.switch.state().ports["abc-net1"].owner, "abc@net1");
}

#[test]
fn del_detaches_what_the_journal_records_and_a_second_del_asks_the_switch_only_for_strays() {
    let node = Node::new();
    node.run("ADD", "abc", &node.conf());
    node.calls();
    assert_eq!(node.run("DEL", "abc", &node.conf()).1, 0);
    assert_eq!(node.calls(), ["connect ovs-dpdk", "detach abc-net1"]);
    assert!(node.switch.state().ports.is_empty());
    assert_eq!(node.run("DEL", "abc", &node.conf()).1, 0);
    assert_eq!(node.calls(), ["connect ovs-dpdk", "untracked"]);
}

#[test]
fn a_port_the_switch_fails_to_make_leaves_no_journal_and_no_port() {
    let node = Node::new();
    node.switch.state().fail = Some("attach abc-net1".into());
    let (res, code) = node.run("ADD", "abc", &node.conf());
    assert_eq!((code, res["code"].as_u64()), (1, Some(11)), "{res}");
    assert!(node.switch.state().ports.is_empty());
    let state: Vec<_> = std::fs::read_dir(node.dir.path().join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(state.is_empty(), "{state:?}");
}

#[test]
fn check_reports_a_port_that_another_attachment_now_holds() {
    let node = Node::new();
    let (added, _) = node.run("ADD", "abc", &node.conf());
    node.switch.state().ports.get_mut("abc-net1").unwrap().owner = "xyz@net1".into();
    let mut conf = node.conf();
    conf["prevResult"] = added;
    let (res, code) = node.run("CHECK", "abc", &conf);
    assert_ne!(code, 0);
    assert!(res["msg"].as_str().unwrap().contains("another's"), "{res}");
    assert_eq!(node.run("DEL", "abc", &node.conf()).1, 0);
    assert!(
        node.switch.state().ports.contains_key("abc-net1"),
        "another's port is left alone"
    );
}

#[test]
fn status_is_code_50_while_the_switch_is_down() {
    let node = Node::new();
    assert_eq!(node.run("STATUS", "", &node.conf()).1, 0);
    node.switch.state().down = true;
    let (res, code) = node.run("STATUS", "", &node.conf());
    assert_eq!((code, res["code"].as_u64()), (1, Some(50)), "{res}");
}
