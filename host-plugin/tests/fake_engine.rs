//! The verbs in-process against the recording fake switch: which engine calls each verb makes,
//! in which order, and what a failing or missing switch does to them; and the OVN engine's keys
//! (a NetConf it cannot serve is error 7 naming the key, before anything is made) and plan.
//! No ovsdb-server, no IPAM; the OVN engine against real OVN: `ovn_two_nodes.rs`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use userspace_plugin::engine::EngineRecord;
use userspace_plugin::engine::fake::FakeSwitch;
use userspace_test_support::cni_vars;

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
        self.run_args(verb, id, conf, "")
    }

    fn run_args(&self, verb: &str, id: &str, conf: &Value, args: &str) -> (Value, i32) {
        let env = cni_vars(verb, id, "net1", args);
        let out = userspace_plugin::run_with(&env, conf.to_string().as_bytes(), &self.switch);
        let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        (v, out.code)
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut self.switch.state().calls)
    }

    /// `host.engine: ovn` with its one required key.
    fn ovn_conf(&self) -> Value {
        let mut c = self.conf();
        c["name"] = json!("ovn-net");
        c["host"] = json!({"engine": "ovn", "iftype": "vhostuser", "vhost": {"mode": "client"}});
        c["ovn"] = json!({"logicalSwitch": "ls0"});
        c
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state"))
            .map(|d| d.count())
            .unwrap_or(0)
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

/// Every file left under the node's directory (state, shared directory), for "nothing left".
fn files(node: &Node) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(node.dir.path(), &mut out);
    out.retain(|f| !f.ends_with(".lock"));
    out
}

#[test]
fn the_mac_capability_wins_over_cni_args_and_reaches_the_result_and_the_pods_files() {
    let node = Node::new();
    let mut conf = node.conf();
    conf["runtimeConfig"] = json!({"mac": "02:00:00:AA:BB:01"});
    let (res, code) = node.run_args("ADD", "abc", &conf, "MAC=02:00:00:aa:bb:02");
    assert_eq!(code, 0, "{res}");
    assert_eq!(res["interfaces"][0]["mac"], "02:00:00:aa:bb:01");
    let shared = node.dir.path().join("shared/abc");
    let data: Value =
        serde_json::from_slice(&std::fs::read(shared.join("configData-abc-net1.json")).unwrap())
            .unwrap();
    assert_eq!(
        data["ipResult"]["interfaces"][0]["mac"],
        "02:00:00:aa:bb:01"
    );
    assert_eq!(node.run("DEL", "abc", &conf).1, 0);

    let (res, code) = node.run_args(
        "ADD",
        "def",
        &node.conf(),
        "IgnoreUnknown=1;MAC=02:00:00:aa:bb:02",
    );
    assert_eq!(code, 0, "{res}");
    assert_eq!(res["interfaces"][0]["mac"], "02:00:00:aa:bb:02");
}

#[test]
fn a_multicast_or_malformed_mac_is_error_7_before_anything_is_made() {
    let node = Node::new();
    for (runtime, args, says) in [
        (Some("01:00:5e:00:00:01"), "", "multicast"),
        (None, "MAC=ff:ff:ff:ff:ff:ff", "multicast"),
        (None, "MAC=02:00:00:00:00", "invalid MAC"),
        (Some("00:00:00:00:00:00"), "", "all-zero"),
        (Some("zz:00:00:00:00:01"), "", "invalid MAC"),
    ] {
        let mut conf = node.conf();
        if let Some(m) = runtime {
            conf["runtimeConfig"] = json!({ "mac": m });
        }
        let (res, code) = node.run_args("ADD", "abc", &conf, args);
        assert_eq!((code, res["code"].as_u64()), (1, Some(7)), "{res}");
        assert!(res["msg"].as_str().unwrap().contains(says), "{res}");
        assert!(node.calls().is_empty(), "no switch call for {res}");
        assert_eq!(files(&node), Vec::<String>::new(), "{res}");
    }
}

#[test]
fn queues_mtu_and_vlan_reach_the_port_and_the_result_and_bad_values_are_error_7() {
    let node = Node::new();
    let mut conf = node.conf();
    conf["mtu"] = json!(9000);
    conf["host"]["vhost"]["queues"] = json!(2);
    conf["host"]["bridge"] = json!({"bridgeName": "br-v", "vlanId": 10});
    let (res, code) = node.run("ADD", "abc", &conf);
    assert_eq!(code, 0, "{res}");
    assert_eq!(res["interfaces"][0]["mtu"], 9000);
    let EngineRecord::OvsDpdk(port) = node.switch.state().ports["abc-net1"].record.clone() else {
        panic!("an ovs-dpdk config plans an OVS record");
    };
    assert_eq!(
        (port.vlan, port.mtu, port.bridge.as_str()),
        (Some(10), Some(9000), "br-v")
    );
    let data: Value = serde_json::from_slice(
        &std::fs::read(node.dir.path().join("shared/abc/configData-abc-net1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        data["config"]["vhost"]["queues"], 2,
        "the pod side defaults to the host's queues"
    );
    assert_eq!(data["config"]["bridge"]["vlanId"], 10);
    assert_eq!(node.run("DEL", "abc", &conf).1, 0);
    node.calls();

    for (key, value, says) in [
        ("/host/vhost/queues", json!(17), "host.vhost.queues"),
        ("/host/vhost/queues", json!(0), "host.vhost.queues"),
        ("/mtu", json!(10000), "mtu"),
        ("/mtu", json!(20), "mtu"),
        ("/host/bridge/vlanId", json!(4095), "host.bridge.vlanId"),
    ] {
        let mut bad = conf.clone();
        *bad.pointer_mut(key).unwrap() = value;
        let (res, code) = node.run("ADD", "abc", &bad);
        assert_eq!((code, res["code"].as_u64()), (1, Some(7)), "{res}");
        assert!(res["msg"].as_str().unwrap().starts_with(says), "{res}");
        assert!(node.calls().is_empty());
        assert_eq!(files(&node), Vec::<String>::new(), "{res}");
    }
    let mut bad = conf.clone();
    bad["container"] = json!({"memif": {"queues": 2}});
    let (res, _) = node.run("ADD", "abc", &bad);
    assert_eq!(res["code"], 7, "{res}");
    let mut none = conf.clone();
    none["host"]["netType"] = json!("none");
    let (res, _) = node.run("ADD", "abc", &none);
    assert_eq!(res["code"], 7, "a VLAN without a bridge: {res}");
}

#[test]
fn the_ovs_engine_refuses_what_it_cannot_serve_before_the_switch_is_asked() {
    let node = Node::new();
    for (edit, code, says) in [
        (
            json!({"iftype": "memif"}),
            2,
            "host.iftype memif is not supported by the ovs-dpdk engine",
        ),
        (
            json!({"netType": "interface"}),
            2,
            "host.netType interface is not supported by the ovs-dpdk engine",
        ),
        (
            json!({"bridge": {"bridgeName": "br 0"}}),
            7,
            "host.bridge.bridgeName \"br 0\" is not a valid OVS bridge name",
        ),
    ] {
        let mut conf = node.conf();
        for (k, v) in edit.as_object().unwrap() {
            conf["host"][k] = v.clone();
        }
        let (res, _) = node.run("ADD", "abc", &conf);
        assert_eq!(res["code"], code, "{res}");
        assert!(res["msg"].as_str().unwrap().starts_with(says), "{res}");
        assert!(node.calls().is_empty(), "the switch was not asked");
        let (res, exit) = node.run("DEL", "abc", &conf);
        assert_eq!(
            exit, 0,
            "DEL undoes what the journal says, whatever the engine thinks: {res}"
        );
        node.calls();
    }
}

/// The container of the OVN engine's cases.
const OVN_ID: &str = "abcdef0123456789";

fn refused(edit: impl Fn(&mut Value), msg: &str) {
    let node = Node::new();
    let mut conf = node.ovn_conf();
    edit(&mut conf);
    let (res, code) = node.run_args("ADD", OVN_ID, &conf, "");
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
    let mut conf = node.ovn_conf();
    conf["ovn"] = json!({});
    let (res, code) = node.run("STATUS", OVN_ID, &conf);
    assert_eq!((code, res["code"].as_u64()), (1, Some(7)), "{res}");
    assert!(
        node.switch.state().calls.is_empty(),
        "the switch was not asked"
    );
}

#[test]
fn del_does_not_ask_the_engine_about_the_config_it_undoes_nothing_with() {
    let node = Node::new();
    let mut conf = node.ovn_conf();
    conf["ovn"] = json!({});
    let (res, code) = node.run("DEL", OVN_ID, &conf);
    assert_eq!(code, 0, "{res}");
}

#[test]
fn the_logical_port_is_named_after_the_pod_and_bound_by_the_br_int_port() {
    let node = Node::new();
    let (res, code) = node.run_args(
        "ADD",
        OVN_ID,
        &node.ovn_conf(),
        "K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=dpdk-0",
    );
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
