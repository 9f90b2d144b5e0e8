//! The OVN engine's keys, in-process against the recording fake switch: a NetConf the engine
//! cannot serve is error 7 naming the key, before anything is made (nothing is left in the
//! state directory); a good one plans a logical port named after the pod and a br-int port
//! bound to it. The engine against real OVN: `ovn_two_nodes.rs`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;

use serde_json::{Value, json};
use userspace_plugin::engine::EngineRecord;
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
            "cniVersion": "1.1.0", "name": "ovn-net", "type": "userspace",
            "sharedDir": d.join("shared"), "stateDir": d.join("state"), "socketAliasRoot": d.join("vs"),
            "host": {"engine": "ovn", "iftype": "vhostuser", "vhost": {"mode": "client"}},
            "ovn": {"logicalSwitch": "ls0"}
        })
    }

    fn add(&self, conf: &Value, args: &str) -> (Value, i32) {
        self.run("ADD", conf, args)
    }

    fn run(&self, verb: &str, conf: &Value, args: &str) -> (Value, i32) {
        let env: BTreeMap<String, String> = [
            ("CNI_ARGS", args),
            ("CNI_COMMAND", verb),
            ("CNI_CONTAINERID", "abcdef0123456789"),
            ("CNI_IFNAME", "net1"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_PATH", "/usr/lib/cni"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = userspace_plugin::run_with(&env, conf.to_string().as_bytes(), &self.switch);
        (
            serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
            out.code,
        )
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn refused(edit: impl Fn(&mut Value), msg: &str) {
    let node = Node::new();
    let mut conf = node.conf();
    edit(&mut conf);
    let (res, code) = node.add(&conf, "");
    assert_eq!(code, 1, "{res}");
    assert_eq!(res["code"], 7, "{res}");
    assert!(
        res["msg"].as_str().unwrap().contains(msg),
        "{res} does not say {msg:?}"
    );
    assert!(node.switch.state().ports.is_empty(), "nothing attached");
    assert_eq!(node.state_files(), 0, "nothing left in the state directory");
}

#[test]
fn the_logical_switch_is_required() {
    refused(
        |c| c["ovn"] = json!({}),
        "ovn.logicalSwitch is required with host.engine ovn",
    );
}

#[test]
fn memif_is_refused_because_ovs_has_none() {
    refused(
        |c| c["host"]["iftype"] = json!("memif"),
        "host.iftype memif: the ovn engine makes vhost-user ports",
    );
}

#[test]
fn a_vlan_is_refused_because_the_logical_switch_is_the_segment() {
    refused(
        |c| {
            c["host"]["netType"] = json!("bridge");
            c["host"]["bridge"] = json!({"vlanId": 10});
        },
        "host.bridge.vlanId 10: the ovn engine has no VLANs",
    );
}

#[test]
fn an_ssl_northbound_needs_its_three_files() {
    refused(
        |c| c["ovn"]["northbound"] = json!("ssl:10.0.0.1:6641"),
        "ovn.northboundTls.privateKey: an absolute path is required",
    );
    refused(
        |c| {
            c["ovn"]["northbound"] = json!("ssl:10.0.0.1:6641");
            c["ovn"]["northboundTls"] = json!({"privateKey": "/k", "certificate": "/c"});
        },
        "ovn.northboundTls.caCert",
    );
}

#[test]
fn a_northbound_endpoint_of_another_kind_is_refused() {
    refused(
        |c| c["ovn"]["northbound"] = json!("http://10.0.0.1:6641"),
        "ovn.northbound:",
    );
}

#[test]
fn a_subnet_that_is_not_one_is_refused() {
    refused(
        |c| c["ovn"]["subnet"] = json!("10.0.0.0"),
        "ovn.subnet: \"10.0.0.0\"",
    );
}

#[test]
fn a_timeout_out_of_range_is_refused_with_the_allowed_range() {
    refused(
        |c| c["ovn"]["installTimeoutSeconds"] = json!(0),
        "ovn.installTimeoutSeconds",
    );
}

#[test]
fn status_refuses_a_config_the_engine_cannot_serve_before_asking_the_switch() {
    let node = Node::new();
    let mut conf = node.conf();
    conf["ovn"] = json!({});
    let (res, code) = node.run("STATUS", &conf, "");
    assert_eq!((code, res["code"].as_u64()), (1, Some(7)), "{res}");
    assert!(
        node.switch.state().calls.is_empty(),
        "the switch was not asked"
    );
}

#[test]
fn del_does_not_ask_the_engine_about_the_config_it_undoes_nothing_with() {
    let node = Node::new();
    let mut conf = node.conf();
    conf["ovn"] = json!({});
    let (res, code) = node.run("DEL", &conf, "");
    assert_eq!(code, 0, "{res}");
}

#[test]
fn the_logical_port_is_named_after_the_pod_and_bound_by_the_br_int_port() {
    let node = Node::new();
    let (res, code) = node.add(&node.conf(), "K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=dpdk-0");
    assert_eq!(code, 0, "{res}");
    let s = node.switch.state();
    let port = s.ports.values().next().unwrap();
    let EngineRecord::Ovn(r) = &port.record else {
        panic!("an ovn config plans an OVN record: {:?}", port.record);
    };
    assert_eq!(r.port, "ovn-net_team-a_dpdk-0_net1");
    assert_eq!(r.logical_switch, "ls0");
    assert_eq!(r.pod.as_deref(), Some("team-a/dpdk-0"));
    assert_eq!(r.local.bridge, "br-int");
    assert_eq!(
        r.local.iface_id.as_deref(),
        Some("ovn-net_team-a_dpdk-0_net1")
    );
}
