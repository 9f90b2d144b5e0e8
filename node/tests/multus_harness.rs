//! multus-harness as containerd calls it, with a recording delegate plugin: the delegate
//! convention (interface names, CNI_ARGS, netns, runtimeConfig, order), the network-status
//! annotation in the API server, DEL with an empty netns, and the undo of a failed ADD.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fake_api::FakeApi;
use serde_json::{Value, json};

const SANDBOX: &str = "8c0f3c7e2d9b4a1f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const UID: &str = "5c0ffee0-0000-4000-8000-000000000001";

/// Appends `<verb> <ifname> <netns> <CNI_ARGS>` and its stdin to files in its directory;
/// ADD answers with one interface in the pod and an address; a config with `"fail": true`
/// fails its ADD.
const RECORDER: &str = r#"#!/bin/sh
d=$(dirname "$0")
conf=$(cat)
echo "$CNI_COMMAND $CNI_IFNAME ${CNI_NETNS:--} $CNI_ARGS" >>"$d/calls"
echo "$conf" >>"$d/stdin"
if [ "$CNI_COMMAND" = ADD ]; then
  case $conf in *'"fail":true'*) echo '{"cniVersion":"1.0.0","code":7,"msg":"refused by the recorder"}'; exit 1;; esac
  n=$(grep -c ADD "$d/calls")
  echo "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"$CNI_IFNAME\",\"mac\":\"02:00:00:00:00:0$n\",\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"10.1.$n.2/24\",\"gateway\":\"10.1.$n.1\",\"interface\":0}]}"
fi
"#;

struct Node {
    dir: tempfile::TempDir,
    api: FakeApi,
}

fn nad(dir: &Path, name: &str, extra: &str) {
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        format!(
            "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: {name}\n  annotations:\n    k8s.v1.cni.cncf.io/resourceName: example.com/{name}\nspec:\n  config: '{{\"cniVersion\":\"1.0.0\",\"type\":\"recorder\",\"name\":\"{name}\",\"capabilities\":{{\"CNIDeviceInfoFile\":true}}{extra}}}'\n"
        ),
    )
    .unwrap();
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["bin", "nads"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let rec = dir.path().join("bin/recorder");
        std::fs::write(&rec, RECORDER).unwrap();
        std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o755)).unwrap();
        nad(&dir.path().join("nads"), "dpdk-a", "");
        nad(&dir.path().join("nads"), "dpdk-b", "");
        let api = FakeApi::start("127.0.0.1:0").unwrap();
        api.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        api.add(
            "pods",
            json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "fwd", "namespace": "default", "uid": UID, "resourceVersion": "1",
                         "annotations": {"k8s.v1.cni.cncf.io/networks": "dpdk-a,dpdk-b"}}}),
        );
        Self { dir, api }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs multus-harness as containerd does (its CNI_ARGS order differs on each call).
    fn call(&self, verb: &str, netns: &str, networks: &str) -> (Value, i32) {
        let mut conf = json!({"cniVersion": "1.0.0", "name": "node-net", "type": "multus-harness",
            "nadDir": self.path("nads"), "binDir": self.path("bin"), "kubeconfig": self.path("kubeconfig"),
            "cacheDir": self.path("cache"), "deviceInfoDir": self.path("devinfo"),
            "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"k8s.v1.cni.cncf.io/networks": networks}}});
        if self.path("cluster.json").exists() {
            conf["clusterNetwork"] = self.path("cluster.json").display().to_string().into();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_multus-harness"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("CNI_COMMAND", verb)
            .env("CNI_CONTAINERID", SANDBOX)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", self.path("bin"))
            .env(
                "CNI_ARGS",
                format!("K8S_POD_UID={UID};IgnoreUnknown=1;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID={SANDBOX};K8S_POD_NAMESPACE=default"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (v, out.status.code().unwrap_or(-1))
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("bin/calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn delegate_stdin(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("bin/stdin"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

const NETNS: &str = "/run/containerd/state/io.containerd.grpc.v1.cri/netns/cni-1";

fn args() -> String {
    format!(
        "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID={SANDBOX};K8S_POD_UID={UID}"
    )
}

#[test]
fn add_calls_each_network_as_net1_net2_with_multus_cni_args_in_the_sandbox_netns() {
    let n = Node::new();
    let (_, code) = n.call("ADD", NETNS, "dpdk-a,dpdk-b");
    assert_eq!(code, 0);
    assert_eq!(
        n.calls(),
        [
            format!("ADD net1 {NETNS} {}", args()),
            format!("ADD net2 {NETNS} {}", args())
        ]
    );
}

#[test]
fn delegates_get_their_nad_config_with_only_the_declared_capabilities() {
    let n = Node::new();
    n.call(
        "ADD",
        NETNS,
        r#"[{"name":"dpdk-a","mac":"02:11:22:33:44:55"}]"#,
    );
    let stdin = &n.delegate_stdin()[0];
    assert_eq!(stdin["name"], "dpdk-a");
    // `mac` is not declared by the NAD: only the device-info file is passed.
    let file = n.path(&format!("devinfo/dpdk-a-{SANDBOX}_net1"));
    assert_eq!(
        stdin["runtimeConfig"],
        json!({"CNIDeviceInfoFile": file.display().to_string()})
    );
}

#[test]
fn add_writes_network_status_as_multus_does() {
    let n = Node::new();
    n.call("ADD", NETNS, "dpdk-a,dpdk-b");
    let text = n.api.lock().pods[0]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
        .as_str()
        .unwrap()
        .to_owned();
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        status,
        json!([
            {"name": "default/dpdk-a", "interface": "net1", "ips": ["10.1.1.2"], "mac": "02:00:00:00:00:01", "dns": {}, "gateway": ["10.1.1.1"]},
            {"name": "default/dpdk-b", "interface": "net2", "ips": ["10.1.2.2"], "mac": "02:00:00:00:00:02", "dns": {}, "gateway": ["10.1.2.1"]}
        ])
    );
}

#[test]
fn del_goes_in_reverse_order_and_a_second_del_without_netns_succeeds() {
    let n = Node::new();
    n.call("ADD", NETNS, "dpdk-a,dpdk-b");
    assert_eq!(n.call("DEL", NETNS, "dpdk-a,dpdk-b").1, 0);
    assert_eq!(n.call("DEL", "", "dpdk-a,dpdk-b").1, 0);
    assert_eq!(
        n.calls()[2..],
        [
            format!("DEL net2 {NETNS} {}", args()),
            format!("DEL net1 {NETNS} {}", args()),
            format!("DEL net2 - {}", args()),
            format!("DEL net1 - {}", args()),
        ]
    );
    assert_eq!(std::fs::read_dir(n.path("cache")).unwrap().count(), 0);
}

#[test]
fn a_failed_add_undoes_every_delegate_in_reverse_and_reports_the_delegates_error() {
    let n = Node::new();
    nad(&n.path("nads"), "dpdk-b", r#","fail":true"#);
    let (err, code) = n.call("ADD", NETNS, "dpdk-a,dpdk-b");
    assert_eq!(code, 1);
    assert!(
        err["details"]
            .as_str()
            .unwrap()
            .contains("delegate default/dpdk-b (net2) ADD: refused by the recorder"),
        "{err}"
    );
    let verbs: Vec<String> = n
        .calls()
        .iter()
        .map(|c| c.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(verbs, ["ADD net1", "ADD net2", "DEL net2", "DEL net1"]);
}

#[test]
fn a_missing_nad_fails_the_add_before_any_delegate_runs() {
    let n = Node::new();
    let (err, code) = n.call("ADD", NETNS, "dpdk-a,nope");
    assert_eq!(code, 1);
    assert!(
        err["details"]
            .as_str()
            .unwrap()
            .contains("default/nope: not found")
    );
    assert!(n.calls().is_empty());
}

#[test]
fn the_cluster_network_comes_first_as_eth0_and_its_result_is_returned() {
    let n = Node::new();
    std::fs::write(
        n.path("cluster.json"),
        r#"{"cniVersion":"1.0.0","name":"kindnet","type":"recorder"}"#,
    )
    .unwrap();
    let (result, code) = n.call("ADD", NETNS, "dpdk-a");
    assert_eq!(code, 0);
    assert_eq!(result["interfaces"][0]["name"], "eth0");
    let ifnames: Vec<String> = n
        .calls()
        .iter()
        .map(|c| c.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(ifnames, ["eth0", "net1"]);
    let text = n.api.lock().pods[0]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
        .as_str()
        .unwrap()
        .to_owned();
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status[0]["name"].as_str(), status[0]["default"].as_bool()),
        (Some("kindnet"), Some(true))
    );
    n.call("DEL", NETNS, "dpdk-a");
    let last = n.calls().last().cloned().unwrap();
    assert!(
        last.starts_with("DEL eth0 "),
        "the cluster network goes last: {last}"
    );
}
