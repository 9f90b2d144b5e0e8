//! A node for the verb tests: a private ovsdb-server, the real host-local, private shared,
//! state, alias and IPAM directories; and the checks that nothing is left behind.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use userspace_test_support::ovs::Ovs;

/// A 64-hex container ID as runtimes make them.
pub const ID: &str = "4d578250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";

pub struct Node {
    pub db: Ovs,
    pub dir: tempfile::TempDir,
}

impl Node {
    pub fn new() -> Self {
        assert!(
            Path::new("/usr/lib/cni/host-local").exists(),
            "host-local is not installed: run `bash scripts/setup-host.sh` (containernetworking-plugins)"
        );
        Self {
            db: Ovs::start_db("ovs"),
            dir: tempfile::Builder::new()
                .prefix("cni")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn conf(&self, version: &str) -> Value {
        json!({
            "cniVersion": version,
            "name": "userspace-ovs",
            "type": "userspace",
            "ovsdbSocket": self.db.endpoint(),
            "sharedDir": self.path("shared"),
            "stateDir": self.path("state"),
            "socketAliasRoot": self.path("vs"),
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                     "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
            "container": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface", "vhost": {"mode": "server"}},
            "ipam": {"type": "host-local", "subnet": "10.77.0.0/24", "dataDir": self.path("ipam"),
                     "routes": [{"dst": "0.0.0.0/0"}]}
        })
    }

    /// Nothing left: no port, lease, pushed file or state file.
    pub fn assert_no_residue(&self, what: &str) {
        assert_eq!(self.db.rows("Port"), 0, "{what}: port left");
        assert!(
            self.leases().is_empty(),
            "{what}: lease left: {:?}",
            self.leases()
        );
        assert!(
            self.files("shared").is_empty(),
            "{what}: files left: {:?}",
            self.files("shared")
        );
        let state = self.files("state");
        assert!(
            state.is_empty(),
            "{what}: state, lock, temp or claim files left: {state:?}"
        );
        assert!(self.files("vs").is_empty(), "{what}: alias left");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(&self.dir.path().display().to_string()),
            "{what}: a mount under the node's dirs is left"
        );
    }

    pub fn leases(&self) -> Vec<String> {
        let d = self.path("ipam/userspace-ovs");
        let mut v: Vec<String> = std::fs::read_dir(&d)
            .map(|e| {
                e.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.retain(|n| n.contains('.') && !n.starts_with("last_reserved") && n != "lock");
        v
    }

    pub fn files(&self, sub: &str) -> Vec<String> {
        let mut v = Vec::new();
        if let Ok(w) = std::fs::read_dir(self.path(sub)) {
            for e in w.flatten() {
                v.push(e.file_name().to_string_lossy().into_owned());
                if e.path().is_dir() {
                    for f in std::fs::read_dir(e.path()).unwrap().flatten() {
                        v.push(format!(
                            "{}/{}",
                            e.file_name().to_string_lossy(),
                            f.file_name().to_string_lossy()
                        ));
                    }
                }
            }
        }
        v.sort();
        v
    }
}

/// Runs the plugin binary; returns (stdout as JSON or Null, exit code).
pub fn cni(verb: &str, id: &str, ifname: &str, conf: &Value) -> (Value, i32) {
    cni_raw(verb, id, ifname, conf.to_string().as_bytes())
}

/// [`cni`] with raw stdin.
pub fn cni_raw(verb: &str, id: &str, ifname: &str, stdin: &[u8]) -> (Value, i32) {
    run(verb, id, ifname, &[], stdin)
}

/// [`cni`] with extra environment (the crash hook).
pub fn cni_env(
    verb: &str,
    id: &str,
    ifname: &str,
    conf: &Value,
    env: &[(&str, &str)],
) -> (Value, i32) {
    run(verb, id, ifname, env, conf.to_string().as_bytes())
}

/// The plugin binary, with `CNI_ARGS` naming pod `p`.
fn run(verb: &str, id: &str, ifname: &str, env: &[(&str, &str)], stdin: &[u8]) -> (Value, i32) {
    super::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        verb,
        id,
        ifname,
        "IgnoreUnknown=1;K8S_POD_NAME=p",
        env,
        stdin,
    )
}

/// `conf` with `prevResult` set, as a runtime sends CHECK (and DEL) after an ADD.
pub fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}
