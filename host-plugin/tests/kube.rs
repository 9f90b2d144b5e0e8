//! With a kubeconfig, against a fake Kubernetes API server that speaks the real HTTP API
//! (no API server can run here): the pod's `shared-dir` volume decides where the socket goes,
//! the configuration-data and mapped-dir annotations are merged per interface (concurrent ADDs
//! lose nothing), DEL withdraws the entry, and forbidden or out-of-bounds cases fail cleanly.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use fake_api::FakeApi;
use serde_json::{Value, json};
use userspace_cni_sdk::wire::parse_configuration_data;
use userspace_test_support::ovs::Ovs;

struct Env {
    db: Ovs,
    dir: tempfile::TempDir,
    api: FakeApi,
}

impl Env {
    fn new(volume: Value) -> Self {
        Self::mounted_at(volume, "/var/lib/cni/usrspcni")
    }

    fn mounted_at(volume: Value, mount_path: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("k8")
            .tempdir_in("/tmp")
            .unwrap();
        let volume = match volume {
            Value::String(s) if s == "hostPath" => {
                json!({"name": "shared-dir", "hostPath": {"path": dir.path().join("roots/web-0").display().to_string()}})
            }
            v => v,
        };
        let api = FakeApi::with_pods(vec![pod(
            "web-0",
            "5b0d8c2e-9f7a-4c61-8d3e-2a1b0c9d8e7f",
            volume,
            mount_path,
        )])
        .unwrap();
        Self {
            db: Ovs::start_db("ovs"),
            dir,
            api,
        }
    }

    fn conf(&self) -> Value {
        let d = self.dir.path();
        json!({
            "cniVersion": "1.0.0", "name": "userspace-ovs", "type": "userspace",
            "kubeconfig": self.api.kubeconfig_in(d, None).unwrap(), "ovsdbSocket": self.db.endpoint(),
            "stateDir": d.join("state"), "sharedDir": d.join("fallback"),
            "allowedSharedDirRoots": [d.join("roots")],
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}},
            "ipam": {"type": "host-local", "subnet": "10.55.0.0/24", "dataDir": d.join("ipam")}
        })
    }

    fn entries(&self) -> Vec<String> {
        let text = self
            .api
            .annotation("web-0", "userspace/configuration-data")
            .unwrap_or_default();
        let mut v: Vec<String> = parse_configuration_data(&text)
            .unwrap()
            .into_iter()
            .map(|e| e.if_name)
            .collect();
        v.sort();
        v
    }
}

const ID: &str = "9d3e5f7a1b2c4d6e8f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e";

fn cni(verb: &str, ifname: &str, conf: &Value) -> (Value, i32) {
    let args =
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=x";
    support::run_plugin(
        env!("CARGO_BIN_EXE_userspace"),
        verb,
        ID,
        ifname,
        args,
        &[],
        conf.to_string().as_bytes(),
    )
}

#[test]
fn add_uses_the_pods_host_path_and_publishes_both_annotations_and_del_withdraws() {
    let env = Env::new(json!("hostPath"));
    let (res, code) = cni("ADD", "net1", &env.conf());
    assert_eq!(code, 0, "{res}");
    let host_dir = env.dir.path().join("roots/web-0");
    assert!(
        host_dir.join("configData-9d3e5f7a1b2c-net1.json").exists(),
        "files go to the pod's hostPath volume"
    );
    assert_eq!(
        env.db.vsctl_ok(&[
            "get",
            "Interface",
            "9d3e5f7a1b2c-net1",
            "options:vhost-server-path"
        ]),
        format!("\"{}\"", host_dir.join("9d3e5f7a1b2c-net1").display())
    );
    assert_eq!(env.entries(), ["net1"]);
    assert_eq!(
        env.api
            .annotation("web-0", "userspace/mapped-dir")
            .as_deref(),
        Some("/var/lib/cni/usrspcni")
    );
    assert_eq!(
        env.api
            .annotation("web-0", "k8s.v1.cni.cncf.io/networks")
            .as_deref(),
        Some("userspace-ovs"),
        "other annotations stay"
    );
    let patches: Vec<_> = env
        .api
        .lock()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.route().to_owned())
        .collect();
    assert_eq!(patches, ["/api/v1/namespaces/default/pods/web-0"]);

    assert_eq!(cni("DEL", "net1", &env.conf()).1, 0);
    assert!(env.entries().is_empty(), "DEL withdrew the entry");
    assert_eq!(env.db.rows("Port"), 0);
}

#[test]
fn the_last_del_removes_the_configuration_data_key_and_an_earlier_one_keeps_the_rest() {
    let env = Env::new(json!("hostPath"));
    for ifname in ["net1", "net2"] {
        assert_eq!(cni("ADD", ifname, &env.conf()).1, 0);
    }
    assert_eq!(cni("DEL", "net1", &env.conf()).1, 0);
    assert_eq!(env.entries(), ["net2"]);
    assert_eq!(cni("DEL", "net2", &env.conf()).1, 0);
    let annotations = env.api.pod("web-0").unwrap()["metadata"]["annotations"].clone();
    assert!(
        annotations.get("userspace/configuration-data").is_none(),
        "no \"[]\" left behind: {annotations}"
    );
    assert!(
        annotations.get("k8s.v1.cni.cncf.io/networks").is_some(),
        "other annotations stay"
    );
}

#[test]
fn concurrent_adds_for_one_pod_lose_no_entry() {
    let env = Env::new(json!("hostPath"));
    let conf = env.conf();
    let handles: Vec<_> = (1..=8)
        .map(|i| {
            let conf = conf.clone();
            std::thread::spawn(move || cni("ADD", &format!("net{i}"), &conf))
        })
        .collect();
    for h in handles {
        let (res, code) = h.join().unwrap();
        assert_eq!(code, 0, "{res}");
    }
    assert_eq!(
        env.entries(),
        [
            "net1", "net2", "net3", "net4", "net5", "net6", "net7", "net8"
        ]
    );
    let conflicts = env.api.lock().conflicts;
    eprintln!("409 conflicts resolved by re-merging: {conflicts}");
    for i in 1..=8 {
        assert_eq!(cni("DEL", &format!("net{i}"), &conf).1, 0);
    }
    assert!(env.entries().is_empty());
}

#[test]
fn a_host_path_outside_the_allowed_roots_is_refused_and_nothing_is_left() {
    let env = Env::new(json!({"name": "shared-dir", "hostPath": {"path": "/etc/cron.d"}}));
    let (err, code) = cni("ADD", "net1", &env.conf());
    assert_eq!((code, err["code"].as_u64()), (1, Some(7)), "{err}");
    assert!(
        err["msg"]
            .as_str()
            .unwrap()
            .contains("/etc/cron.d is outside the allowed roots"),
        "{err}"
    );
    assert!(env.entries().is_empty());
    assert_eq!(env.db.rows("Port"), 0);
    assert!(
        !env.dir.path().join("ipam/userspace-ovs").exists()
            || std::fs::read_dir(env.dir.path().join("ipam/userspace-ovs"))
                .unwrap()
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().starts_with("10."))
    );
}

#[test]
fn a_forbidden_patch_names_the_missing_permission_and_rolls_back() {
    let env = Env::new(json!("hostPath"));
    env.api.lock().refuse("PATCH", "pods", 403);
    let (err, code) = cni("ADD", "net1", &env.conf());
    assert_eq!(code, 1, "{err}");
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains("forbidden") && msg.contains("needs get and patch on pods"),
        "{msg}"
    );
    assert_eq!(env.db.rows("Port"), 0, "the port was rolled back");
    assert!(
        std::fs::read_dir(env.dir.path().join("roots/web-0"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no files left"
    );
}

/// Multus copies the device-info into network-status, which the pod reads: its path is the
/// socket as the pod sees it, under the shared volume's mountPath, not the host's path.
#[test]
fn device_info_names_the_socket_where_the_pod_mounts_it() {
    let env = Env::mounted_at(json!("hostPath"), "/run/dpdk-sockets");
    let mut conf = env.conf();
    let info = env.dir.path().join("devinfo/net1.json");
    conf["runtimeConfig"] = json!({"CNIDeviceInfoFile": info});
    let (res, code) = cni("ADD", "net1", &conf);
    assert_eq!(code, 0, "{res}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    assert_eq!(
        v["vhost-user"]["path"],
        "/run/dpdk-sockets/9d3e5f7a1b2c-net1"
    );
    assert_eq!(cni("DEL", "net1", &conf).1, 0);
    assert!(!info.exists());
}

/// kubelet's emptyDir paths are too long for a socket: each attachment gets its own short
/// alias, so removing one interface never breaks the path its sibling's port reconnects to.
#[test]
fn two_interfaces_on_a_long_empty_dir_path_each_get_their_own_alias() {
    let uid = "5b0d8c2e-9f7a-4c61-8d3e-2a1b0c9d8e7f";
    let env = Env::new(json!({"name": "shared-dir", "emptyDir": {}}));
    let d = env.dir.path();
    let empty_dir = d.join(format!(
        "kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/shared-dir"
    ));
    std::fs::create_dir_all(&empty_dir).unwrap();
    let mut conf = env.conf();
    conf["kubeletRoot"] = json!(d.join("kubelet"));
    conf["socketAliasRoot"] = json!(d.join("vs"));
    for ifname in ["net1", "net2"] {
        let (res, code) = cni("ADD", ifname, &conf);
        assert_eq!(code, 0, "{res}");
        let stem = format!("9d3e5f7a1b2c-{ifname}");
        let alias = d.join("vs").join(&stem);
        assert_eq!(
            env.db
                .vsctl_ok(&["get", "Interface", &stem, "options:vhost-server-path"]),
            format!("\"{}\"", alias.join(&stem).display()),
            "the switch uses {ifname}'s own alias"
        );
        assert!(empty_dir.join(format!("configData-{stem}.json")).exists());
    }
    assert_eq!(cni("DEL", "net1", &conf).1, 0);
    let net2_alias = d.join("vs/9d3e5f7a1b2c-net2");
    assert!(
        net2_alias
            .join("configData-9d3e5f7a1b2c-net2.json")
            .exists(),
        "net2's alias still shows the emptyDir after net1 is gone"
    );
    assert!(!d.join("vs/9d3e5f7a1b2c-net1").exists());
    assert_eq!(cni("DEL", "net2", &conf).1, 0);
    assert!(!net2_alias.exists(), "alias unmounted and removed");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&d.join("vs").display().to_string()));
    assert_eq!(std::fs::read_dir(d.join("vs")).unwrap().count(), 0);
}

/// A pod with a `shared-dir` volume (hostPath or emptyDir) mounted at `mount_path`.
fn pod(name: &str, uid: &str, volume: Value, mount_path: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "100", "annotations": {"k8s.v1.cni.cncf.io/networks": "userspace-ovs"}},
        "spec": {
            "containers": [{"name": "dpdk", "image": "testpmd", "volumeMounts": [
                {"name": "podinfo", "mountPath": "/etc/podinfo"},
                {"name": "shared-dir", "mountPath": mount_path}
            ]}],
            "volumes": [volume, {"name": "podinfo", "downwardAPI": {"items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}]
        }
    })
}
