//! Fixture pods (downward-API annotations, shared directory, resources trees) and the paths of
//! the built library, for the tests of the C API.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use userspace_cni_sdk::podinfo::downward;

/// The container ID every fixture pod has (the tests pass it as an override).
pub const ID: &str = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
/// Its first 12 characters, as socket names carry it.
pub const ID12: &str = "c0ffee012345";

/// The crate's directory.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    crate_dir().parent().expect("workspace root").to_owned()
}

/// `target/<profile>` (where `cargo build` puts binaries such as `userspace-agent`); the
/// integration tests run from `target/<profile>/deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned()
}

/// Where this crate's `libuserspace_cni.so` / `.a` are: `target/<profile>/deps/`, built by
/// this very `cargo test` with the tests (`cargo build` also copies them one level up).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps").to_owned();
    for dir in [deps.clone(), bin_dir()] {
        if dir.join("libuserspace_cni.so").exists() && dir.join("libuserspace_cni.a").exists() {
            return dir;
        }
    }
    panic!(
        "no libuserspace_cni.so / .a in {} or {}: cargo builds them with this crate's tests",
        deps.display(),
        bin_dir().display()
    )
}

/// The libraries a program linked with `libuserspace_cni.a` needs besides it (what
/// `rustc --print native-static-libs` lists).
pub const STATIC_DEPS: [&str; 6] = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"];

/// Runs a command, failing the test with its output when it fails.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fake pod: `podinfo/` (the downward-API volume) and `shared/` (the shared directory).
pub struct Pod {
    pub dir: tempfile::TempDir,
}

impl Pod {
    pub fn new() -> Self {
        // Short base path: socket paths must stay under 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("usf")
            .tempdir_in("/tmp")
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("podinfo")).expect("podinfo");
        std::fs::create_dir_all(dir.path().join("shared")).expect("shared");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn podinfo(&self) -> PathBuf {
        self.path().join("podinfo")
    }

    pub fn shared(&self) -> PathBuf {
        self.path().join("shared")
    }

    /// Writes the downward-API annotations file.
    pub fn annotate(&self, pairs: &[(&str, String)]) {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        std::fs::write(self.podinfo().join("annotations"), downward::render(&map))
            .expect("annotations");
    }

    /// The plugin's `userspace/configuration-data` entries, `userspace/mapped-dir` (this pod's
    /// shared dir) and optionally Multus' `network-status`.
    pub fn configure(&self, entries: &[Value], status: Option<&Value>) {
        let mut pairs = vec![
            (
                "userspace/configuration-data",
                serde_json::to_string(entries).expect("json"),
            ),
            ("userspace/mapped-dir", self.shared().display().to_string()),
        ];
        if let Some(s) = status {
            pairs.push((
                "k8s.v1.cni.cncf.io/network-status",
                serde_json::to_string_pretty(s).expect("json"),
            ));
        }
        self.annotate(&pairs);
    }
}

/// A configuration-data entry as the plugin writes it, with a CNI 1.0.0 result.
pub fn config_entry(ifname: &str, network: &str, config: Value, result: Value) -> Value {
    json!({
        "containerId": ID,
        "ifName": ifname,
        "name": network,
        "config": config,
        "ipResult": result,
    })
}

/// A vhost-user interface's container-side config (`mode` is the pod's side).
pub fn vhost(mode: &str, socketfile: &str) -> Value {
    json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
           "vhost": {"mode": mode, "socketfile": socketfile}})
}

/// A CNI result with one interface, one address and the given routes.
pub fn result(ifname: &str, mac: Option<&str>, ip: &str, gateway: &str, routes: Value) -> Value {
    let mut iface = json!({"name": ifname, "sandbox": "/proc/1/ns/net"});
    if let Some(m) = mac {
        iface["mac"] = json!(m);
    }
    json!({
        "cniVersion": "1.0.0",
        "interfaces": [iface],
        "ips": [{"address": ip, "gateway": gateway, "interface": 0}],
        "routes": routes,
        "dns": {}
    })
}

/// The pod of `api_test full`: net1 vhost-user (the app is the server) described by both the
/// plugin and Multus, net2 memif (the app is the client), and a VF from `PCIDEVICE_*` (set by
/// the caller: [`PCI_ENV`]).
pub fn full_pod() -> Pod {
    let pod = Pod::new();
    let sock1 = pod.shared().join(format!("{ID12}-net1"));
    let entries = [
        config_entry(
            "net1",
            "userspace-ovs",
            vhost("server", &format!("{ID12}-net1")),
            result(
                "net1",
                Some("02:00:00:00:00:01"),
                "10.56.217.10/24",
                "10.56.217.1",
                json!([{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.56.217.254"}]),
            ),
        ),
        config_entry(
            "net2",
            "userspace-vpp",
            json!({"engine": "vpp", "iftype": "memif", "netType": "interface",
                   "memif": {"role": "slave", "mode": "ethernet", "socketfile": "memif-net2.sock"}}),
            result("net2", None, "10.60.0.5/24", "10.60.0.1", json!([])),
        ),
    ];
    let status = json!([
        {"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.23"], "default": true, "dns": {}},
        {"name": "default/userspace-ovs", "interface": "net1", "ips": ["10.56.217.10"],
         "mac": "02:00:00:00:00:01", "dns": {},
         "device-info": {"type": "vhost-user", "version": "1.1.0",
                         "vhost-user": {"mode": "server", "path": sock1.display().to_string()}}}
    ]);
    pod.configure(&entries, Some(&status));
    pod
}

/// The SR-IOV device plugin variable of [`full_pod`].
pub const PCI_ENV: (&str, &str) = ("PCIDEVICE_INTEL_COM_SRIOV", "0000:03:00.1");

/// `api_test conflict`'s pod: Multus and the plugin disagree about net1's socket (a data-plane
/// fact) and net2's gateway (not one).
pub fn conflict_pod() -> Pod {
    let pod = Pod::new();
    let entries = [
        config_entry(
            "net1",
            "userspace-ovs",
            vhost("server", &format!("{ID12}-net1")),
            result("net1", None, "10.56.217.10/24", "10.56.217.1", json!([])),
        ),
        config_entry(
            "net2",
            "userspace-ovs",
            vhost("server", &format!("{ID12}-net2")),
            result("net2", None, "10.56.217.11/24", "10.56.217.1", json!([])),
        ),
    ];
    let elsewhere = pod.path().join(format!("elsewhere/{ID12}-net1"));
    let status = json!([
        {"name": "default/userspace-ovs", "interface": "net1", "dns": {},
         "device-info": {"type": "vhost-user", "version": "1.1.0",
                         "vhost-user": {"mode": "server", "path": elsewhere.display().to_string()}}},
        {"name": "default/userspace-ovs", "interface": "net2", "dns": {}, "gateway": ["10.56.217.2"]}
    ]);
    pod.configure(&entries, Some(&status));
    pod
}

/// A pod without userspace interfaces: only the cluster network in network-status.
pub fn empty_pod() -> Pod {
    let pod = Pod::new();
    let status = json!([{"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.23"], "default": true, "dns": {}}]);
    pod.annotate(&[(
        "k8s.v1.cni.cncf.io/network-status",
        serde_json::to_string(&status).expect("json"),
    )]);
    pod
}

/// A pod whose configuration-data annotation is not JSON.
pub fn malformed_pod() -> Pod {
    let pod = Pod::new();
    pod.annotate(&[("userspace/configuration-data", "[{not json".to_owned())]);
    pod
}

/// A copy of `sdk/tests/fixtures/resources/<name>` (proc/ and sys/ trees) in `dir`.
pub fn resources(name: &str, dir: &Path) -> PathBuf {
    let src = workspace().join("sdk/tests/fixtures/resources").join(name);
    let dst = dir.join(name);
    copy_tree(&src, &dst);
    dst
}

/// `cgroup-v2-pod` (cpuset 2-3, 512 MiB of 2 MiB hugepages) with CPU 3 moved to NUMA node 1.
pub fn two_node_resources(dir: &Path) -> PathBuf {
    let r = resources("cgroup-v2-pod", dir);
    let nodes = r.join("sys/devices/system/node");
    std::fs::write(nodes.join("node0/cpulist"), "0-2\n").expect("node0");
    std::fs::create_dir_all(nodes.join("node1")).expect("node1");
    std::fs::write(nodes.join("node1/cpulist"), "3-7\n").expect("node1");
    r
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read fixture dir").flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}
