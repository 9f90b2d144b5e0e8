//! The example app's report (src/lib.rs, printed by eal_args.rs) on a fixture pod: the pod's
//! downward-API annotations and shared directory as the plugin leaves them, with this
//! machine's /proc and /sys for the CPUs and memory.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkVersion;
use userspace_cni_sdk::podinfo::downward;

const ID: &str = "2c0c2c1dd2450123456789abcdef0123456789abcdef0123456789abcdef0123";

/// A pod with one vhost-user interface whose socket the app creates (the OVS port is a
/// dpdkvhostuserclient), as the plugin publishes it.
fn pod() -> (tempfile::TempDir, Locations) {
    let dir = tempfile::Builder::new().prefix("usx").tempdir().unwrap();
    let podinfo = dir.path().join("podinfo");
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&podinfo).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    let entry = json!([{
        "containerId": ID,
        "ifName": "net1",
        "name": "userspace-ovs",
        "config": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
                   "vhost": {"mode": "server", "socketfile": "2c0c2c1dd245-net1"}},
        "ipResult": {"cniVersion": "1.0.0",
                     "interfaces": [{"name": "net1", "mac": "02:ba:e0:77:7f:b3", "sandbox": "/proc/1/ns/net"}],
                     "ips": [{"address": "10.56.217.2/24", "gateway": "10.56.217.1", "interface": 0}],
                     "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}
    }]);
    let annotations: BTreeMap<String, String> = [
        ("userspace/configuration-data", entry.to_string()),
        ("userspace/mapped-dir", shared.display().to_string()),
        ("k8s.v1.cni.cncf.io/networks", "userspace-ovs".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    std::fs::write(podinfo.join("annotations"), downward::render(&annotations)).unwrap();
    let loc = Locations {
        proc_root: PathBuf::from("/proc"),
        sys_root: PathBuf::from("/sys"),
        podinfo_dir: podinfo,
        shared_dir: None,
        container_id: Some(ID.to_owned()),
        env: Vec::new(),
    };
    (dir, loc)
}

fn report() -> (tempfile::TempDir, String) {
    let (dir, loc) = pod();
    let view = PodView::discover(&loc).unwrap();
    let text = userspace_examples::report(&view, DpdkVersion::new(22, 11, 0), 7);
    (dir, text)
}

#[test]
fn the_report_lists_each_interface_with_its_socket_role_mac_and_addresses() {
    let (dir, text) = report();
    let socket = dir.path().join("shared/2c0c2c1dd245-net1");
    assert!(text.contains("interfaces: 1\n"), "{text}");
    assert!(
        text.contains("  net1 [vhost-user] network userspace-ovs\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("socket   {}\n", socket.display())),
        "{text}"
    );
    assert!(text.contains("role     server (of this app)\n"), "{text}");
    assert!(text.contains("mac      02:ba:e0:77:7f:b3\n"), "{text}");
    assert!(text.contains("ips      10.56.217.2/24\n"), "{text}");
}

#[test]
fn the_report_ends_with_eal_arguments_that_create_the_vhost_user_socket() {
    let (dir, text) = report();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("EAL arguments (DPDK 22.11.0): "), "{text}");
    let vdev = format!(
        "--vdev=net_virtio_user0,path={},server=1,",
        dir.path().join("shared/2c0c2c1dd245-net1").display()
    );
    assert!(last.contains(&vdev), "{last}");
    assert!(last.contains("--no-pci"), "{last}");
}

#[test]
fn the_report_names_where_the_shared_directory_came_from() {
    let (dir, text) = report();
    assert!(
        text.starts_with(&format!(
            "shared directory: {} (annotation userspace/mapped-dir)\n",
            dir.path().join("shared").display()
        )),
        "{text}"
    );
}
