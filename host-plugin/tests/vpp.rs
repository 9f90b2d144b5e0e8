//! The `userspace` binary with `host.engine: vpp`, against a fake VPP that speaks the real
//! binary API (VPP is not packaged for Debian; see vpp-api's `fake`), with the real
//! `host-local`. The fake records every request: ADD and DEL must send exactly the sequence
//! VPP needs, and leave VPP as they found it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vpp_api::fake::{FIRST_PICKED_SOCKET_ID, FakeVpp, IfKind, State};
use vpp_api::messages::memif::MemifRole;

const ID: &str = "5e678250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";
const ID2: &str = "6f778250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";
const ID3: &str = "7a888250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";

struct Node {
    vpp: FakeVpp,
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        Self::with(State::default())
    }

    fn with(state: State) -> Self {
        assert!(
            Path::new("/usr/lib/cni/host-local").exists(),
            "host-local is not installed: run `bash scripts/setup-host.sh` (containernetworking-plugins)"
        );
        let dir = tempfile::Builder::new()
            .prefix("vpp")
            .tempdir_in("/tmp")
            .unwrap();
        let vpp = FakeVpp::start_with(dir.path().join("api.sock"), state).unwrap();
        Self { vpp, dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self, host: Value) -> Value {
        json!({
            "cniVersion": "1.0.0",
            "name": "userspace-vpp",
            "type": "userspace",
            "vppApiSocket": self.vpp.path(),
            "sharedDir": self.path("shared"),
            "stateDir": self.path("state"),
            "host": host,
            "container": {"engine": "vpp", "iftype": "memif", "netType": "interface"},
            "ipam": {"type": "host-local", "subnet": "10.56.217.0/24", "gateway": "10.56.217.1",
                     "dataDir": self.path("ipam"), "routes": [{"dst": "0.0.0.0/0"}]}
        })
    }

    fn memif_bridge(&self) -> Value {
        self.conf(
            json!({"engine": "vpp", "iftype": "memif", "netType": "bridge",
                          "memif": {"role": "master", "mode": "ethernet"},
                          "bridge": {"bridgeName": "4"}}),
        )
    }

    fn leases(&self) -> usize {
        std::fs::read_dir(self.path("ipam/userspace-vpp"))
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.contains('.') && !n.starts_with("last_reserved")
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    fn files(&self) -> Vec<String> {
        let mut v = Vec::new();
        for sub in ["shared", "state"] {
            walk(&self.path(sub), &mut v);
        }
        v.retain(|f| !f.ends_with(".lock"));
        v
    }

    /// VPP as it started: local0, the built-in memif socket, bd 0; and nothing on disk.
    fn assert_pristine(&self, what: &str) {
        let st = self.vpp.state();
        assert_eq!(
            st.interfaces.len(),
            1,
            "{what}: interfaces left: {:?}",
            st.interfaces
        );
        assert_eq!(
            st.sockets.len(),
            1,
            "{what}: sockets left: {:?}",
            st.sockets
        );
        assert_eq!(
            st.bridge_domains.len(),
            1,
            "{what}: bridge domains left: {:?}",
            st.bridge_domains
        );
        assert!(st.routes.is_empty(), "{what}: routes left: {:?}", st.routes);
        assert!(
            st.proxy_arps.is_empty() && st.proxy_arp_enabled.is_empty(),
            "{what}: proxy ARP left: {:?} on {:?}",
            st.proxy_arps,
            st.proxy_arp_enabled
        );
        drop(st);
        assert_eq!(self.leases(), 0, "{what}: lease left");
        assert!(
            self.files().is_empty(),
            "{what}: files left: {:?}",
            self.files()
        );
    }

    fn take_log(&self) -> Vec<String> {
        let mut st = self.vpp.state();
        let l = st.requests();
        st.log.clear();
        l.into_iter()
            .filter(|n| n != "sockclnt_create" && n != "sockclnt_delete")
            .collect()
    }
}

/// VPP's name of the first memif on the first socket id it picks.
fn memif0() -> String {
    format!("memif{FIRST_PICKED_SOCKET_ID}/0")
}

fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    if let Ok(w) = std::fs::read_dir(dir) {
        for e in w.flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
}

fn cni(verb: &str, id: &str, conf: &Value) -> (Value, i32) {
    support::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        verb,
        id,
        "net1",
        "IgnoreUnknown=1;K8S_POD_NAME=p",
        &[],
        conf.to_string().as_bytes(),
    )
}

#[test]
fn memif_bridge_add_sends_the_exact_api_sequence_and_del_undoes_it() {
    let node = Node::new();
    let conf = node.memif_bridge();
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{res}");
    assert_eq!(
        node.take_log(),
        [
            "memif_socket_filename_dump",
            "memif_socket_filename_add_del_v2",
            "memif_dump",
            "memif_create_v2",
            "sw_interface_tag_add_del",
            "sw_interface_set_flags",
            "bridge_domain_dump",
            "bridge_domain_add_del_v2",
            "sw_interface_set_l2_bridge",
        ]
    );
    let socket = node.path("shared/5e678250ad8d/memif-5e678250ad8d-net1.sock");
    {
        let st = node.vpp.state();
        assert_eq!(
            st.sockets.get(&FIRST_PICKED_SOCKET_ID).map(String::as_str),
            socket.to_str()
        );
        let (sw, memif) = st.interface_named(&memif0()).unwrap();
        assert!(matches!(
            memif.kind,
            IfKind::Memif {
                role: MemifRole::MASTER,
                socket_id: FIRST_PICKED_SOCKET_ID,
                id: 0,
                ..
            }
        ));
        assert!(memif.admin_up);
        assert_eq!(memif.bridge, Some(4));
        assert_eq!(st.members(4), [sw]);
        assert_eq!(st.bridge_domains[&4].tag, "userspace-cni");
    }
    assert!(
        socket.exists(),
        "VPP (master) listens on the socket in the shared dir"
    );
    // The pod learns its side: memif slave on that socket file.
    let data: Value = serde_json::from_slice(
        &std::fs::read(node.path("shared/5e678250ad8d/configData-5e678250ad8d-net1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(data["config"]["memif"]["role"], "slave");
    assert_eq!(
        data["config"]["memif"]["socketfile"],
        "memif-5e678250ad8d-net1.sock"
    );

    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(
        node.take_log(),
        [
            "memif_socket_filename_dump",
            "memif_dump",
            "sw_interface_set_l2_bridge",
            "memif_delete",
            "memif_socket_filename_dump",
            "memif_dump",
            "memif_socket_filename_add_del_v2",
            "bridge_domain_dump",
            "bridge_domain_add_del_v2",
        ]
    );
    node.assert_pristine("after DEL");
    assert_eq!(cni("DEL", ID, &conf).1, 0, "DEL again is a no-op");
    node.assert_pristine("after the second DEL");
}

#[test]
fn a_bridge_domain_the_operator_made_is_joined_but_never_deleted() {
    let mut st = State::default();
    st.bridge_domains.insert(4, Default::default());
    let node = Node::with(st);
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    assert!(
        !node
            .take_log()
            .contains(&"bridge_domain_add_del_v2".to_owned())
    );
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert!(
        !node
            .take_log()
            .contains(&"bridge_domain_add_del_v2".to_owned())
    );
    assert!(node.vpp.state().bridge_domains.contains_key(&4));
}

#[test]
fn a_bridge_domain_stays_while_another_attachment_uses_it() {
    let node = Node::new();
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    assert_eq!(cni("ADD", ID2, &conf).1, 0);
    assert_eq!(node.vpp.state().members(4).len(), 2);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert!(
        node.vpp.state().bridge_domains.contains_key(&4),
        "still used by ID2"
    );
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.assert_pristine("after both DELs");
}

fn l3_conf(node: &Node) -> Value {
    node.conf(json!({"engine": "vpp", "iftype": "memif", "netType": "interface"}))
}

const GW_TAG: &str = "userspace-cni gw 10.56.217.1/24";

/// The gateway loopback's `sw_if_index`, checked: tagged, the gateway address, up.
fn gateway_loopback(st: &State) -> u32 {
    let lbs = st.loopbacks();
    assert_eq!(lbs.len(), 1, "one loopback per subnet: {lbs:?}");
    let (lo, i) = lbs[0];
    assert_eq!(i.tag, GW_TAG);
    assert_eq!(
        i.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.56.217.1/24"]
    );
    assert!(i.admin_up);
    lo
}

/// The pod's memif (by the ADD result's socket) and the address the result gave the pod.
fn pod_of(st: &State, res: &Value) -> (u32, String) {
    let ip = res["ips"][0]["address"].as_str().unwrap();
    let ip = ip.split('/').next().unwrap().to_owned();
    let sock = res["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i["socketPath"].as_str().map(str::to_owned));
    let sw = st
        .routes
        .iter()
        .find(|r| r.prefix.to_string() == format!("{ip}/32"))
        .map(|r| r.paths[0].sw_if_index)
        .unwrap_or_else(|| panic!("no /32 route to {ip} ({sock:?}): {:?}", st.routes));
    (sw, ip)
}

/// Every pod's memif is unnumbered to the loopback, has no address of its own, and its
/// pod's /32 goes out of it with the pod as the attached next hop.
fn assert_routed(st: &State, pods: &[&Value]) {
    let lo = gateway_loopback(st);
    let mut members = Vec::new();
    for res in pods {
        let (sw, ip) = pod_of(st, res);
        let i = &st.interfaces[&sw];
        assert!(matches!(i.kind, IfKind::Memif { .. }), "{i:?}");
        assert_eq!(i.unnumbered, Some(lo), "{ip}'s memif borrows the gateway");
        assert!(i.addresses.is_empty(), "{ip}'s memif has no address");
        assert!(i.admin_up);
        let r = st
            .routes
            .iter()
            .find(|r| r.prefix.to_string() == format!("{ip}/32"))
            .unwrap();
        assert_eq!(r.table_id, 0);
        assert_eq!(r.paths.len(), 1);
        let nh: std::net::Ipv4Addr = ip.parse().unwrap();
        assert_eq!(r.paths[0].nh.address[..4], nh.octets());
        members.push(sw);
    }
    members.sort_unstable();
    assert_eq!(st.unnumbered_to(lo), members);
    assert_eq!(st.routes.len(), pods.len(), "{:?}", st.routes);
}

const L3_FIRST_ADD: [&str; 15] = [
    "memif_socket_filename_dump",
    "memif_socket_filename_add_del_v2",
    "memif_dump",
    "memif_create_v2",
    "sw_interface_tag_add_del",
    "sw_interface_set_flags",
    // No loopback for the subnet yet: make it, tag it, give it the gateway, bring it up.
    "sw_interface_dump",
    "create_loopback",
    "sw_interface_tag_add_del",
    "sw_interface_add_del_address",
    "sw_interface_set_flags",
    "sw_interface_set_unnumbered",
    // Proxy ARP for the subnet, on this interface: the pods reach each other.
    "proxy_arp_add_del",
    "proxy_arp_intfc_enable_disable",
    "ip_route_add_del",
];

const L3_NEXT_ADD: [&str; 11] = [
    "memif_socket_filename_dump",
    "memif_socket_filename_add_del_v2",
    "memif_dump",
    "memif_create_v2",
    "sw_interface_tag_add_del",
    "sw_interface_set_flags",
    // The subnet's loopback is found by its tag.
    "sw_interface_dump",
    "sw_interface_set_unnumbered",
    // Proxy ARP for the subnet, on this interface: the pods reach each other.
    "proxy_arp_add_del",
    "proxy_arp_intfc_enable_disable",
    "ip_route_add_del",
];

const L3_DEL: [&str; 12] = [
    "ip_unnumbered_dump",
    "memif_socket_filename_dump",
    "memif_dump",
    "ip_route_add_del",
    "proxy_arp_intfc_enable_disable",
    "sw_interface_set_unnumbered",
    "memif_delete",
    "memif_socket_filename_dump",
    "memif_dump",
    "memif_socket_filename_add_del_v2",
    // Is the loopback still used?
    "sw_interface_dump",
    "ip_unnumbered_dump",
];

#[test]
fn three_pods_in_one_subnet_share_one_gateway_loopback_and_dels_keep_the_rest_routed() {
    let node = Node::new();
    let conf = l3_conf(&node);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    assert_eq!(node.take_log(), L3_FIRST_ADD);
    let (b, code) = cni("ADD", ID2, &conf);
    assert_eq!(
        code, 0,
        "the second pod of the subnet is no ADDRESS_IN_USE: {b}"
    );
    assert_eq!(node.take_log(), L3_NEXT_ADD);
    let (c, code) = cni("ADD", ID3, &conf);
    assert_eq!(code, 0, "{c}");
    assert_eq!(node.take_log(), L3_NEXT_ADD);
    {
        let st = node.vpp.state();
        assert_routed(&st, &[&a, &b, &c]);
        assert_eq!(st.interfaces.len(), 5, "local0, the loopback, three memifs");
    }
    // The pod's gateway is the loopback's address.
    assert_eq!(a["ips"][0]["gateway"], "10.56.217.1");

    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    assert_eq!(
        node.take_log(),
        L3_DEL,
        "the loopback stays: two pods use it"
    );
    assert_routed(&node.vpp.state(), &[&a, &c]);

    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(node.take_log(), L3_DEL);
    assert_routed(&node.vpp.state(), &[&c]);

    assert_eq!(cni("DEL", ID3, &conf).1, 0);
    let mut last = L3_DEL.to_vec();
    last.extend(["proxy_arp_add_del", "delete_loopback"]);
    assert_eq!(node.take_log(), last, "the last DEL removes the loopback");
    node.assert_pristine("after the three DELs");

    assert_eq!(cni("DEL", ID3, &conf).1, 0, "DEL again is a no-op");
    assert_eq!(
        node.take_log(),
        ["sw_interface_dump"],
        "the journal is gone: DEL only looks for an interface tagged for it"
    );
    node.assert_pristine("after the repeated DEL");
}

/// vhost-user takes the same L3 path: unnumbered to the subnet's loopback, routed.
#[test]
fn vhost_user_interfaces_share_the_gateway_loopback_too() {
    let node = Node::new();
    let mut conf = node.conf(
        json!({"engine": "vpp", "iftype": "vhostuser", "netType": "interface",
                                    "vhost": {"mode": "server"}}),
    );
    conf["container"] = json!({"engine": "vpp", "iftype": "vhostuser"});
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let (b, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{b}");
    assert_eq!(
        node.take_log()[..8],
        [
            "create_vhost_user_if_v2",
            "sw_interface_vhost_user_dump",
            "sw_interface_set_flags",
            "sw_interface_dump",
            "create_loopback",
            "sw_interface_tag_add_del",
            "sw_interface_add_del_address",
            "sw_interface_set_flags",
        ]
    );
    {
        let st = node.vpp.state();
        let lo = gateway_loopback(&st);
        assert_eq!(st.unnumbered_to(lo).len(), 2);
        assert_eq!(st.routes.len(), 2);
    }
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(node.vpp.state().routes.len(), 1);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.assert_pristine("after both DELs");
}

/// IPv6: the loopback holds the v6 gateway, each pod a /128 route with itself as next hop.
#[test]
fn an_ipv6_subnet_gets_its_gateway_loopback_and_128_routes() {
    let node = Node::new();
    let mut conf = l3_conf(&node);
    conf["ipam"]["subnet"] = json!("fd00:56::/64");
    conf["ipam"]["gateway"] = json!("fd00:56::1");
    conf["ipam"]["routes"] = json!([{"dst": "::/0"}]);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let (b, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{b}");
    {
        let st = node.vpp.state();
        let lbs = st.loopbacks();
        assert_eq!(lbs.len(), 1);
        let (lo, i) = lbs[0];
        assert_eq!(i.tag, "userspace-cni gw fd00:56::1/64");
        assert_eq!(i.addresses[0].to_string(), "fd00:56::1/64");
        assert_eq!(st.unnumbered_to(lo).len(), 2);
        for res in [&a, &b] {
            let ip = res["ips"][0]["address"].as_str().unwrap();
            let ip: std::net::Ipv6Addr = ip.split('/').next().unwrap().parse().unwrap();
            let r = st
                .routes
                .iter()
                .find(|r| r.prefix.to_string() == format!("{ip}/128"))
                .unwrap_or_else(|| panic!("no /128 to {ip}: {:?}", st.routes));
            assert_eq!(r.paths[0].nh.address, ip.octets());
            assert_eq!(st.interfaces[&r.paths[0].sw_if_index].unnumbered, Some(lo));
        }
    }
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.assert_pristine("after both DELs");
}

/// CHECK of an L3 pod: the interface, its binding to the tagged loopback and its route.
#[test]
fn check_of_an_l3_pod_finds_a_lost_route_binding_or_loopback() {
    let node = Node::new();
    let conf = l3_conf(&node);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let conf = with_prev(&conf, &a);
    node.take_log();
    let (res, code) = cni("CHECK", ID, &conf);
    assert_eq!(code, 0, "{res}");
    assert_eq!(
        node.take_log(),
        [
            "memif_socket_filename_dump",
            "memif_dump",
            "sw_interface_dump",
            "ip_unnumbered_dump",
            "proxy_arp_intfc_dump",
            "proxy_arp_dump",
            "ip_route_dump",
        ]
    );
    let routes = std::mem::take(&mut node.vpp.state().routes);
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("no route to 10.56.217.2/32"),
        "{res}"
    );
    node.vpp.state().routes = routes;
    let lo = gateway_loopback(&node.vpp.state());
    let member = node.vpp.state().unnumbered_to(lo)[0];
    node.vpp
        .state()
        .interfaces
        .get_mut(&member)
        .unwrap()
        .unnumbered = None;
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains("not unnumbered"),
        "{res}"
    );
    node.vpp
        .state()
        .interfaces
        .get_mut(&member)
        .unwrap()
        .unnumbered = Some(lo);
    node.vpp
        .state()
        .interfaces
        .get_mut(&lo)
        .unwrap()
        .tag
        .clear();
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains("no loopback tagged"),
        "{res}"
    );
    node.vpp.state().interfaces.get_mut(&lo).unwrap().tag = GW_TAG.into();
    assert_eq!(cni("CHECK", ID, &conf).1, 0);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    node.assert_pristine("after DEL");
}

/// A loopback the plugin did not tag (the operator's) is never used or deleted.
#[test]
fn a_loopback_without_the_plugins_tag_is_left_alone() {
    let node = Node::new();
    let conf = l3_conf(&node);
    {
        let mut st = node.vpp.state();
        st.interfaces.insert(
            7,
            vpp_api::fake::Interface {
                name: "loop0".into(),
                kind: IfKind::Loopback { instance: 0 },
                mac: [0xde, 0xad, 0, 0, 0, 0],
                admin_up: true,
                addresses: Vec::new(),
                bridge: None,
                l2: Default::default(),
                tag: "operator".into(),
                unnumbered: None,
            },
        );
    }
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    {
        let st = node.vpp.state();
        let (_, made) = st.interface_named("loop1").unwrap();
        assert_eq!(made.tag, GW_TAG, "a loopback of its own, the next instance");
    }
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    let st = node.vpp.state();
    assert_eq!(st.loopbacks().len(), 1);
    assert_eq!(st.interfaces[&7].tag, "operator");
}

/// VPP refuses one step of the L3 setup: ADD rolls back every step, the loopback too when
/// this ADD made it; a pod already there keeps its loopback and route.
#[test]
fn a_refused_l3_step_rolls_back_and_leaves_the_other_pods_routed() {
    for msg in [
        "create_loopback",
        "sw_interface_tag_add_del",
        "sw_interface_add_del_address",
        "sw_interface_set_unnumbered",
        "ip_route_add_del",
    ] {
        let node = Node::new();
        let conf = l3_conf(&node);
        {
            let mut st = node.vpp.state();
            st.fail.insert(msg.into(), vpp_api::Retval::InvalidValue);
            // The memif's own tag comes first: the loopback's is the one refused.
            st.fail_after.insert("sw_interface_tag_add_del".into(), 1);
        }
        let (res, code) = cni("ADD", ID, &conf);
        assert_ne!(code, 0, "{msg}: {res}");
        assert!(
            res["msg"].as_str().unwrap().contains("INVALID_VALUE"),
            "{msg}: {res}"
        );
        assert!(node.vpp.state().fail.is_empty(), "{msg} was sent");
        let log = node.take_log();
        if msg == "ip_route_add_del" {
            // Unnumbered and a route attempt to undo, the loopback to delete.
            let n = log.len();
            assert_eq!(
                log[n - 17..n - 3],
                [
                    "ip_unnumbered_dump",
                    "memif_socket_filename_dump",
                    "memif_dump",
                    "ip_route_add_del",
                    "proxy_arp_intfc_enable_disable",
                    "sw_interface_set_unnumbered",
                    "memif_delete",
                    "memif_socket_filename_dump",
                    "memif_dump",
                    "memif_socket_filename_add_del_v2",
                    "sw_interface_dump",
                    "ip_unnumbered_dump",
                    "proxy_arp_add_del",
                    "delete_loopback",
                ],
                "{log:?}"
            );
        }
        if msg != "create_loopback" {
            assert!(
                log.contains(&"delete_loopback".to_owned()),
                "{msg}: the loopback this ADD made is deleted, tagged or not: {log:?}"
            );
        }
        node.assert_pristine(&format!("after {msg} was refused"));

        // Now with a pod routed already: the next pod's failure leaves it as it was.
        if msg == "sw_interface_set_unnumbered" || msg == "ip_route_add_del" {
            let (a, code) = cni("ADD", ID, &conf);
            assert_eq!(code, 0, "{a}");
            node.vpp
                .state()
                .fail
                .insert(msg.into(), vpp_api::Retval::InvalidValue);
            let (res, code) = cni("ADD", ID2, &conf);
            assert_ne!(code, 0, "{msg}: {res}");
            {
                let st = node.vpp.state();
                assert_routed(&st, &[&a]);
                assert_eq!(st.interfaces.len(), 3, "local0, loopback, the first memif");
            }
            assert_eq!(cni("DEL", ID, &conf).1, 0);
            node.assert_pristine(&format!("after {msg} was refused to the second pod"));
        }
    }
}

/// A kill at any point of an L3 ADD, then DEL: the journal's planned record has the gateway
/// and the pod's address, enough for DEL to find and undo what was made.
#[test]
fn a_plugin_killed_during_an_l3_add_leaves_nothing_after_del() {
    for phase in ["before", "after"] {
        let node = Node::new();
        let conf = l3_conf(&node);
        let at = format!("port#0:{phase}");
        let (_, code) = support::run_plugin(
            env!("CARGO_BIN_EXE_userspace"),
            "ADD",
            ID,
            "net1",
            "IgnoreUnknown=1;K8S_POD_NAME=p",
            &[("USERSPACE_CRASH_AT", at.as_str())],
            conf.to_string().as_bytes(),
        );
        assert_ne!(code, 0, "{at}: the injected kill happened");
        if phase == "after" {
            assert_eq!(node.vpp.state().loopbacks().len(), 1, "{at}: ADD made it");
        }
        assert_eq!(cni("DEL", ID, &conf).1, 0);
        node.assert_pristine(&at);
    }
}

/// A kill between VPP's `create_loopback` and the tag that marks it: the loopback carries the
/// gateway's MAC, so the killed attachment's DEL (or its retried ADD, which undoes the killed
/// attempt first) removes it, and another pod's ADD in the meantime finishes it (tag,
/// address, up) instead of making a second one.
#[test]
fn a_loopback_a_killed_add_made_but_did_not_tag_is_removed_or_finished() {
    let kill = |node: &Node, conf: &Value| {
        let (_, code) = support::run_plugin(
            env!("CARGO_BIN_EXE_userspace"),
            "ADD",
            ID,
            "net1",
            "IgnoreUnknown=1;K8S_POD_NAME=p",
            &[("USERSPACE_CRASH_AT", "vpp-loopback#0:created")],
            conf.to_string().as_bytes(),
        );
        assert_ne!(code, 0, "the injected kill happened");
        let st = node.vpp.state();
        let lbs = st.loopbacks();
        assert_eq!(lbs.len(), 1, "the killed ADD made one: {lbs:?}");
        assert_eq!(lbs[0].1.tag, "", "and did not tag it");
        assert_eq!(
            lbs[0].1.mac[0], 0x02,
            "a locally administered MAC of the plugin's"
        );
        lbs[0].0
    };

    for retry in [false, true] {
        let node = Node::new();
        let conf = l3_conf(&node);
        kill(&node, &conf);
        if retry {
            let (res, code) = cni("ADD", ID, &conf);
            assert_eq!(code, 0, "{res}");
            assert_routed(&node.vpp.state(), &[&res]);
        }
        assert_eq!(cni("DEL", ID, &conf).1, 0);
        node.assert_pristine(&format!(
            "kill between create_loopback and its tag, retry {retry}"
        ));
    }

    let node = Node::new();
    let conf = l3_conf(&node);
    let half_made = kill(&node, &conf);
    node.take_log();
    let (other, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{other}");
    let log = node.take_log();
    assert!(
        !log.contains(&"create_loopback".to_owned()),
        "another pod's ADD finishes the loopback it finds: {log:?}"
    );
    assert_eq!(gateway_loopback(&node.vpp.state()), half_made);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_routed(&node.vpp.state(), &[&other]);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.assert_pristine("after both DELs");
}

#[test]
fn vhost_user_server_on_vpp_creates_the_socket_and_del_removes_it() {
    let node = Node::new();
    let mut conf = node.conf(
        json!({"engine": "vpp", "iftype": "vhostuser", "netType": "bridge",
                                    "vhost": {"mode": "server"}, "bridge": {"bridgeName": "7"}}),
    );
    conf["container"] = json!({"engine": "vpp", "iftype": "vhostuser"});
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{res}");
    assert_eq!(
        node.take_log(),
        [
            "create_vhost_user_if_v2",
            "sw_interface_vhost_user_dump",
            "sw_interface_set_flags",
            "bridge_domain_dump",
            "bridge_domain_add_del_v2",
            "sw_interface_set_l2_bridge",
        ]
    );
    let socket = node.path("shared/5e678250ad8d/5e678250ad8d-net1");
    {
        let st = node.vpp.state();
        let (_, i) = st.interface_named("VirtualEthernet0/0/0").unwrap();
        assert_eq!(
            i.kind,
            IfKind::VhostUser {
                path: socket.display().to_string(),
                is_server: true
            }
        );
    }
    assert!(socket.exists());
    let data: Value = serde_json::from_slice(
        &std::fs::read(node.path("shared/5e678250ad8d/configData-5e678250ad8d-net1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(data["config"]["vhost"]["mode"], "client");
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(
        node.take_log(),
        [
            "sw_interface_vhost_user_dump",
            "sw_interface_set_l2_bridge",
            "delete_vhost_user_if",
            "bridge_domain_dump",
            "bridge_domain_add_del_v2",
        ]
    );
    node.assert_pristine("after DEL");
}

#[test]
fn a_changed_crc_fails_add_before_any_change_naming_message_and_vpp_version() {
    let mut st = State::default();
    st.crc_overrides.insert("memif_create_v2", "0badc0de");
    st.version = "v24.02-release".into();
    let node = Node::with(st);
    let (res, code) = cni("ADD", ID, &node.memif_bridge());
    assert_ne!(code, 0);
    assert_eq!(
        res["code"], 100,
        "not transient: retrying will not help: {res}"
    );
    let msg = res["msg"].as_str().unwrap();
    assert!(
        msg.contains("memif_create_v2") && msg.contains("0badc0de"),
        "{msg}"
    );
    assert!(msg.contains("v24.02-release"), "{msg}");
    let log = node.take_log();
    assert!(
        log.iter()
            .all(|m| m == "show_version" || m.ends_with("_dump")),
        "nothing but the version query and the rollback's look reached VPP: {log:?}"
    );
    node.assert_pristine("after the failed ADD");
}

#[test]
fn vpp_unreachable_is_try_again_later_with_nothing_left() {
    let node = Node::new();
    let mut conf = node.memif_bridge();
    conf["vppApiSocket"] = json!(node.path("absent.sock"));
    let (res, code) = cni("ADD", ID, &conf);
    assert_ne!(code, 0);
    assert_eq!(res["code"], 11, "{res}");
    assert!(
        res["msg"].as_str().unwrap().contains("absent.sock"),
        "{res}"
    );
    node.assert_pristine("after the failed ADD");
}

#[test]
fn a_failure_halfway_rolls_back_every_vpp_step() {
    let node = Node::new();
    let conf = node.conf(json!({"engine": "vpp", "iftype": "memif", "netType": "interface"}));
    // Another interface already has the subnet: VPP refuses the address (ADDRESS_IN_USE).
    {
        let mut st = node.vpp.state();
        st.interfaces
            .get_mut(&0)
            .unwrap()
            .addresses
            .push(vpp_api::codec::Prefix::new(
                "10.56.217.254".parse().unwrap(),
                24,
            ));
    }
    let (res, code) = cni("ADD", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains("ADDRESS_IN_USE"),
        "{res}"
    );
    let log = node.take_log();
    assert_eq!(
        log[log.len() - 14..],
        [
            // The memif is not unnumbered yet: nothing L3 to undo on it.
            "ip_unnumbered_dump",
            "memif_socket_filename_dump",
            "memif_dump",
            "memif_delete",
            "memif_socket_filename_dump",
            "memif_dump",
            "memif_socket_filename_add_del_v2",
            // The loopback this ADD made is deleted, and the subnet's proxy ARP range
            // (never added: NO_SUCH_ENTRY, nothing to undo).
            "sw_interface_dump",
            "ip_unnumbered_dump",
            "proxy_arp_add_del",
            "delete_loopback",
            // The rollback undoes the port step too: it finds nothing left.
            "ip_unnumbered_dump",
            "memif_socket_filename_dump",
            "sw_interface_dump",
        ],
        "{log:?}"
    );
    node.vpp
        .state()
        .interfaces
        .get_mut(&0)
        .unwrap()
        .addresses
        .clear();
    node.assert_pristine("after the rolled-back ADD");
}

/// A restarted VPP hands out the same socket ids and `sw_if_index`es again: the old pod's
/// record then matches the new pod's memif by number, never by socket file.
#[test]
fn after_a_vpp_restart_check_and_del_of_the_old_pod_leave_the_new_pods_memif_alone() {
    let node = Node::new();
    let conf = node.memif_bridge();
    let (x, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{x}");
    let old = node
        .vpp
        .state()
        .interface_named(&memif0())
        .map(|(sw, _)| sw);
    node.vpp.restart();
    let (y, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{y}");
    assert_eq!(
        node.vpp
            .state()
            .interface_named(&memif0())
            .map(|(sw, _)| sw),
        old,
        "the new pod's memif has the old one's numbers"
    );
    let (res, code) = cni("CHECK", ID, &with_prev(&conf, &x));
    assert_ne!(code, 0, "the old pod's interface is gone: {res}");
    assert!(res["msg"].as_str().unwrap().contains("missing"), "{res}");
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(
        node.vpp.state().interfaces.len(),
        2,
        "the new pod's memif survives the old pod's DEL"
    );
    assert_eq!(cni("CHECK", ID2, &with_prev(&conf, &y)).1, 0);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.assert_pristine("after both DELs");
}

/// A kill at any point of ADD, then DEL: VPP and the node are as before.
#[test]
fn a_plugin_killed_during_add_on_vpp_leaves_nothing_after_del() {
    for phase in ["before", "after"] {
        let node = Node::new();
        let conf = node.memif_bridge();
        let at = format!("port#0:{phase}");
        let (_, code) = support::run_plugin(
            env!("CARGO_BIN_EXE_userspace"),
            "ADD",
            ID,
            "net1",
            "IgnoreUnknown=1;K8S_POD_NAME=p",
            &[("USERSPACE_CRASH_AT", at.as_str())],
            conf.to_string().as_bytes(),
        );
        assert_ne!(code, 0, "{at}: the injected kill happened");
        assert_eq!(cni("DEL", ID, &conf).1, 0);
        node.assert_pristine(&at);
    }
}

#[test]
fn a_bridge_name_that_is_not_a_bridge_domain_id_is_invalid_config() {
    let node = Node::new();
    let conf = node.conf(
        json!({"engine": "vpp", "iftype": "memif", "netType": "bridge",
                                "bridge": {"bridgeName": "br0"}}),
    );
    let (res, code) = cni("ADD", ID, &conf);
    assert_ne!(code, 0);
    assert_eq!(res["code"], 7, "{res}");
    assert!(
        res["msg"].as_str().unwrap().contains("bridgeName \"br0\""),
        "{res}"
    );
    node.assert_pristine("after the refused ADD");
}

#[test]
fn memif_queues_reach_memif_create() {
    let node = Node::new();
    let mut conf = node.memif_bridge();
    conf["host"]["memif"]["queues"] = json!(2);
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{res}");
    {
        let st = node.vpp.state();
        let (_, memif) = st.interface_named(&memif0()).unwrap();
        assert!(
            matches!(memif.kind, IfKind::Memif { queues: (2, 2), .. }),
            "{:?}",
            memif.kind
        );
    }
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    node.assert_pristine("after DEL");
}

#[test]
fn mtu_and_vlans_on_one_bridge_domain_send_the_exact_messages_and_del_leaves_the_other() {
    let node = Node::new();
    let conf = |vlan: u16| {
        let mut c = node.memif_bridge();
        c["mtu"] = json!(9000);
        c["host"]["bridge"]["vlanId"] = json!(vlan);
        c
    };
    let (res, code) = cni("ADD", ID, &conf(10));
    assert_eq!(code, 0, "{res}");
    assert_eq!(res["interfaces"][0]["mtu"], 9000);
    assert_eq!(
        node.take_log(),
        [
            "memif_socket_filename_dump",
            "memif_socket_filename_add_del_v2",
            "memif_dump",
            "memif_create_v2",
            "sw_interface_tag_add_del",
            "sw_interface_set_mtu",
            "sw_interface_set_flags",
            "bridge_domain_dump",
            "bridge_domain_add_del_v2",
            "sw_interface_set_l2_bridge",
            "l2_interface_vlan_tag_rewrite",
            "l2_interface_efp_filter",
        ]
    );
    assert_eq!(cni("ADD", ID2, &conf(20)).1, 0);
    {
        let st = node.vpp.state();
        let members = st.members(4);
        assert_eq!(members.len(), 2, "both VLANs share bridge domain 4");
        let tags: Vec<_> = members
            .iter()
            .map(|sw| st.interfaces[sw].l2.clone())
            .collect();
        for (l2, vlan) in tags.iter().zip([10, 20]) {
            assert_eq!(l2.mtu, Some([9000; 4]));
            assert_eq!(l2.vtr, Some((1, vlan)), "push-1 of an 802.1Q tag {vlan}");
            assert!(l2.efp_filter, "egress filter on VLAN {vlan}'s member");
        }
    }
    node.take_log();
    assert_eq!(cni("DEL", ID, &conf(10)).1, 0);
    {
        let st = node.vpp.state();
        let members = st.members(4);
        assert_eq!(members.len(), 1);
        assert_eq!(st.interfaces[&members[0]].l2.vtr, Some((1, 20)));
    }
    assert_eq!(cni("DEL", ID2, &conf(20)).1, 0);
    node.assert_pristine("after both DELs");
}

#[test]
fn a_vpp_without_the_vlan_messages_fails_add_before_any_change() {
    let mut state = State::default();
    state.absent.push("l2_interface_efp_filter");
    let node = Node::with(state);
    let mut conf = node.memif_bridge();
    conf["host"]["bridge"]["vlanId"] = json!(10);
    let (res, code) = cni("ADD", ID, &conf);
    assert_ne!(code, 0, "{res}");
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("l2_interface_efp_filter"),
        "{res}"
    );
    assert!(
        !node
            .take_log()
            .iter()
            .any(|m| m.starts_with("memif_create")),
        "nothing created"
    );
    node.assert_pristine("after the refused ADD");
}

#[test]
fn check_reports_an_interface_vpp_lost() {
    let node = Node::new();
    let conf = node.memif_bridge();
    let (added, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{added}");
    let conf = with_prev(&conf, &added);
    assert_eq!(cni("CHECK", ID, &conf).1, 0);
    // VPP restarted: its interfaces are gone.
    node.vpp.state().interfaces.retain(|k, _| *k == 0);
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(res["msg"].as_str().unwrap().contains("missing"), "{res}");
    assert_eq!(cni("DEL", ID, &conf).1, 0, "DEL still succeeds");
}

/// VPP hangs in the middle of the port step (the memif made, the bridge join not): ADD fails
/// saying so, its rollback cannot reach VPP, so the journal stays; DEL against the revived VPP
/// removes the memif, its socket registration and the bridge domain.
#[test]
fn vpp_hanging_after_memif_create_keeps_the_journal_and_del_removes_the_memif() {
    let node = Node::new();
    let conf = node.memif_bridge();
    node.vpp.state().silent_after = Some("memif_create_v2".into());
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(res["code"], 11, "{res}");
    assert_ne!(code, 0);
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("no reply from VPP to sw_interface_tag_add_del"),
        "{res}"
    );
    {
        let mut st = node.vpp.state();
        st.silent = false;
        assert!(
            st.interface_named(&memif0()).is_some(),
            "the memif was made"
        );
    }
    assert!(
        node.files().iter().any(|f| f.contains("/state/")),
        "the journal stays for DEL: {:?}",
        node.files()
    );
    let (res, code) = cni("DEL", ID, &conf);
    assert_eq!(code, 0, "{res}");
    node.assert_pristine("after DEL against the revived VPP");
}

const ID4: &str = "8b998250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";

/// Four plugin processes at once, 16 rounds, on one bridge domain: in each round two pods are
/// added while the other two are deleted, so first ADDs race each other and ADDs race the last
/// member's DEL. Every ADD succeeds, and after each round VPP has exactly the present pods'
/// memifs in the plugin's (tagged) domain, which goes with the last of them.
#[test]
fn add_and_del_racing_on_one_bridge_domain_keep_vpp_exact() {
    let node = Node::new();
    let conf = node.memif_bridge();
    let ids = [ID, ID2, ID3, ID4];
    let barrier = std::sync::Barrier::new(ids.len());
    for round in 0..16usize {
        let present: Vec<bool> = std::thread::scope(|s| {
            let workers: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(w, id)| {
                    let (conf, barrier) = (&conf, &barrier);
                    s.spawn(move || {
                        let add = (round + w / 2) % 2 == 0;
                        barrier.wait();
                        let (res, code) = cni(if add { "ADD" } else { "DEL" }, id, conf);
                        assert_eq!(code, 0, "round {round}, pod {w}: {res}");
                        add
                    })
                })
                .collect();
            workers.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let n = present.iter().filter(|p| **p).count();
        let st = node.vpp.state();
        assert_eq!(
            st.interfaces.len(),
            1 + n,
            "round {round}: {:?}",
            st.interfaces
        );
        assert_eq!(st.members(4).len(), n, "round {round}");
        let bd = st.bridge_domains.get(&4);
        assert_eq!(
            bd.map(|b| b.tag.as_str()),
            (n > 0).then_some("userspace-cni"),
            "round {round}: the domain is the plugin's while a pod uses it"
        );
    }
    for id in ids {
        assert_eq!(cni("DEL", id, &conf).1, 0);
    }
    node.assert_pristine("after every DEL");
}

impl Node {
    /// Deletes the journal of `id`'s net1: the state a lost or unreadable journal leaves.
    fn lose_journal(&self, id: &str) {
        std::fs::remove_file(self.path(&format!("state/{id}@net1.json"))).unwrap();
    }

    /// What VPP has besides what it started with, for messages.
    fn vpp_is_empty(&self, what: &str) {
        let st = self.vpp.state();
        assert_eq!(st.interfaces.len(), 1, "{what}: {:?}", st.interfaces);
        assert_eq!(st.sockets.len(), 1, "{what}: {:?}", st.sockets);
        assert_eq!(
            st.bridge_domains.len(),
            1,
            "{what}: {:?}",
            st.bridge_domains
        );
        assert!(st.routes.is_empty(), "{what}: {:?}", st.routes);
        assert!(st.proxy_arps.is_empty(), "{what}: {:?}", st.proxy_arps);
        assert!(
            st.proxy_arp_enabled.is_empty(),
            "{what}: {:?}",
            st.proxy_arp_enabled
        );
    }

    /// A memif on a socket of the operator's, tagged `tag` (empty: untagged).
    fn foreign_memif(&self, socket_id: u32, tag: &str) -> u32 {
        let mut st = self.vpp.state();
        let sw = 100 + socket_id;
        st.sockets
            .insert(socket_id, format!("/run/other/{socket_id}.sock"));
        st.interfaces.insert(
            sw,
            vpp_api::fake::Interface {
                name: format!("memif{socket_id}/0"),
                kind: IfKind::Memif {
                    socket_id,
                    id: 0,
                    role: MemifRole::MASTER,
                    mode: vpp_api::messages::memif::MemifMode::ETHERNET,
                    queues: (1, 1),
                },
                mac: [2, 0, 0, 0, 0, socket_id as u8],
                admin_up: true,
                addresses: Vec::new(),
                bridge: None,
                l2: Default::default(),
                tag: tag.into(),
                unnumbered: None,
            },
        );
        sw
    }
}

fn gc(conf: &Value, valid: &[&str]) -> (Value, i32) {
    let mut c = conf.clone();
    c["cniVersion"] = json!("1.1.0");
    c["cni.dev/valid-attachments"] = valid
        .iter()
        .map(|id| json!({"containerID": id, "ifname": "net1"}))
        .collect();
    support::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        "GC",
        "",
        "",
        "",
        &[],
        c.to_string().as_bytes(),
    )
}

/// The journal is lost after ADD: DEL finds the memif by its tag and its socket file and
/// removes it, its socket registration, the bridge domain the plugin made and the socket.
#[test]
fn del_without_state_finds_the_interface_by_its_socket() {
    let node = Node::new();
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    let socket = node.path("shared/5e678250ad8d/memif-5e678250ad8d-net1.sock");
    assert!(socket.exists());
    node.lose_journal(ID);
    let (res, code) = cni("DEL", ID, &conf);
    assert_eq!(code, 0, "{res}");
    node.vpp_is_empty("after DEL without journal");
    assert!(!socket.exists(), "the socket file is gone");
}

/// The memif's tag binds it to one attachment of one network: a DEL of another attachment
/// without journal, and a DEL of the same one in another network, leave it.
#[test]
fn del_without_journal_leaves_an_interface_tagged_for_another_attachment_or_network() {
    let node = Node::new();
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    node.lose_journal(ID);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    let mut other_net = conf.clone();
    other_net["name"] = json!("another-network");
    assert_eq!(cni("DEL", ID, &other_net).1, 0);
    assert_eq!(node.vpp.state().interfaces.len(), 2, "the memif stays");
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    node.vpp_is_empty("after the owner's DEL");
}

/// L3 without journal: the pod's route and the unnumbered binding go, and the gateway
/// loopback with the subnet's last pod; another pod of the subnet keeps its route.
#[test]
fn del_without_journal_of_an_l3_pod_removes_its_route_and_the_last_loopback() {
    let node = Node::new();
    let conf = l3_conf(&node);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let (b, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{b}");
    node.lose_journal(ID);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_routed(&node.vpp.state(), &[&b]);
    node.lose_journal(ID2);
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    node.vpp_is_empty("after both DELs without journal");
}

/// vhost-user interfaces carry the tag too (VPP sets it at creation).
#[test]
fn del_without_journal_finds_a_vhost_user_interface_by_its_tag() {
    let node = Node::new();
    let conf = node.conf(
        json!({"engine": "vpp", "iftype": "vhostuser", "netType": "bridge",
                                "vhost": {"mode": "server"}, "bridge": {"bridgeName": "4"}}),
    );
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{res}");
    assert!(
        node.vpp
            .state()
            .interfaces
            .values()
            .any(|i| i.tag.starts_with("userspace-cni if ")),
        "tagged at creation"
    );
    node.lose_journal(ID);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    node.vpp_is_empty("after DEL without journal");
}

/// GC finds an interface whose journal is gone by its tag and removes it; a valid
/// attachment's interface, one tagged by someone else and an untagged one stay.
#[test]
fn gc_removes_a_stray_vpp_interface_found_by_tag_and_nothing_else() {
    let node = Node::new();
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    assert_eq!(cni("ADD", ID2, &conf).1, 0);
    let theirs = node.foreign_memif(7, "userspace-cni if 0123456789abcdef");
    let untagged = node.foreign_memif(8, "");
    node.lose_journal(ID);
    node.lose_journal(ID2);
    let (res, code) = gc(&conf, &[ID2]);
    assert_eq!(code, 0, "{res}");
    {
        let st = node.vpp.state();
        assert!(
            st.interfaces.contains_key(&theirs),
            "another's interface stays"
        );
        assert!(
            st.interfaces.contains_key(&untagged),
            "an untagged one stays"
        );
        assert_eq!(
            st.interfaces.len(),
            4,
            "local0, the two foreign, the valid pod's"
        );
        assert_eq!(
            st.members(4).len(),
            1,
            "the valid pod is still in the domain"
        );
    }
    let (res, code) = gc(&conf, &[]);
    assert_eq!(code, 0, "{res}");
    let st = node.vpp.state();
    assert_eq!(
        st.interfaces.len(),
        3,
        "local0 and the two foreign: {:?}",
        st.interfaces
    );
    assert_eq!(
        st.bridge_domains.len(),
        1,
        "the plugin's domain went with its last member"
    );
}

/// Two L3 pods of one subnet each hold the /24 and ARP for the other directly: VPP answers
/// on each pod's interface for the other's address (proxy ARP for the subnet's hosts,
/// enabled on every pod's interface) and routes to it by its host route. A DEL leaves the
/// other pod reachable; the last one takes the range away.
#[test]
fn two_l3_pods_of_one_subnet_reach_each_other_through_proxy_arp() {
    let node = Node::new();
    let conf = l3_conf(&node);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let (b, code) = cni("ADD", ID2, &conf);
    assert_eq!(code, 0, "{b}");
    let (c, code) = cni("ADD", ID3, &conf);
    assert_eq!(code, 0, "{c}");
    {
        let st = node.vpp.state();
        assert_routed(&st, &[&a, &b, &c]);
        let pods = [pod_of(&st, &a), pod_of(&st, &b), pod_of(&st, &c)];
        for (sw, ip) in &pods {
            for (_, other) in pods.iter().filter(|(_, o)| o != ip) {
                assert!(
                    st.answers_arp(*sw, other.parse().unwrap()),
                    "VPP answers {ip}'s ARP for {other}"
                );
            }
            assert!(
                st.answers_arp(*sw, "10.56.217.1".parse().unwrap()),
                "and for the gateway"
            );
        }
        assert_eq!(
            st.proxy_arps.len(),
            1,
            "one range per subnet: {:?}",
            st.proxy_arps
        );
    }
    assert_eq!(cni("DEL", ID2, &conf).1, 0);
    {
        let st = node.vpp.state();
        let ((sa, ia), (sc, ic)) = (pod_of(&st, &a), pod_of(&st, &c));
        assert!(st.answers_arp(sa, ic.parse().unwrap()));
        assert!(st.answers_arp(sc, ia.parse().unwrap()));
        assert_eq!(st.proxy_arp_enabled.len(), 2, "{:?}", st.proxy_arp_enabled);
    }
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    assert_eq!(cni("DEL", ID3, &conf).1, 0);
    node.assert_pristine("after the three DELs");
}

/// CHECK of an L3 pod finds proxy ARP lost on its interface, or the subnet's range lost.
#[test]
fn check_of_an_l3_pod_finds_its_proxy_arp_lost() {
    let node = Node::new();
    let conf = l3_conf(&node);
    let (a, code) = cni("ADD", ID, &conf);
    assert_eq!(code, 0, "{a}");
    let conf = with_prev(&conf, &a);
    let enabled = std::mem::take(&mut node.vpp.state().proxy_arp_enabled);
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("proxy ARP is not enabled"),
        "{res}"
    );
    node.vpp.state().proxy_arp_enabled = enabled;
    let ranges = std::mem::take(&mut node.vpp.state().proxy_arps);
    let (res, code) = cni("CHECK", ID, &conf);
    assert_ne!(code, 0);
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("no proxy ARP range for 10.56.217.0/24"),
        "{res}"
    );
    node.vpp.state().proxy_arps = ranges;
    assert_eq!(cni("CHECK", ID, &conf).1, 0);
    assert_eq!(cni("DEL", ID, &conf).1, 0);
    node.assert_pristine("after DEL");
}

/// VPP hangs in the middle of the port step and answers again by the time the rollback
/// reaches the port: the rollback removes the memif, its socket registration and the bridge
/// domain the engine's own cleanup could not, and nothing is left.
#[test]
fn vpp_hanging_after_memif_create_then_answering_again_leaves_nothing_after_the_rollback() {
    let node = Node::new();
    let conf = node.memif_bridge();
    {
        let mut st = node.vpp.state();
        st.silent_after = Some("memif_create_v2".into());
        // The tag request, then the engine's own cleanup's handshake, go unanswered.
        st.silent_for = Some(2);
    }
    let (res, code) = cni("ADD", ID, &conf);
    assert_eq!(res["code"], 11, "{res}");
    assert_ne!(code, 0);
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("no reply from VPP to sw_interface_tag_add_del"),
        "{res}"
    );
    assert!(!node.vpp.state().silent, "VPP answered the rollback");
    node.assert_pristine("after the rolled-back ADD");
}

/// Journal and claims both lost (a damaged journal's undo releases the claims it names):
/// DEL still finds its memif, by the tag of the attachment it is deleting and the container
/// ID's prefix in the socket path.
#[test]
fn del_without_journal_or_claims_finds_the_interface_by_its_tag() {
    let node = Node::new();
    let conf = node.memif_bridge();
    assert_eq!(cni("ADD", ID, &conf).1, 0);
    node.lose_journal(ID);
    std::fs::remove_dir_all(node.path("state/claims")).unwrap();
    let (res, code) = cni("DEL", ID, &conf);
    assert_eq!(code, 0, "{res}");
    node.vpp_is_empty("after DEL without journal or claims");
}
