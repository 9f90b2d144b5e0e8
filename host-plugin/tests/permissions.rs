//! Who can read and write what the plugin leaves on the node, and what a hostile shared
//! directory cannot make it do: modes of state, files and sockets, `vhost.group`, symlinks
//! planted where the plugin writes.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use userspace_test_support::ovs::Ovs;
use vpp_api::fake::FakeVpp;

const ID: &str = "7a578250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";
const ID12: &str = "7a578250ad8d";

struct Node {
    db: Ovs,
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        assert!(
            Path::new("/usr/lib/cni/host-local").exists(),
            "host-local is not installed: run `bash scripts/setup-host.sh`"
        );
        Self {
            db: Ovs::start_db("ovs"),
            dir: tempfile::Builder::new()
                .prefix("perm")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self) -> Value {
        json!({
            "cniVersion": "1.1.0", "name": "perm-net", "type": "userspace",
            "ovsdbSocket": self.db.endpoint(),
            "sharedDir": self.path("shared"), "stateDir": self.path("state"),
            "runtimeConfig": {"CNIDeviceInfoFile": self.path("devinfo/perm-net1.json")},
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                     "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
            "ipam": {"type": "host-local", "subnet": "10.78.0.0/24", "gateway": "10.78.0.1",
                     "dataDir": self.path("ipam")}
        })
    }

    fn pod_dir(&self) -> PathBuf {
        self.path("shared").join(ID12)
    }
}

fn cni(verb: &str, conf: &Value) -> (Value, i32) {
    support::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        verb,
        ID,
        "net1",
        "IgnoreUnknown=1;K8S_POD_NAME=p",
        &[],
        conf.to_string().as_bytes(),
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn users_gid() -> u32 {
    nix::unistd::Group::from_name("users")
        .unwrap()
        .unwrap()
        .gid
        .as_raw()
}

#[test]
fn state_is_private_and_what_the_pod_reads_is_world_readable_but_not_writable() {
    let node = Node::new();
    let (res, code) = cni("ADD", &node.conf());
    assert_eq!(code, 0, "{res}");
    assert_eq!(mode(&node.path("state")), 0o700, "state directory");
    assert_eq!(
        mode(&node.path(&format!("state/{ID}@net1.json"))),
        0o600,
        "state file"
    );
    assert_eq!(
        mode(&node.pod_dir()),
        0o750,
        "shared dir without a vhost group"
    );
    for f in [
        format!("configData-{ID12}-net1.json"),
        format!("{ID12}-net1-ip4.conf"),
    ] {
        assert_eq!(mode(&node.pod_dir().join(&f)), 0o644, "{f}");
    }
    assert_eq!(
        mode(&node.path("devinfo/perm-net1.json")),
        0o644,
        "device-info"
    );
    assert_eq!(cni("DEL", &node.conf()).1, 0);
}

#[test]
fn a_vhost_group_gets_the_shared_directory_and_the_socket_vpp_made() {
    let dir = tempfile::Builder::new()
        .prefix("permv")
        .tempdir_in("/tmp")
        .unwrap();
    let vpp = FakeVpp::start(dir.path().join("api.sock")).unwrap();
    let conf = json!({
        "cniVersion": "1.0.0", "name": "permv", "type": "userspace",
        "vppApiSocket": vpp.path(),
        "sharedDir": dir.path().join("shared"), "stateDir": dir.path().join("state"),
        "host": {"engine": "vpp", "iftype": "vhostuser", "netType": "none",
                 "vhost": {"mode": "server", "group": "users"}},
        "ipam": {"type": "host-local", "subnet": "10.79.0.0/24", "dataDir": dir.path().join("ipam")}
    });
    let (res, code) = cni("ADD", &conf);
    assert_eq!(code, 0, "{res}");
    let pod_dir = dir.path().join("shared").join(ID12);
    let socket = pod_dir.join(format!("{ID12}-net1"));
    let (d, s) = (
        std::fs::metadata(&pod_dir).unwrap(),
        std::fs::metadata(&socket).unwrap(),
    );
    assert_eq!(
        (d.gid(), d.mode() & 0o777),
        (users_gid(), 0o770),
        "directory"
    );
    assert_eq!((s.gid(), s.mode() & 0o777), (users_gid(), 0o660), "socket");
    assert_eq!(cni("DEL", &conf).1, 0);
    assert!(!socket.exists());
}

#[test]
fn symlinks_planted_where_the_plugin_writes_are_replaced_never_followed() {
    let node = Node::new();
    let victim = node.path("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir_all(node.pod_dir()).unwrap();
    std::fs::create_dir_all(node.path("devinfo")).unwrap();
    let planted = [
        node.pod_dir().join(format!("configData-{ID12}-net1.json")),
        node.pod_dir().join(format!("{ID12}-net1-ip4.conf")),
        node.pod_dir().join(format!("{ID12}-net1")), // the socket the pod will create
        node.path("devinfo/perm-net1.json"),
    ];
    for p in &planted {
        std::os::unix::fs::symlink(&victim, p).unwrap();
    }
    let (res, code) = cni("ADD", &node.conf());
    assert_eq!(code, 0, "{res}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for p in &planted {
        let is_link = std::fs::symlink_metadata(p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        assert!(!is_link, "{} is still a symlink", p.display());
    }
    assert_eq!(cni("DEL", &node.conf()).1, 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn a_shared_directory_that_is_a_symlink_is_refused_and_its_target_untouched() {
    let node = Node::new();
    let target = node.path("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(node.path("shared")).unwrap();
    std::os::unix::fs::symlink(&target, node.pod_dir()).unwrap();
    let (err, code) = cni("ADD", &node.conf());
    assert_eq!((code, err["code"].as_u64()), (1, Some(7)), "{err}");
    assert!(
        err["msg"]
            .as_str()
            .unwrap()
            .contains("not a plain directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    assert_eq!(node.db.rows("Port"), 0);
}

#[test]
fn a_directory_in_the_way_of_the_socket_is_an_error_with_nothing_left() {
    let node = Node::new();
    std::fs::create_dir_all(node.pod_dir().join(format!("{ID12}-net1"))).unwrap();
    let (err, code) = cni("ADD", &node.conf());
    assert_eq!((code, err["code"].as_u64()), (1, Some(7)), "{err}");
    assert_eq!(node.db.rows("Port"), 0);
    assert!(!node.path(&format!("state/{ID}@net1.json")).exists());
}
