//! The built `userspace` binary driven through every verb and supported cniVersion, with the
//! real `host-local` IPAM plugin and a real ovsdb-server; ovs-vsctl and the filesystem are the
//! oracles. Bad input gets the right CNI error code and leaves nothing behind.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::node::{ID, Node, cni, cni_raw, with_prev};

use userspace_cni_sdk::wire::cni_result::SUPPORTED_VERSIONS as VERSIONS;

#[test]
fn every_version_runs_status_add_check_del_del() {
    for &v in VERSIONS {
        let node = Node::new();
        let conf = node.conf(v);
        if v == "1.1.0" {
            assert_eq!(cni("STATUS", "", "", &conf).1, 0, "STATUS {v}");
        }
        let (res, code) = cni("ADD", ID, "net1", &conf);
        assert_eq!(code, 0, "ADD {v}: {res}");
        assert_eq!(res["cniVersion"], v);
        let ip = &res["ips"][0];
        assert!(
            ip["address"].as_str().unwrap().starts_with("10.77.0."),
            "{res}"
        );
        assert_eq!(
            ip.get("version").is_some(),
            v.starts_with("0."),
            "ip version field in {v}: {res}"
        );
        assert_eq!(
            res["interfaces"][0]["socketPath"].is_string(),
            v == "1.1.0",
            "{res}"
        );
        assert!(
            res["interfaces"][0]["mac"]
                .as_str()
                .unwrap()
                .starts_with("02:")
        );
        assert_eq!(node.db.ports("br0"), ["4d578250ad8d-net1"]);
        assert_eq!(
            node.db
                .vsctl_ok(&["get", "Interface", "4d578250ad8d-net1", "type"]),
            "dpdkvhostuserclient"
        );
        assert_eq!(node.leases().len(), 1, "one lease");
        assert_eq!(
            node.files("shared"),
            [
                "4d578250ad8d",
                "4d578250ad8d/4d578250ad8d-net1-ip4.conf",
                "4d578250ad8d/configData-4d578250ad8d-net1.json"
            ]
        );
        if v != "0.3.0" && v != "0.3.1" {
            assert_eq!(
                cni("CHECK", ID, "net1", &with_prev(&conf, &res)).1,
                0,
                "CHECK {v}"
            );
        } else {
            assert_ne!(
                cni("CHECK", ID, "net1", &with_prev(&conf, &res)).1,
                0,
                "CHECK is not defined before 0.4.0"
            );
        }
        assert_eq!(cni("DEL", ID, "net1", &conf).1, 0, "DEL {v}");
        assert!(
            node.db.bridges().is_empty(),
            "the bridge ADD created is gone with its last port"
        );
        assert_eq!((node.db.rows("Port"), node.db.rows("Interface")), (0, 0));
        assert!(node.leases().is_empty(), "lease released");
        assert!(
            node.files("shared").is_empty(),
            "shared dir emptied: {:?}",
            node.files("shared")
        );
        assert_eq!(
            node.files("state")
                .iter()
                .filter(|f| f.ends_with(".json"))
                .count(),
            0
        );
        assert_eq!(cni("DEL", ID, "net1", &conf).1, 0, "DEL again {v}");
    }
}

#[test]
fn the_pushed_files_tell_the_pod_its_socket_role_and_address() {
    let node = Node::new();
    let (res, code) = cni("ADD", ID, "net1", &node.conf("1.0.0"));
    assert_eq!(code, 0, "{res}");
    let dir = node.path("shared/4d578250ad8d");
    let entry: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("configData-4d578250ad8d-net1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(entry["containerId"], ID);
    assert_eq!(
        entry["config"]["vhost"],
        json!({"mode": "server", "socketfile": "4d578250ad8d-net1"})
    );
    assert_eq!(
        entry["ipResult"]["ips"][0]["address"],
        res["ips"][0]["address"]
    );
    let ip4: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("4d578250ad8d-net1-ip4.conf")).unwrap(),
    )
    .unwrap();
    assert_eq!(ip4["ipAddr"], res["ips"][0]["address"]);
    assert_eq!(ip4["macAddr"], res["interfaces"][0]["mac"]);
    assert_eq!(
        node.db.vsctl_ok(&[
            "get",
            "Interface",
            "4d578250ad8d-net1",
            "options:vhost-server-path"
        ]),
        format!("\"{}\"", dir.join("4d578250ad8d-net1").display())
    );
    // The SDK reads exactly what was pushed.
    let loc = userspace_cni_sdk::discovery::Locations {
        podinfo_dir: node.path("nopodinfo"),
        shared_dir: Some(node.path("shared")),
        container_id: Some(ID.into()),
        env: Vec::new(),
        ..Default::default()
    };
    let view = userspace_cni_sdk::discovery::PodView::discover(&loc).unwrap();
    assert_eq!(view.interfaces.len(), 1, "{:?}", view.warnings);
    let i = &view.interfaces[0];
    assert_eq!(
        i.socket_path.as_ref().unwrap().value,
        dir.join("4d578250ad8d-net1")
    );
    assert_eq!(
        i.role.as_ref().unwrap().value,
        userspace_cni_sdk::interfaces::SocketRole::Server
    );
    assert_eq!(
        i.mac.as_ref().unwrap().value.to_string(),
        res["interfaces"][0]["mac"].as_str().unwrap()
    );
    cni("DEL", ID, "net1", &node.conf("1.0.0"));
}

#[test]
fn check_reports_a_port_that_disappeared() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (added, code) = cni("ADD", ID, "net1", &conf);
    assert_eq!(code, 0, "{added}");
    node.db.vsctl_ok(&["del-port", "br0", "4d578250ad8d-net1"]);
    let (err, code) = cni("CHECK", ID, "net1", &with_prev(&conf, &added));
    assert_ne!(code, 0);
    assert!(
        err["msg"]
            .as_str()
            .unwrap()
            .contains("4d578250ad8d-net1 is missing"),
        "{err}"
    );
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0, "DEL still cleans up");
    assert!(node.leases().is_empty());
}

#[test]
fn gc_removes_attachments_the_runtime_no_longer_lists() {
    let node = Node::new();
    let conf = node.conf("1.1.0");
    let keep = "aaaaaaaaaaaa0000";
    let stale = "bbbbbbbbbbbb0000";
    assert_eq!(cni("ADD", keep, "net1", &conf).1, 0);
    assert_eq!(cni("ADD", stale, "net1", &conf).1, 0);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": keep, "ifname": "net1"}]);
    let (err, code) = cni("GC", "", "", &gc);
    assert_eq!(code, 0, "{err}");
    assert_eq!(node.db.ports("br0"), ["aaaaaaaaaaaa-net1"]);
    assert_eq!(node.leases().len(), 1);
    assert_eq!(
        node.files("shared"),
        [
            "aaaaaaaaaaaa",
            "aaaaaaaaaaaa/aaaaaaaaaaaa-net1-ip4.conf",
            "aaaaaaaaaaaa/configData-aaaaaaaaaaaa-net1.json"
        ]
    );
}

#[test]
fn version_lists_every_supported_version() {
    let (v, code) = cni_raw("VERSION", "", "", b"{\"cniVersion\":\"0.3.1\"}");
    assert_eq!(code, 0);
    assert_eq!(
        v["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

fn assert_error(node: &Node, stdin: &[u8], ifname: &str, want: u64, msg_part: &str) {
    let (err, code) = cni_raw("ADD", ID, ifname, stdin);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err["code"], want, "{err}");
    assert!(err["msg"].as_str().unwrap().contains(msg_part), "{err}");
    assert!(
        node.leases().is_empty(),
        "no lease left: {:?}",
        node.leases()
    );
    assert_eq!(node.db.rows("Port"), 0, "no port left");
    assert!(
        node.files("shared").is_empty(),
        "no files left: {:?}",
        node.files("shared")
    );
}

#[test]
fn bad_input_gets_the_right_code_and_leaves_nothing() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    assert_error(&node, b"{not json", "net1", 6, "not valid JSON");
    let mut c = conf.clone();
    c["host"]["engine"] = json!("dpdk");
    assert_error(
        &node,
        c.to_string().as_bytes(),
        "net1",
        7,
        "host.engine: the string \"dpdk\" is not one of ovs-dpdk, vpp, ovn",
    );
    let mut c = conf.clone();
    c["host"]["iftype"] = json!("tap");
    assert_error(&node, c.to_string().as_bytes(), "net1", 7, "iftype");
    let mut c = conf.clone();
    c["host"]["iftype"] = json!("memif");
    assert_error(
        &node,
        c.to_string().as_bytes(),
        "net1",
        2,
        "memif is not supported by the ovs-dpdk engine",
    );
    let mut c = conf.clone();
    c.as_object_mut().unwrap().remove("host");
    assert_error(
        &node,
        c.to_string().as_bytes(),
        "net1",
        7,
        "host section is required",
    );
    assert_error(
        &node,
        conf.to_string().as_bytes(),
        "../../x",
        4,
        "CNI_IFNAME",
    );
    let mut c = conf.clone();
    c["cniVersion"] = json!("0.2.0");
    let (err, _) = cni_raw("ADD", ID, "net1", c.to_string().as_bytes());
    assert_eq!(
        (err["code"].as_u64(), err["cniVersion"].as_str()),
        (Some(1), Some("0.2.0")),
        "{err}"
    );
}

#[test]
fn an_unreachable_ovsdb_is_try_again_later_and_the_lease_is_released() {
    let node = Node::new();
    let mut conf = node.conf("1.0.0");
    conf["ovsdbSocket"] = json!(format!("unix:{}", node.path("no-such.sock").display()));
    assert_error(
        &node,
        conf.to_string().as_bytes(),
        "net1",
        11,
        "cannot connect to OVSDB",
    );
    assert!(node.files("state").iter().all(|f| !f.ends_with(".json")));
}

#[test]
fn device_info_is_written_where_the_runtime_asks_and_removed_on_del() {
    let node = Node::new();
    let mut conf = node.conf("1.1.0");
    let info = node.path("devinfo/userspace-ovs-net1-device.json");
    conf["runtimeConfig"] = json!({"CNIDeviceInfoFile": info});
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    assert_eq!(v["type"], "vhost-user");
    assert_eq!(v["version"], "1.1.0");
    assert_eq!(v["vhost-user"]["mode"], "server", "the pod's side");
    assert_eq!(
        v["vhost-user"]["path"], "/var/lib/cni/usrspcni/4d578250ad8d-net1",
        "without a pod object, the socket where pods conventionally mount the shared dir"
    );
    assert!(userspace_cni_sdk::wire::DeviceInfo::from_json(&v.to_string()).is_ok());
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    assert!(!info.exists());
}

#[test]
fn vhost_group_owns_the_shared_directory() {
    use std::os::unix::fs::MetadataExt;
    let node = Node::new();
    let mut conf = node.conf("1.0.0");
    conf["host"]["vhost"]["group"] = json!("users");
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    let meta = std::fs::metadata(node.path("shared/4d578250ad8d")).unwrap();
    assert_eq!(
        meta.gid(),
        nix::unistd::Group::from_name("users")
            .unwrap()
            .unwrap()
            .gid
            .as_raw()
    );
    assert_eq!(meta.mode() & 0o777, 0o770);
    conf["host"]["vhost"]["group"] = json!("no-such-group-x");
    let (err, code) = cni("ADD", "other0000000", "net1", &conf);
    assert_eq!((code, err["code"].as_u64()), (1, Some(7)), "{err}");
    assert!(
        err["msg"].as_str().unwrap().contains("no group named"),
        "{err}"
    );
    assert!(
        !node.path("shared/other000000").exists(),
        "the failed ADD made no directory"
    );
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    assert_eq!(
        node.leases().len(),
        0,
        "the failed ADD released nothing it did not take, the DEL released the rest"
    );
}

/// 64 ADDs at once on one node (different pods), then 64 DELs at once.
#[test]
fn sixty_four_concurrent_adds_get_unique_addresses_and_ports_and_dels_leave_nothing() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let ids: Vec<String> = (0..64).map(|i| format!("{i:012x}c0ffee")).collect();
    let adds: Vec<_> = ids
        .iter()
        .map(|id| {
            let (id, conf) = (id.clone(), conf.clone());
            std::thread::spawn(move || cni("ADD", &id, "net1", &conf))
        })
        .collect();
    let mut addrs = std::collections::BTreeSet::new();
    for h in adds {
        let (res, code) = h.join().unwrap();
        assert_eq!(code, 0, "{res}");
        addrs.insert(res["ips"][0]["address"].as_str().unwrap().to_owned());
    }
    assert_eq!(addrs.len(), 64, "unique addresses");
    assert_eq!(node.db.ports("br0").len(), 64, "one port each");
    assert_eq!(node.db.bridges(), ["br0"], "one bridge");
    let dels: Vec<_> = ids
        .iter()
        .map(|id| {
            let (id, conf) = (id.clone(), conf.clone());
            std::thread::spawn(move || cni("DEL", &id, "net1", &conf))
        })
        .collect();
    for h in dels {
        assert_eq!(h.join().unwrap().1, 0);
    }
    assert_eq!(node.db.rows("Port"), 0);
    assert!(node.leases().is_empty());
    assert!(node.files("shared").is_empty());
}
