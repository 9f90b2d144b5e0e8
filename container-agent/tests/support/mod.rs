//! Test support: real dpdk-testpmd processes driven through their interactive prompt (the
//! workspace's `userspace-test-support`), and fixture pod directories (downward-API
//! annotations, shared directory).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::Instant;

use userspace_test_support::DpdkNeeds;

use userspace_cni_sdk::podinfo::downward;

/// The agent binary built by cargo for this test run.
pub fn agent_bin() -> &'static str {
    env!("CARGO_BIN_EXE_userspace-agent")
}

#[allow(unused_imports)] // each test binary uses some
pub use userspace_test_support::{
    Testpmd, parse_port_stats, remove_runtime_files, runtime_files, strip_ansi,
};

/// The shared check of DPDK's prerequisites: testpmd, root, and with `hugepages` 256 free
/// 2 MiB hugepages.
pub fn require_dpdk(hugepages: bool) -> Option<MutexGuard<'static, ()>> {
    userspace_test_support::require_dpdk(DpdkNeeds {
        programs: &[],
        hugepages: hugepages.then_some(256),
    })
}

pub fn which_testpmd() -> Option<PathBuf> {
    which::which("dpdk-testpmd").ok()
}

/// A fake pod: downward-API directory, shared directory and container ID.
pub struct Pod {
    pub dir: tempfile::TempDir,
    pub id: String,
}

impl Pod {
    pub fn new() -> Self {
        // Short base path: socket paths must stay under 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("usp")
            .tempdir_in("/tmp")
            .unwrap();
        let id = format!("{:016x}{}", rand_u64(), "c0ffee".repeat(8));
        std::fs::create_dir_all(dir.path().join("podinfo")).unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        Self { dir, id }
    }

    pub fn id12(&self) -> &str {
        &self.id[..12]
    }

    pub fn podinfo(&self) -> PathBuf {
        self.dir.path().join("podinfo")
    }

    pub fn shared(&self) -> PathBuf {
        self.dir.path().join("shared")
    }

    /// Writes the downward-API annotations file from key/value pairs.
    pub fn annotate(&self, pairs: &[(&str, String)]) {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        std::fs::write(self.podinfo().join("annotations"), downward::render(&map)).unwrap();
    }

    /// The plugin's view of this pod: the configuration-data entries and the mapped dir
    /// (`mapped` defaults to this pod's shared dir).
    pub fn configure(&self, entries: &[serde_json::Value], mapped: Option<&Path>) {
        let shared = self.shared();
        self.annotate(&[
            (
                "userspace/configuration-data",
                serde_json::to_string(entries).unwrap(),
            ),
            (
                "userspace/mapped-dir",
                mapped.unwrap_or(&shared).display().to_string(),
            ),
        ]);
    }

    /// A pod with one interface `net1` of the given container-side config.
    pub fn with_one_interface(config: serde_json::Value, ip: &str) -> Self {
        let pod = Self::new();
        pod.configure(&[config_entry(&pod.id, "net1", config, ip)], None);
        pod
    }

    /// The agent command with this pod's locations.
    pub fn agent_args(&self, sub: &[&str]) -> Vec<String> {
        let mut v = vec![
            "--podinfo".to_owned(),
            self.podinfo().display().to_string(),
            "--container-id".to_owned(),
            self.id.clone(),
        ];
        v.extend(sub.iter().map(|s| s.to_string()));
        v
    }
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A configuration-data entry as the plugin writes it.
pub fn config_entry(
    id: &str,
    ifname: &str,
    config: serde_json::Value,
    ip: &str,
) -> serde_json::Value {
    serde_json::json!({
        "containerId": id,
        "ifName": ifname,
        "name": "userspace-net",
        "config": config,
        "ipResult": {
            "cniVersion": "1.0.0",
            "interfaces": [{"name": ifname, "mac": "02:00:00:00:00:01", "sandbox": "/proc/1/ns/net"}],
            "ips": [{"address": ip, "gateway": "10.56.217.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {}
        }
    })
}
