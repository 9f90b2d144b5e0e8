//! The OVSDB client against a real ovsdb-server, with ovs-vsctl as the oracle.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use userspace_plugin::engine::ovs::{OvsClient, OvsError, PortKind, PortSpec};
use userspace_test_support::ovs::Ovs;

fn ids(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn client(db: &Ovs) -> OvsClient {
    OvsClient::connect(&db.endpoint(), Duration::from_secs(5)).unwrap()
}

fn spec(bridge: &str, port: &str, create: bool) -> PortSpec {
    PortSpec {
        bridge: bridge.into(),
        port: port.into(),
        kind: PortKind::DpdkVhostUserClient {
            server_path: format!("/var/lib/cni/usrspcni/{port}").into(),
        },
        external_ids: ids(&[
            ("userspace-cni/container-id", "abc"),
            ("userspace-cni/ifname", "net1"),
            ("userspace-cni/network", "n1"),
        ]),
        create_bridge: create,
        tag: None,
        mtu_request: None,
        tx_steering_hash: false,
    }
}

#[test]
fn add_creates_one_port_and_interface_with_type_options_and_tags() {
    let db = Ovs::start_db("ovs");
    db.add_netdev_bridge("br0");
    let before = (db.rows("Port"), db.rows("Interface"));
    let added = client(&db)
        .add_port(&spec("br0", "abc-net1", false))
        .unwrap();
    assert!(!added.bridge_created);
    assert_eq!(db.ports("br0"), ["abc-net1"]);
    assert_eq!(
        (db.rows("Port"), db.rows("Interface")),
        (before.0 + 1, before.1 + 1)
    );
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net1", "type"]),
        "dpdkvhostuserclient"
    );
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net1", "options:vhost-server-path"]),
        "\"/var/lib/cni/usrspcni/abc-net1\""
    );
    assert_eq!(
        db.vsctl_ok(&[
            "get",
            "Port",
            "abc-net1",
            "external_ids:userspace-cni/container-id"
        ]),
        "abc"
    );
    let info = client(&db).get_interface("abc-net1").unwrap().unwrap();
    assert_eq!(info.interface_type, "dpdkvhostuserclient");
    assert_eq!(info.external_ids["userspace-cni/ifname"], "net1");
}

#[test]
fn a_vlan_becomes_the_ports_tag_and_an_mtu_the_interfaces_mtu_request() {
    let db = Ovs::start_db("ovs");
    let mut s = spec("br0", "abc-net1", true);
    s.tag = Some(10);
    s.mtu_request = Some(9000);
    client(&db).add_port(&s).unwrap();
    assert_eq!(db.vsctl_ok(&["get", "Port", "abc-net1", "tag"]), "10");
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net1", "mtu_request"]),
        "9000"
    );
    client(&db)
        .add_port(&spec("br0", "abc-net2", false))
        .unwrap();
    assert_eq!(db.vsctl_ok(&["get", "Port", "abc-net2", "tag"]), "[]");
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net2", "mtu_request"]),
        "[]"
    );
}

#[test]
fn a_multi_queue_port_spreads_what_ovs_sends_by_hash() {
    let db = Ovs::start_db("ovs");
    let mut s = spec("br0", "abc-net1", true);
    s.tx_steering_hash = true;
    client(&db).add_port(&s).unwrap();
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net1", "other_config:tx-steering"]),
        "hash"
    );
    client(&db)
        .add_port(&spec("br0", "abc-net2", false))
        .unwrap();
    assert_eq!(
        db.vsctl_ok(&["get", "Interface", "abc-net2", "other_config"]),
        "{}"
    );
}

#[test]
fn a_missing_bridge_is_created_as_netdev_when_allowed_and_refused_otherwise() {
    let db = Ovs::start_db("ovs");
    let e = client(&db)
        .add_port(&spec("br9", "abc-net1", false))
        .unwrap_err();
    assert!(
        matches!(e, OvsError::BridgeMissing(ref b) if b == "br9"),
        "{e}"
    );
    assert_eq!(db.rows("Port"), 0, "nothing half-done");
    let added = client(&db)
        .add_port(&spec("br9", "abc-net1", true))
        .unwrap();
    assert!(added.bridge_created);
    assert_eq!(
        db.vsctl_ok(&["get", "Bridge", "br9", "datapath_type"]),
        "netdev"
    );
    assert_eq!(db.ports("br9"), ["abc-net1"]);
}

#[test]
fn delete_is_idempotent_and_leaves_no_rows() {
    let db = Ovs::start_db("ovs");
    let mut c = client(&db);
    c.add_port(&spec("br0", "abc-net1", true)).unwrap();
    let all = |_: &BTreeMap<String, String>| true;
    assert!(
        c.remove_port_if("abc-net1", "br0", all)
            .unwrap()
            .port_deleted
    );
    assert!(
        !c.remove_port_if("abc-net1", "br0", all)
            .unwrap()
            .port_deleted
    );
    assert!(
        db.bridges().is_empty(),
        "the plugin's bridge went with its last port"
    );
    assert_eq!((db.rows("Port"), db.rows("Interface")), (0, 0));
}

#[test]
fn a_second_port_of_the_same_name_is_refused() {
    let db = Ovs::start_db("ovs");
    let mut c = client(&db);
    c.add_port(&spec("br0", "abc-net1", true)).unwrap();
    assert!(matches!(
        c.add_port(&spec("br0", "abc-net1", true)),
        Err(OvsError::PortExists(_))
    ));
    assert_eq!(db.ports("br0"), ["abc-net1"]);
}

#[test]
fn ports_are_found_by_their_tags_with_their_bridge() {
    let db = Ovs::start_db("ovs");
    let mut c = client(&db);
    c.add_port(&spec("br0", "abc-net1", true)).unwrap();
    let mut other = spec("br0", "def-net1", true);
    other
        .external_ids
        .insert("userspace-cni/container-id".into(), "def".into());
    c.add_port(&other).unwrap();
    let found = c
        .find_ports(&ids(&[("userspace-cni/container-id", "def")]))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].name.as_str(), found[0].bridge.as_deref()),
        ("def-net1", Some("br0"))
    );
    assert_eq!(
        c.find_ports(&ids(&[("userspace-cni/network", "n1")]))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn only_our_empty_bridges_are_deleted() {
    let db = Ovs::start_db("ovs");
    db.add_netdev_bridge("user-br");
    let mut c = client(&db);
    c.add_port(&spec("ours", "abc-net1", true)).unwrap();
    c.add_port(&spec("ours", "abc-net2", true)).unwrap();
    c.add_port(&spec("user-br", "abc-net3", false)).unwrap();
    let all = |_: &BTreeMap<String, String>| true;
    let first = c.remove_port_if("abc-net1", "ours", all).unwrap();
    assert!(!first.bridge_deleted, "it still has a port");
    let last = c.remove_port_if("abc-net2", "ours", all).unwrap();
    assert!(
        last.port_deleted && last.bridge_deleted,
        "ours, and empty now"
    );
    let users = c.remove_port_if("abc-net3", "user-br", all).unwrap();
    assert!(!users.bridge_deleted, "a user's bridge is never deleted");
    assert_eq!(db.bridges(), ["user-br"]);
}

#[test]
fn concurrent_adds_creating_the_same_bridge_make_one_bridge() {
    let db = Ovs::start_db("ovs");
    let ep = db.endpoint();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let ep = ep.clone();
            std::thread::spawn(move || {
                let mut c = OvsClient::connect(&ep, Duration::from_secs(10)).unwrap();
                c.add_port(&spec("br0", &format!("p{i}-net1"), true))
                    .unwrap()
            })
        })
        .collect();
    let created = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|a| a.bridge_created)
        .count();
    assert_eq!(created, 1);
    assert_eq!(db.bridges(), ["br0"]);
    assert_eq!(db.ports("br0").len(), 8);
}

#[test]
fn an_unreachable_ovsdb_is_a_transient_error() {
    let e = OvsClient::connect("unix:/nonexistent/db.sock", Duration::from_secs(1)).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/db.sock"));
    let e = userspace_plugin::cni::CniError::from(e);
    assert_eq!(
        e.code,
        userspace_plugin::cni::ErrorCode::TryAgainLater,
        "{e}"
    );
}
