//! The Kubernetes manifests under `examples/` are checked here, so they cannot drift from the
//! plugin and the agent: every YAML document is read, NetConfs go through the plugin's own
//! loader, pods are checked against the contract of the README (networks that exist, the
//! downward API at /etc/podinfo, the shared directory), and the RBAC against the API calls of
//! host-plugin/src/k8s.rs.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use userspace_cni_sdk::wire::{Engine, IfType, NetType, VhostMode};

/// Where the downward-API volume must be mounted: the agent's `--podinfo` default.
const PODINFO: &str = "/etc/podinfo";
/// The plugin's pod volume (host-plugin/src/k8s.rs `SHARED_VOLUME`).
const SHARED_VOLUME: &str = "shared-dir";
/// Where pods mount it (the agent's default shared directory).
const SHARED_MOUNT: &str = "/var/lib/cni/usrspcni";
/// The kubeconfig that plugin-installer.yaml writes on each node (tests/installer.rs runs it).
const KUBECONFIG: &str = "/etc/cni/net.d/userspace.d/userspace.kubeconfig";
/// The Multus annotation listing a pod's extra networks.
const NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";

/// One YAML document and the file it came from.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }

    fn at(&self) -> String {
        format!("{} {}/{}", self.file, self.kind(), self.name())
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            yaml_files_under(&path, found);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            found.push(path);
        }
    }
}

fn yaml_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    yaml_files_under(&examples_dir(), &mut found);
    found.sort();
    found
}

/// Every document of one file; empty documents (a trailing `---`) are left out.
fn parse_file(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("{}: not valid YAML: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn documents() -> Vec<Doc> {
    let base = examples_dir();
    yaml_files()
        .iter()
        .flat_map(|path| {
            let file = path.strip_prefix(&base).unwrap().display().to_string();
            parse_file(path).into_iter().map(move |value| Doc {
                file: file.clone(),
                value,
            })
        })
        .collect()
}

fn of_kind(kind: &str) -> Vec<Doc> {
    documents()
        .into_iter()
        .filter(|d| d.kind() == kind)
        .collect()
}

/// A pod as written: a Pod, or the template of a workload (DaemonSet, Deployment, …).
struct PodSpec {
    at: String,
    metadata: Value,
    spec: Value,
}

fn pod_specs() -> Vec<PodSpec> {
    documents()
        .into_iter()
        .filter_map(|d| {
            let at = d.at();
            if d.kind() == "Pod" {
                Some(PodSpec {
                    at,
                    metadata: d.value["metadata"].clone(),
                    spec: d.value["spec"].clone(),
                })
            } else {
                let template = d.value["spec"].get("template")?;
                Some(PodSpec {
                    at,
                    metadata: template["metadata"].clone(),
                    spec: template["spec"].clone(),
                })
            }
        })
        .collect()
}

impl PodSpec {
    /// Init containers, then containers.
    fn containers(&self) -> Vec<&Value> {
        ["initContainers", "containers"]
            .iter()
            .filter_map(|k| self.spec[k].as_array())
            .flatten()
            .collect()
    }

    fn volume(&self, name: &str) -> Option<&Value> {
        self.spec["volumes"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == name)
    }

    /// The names of the networks in the Multus annotation.
    fn networks(&self) -> Vec<String> {
        self.metadata["annotations"][NETWORKS]
            .as_str()
            .map(network_names)
            .unwrap_or_default()
    }

    fn requests_hugepages(&self) -> bool {
        self.containers().iter().any(|c| {
            ["requests", "limits"].iter().any(|k| {
                c["resources"][k]
                    .as_object()
                    .is_some_and(|m| m.keys().any(|r| r.starts_with("hugepages-")))
            })
        })
    }
}

/// Multus accepts `name`, `namespace/name`, `name@ifname`, comma-separated, or a JSON list of
/// objects with a `name`.
fn network_names(annotation: &str) -> Vec<String> {
    let text = annotation.trim();
    if text.starts_with('[') {
        let list: Vec<Value> = serde_json::from_str(text).unwrap();
        return list
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_owned())
            .collect();
    }
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.rsplit_once('/').map_or(s, |(_, n)| n);
            s.split_once('@').map_or(s, |(n, _)| n).to_owned()
        })
        .collect()
}

fn container_name(c: &Value) -> &str {
    c["name"].as_str().unwrap_or_default()
}

/// Whether the container runs `userspace-agent` (directly or from a shell line).
fn runs_agent(c: &Value) -> bool {
    ["command", "args"]
        .iter()
        .filter_map(|k| c[k].as_array())
        .flatten()
        .any(|w| w.as_str().is_some_and(|w| w.contains("userspace-agent")))
}

fn mount<'a>(c: &'a Value, volume: &str) -> Option<&'a Value> {
    c["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == volume)
}

fn mounts_at<'a>(c: &'a Value, path: &str) -> Option<&'a Value> {
    c["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(path))
}

fn nad_config(d: &Doc) -> String {
    d.value["spec"]["config"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: spec.config is not a string", d.at()))
        .to_owned()
}

fn load(d: &Doc) -> userspace_plugin::config::Config {
    userspace_plugin::config::load(nad_config(d).as_bytes(), None)
        .unwrap_or_else(|e| panic!("{}: the plugin rejects spec.config: {e:?}", d.at()))
}

#[test]
fn every_yaml_file_holds_at_least_one_document() {
    let files = yaml_files();
    assert!(
        files.len() >= 7,
        "expected the NADs, pods and DaemonSet, found {files:?}"
    );
    for f in files {
        assert!(!parse_file(&f).is_empty(), "{}: no document", f.display());
    }
}

#[test]
fn every_document_has_api_version_kind_and_metadata_name() {
    for d in documents() {
        for (field, value) in [
            ("apiVersion", &d.value["apiVersion"]),
            ("kind", &d.value["kind"]),
            ("metadata.name", &d.value["metadata"]["name"]),
        ] {
            assert!(
                value.as_str().is_some_and(|s| !s.is_empty()),
                "{}: a document has no {field}: {}",
                d.file,
                d.value
            );
        }
    }
}

#[test]
fn document_names_are_unique_per_kind_and_namespace() {
    let mut seen = BTreeSet::new();
    for d in documents() {
        let key = (
            d.kind().to_owned(),
            d.namespace().to_owned(),
            d.name().to_owned(),
        );
        assert!(seen.insert(key), "{}: defined twice", d.at());
    }
}

#[test]
fn every_network_attachment_definition_is_a_k8s_cni_cncf_io_v1_object() {
    for d in of_kind("NetworkAttachmentDefinition") {
        assert_eq!(d.value["apiVersion"], "k8s.cni.cncf.io/v1", "{}", d.at());
    }
}

#[test]
fn every_network_attachment_definition_config_is_accepted_by_the_plugin() {
    let nads = of_kind("NetworkAttachmentDefinition");
    assert!(!nads.is_empty());
    for d in nads {
        let config = load(&d);
        assert_eq!(config.net.plugin_type, "userspace", "{}", d.at());
    }
}

#[test]
fn every_network_attachment_definition_config_is_named_like_the_definition() {
    for d in of_kind("NetworkAttachmentDefinition") {
        assert_eq!(load(&d).net.name, d.name(), "{}", d.at());
    }
}

#[test]
fn every_network_attachment_definition_uses_the_kubeconfig_the_installer_writes() {
    for d in of_kind("NetworkAttachmentDefinition") {
        assert_eq!(
            load(&d).net.kubeconfig.as_deref(),
            Some(KUBECONFIG),
            "{}",
            d.at()
        );
    }
}

#[test]
fn the_definitions_cover_ovs_vhostuser_client_and_server_and_vpp_memif_bridge_and_interface() {
    let found: BTreeSet<String> = of_kind("NetworkAttachmentDefinition")
        .iter()
        .map(|d| {
            let c = load(d);
            match (c.engine, c.iftype, c.host.net_type) {
                (Engine::OvsDpdk, IfType::Vhostuser, _) => match c.host_vhost_mode() {
                    VhostMode::Client => "ovs-dpdk vhostuser, host client".to_owned(),
                    VhostMode::Server => "ovs-dpdk vhostuser, host server".to_owned(),
                },
                (Engine::Vpp, IfType::Memif, Some(NetType::Bridge)) => {
                    let bd = c.host.bridge.as_ref().and_then(|b| b.bridge_name.clone());
                    let bd = bd.unwrap_or_default();
                    assert!(
                        bd.parse::<u32>().is_ok(),
                        "{}: a VPP bridge-domain id is a number, not {bd:?}",
                        d.at()
                    );
                    "vpp memif bridge".to_owned()
                }
                (Engine::Vpp, IfType::Memif, Some(NetType::Interface)) => {
                    "vpp memif interface".to_owned()
                }
                (e, i, n) => format!("{e} {i} {n:?}"),
            }
        })
        .collect();
    for case in [
        "ovs-dpdk vhostuser, host client",
        "ovs-dpdk vhostuser, host server",
        "vpp memif bridge",
        "vpp memif interface",
    ] {
        assert!(
            found.contains(case),
            "no example for {case}; found {found:?}"
        );
    }
}

#[test]
fn pods_reference_only_network_attachment_definitions_that_exist_in_examples() {
    let nads: BTreeSet<String> = of_kind("NetworkAttachmentDefinition")
        .iter()
        .map(|d| d.name().to_owned())
        .collect();
    let mut referenced = 0;
    for p in pod_specs() {
        for n in p.networks() {
            assert!(
                nads.contains(&n),
                "{}: network {n:?} is not defined in examples/k8s ({nads:?})",
                p.at
            );
            referenced += 1;
        }
    }
    assert!(referenced > 0, "no pod uses a userspace network");
}

#[test]
fn every_container_running_the_agent_mounts_the_pod_annotations_at_etc_podinfo() {
    let mut agents = 0;
    for p in pod_specs() {
        for c in p.containers().into_iter().filter(|c| runs_agent(c)) {
            agents += 1;
            let at = format!("{} container {}", p.at, container_name(c));
            let m = mounts_at(c, PODINFO)
                .unwrap_or_else(|| panic!("{at}: nothing is mounted at {PODINFO}"));
            let name = m["name"].as_str().unwrap();
            let items = p
                .volume(name)
                .and_then(|v| v["downwardAPI"]["items"].as_array())
                .unwrap_or_else(|| panic!("{at}: volume {name} is not a downwardAPI volume"));
            assert!(
                items.iter().any(|i| i["path"] == "annotations"
                    && i["fieldRef"]["fieldPath"] == "metadata.annotations"),
                "{at}: volume {name} has no `annotations` file of metadata.annotations"
            );
        }
    }
    assert!(
        agents >= 2,
        "expected the testpmd and VPP pods to run the agent"
    );
}

#[test]
fn every_downward_api_volume_of_a_pod_with_userspace_networks_exposes_annotations_and_labels() {
    for p in pod_specs().into_iter().filter(|p| !p.networks().is_empty()) {
        let volumes = p.spec["volumes"].as_array().unwrap();
        let downward: Vec<&Value> = volumes
            .iter()
            .filter(|v| v.get("downwardAPI").is_some())
            .collect();
        assert!(!downward.is_empty(), "{}: no downwardAPI volume", p.at);
        for v in downward {
            let fields: BTreeSet<&str> = v["downwardAPI"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["fieldRef"]["fieldPath"].as_str())
                .collect();
            for f in ["metadata.annotations", "metadata.labels"] {
                assert!(fields.contains(f), "{}: {} lacks {f}", p.at, v["name"]);
            }
        }
    }
}

#[test]
fn pods_with_userspace_networks_have_the_shared_dir_volume_mounted_by_every_agent_container() {
    for p in pod_specs().into_iter().filter(|p| !p.networks().is_empty()) {
        let v = p
            .volume(SHARED_VOLUME)
            .unwrap_or_else(|| panic!("{}: no `{SHARED_VOLUME}` volume", p.at));
        if let Some(host) = v["hostPath"]["path"].as_str() {
            // The plugin's default allowedSharedDirRoots.
            assert!(
                [
                    "/var/lib/cni/usrspcni/",
                    "/var/run/vpp/",
                    "/var/run/openvswitch/"
                ]
                .iter()
                .any(|root| host.starts_with(root)),
                "{}: hostPath {host} is outside the plugin's allowed roots",
                p.at
            );
        } else {
            assert!(
                v.get("emptyDir").is_some(),
                "{}: `{SHARED_VOLUME}` is neither hostPath nor emptyDir",
                p.at
            );
        }
        for c in p.containers().into_iter().filter(|c| runs_agent(c)) {
            assert!(
                mount(c, SHARED_VOLUME).is_some(),
                "{} container {}: runs the agent without `{SHARED_VOLUME}`",
                p.at,
                container_name(c)
            );
        }
    }
}

#[test]
fn every_container_mounts_the_shared_dir_at_the_same_path() {
    // The plugin publishes the first container's mountPath as userspace/mapped-dir; a
    // container with another path would be told socket paths that do not exist for it.
    for p in pod_specs() {
        let paths: BTreeSet<&str> = p
            .containers()
            .iter()
            .filter_map(|c| mount(c, SHARED_VOLUME)?["mountPath"].as_str())
            .map(|s| s.trim_end_matches('/'))
            .collect();
        assert!(
            paths.is_empty() || paths == BTreeSet::from([SHARED_MOUNT]),
            "{}: `{SHARED_VOLUME}` mounted at {paths:?}, expected {SHARED_MOUNT}",
            p.at
        );
    }
}

#[test]
fn every_pod_is_guaranteed_qos() {
    for d in of_kind("Pod") {
        let p = PodSpec {
            at: d.at(),
            metadata: d.value["metadata"].clone(),
            spec: d.value["spec"].clone(),
        };
        for c in p.containers() {
            let r = &c["resources"];
            for res in ["cpu", "memory"] {
                assert!(
                    r["requests"][res].is_string() && r["requests"][res] == r["limits"][res],
                    "{} container {}: {res} requests and limits must be set and equal",
                    p.at,
                    container_name(c)
                );
            }
        }
    }
}

#[test]
fn pods_requesting_hugepages_request_their_limit_and_mount_a_hugepages_empty_dir() {
    let mut with_hugepages = 0;
    for p in pod_specs().into_iter().filter(PodSpec::requests_hugepages) {
        with_hugepages += 1;
        for c in p.containers() {
            let r = &c["resources"];
            for (k, v) in r["limits"].as_object().into_iter().flatten() {
                if k.starts_with("hugepages-") {
                    assert_eq!(&r["requests"][k], v, "{}: {k} requests != limits", p.at);
                }
            }
        }
        let huge = p.spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["emptyDir"]["medium"] == "HugePages")
            .unwrap_or_else(|| panic!("{}: no `medium: HugePages` emptyDir", p.at));
        assert!(
            p.containers()
                .iter()
                .any(|c| mount(c, huge["name"].as_str().unwrap()).is_some()),
            "{}: the hugepages volume is not mounted",
            p.at
        );
    }
    assert!(with_hugepages > 0, "the testpmd pod should use hugepages");
}

#[test]
fn no_container_is_privileged() {
    for p in pod_specs() {
        for c in p.containers() {
            assert_ne!(
                c["securityContext"]["privileged"],
                true,
                "{} container {}",
                p.at,
                container_name(c)
            );
        }
    }
}

#[test]
fn every_dpdk_or_vpp_data_plane_container_adds_ipc_lock() {
    // The data plane: a container given hugepages, or the one running VPP itself.
    let mut checked = 0;
    for p in pod_specs() {
        for c in p.containers() {
            let has_hugepages = c["resources"]["limits"]
                .as_object()
                .is_some_and(|m| m.keys().any(|k| k.starts_with("hugepages-")));
            let runs_vpp = ["command", "args"]
                .iter()
                .filter_map(|k| c[k].as_array())
                .flatten()
                .any(|w| {
                    w.as_str()
                        .is_some_and(|w| w == "vpp" || w.contains("exec vpp "))
                });
            if !(has_hugepages || runs_vpp) {
                continue;
            }
            checked += 1;
            let added = c["securityContext"]["capabilities"]["add"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                added.iter().any(|a| a == "IPC_LOCK"),
                "{} container {}: needs IPC_LOCK",
                p.at,
                container_name(c)
            );
        }
    }
    assert!(checked >= 2, "expected the testpmd and VPP containers");
}

/// The installer DaemonSet (plugin-installer.yaml).
fn installer() -> Doc {
    let mut ds: Vec<Doc> = of_kind("DaemonSet")
        .into_iter()
        .filter(|d| {
            d.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["image"].as_str().unwrap().contains("plugin-installer"))
        })
        .collect();
    assert_eq!(ds.len(), 1, "one plugin-installer DaemonSet expected");
    ds.remove(0)
}

/// What the ClusterRoles bound to a service account allow, as (apiGroup, resource, verb).
fn granted_to(namespace: &str, service_account: &str) -> BTreeSet<(String, String, String)> {
    let roles: BTreeMap<String, Value> = of_kind("ClusterRole")
        .into_iter()
        .map(|d| (d.name().to_owned(), d.value))
        .collect();
    let mut granted = BTreeSet::new();
    for b in of_kind("ClusterRoleBinding") {
        let binds_it = b.value["subjects"].as_array().unwrap().iter().any(|s| {
            s["kind"] == "ServiceAccount"
                && s["name"] == service_account
                && s["namespace"] == namespace
        });
        if !binds_it {
            continue;
        }
        assert_eq!(b.value["roleRef"]["kind"], "ClusterRole", "{}", b.at());
        let role_name = b.value["roleRef"]["name"].as_str().unwrap();
        let role = roles
            .get(role_name)
            .unwrap_or_else(|| panic!("{}: ClusterRole {role_name} is not defined", b.at()));
        for rule in role["rules"].as_array().unwrap() {
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect()
            };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for v in list("verbs") {
                        granted.insert((g.clone(), r.clone(), v));
                    }
                }
            }
        }
    }
    granted
}

#[test]
fn the_installer_runs_in_kube_system_under_a_service_account_defined_there() {
    let ds = installer();
    assert_eq!(ds.namespace(), "kube-system");
    let sa = ds.value["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .unwrap();
    assert!(
        of_kind("ServiceAccount")
            .iter()
            .any(|d| d.name() == sa && d.namespace() == "kube-system"),
        "ServiceAccount kube-system/{sa} is not defined"
    );
}

#[test]
fn the_installers_service_account_is_granted_exactly_the_api_calls_the_plugin_makes() {
    // host-plugin/src/k8s.rs: `get_pod` and `update_configuration_data` GET the pod, and
    // `update_configuration_data` PATCHes the pod's annotations (a JSON merge patch on
    // `pods`, not `pods/status`). Nothing is listed, watched, updated or created.
    let expected: BTreeSet<(String, String, String)> = [("", "pods", "get"), ("", "pods", "patch")]
        .iter()
        .map(|(g, r, v)| ((*g).to_owned(), (*r).to_owned(), (*v).to_owned()))
        .collect();
    let ds = installer();
    let sa = ds.value["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .unwrap();
    assert_eq!(granted_to(ds.namespace(), sa), expected);
}

#[test]
fn the_installer_mounts_the_hosts_cni_bin_directory() {
    let ds = installer();
    let spec = &ds.value["spec"]["template"]["spec"];
    let volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["hostPath"]["path"] == "/opt/cni/bin")
        .expect("a hostPath volume of /opt/cni/bin");
    let name = volume["name"].as_str().unwrap();
    assert!(
        spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| mount(c, name).is_some()),
        "the /opt/cni/bin volume is not mounted"
    );
}

#[test]
fn multus_network_annotations_are_read_in_both_forms() {
    assert_eq!(
        network_names("a, other/b@net2 ,c"),
        ["a", "b", "c"].map(String::from)
    );
    assert_eq!(
        network_names(r#"[{"name": "a", "interface": "net1"}, {"name": "b", "namespace": "x"}]"#),
        ["a", "b"].map(String::from)
    );
}
