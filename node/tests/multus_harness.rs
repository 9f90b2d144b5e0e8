//! multus-harness as containerd calls it, against the fake API server, with a recording
//! delegate plugin: each test states one observed behaviour of Multus v4.2 (issue #27's
//! points 1–11) by what a delegate got (its CNI_ARGS, environment and stdin), what the API
//! server was asked, the network-status text and the events.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fake_api::FakeApi;
use serde_json::{Value, json};

/// The runtime's CNI_CONTAINERID and, different as CRI-O's can be, its
/// K8S_POD_INFRA_CONTAINER_ID.
const CONTAINER: &str = "8c0f3c7e2d9b4a1f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const INFRA: &str = "infra-0123";
const UID: &str = "5c0ffee0-0000-4000-8000-000000000001";
const NETNS: &str = "/run/containerd/state/io.containerd.grpc.v1.cri/netns/cni-1";
/// containerd's CNI_ARGS, in its order.
const RUNTIME_ARGS: &str = "K8S_POD_UID=5c0ffee0-0000-4000-8000-000000000001;IgnoreUnknown=1;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID=infra-0123;K8S_POD_NAMESPACE=default";

/// Records each call: `<verb> <ifname> <netns or -> <CNI_ARGS>` in `calls`, its stdin in
/// `stdin`, its environment in `env.<n>`. ADD answers one interface in the pod, an address and
/// a default route (without `gw` when the config says `"nogw":true`); a config with
/// `"fail":true` fails its ADD.
const RECORDER: &str = r#"#!/bin/sh
d=$(dirname "$0")
conf=$(cat)
echo "$CNI_COMMAND $CNI_IFNAME ${CNI_NETNS:--} $CNI_ARGS" >>"$d/calls"
n=$(wc -l <"$d/calls")
printf '%s\n' "$conf" >>"$d/stdin"
env >"$d/env.$n"
if [ "$CNI_COMMAND" = ADD ]; then
  case $conf in *'"fail":true'*) echo '{"cniVersion":"1.0.0","code":7,"msg":"refused by the recorder"}'; exit 1;; esac
  a=$(grep -c '^ADD' "$d/calls")
  case $conf in *'"nogw":true'*) route='{"dst":"0.0.0.0/0"}';; *) route="{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.$a.1\"}";; esac
  printf '%s\n' "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"$CNI_IFNAME\",\"mac\":\"02:00:00:00:00:0$a\",\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"10.1.$a.2/24\",\"gateway\":\"10.1.$a.1\",\"interface\":0}],\"routes\":[$route]}"
fi
"#;

struct Node {
    dir: tempfile::TempDir,
    api: FakeApi,
    /// Extra keys of multus-harness' own config.
    conf: Value,
}

/// A NAD object whose config runs the recorder with `extra` keys.
fn nad(name: &str, resource: Option<&str>, config: &str) -> Value {
    let mut obj = json!({"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": "default"}, "spec": {"config": config}});
    if let Some(r) = resource {
        obj["metadata"]["annotations"] = json!({"k8s.v1.cni.cncf.io/resourceName": r});
    }
    obj
}

fn recorder_config(name: &str, extra: &str) -> String {
    format!(r#"{{"cniVersion":"1.0.0","type":"recorder","name":"{name}"{extra}}}"#)
}

impl Node {
    /// A pod `default/fwd` selecting `networks`; NADs dpdk-a and dpdk-b (dpdk-b's default
    /// route has no gateway); the cluster network `kindnet`.
    fn new(networks: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["bin", "runtime-bin"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let rec = dir.path().join("bin/recorder");
        std::fs::write(&rec, RECORDER).unwrap();
        std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.path().join("cluster.json"),
            recorder_config("kindnet", ""),
        )
        .unwrap();
        let api = FakeApi::start("127.0.0.1:0").unwrap();
        api.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        api.add(
            "pods",
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "fwd", "namespace": "default", "uid": UID,
                             "annotations": {"k8s.v1.cni.cncf.io/networks": networks}}}),
        );
        api.add("nads", nad("dpdk-a", None, &recorder_config("dpdk-a", "")));
        api.add(
            "nads",
            nad(
                "dpdk-b",
                None,
                &recorder_config("dpdk-b", r#","nogw":true"#),
            ),
        );
        Self {
            dir,
            api,
            conf: json!({}),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Replaces NAD `name`.
    fn set_nad(&self, obj: Value) {
        let mut s = self.api.lock();
        s.nads
            .retain(|n| n["metadata"]["name"] != obj["metadata"]["name"]);
        drop(s);
        self.api.add("nads", obj);
    }

    /// Runs multus-harness as containerd does, with one variable of the node's own.
    fn call(&self, verb: &str, netns: &str) -> (Value, i32) {
        let mut conf = json!({"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-harness",
            "kubeconfig": self.path("kubeconfig"), "binDir": self.path("bin"), "cniDir": self.path("cache"),
            "deviceInfoDir": self.path("devinfo"), "clusterNetwork": self.path("cluster.json")});
        for (k, v) in self.conf.as_object().unwrap() {
            conf[k] = v.clone();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_multus-harness"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("NODE_VARIABLE", "kept")
            .env("CNI_COMMAND", verb)
            .env("CNI_CONTAINERID", CONTAINER)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", self.path("runtime-bin"))
            .env("CNI_ARGS", RUNTIME_ARGS)
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

    fn add(&self) -> Value {
        let (v, code) = self.call("ADD", NETNS);
        assert_eq!(code, 0, "{v}");
        v
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("bin/calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `<verb> <ifname>` of each call.
    fn verbs(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// The stdin of each call, as text.
    fn stdin(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("bin/stdin"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The environment of call `n` (1-based).
    fn env(&self, n: usize) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(self.path(&format!("bin/env.{n}")))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }

    fn network_status(&self) -> Option<String> {
        self.api
            .annotation("fwd", "k8s.v1.cni.cncf.io/network-status")
    }

    /// `(type, reason, message)` of each event.
    fn events(&self) -> Vec<(String, String, String)> {
        self.api
            .lock()
            .events
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                (s("type"), s("reason"), s("message"))
            })
            .collect()
    }
}

/// The CNI_ARGS every delegate gets: Multus' five keys, then the runtime's verbatim.
fn delegate_args() -> String {
    format!(
        "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID={INFRA};K8S_POD_UID={UID};{RUNTIME_ARGS}"
    )
}

// 1. The networks annotation and the NADs come from the API server.
#[test]
fn the_networks_annotation_and_the_nads_are_read_from_the_api_server() {
    let n = Node::new("dpdk-b,dpdk-a@fast0");
    n.add();
    let gets: Vec<String> = n
        .api
        .lock()
        .requests
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.route().to_owned())
        .collect();
    assert_eq!(
        gets[..3],
        [
            "/api/v1/namespaces/default/pods/fwd",
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/dpdk-b",
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/dpdk-a",
        ]
    );
    assert_eq!(n.verbs(), ["ADD eth0", "ADD net1", "ADD fast0"]);
}

// 2. network-status is written by GET then PUT …/status with the version read, again on 409;
// never a PATCH.
#[test]
fn network_status_is_put_to_the_status_subresource_with_the_version_read_and_retried_on_conflict() {
    let n = Node::new("dpdk-a");
    n.api.lock().writes_after_get = 2; // the pod changes after Multus' first GET and the next
    n.add();
    let s = n.api.lock();
    let writes: Vec<(String, String)> = s
        .requests
        .iter()
        .filter(|r| r.method != "GET" && !r.route().ends_with("/events"))
        .map(|r| (r.method.clone(), r.route().to_owned()))
        .collect();
    let put = (
        "PUT".to_owned(),
        "/api/v1/namespaces/default/pods/fwd/status".to_owned(),
    );
    assert_eq!(writes, [put.clone(), put.clone()]);
    assert_eq!(s.conflicts, 1, "the first PUT carried a version gone stale");
    let last = s.requests_to("PUT", &put.1).pop().unwrap();
    let body: Value = serde_json::from_str(&last.body).unwrap();
    let before = s.requests.iter().rposition(|r| r.method == "GET").unwrap();
    assert!(before < s.requests.iter().rposition(|r| r.method == "PUT").unwrap());
    assert!(body["metadata"]["resourceVersion"].is_string());
    assert!(
        s.pod("default", "fwd").unwrap()["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
            .is_string()
    );
}

// 3 and 4. Each element indented on its own, `<>&` escaped, the gateway from the default
// routes (`<nil>` for one without gw), the cluster network first and `default`.
#[test]
fn network_status_of_a_two_network_pod_is_byte_for_byte_what_multus_writes() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.add();
    let expected = r#"[{
    "name": "kindnet",
    "interface": "eth0",
    "ips": [
        "10.1.1.2"
    ],
    "mac": "02:00:00:00:00:01",
    "default": true,
    "dns": {},
    "gateway": [
        "10.1.1.1"
    ]
},{
    "name": "default/dpdk-a",
    "interface": "net1",
    "ips": [
        "10.1.2.2"
    ],
    "mac": "02:00:00:00:00:02",
    "dns": {},
    "gateway": [
        "10.1.2.1"
    ]
},{
    "name": "default/dpdk-b",
    "interface": "net2",
    "ips": [
        "10.1.3.2"
    ],
    "mac": "02:00:00:00:00:03",
    "dns": {},
    "gateway": [
        "\u003cnil\u003e"
    ]
}]"#;
    assert_eq!(n.network_status().unwrap(), expected);
}

// 5. CNI_ARGS: the five keys, the runtime's verbatim (keys repeat), then MAC= even when the
// NAD does not declare `mac` (with it, also runtimeConfig.mac).
#[test]
fn cni_args_are_the_five_keys_then_the_runtimes_verbatim_then_the_requested_mac() {
    let n = Node::new(
        r#"[{"name":"dpdk-a","mac":"02:11:22:33:44:55"},{"name":"dpdk-b","mac":"02:11:22:33:44:66"}]"#,
    );
    n.set_nad(nad(
        "dpdk-b",
        None,
        &recorder_config("dpdk-b", r#","capabilities":{"mac":true}"#),
    ));
    n.add();
    assert_eq!(
        n.calls(),
        [
            format!("ADD eth0 {NETNS} {}", delegate_args()),
            format!("ADD net1 {NETNS} {};MAC=02:11:22:33:44:55", delegate_args()),
            format!("ADD net2 {NETNS} {};MAC=02:11:22:33:44:66", delegate_args()),
        ]
    );
    let stdin: Vec<Value> = n
        .stdin()
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(
        stdin[1].get("runtimeConfig"),
        None,
        "dpdk-a does not declare mac"
    );
    assert_eq!(
        stdin[2]["runtimeConfig"],
        json!({"mac": "02:11:22:33:44:66"})
    );
}

// 6. K8S_POD_INFRA_CONTAINER_ID is the runtime's, not CNI_CONTAINERID.
#[test]
fn the_infra_container_id_is_the_runtimes_and_the_container_id_is_passed_as_is() {
    let n = Node::new("dpdk-a");
    n.add();
    let env = n.env(2);
    assert!(
        env.contains(&format!("CNI_CONTAINERID={CONTAINER}")),
        "{env:?}"
    );
    assert!(n.calls()[1].contains(&format!(";K8S_POD_INFRA_CONTAINER_ID={INFRA};")));
    assert!(!n.calls()[1].contains(&format!("K8S_POD_INFRA_CONTAINER_ID={CONTAINER}")));
}

// 7. The delegate gets Multus' whole environment; CNI_PATH is binDir, then the runtime's.
#[test]
fn a_delegate_gets_the_whole_environment_and_cni_path_starts_with_bin_dir() {
    let n = Node::new("dpdk-a");
    n.add();
    let env = n.env(2);
    for want in [
        "NODE_VARIABLE=kept".to_owned(),
        "PATH=/usr/bin:/bin".to_owned(),
        "CNI_COMMAND=ADD".to_owned(),
        "CNI_IFNAME=net1".to_owned(),
        format!("CNI_NETNS={NETNS}"),
        format!(
            "CNI_PATH={}:{}",
            n.path("bin").display(),
            n.path("runtime-bin").display()
        ),
    ] {
        assert!(env.contains(&want), "{want} not in {env:?}");
    }
    assert_eq!(env.iter().filter(|v| v.starts_with("CNI_PATH=")).count(), 1);
}

// 8. stdin is the NAD's config with its keys sorted (at every level).
#[test]
fn stdin_is_the_nad_config_with_its_keys_sorted() {
    let n = Node::new("dpdk-a");
    n.set_nad(nad(
        "dpdk-a",
        None,
        r#"{"type":"recorder","name":"dpdk-a","cniVersion":"1.0.0","zeta":{"y":1,"b":[{"d":1,"c":2}]},"alpha":"x"}"#,
    ));
    n.add();
    assert_eq!(
        n.stdin()[1],
        r#"{"alpha":"x","cniVersion":"1.0.0","name":"dpdk-a","type":"recorder","zeta":{"b":[{"c":2,"d":1}],"y":1}}"#
    );
}

// 9. DEL carries the cached ADD result as prevResult for cniVersion 0.4.0 and later.
#[test]
fn del_carries_the_add_result_as_prev_result_from_cni_version_0_4_0() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.set_nad(nad(
        "dpdk-b",
        None,
        r#"{"cniVersion":"0.3.1","type":"recorder","name":"dpdk-b"}"#,
    ));
    n.add();
    assert_eq!(n.call("DEL", NETNS).1, 0);
    assert_eq!(
        n.verbs()[3..],
        ["DEL net2", "DEL net1", "DEL eth0"],
        "reverse order"
    );
    let stdin: Vec<Value> = n
        .stdin()
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(
        stdin[4]["prevResult"]["ips"][0]["address"], "10.1.2.2/24",
        "dpdk-a, 1.0.0"
    );
    assert_eq!(stdin[3].get("prevResult"), None, "dpdk-b, 0.3.1");
    assert!(!n.calls()[4].contains("MAC="), "MAC= is for ADD");
}

// 10. runtimeConfig.CNIDeviceInfoFile only with a device ID (from kubelet's pod-resources,
// here the podResources stand-in), named `<ns>-<nad>-<containerID>_<ifname>`.
#[test]
fn the_device_info_file_is_passed_only_when_a_device_id_is_known() {
    let mut n = Node::new("dpdk-a,dpdk-b");
    let caps = r#","capabilities":{"CNIDeviceInfoFile":true,"deviceID":true}"#;
    n.set_nad(nad(
        "dpdk-a",
        Some("example.com/a"),
        &recorder_config("dpdk-a", caps),
    ));
    n.set_nad(nad(
        "dpdk-b",
        Some("example.com/b"),
        &recorder_config("dpdk-b", caps),
    ));
    n.conf = json!({"podResources": {"example.com/a": ["0000:81:00.2"]}});
    n.add();
    let stdin: Vec<Value> = n
        .stdin()
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let file = n.path(&format!("devinfo/default-dpdk-a-{CONTAINER}_net1"));
    assert_eq!(
        stdin[1]["runtimeConfig"],
        json!({"CNIDeviceInfoFile": file.display().to_string(), "deviceID": "0000:81:00.2"})
    );
    assert_eq!(
        stdin[2].get("runtimeConfig"),
        None,
        "no device for example.com/b"
    );
}

#[test]
fn a_nad_with_a_resource_fails_the_add_when_kubelets_pod_resources_cannot_be_asked() {
    let n = Node::new("dpdk-a");
    n.set_nad(nad(
        "dpdk-a",
        Some("example.com/a"),
        &recorder_config("dpdk-a", ""),
    ));
    let (err, code) = n.call("ADD", NETNS);
    assert_eq!(code, 1);
    assert!(
        err["details"].as_str().unwrap().contains("pod-resources"),
        "{err}"
    );
    assert!(n.calls().is_empty());
}

// 11. A network-status that cannot be written fails the ADD without DELs; a failed delegate
// is undone in reverse, itself included.
#[test]
fn a_network_status_that_cannot_be_written_fails_the_add_without_any_del() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.api.lock().refuse("PUT", "pods/status", 403);
    let (err, code) = n.call("ADD", NETNS);
    assert_eq!(code, 1);
    let details = err["details"].as_str().unwrap();
    assert!(
        details.contains("error setting the networks status")
            && details.contains("cannot update resource \"pods/status\""),
        "{details}"
    );
    assert_eq!(n.verbs(), ["ADD eth0", "ADD net1", "ADD net2"]);
}

#[test]
fn a_failed_delegate_is_undone_in_reverse_from_itself_and_its_error_reported() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.set_nad(nad(
        "dpdk-b",
        None,
        &recorder_config("dpdk-b", r#","fail":true"#),
    ));
    let (err, code) = n.call("ADD", NETNS);
    assert_eq!(code, 1);
    assert!(
        err["details"].as_str().unwrap().contains(&format!(
            "[default/fwd/{UID}:dpdk-b]: error adding container to network \"dpdk-b\": refused by the recorder"
        )),
        "{err}"
    );
    assert_eq!(
        n.verbs(),
        [
            "ADD eth0", "ADD net1", "ADD net2", "DEL net2", "DEL net1", "DEL eth0"
        ]
    );
    assert!(n.network_status().is_none());
}

// Events: AddedInterface for each delegate, NoNetworkFound for a missing NAD.
#[test]
fn each_added_interface_is_an_event() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.add();
    let normal = |m: &str| {
        (
            "Normal".to_owned(),
            "AddedInterface".to_owned(),
            m.to_owned(),
        )
    };
    assert_eq!(
        n.events(),
        [
            normal("Add eth0 [10.1.1.2/24] from kindnet"),
            normal("Add net1 [10.1.2.2/24] from default/dpdk-a"),
            normal("Add net2 [10.1.3.2/24] from default/dpdk-b"),
        ]
    );
    let e = &n.api.lock().events[0];
    assert_eq!(
        (
            e["involvedObject"]["kind"].as_str(),
            e["involvedObject"]["uid"].as_str(),
            e["source"]["component"].as_str()
        ),
        (Some("Pod"), Some(UID), Some("multus"))
    );
}

#[test]
fn a_missing_nad_is_a_no_network_found_event_and_fails_before_any_delegate_runs() {
    let n = Node::new("dpdk-a,nope");
    let (err, code) = n.call("ADD", NETNS);
    assert_eq!(code, 1);
    let msg = "cannot find a network-attachment-definition (nope) in namespace (default): network-attachment-definitions.k8s.cni.cncf.io \"nope\" not found";
    assert!(err["details"].as_str().unwrap().contains(msg), "{err}");
    assert_eq!(
        n.events(),
        [(
            "Warning".to_owned(),
            "NoNetworkFound".to_owned(),
            msg.to_owned()
        )]
    );
    assert!(n.calls().is_empty());
}

// Same in both: DEL in reverse; a second DEL (RemovePodSandbox, no netns) works from the pod.
#[test]
fn del_goes_in_reverse_and_a_second_del_without_netns_succeeds() {
    let n = Node::new("dpdk-a,dpdk-b");
    n.add();
    assert_eq!(n.call("DEL", NETNS).1, 0);
    assert_eq!(n.call("DEL", "").1, 0);
    assert_eq!(
        n.calls()[3..],
        [
            format!("DEL net2 {NETNS} {}", delegate_args()),
            format!("DEL net1 {NETNS} {}", delegate_args()),
            format!("DEL eth0 {NETNS} {}", delegate_args()),
            format!("DEL net2 - {}", delegate_args()),
            format!("DEL net1 - {}", delegate_args()),
            format!("DEL eth0 - {}", delegate_args()),
        ]
    );
    let left: Vec<_> = walk(&n.path("cache"));
    assert!(left.is_empty(), "{left:?}");
}

/// The files under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_cluster_networks_result_is_returned() {
    let n = Node::new("dpdk-a");
    let result = n.add();
    assert_eq!(result["interfaces"][0]["name"], "eth0");
    assert_eq!(result["ips"][0]["address"], "10.1.1.2/24");
}
