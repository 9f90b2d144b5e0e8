//! The Kubernetes manifests under `examples/` are checked here, so they cannot drift from the
//! plugin and the agent: every YAML document is read into the `k8s-openapi` type of its kind,
//! NetConfs go through the plugin's own loader, pods are checked against the contract of the
//! README (networks that exist, the downward API at /etc/podinfo, the shared directory), and
//! the RBAC against the API calls the plugin makes, as a recording fake API server sees them.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, PodTemplateSpec, Service, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use userspace_cni_sdk::wire::{Engine, IfType, NetType, VhostMode, parse_configuration_data};

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

/// What every object has.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
}

/// Multus' NetworkAttachmentDefinition (a CRD: no k8s-openapi type).
#[derive(Deserialize)]
struct NetworkAttachmentDefinition {
    spec: NadSpec,
}

#[derive(Deserialize)]
struct NadSpec {
    config: String,
}

/// One YAML document and the file it came from.
struct Doc {
    file: String,
    head: Head,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        &self.head.kind
    }

    fn name(&self) -> &str {
        self.head.metadata.name.as_deref().unwrap_or_default()
    }

    fn namespace(&self) -> &str {
        self.head.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn at(&self) -> String {
        format!("{} {}/{}", self.file, self.kind(), self.name())
    }

    /// The document as the type of its kind.
    fn typed<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.value.clone()).unwrap_or_else(|e| {
            panic!(
                "{}: not a valid {}: {e}",
                self.at(),
                std::any::type_name::<T>()
            )
        })
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
                head: serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("{file}: metadata: {e}")),
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

/// Every document of a kind, typed.
fn all<T: DeserializeOwned>(kind: &str) -> Vec<(Doc, T)> {
    of_kind(kind)
        .into_iter()
        .map(|d| {
            let t = d.typed();
            (d, t)
        })
        .collect()
}

/// A pod as written: a Pod, or the template of a workload (DaemonSet, Deployment, …).
struct PodOf {
    at: String,
    metadata: ObjectMeta,
    spec: PodSpec,
}

fn pod_specs() -> Vec<PodOf> {
    documents()
        .into_iter()
        .filter_map(|d| {
            let at = d.at();
            if d.kind() == "Pod" {
                let p: Pod = d.typed();
                Some(PodOf {
                    at,
                    metadata: p.metadata,
                    spec: p.spec.unwrap_or_default(),
                })
            } else {
                let template: PodTemplateSpec =
                    serde_json::from_value(d.value["spec"].get("template")?.clone())
                        .unwrap_or_else(|e| panic!("{at}: spec.template: {e}"));
                Some(PodOf {
                    at,
                    metadata: template.metadata.unwrap_or_default(),
                    spec: template.spec.unwrap_or_default(),
                })
            }
        })
        .collect()
}

impl PodOf {
    /// Init containers, then containers.
    fn containers(&self) -> Vec<&Container> {
        self.spec
            .init_containers
            .iter()
            .flatten()
            .chain(&self.spec.containers)
            .collect()
    }

    fn volumes(&self) -> &[Volume] {
        self.spec.volumes.as_deref().unwrap_or_default()
    }

    fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes().iter().find(|v| v.name == name)
    }

    /// The names of the networks in the Multus annotation.
    fn networks(&self) -> Vec<String> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NETWORKS))
            .map(|n| network_names(n))
            .unwrap_or_default()
    }

    fn requests_hugepages(&self) -> bool {
        self.containers().iter().any(|c| has_hugepages(c))
    }
}

/// Whether the container requests or is limited to hugepages.
fn has_hugepages(c: &Container) -> bool {
    c.resources.as_ref().is_some_and(|r| {
        [&r.requests, &r.limits]
            .into_iter()
            .flatten()
            .any(|m| m.keys().any(|k| k.starts_with("hugepages-")))
    })
}

/// Multus accepts `name`, `namespace/name`, `name@ifname`, comma-separated, or a JSON list of
/// objects with a `name`.
fn network_names(annotation: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Selection {
        name: String,
    }
    let text = annotation.trim();
    if text.starts_with('[') {
        let list: Vec<Selection> = serde_json::from_str(text).unwrap();
        return list.into_iter().map(|n| n.name).collect();
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

/// The words of the container's command line.
fn words(c: &Container) -> impl Iterator<Item = &String> {
    c.command.iter().flatten().chain(c.args.iter().flatten())
}

/// Whether the container runs `userspace-agent` (directly or from a shell line).
fn runs_agent(c: &Container) -> bool {
    words(c).any(|w| w.contains("userspace-agent"))
}

fn mounts(c: &Container) -> &[VolumeMount] {
    c.volume_mounts.as_deref().unwrap_or_default()
}

fn mount<'a>(c: &'a Container, volume: &str) -> Option<&'a VolumeMount> {
    mounts(c).iter().find(|m| m.name == volume)
}

fn mounts_at<'a>(c: &'a Container, path: &str) -> Option<&'a VolumeMount> {
    mounts(c)
        .iter()
        .find(|m| m.mount_path.trim_end_matches('/') == path)
}

fn load(d: &Doc) -> userspace_plugin::config::Config {
    let nad: NetworkAttachmentDefinition = d.typed();
    userspace_plugin::config::load(nad.spec.config.as_bytes(), None)
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
            ("apiVersion", d.head.api_version.as_str()),
            ("kind", d.kind()),
            ("metadata.name", d.name()),
        ] {
            assert!(!value.is_empty(), "{}: a document has no {field}", d.file);
        }
    }
}

#[test]
fn every_document_of_a_core_kind_reads_as_its_k8s_openapi_type() {
    let mut typed = 0;
    for d in documents() {
        match d.kind() {
            "Pod" => drop(d.typed::<Pod>()),
            "DaemonSet" => drop(d.typed::<DaemonSet>()),
            "ServiceAccount" => drop(d.typed::<ServiceAccount>()),
            "Service" => drop(d.typed::<Service>()),
            "ClusterRole" => drop(d.typed::<ClusterRole>()),
            "ClusterRoleBinding" => drop(d.typed::<ClusterRoleBinding>()),
            "NetworkAttachmentDefinition" => drop(d.typed::<NetworkAttachmentDefinition>()),
            other => panic!("{}: no type known for kind {other}", d.at()),
        }
        typed += 1;
    }
    assert!(typed > 0);
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
        assert_eq!(d.head.api_version, "k8s.cni.cncf.io/v1", "{}", d.at());
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
            let at = format!("{} container {}", p.at, c.name);
            let m = mounts_at(c, PODINFO)
                .unwrap_or_else(|| panic!("{at}: nothing is mounted at {PODINFO}"));
            let items = p
                .volume(&m.name)
                .and_then(|v| v.downward_api.as_ref()?.items.as_ref())
                .unwrap_or_else(|| panic!("{at}: volume {} is not a downwardAPI volume", m.name));
            assert!(
                items.iter().any(|i| i.path == "annotations"
                    && i.field_ref.as_ref().map(|f| f.field_path.as_str())
                        == Some("metadata.annotations")),
                "{at}: volume {} has no `annotations` file of metadata.annotations",
                m.name
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
        let downward: Vec<&Volume> = p
            .volumes()
            .iter()
            .filter(|v| v.downward_api.is_some())
            .collect();
        assert!(!downward.is_empty(), "{}: no downwardAPI volume", p.at);
        for v in downward {
            let fields: BTreeSet<&str> = v
                .downward_api
                .iter()
                .flat_map(|d| d.items.iter().flatten())
                .filter_map(|i| Some(i.field_ref.as_ref()?.field_path.as_str()))
                .collect();
            for f in ["metadata.annotations", "metadata.labels"] {
                assert!(fields.contains(f), "{}: {} lacks {f}", p.at, v.name);
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
        if let Some(host) = &v.host_path {
            // The plugin's default allowedSharedDirRoots.
            assert!(
                [
                    "/var/lib/cni/usrspcni/",
                    "/var/run/vpp/",
                    "/var/run/openvswitch/"
                ]
                .iter()
                .any(|root| host.path.starts_with(root)),
                "{}: hostPath {} is outside the plugin's allowed roots",
                p.at,
                host.path
            );
        } else {
            assert!(
                v.empty_dir.is_some(),
                "{}: `{SHARED_VOLUME}` is neither hostPath nor emptyDir",
                p.at
            );
        }
        for c in p.containers().into_iter().filter(|c| runs_agent(c)) {
            assert!(
                mount(c, SHARED_VOLUME).is_some(),
                "{} container {}: runs the agent without `{SHARED_VOLUME}`",
                p.at,
                c.name
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
            .filter_map(|c| mount(c, SHARED_VOLUME))
            .map(|m| m.mount_path.trim_end_matches('/'))
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
    for (d, pod) in all::<Pod>("Pod") {
        for c in pod.spec.iter().flat_map(|s| &s.containers) {
            let r = c.resources.clone().unwrap_or_default();
            let (requests, limits) = (r.requests.unwrap_or_default(), r.limits.unwrap_or_default());
            for res in ["cpu", "memory"] {
                assert!(
                    requests.contains_key(res) && requests.get(res) == limits.get(res),
                    "{} container {}: {res} requests and limits must be set and equal",
                    d.at(),
                    c.name
                );
            }
        }
    }
}

#[test]
fn pods_requesting_hugepages_request_their_limit_and_mount_a_hugepages_empty_dir() {
    let mut with_hugepages = 0;
    for p in pod_specs().into_iter().filter(PodOf::requests_hugepages) {
        with_hugepages += 1;
        for c in p.containers() {
            let r = c.resources.clone().unwrap_or_default();
            let requests = r.requests.unwrap_or_default();
            for (k, v) in r.limits.iter().flatten() {
                if k.starts_with("hugepages-") {
                    assert_eq!(requests.get(k), Some(v), "{}: {k} requests != limits", p.at);
                }
            }
        }
        let huge = p
            .volumes()
            .iter()
            .find(|v| v.empty_dir.as_ref().and_then(|e| e.medium.as_deref()) == Some("HugePages"))
            .unwrap_or_else(|| panic!("{}: no `medium: HugePages` emptyDir", p.at));
        assert!(
            p.containers()
                .iter()
                .any(|c| mount(c, &huge.name).is_some()),
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
            let privileged = c.security_context.as_ref().and_then(|s| s.privileged);
            assert_ne!(privileged, Some(true), "{} container {}", p.at, c.name);
        }
    }
}

#[test]
fn every_dpdk_or_vpp_data_plane_container_adds_ipc_lock() {
    // The data plane: a container given hugepages, or the one running VPP itself.
    let mut checked = 0;
    for p in pod_specs() {
        for c in p.containers() {
            let runs_vpp = words(c).any(|w| w == "vpp" || w.contains("exec vpp "));
            if !(has_hugepages(c) || runs_vpp) {
                continue;
            }
            checked += 1;
            let added: Vec<&String> = c
                .security_context
                .iter()
                .filter_map(|s| s.capabilities.as_ref()?.add.as_ref())
                .flatten()
                .collect();
            assert!(
                added.iter().any(|a| *a == "IPC_LOCK"),
                "{} container {}: needs IPC_LOCK",
                p.at,
                c.name
            );
        }
    }
    assert!(checked >= 2, "expected the testpmd and VPP containers");
}

/// The installer DaemonSet (plugin-installer.yaml).
fn installer() -> (Doc, PodSpec) {
    let mut ds: Vec<(Doc, PodSpec)> = all::<DaemonSet>("DaemonSet")
        .into_iter()
        .filter_map(|(d, ds)| Some((d, ds.spec?.template.spec?)))
        .filter(|(_, spec)| {
            spec.containers.iter().any(|c| {
                c.image
                    .as_deref()
                    .is_some_and(|i| i.contains("plugin-installer"))
            })
        })
        .collect();
    assert_eq!(ds.len(), 1, "one plugin-installer DaemonSet expected");
    ds.remove(0)
}

/// An API call as RBAC sees it: (apiGroup, resource, verb).
type Grant = (String, String, String);

/// What the ClusterRoles bound to a service account allow.
fn granted_to(namespace: &str, service_account: &str) -> BTreeSet<Grant> {
    let roles: BTreeMap<String, ClusterRole> = all::<ClusterRole>("ClusterRole")
        .into_iter()
        .map(|(d, r)| (d.name().to_owned(), r))
        .collect();
    let mut granted = BTreeSet::new();
    for (d, b) in all::<ClusterRoleBinding>("ClusterRoleBinding") {
        let binds_it = b.subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == service_account
                && s.namespace.as_deref() == Some(namespace)
        });
        if !binds_it {
            continue;
        }
        assert_eq!(b.role_ref.kind, "ClusterRole", "{}", d.at());
        let role = roles.get(&b.role_ref.name).unwrap_or_else(|| {
            panic!("{}: ClusterRole {} is not defined", d.at(), b.role_ref.name)
        });
        for rule in role.rules.iter().flatten() {
            for g in rule.api_groups.iter().flatten() {
                for r in rule.resources.iter().flatten() {
                    for v in &rule.verbs {
                        granted.insert((g.clone(), r.clone(), v.clone()));
                    }
                }
            }
        }
    }
    granted
}

/// The RBAC (apiGroup, resource, verb) of an HTTP request to the API server.
fn rbac_of(method: &str, uri: &str) -> Grant {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match seg.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => panic!("not an API path: {uri}"),
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    let (resource, named) = match rest {
        [resource] => ((*resource).to_owned(), false),
        [resource, _name] => ((*resource).to_owned(), true),
        [resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => panic!("not a resource path: {uri}"),
    };
    let verb = match (method, named) {
        ("GET", true) => "get",
        ("GET", false) if query.contains("watch=true") => "watch",
        ("GET", false) => "list",
        ("PATCH", _) => "patch",
        ("PUT", _) => "update",
        ("POST", _) => "create",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => panic!("unexpected {method} {uri}"),
    };
    (group.to_owned(), resource, verb.to_owned())
}

/// The calls the plugin's Kubernetes client makes in ADD (read the pod, publish the
/// interface's entry) and DEL (withdraw it), recorded by the fake API server.
fn calls_the_plugin_makes() -> BTreeSet<Grant> {
    use userspace_plugin::k8s::{PodRef, Session};
    let dir = tempfile::tempdir().unwrap();
    let volume = json!({"name": SHARED_VOLUME, "emptyDir": {}});
    let api = fake_api::FakeApi::with_pods(vec![json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "uid": "uid-1", "annotations": {NETWORKS: "userspace-ovs"}},
        "spec": {
            "containers": [{"name": "dpdk", "image": "testpmd",
                            "volumeMounts": [{"name": SHARED_VOLUME, "mountPath": SHARED_MOUNT}]}],
            "volumes": [volume]
        }
    })])
    .unwrap();
    let kubeconfig = api.kubeconfig_in(dir.path(), None).unwrap();
    let pod = PodRef {
        namespace: "default".into(),
        name: "web-0".into(),
    };
    let session = Session::connect(kubeconfig.to_str().unwrap(), pod).unwrap();
    session
        .pod_facts(std::path::Path::new("/var/lib/kubelet"))
        .unwrap();
    let fixture = examples_dir().join("../sdk/tests/fixtures/wire/configuration-data-1.0.0.json");
    let entries = parse_configuration_data(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let entry = &entries[0];
    session.publish(entry, Some(SHARED_MOUNT)).unwrap();
    session
        .withdraw(&entry.container_id, &entry.if_name)
        .unwrap();
    let requests = api.lock().requests.clone();
    assert!(!requests.is_empty(), "the plugin made no call");
    requests
        .iter()
        .map(|r| rbac_of(&r.method, &r.path))
        .collect()
}

#[test]
fn the_installer_runs_in_kube_system_under_a_service_account_defined_there() {
    let (ds, spec) = installer();
    assert_eq!(ds.namespace(), "kube-system");
    let sa = spec.service_account_name.unwrap();
    assert!(
        of_kind("ServiceAccount")
            .iter()
            .any(|d| d.name() == sa && d.namespace() == "kube-system"),
        "ServiceAccount kube-system/{sa} is not defined"
    );
}

#[test]
fn the_installers_service_account_is_granted_exactly_the_api_calls_the_plugin_makes() {
    let (ds, spec) = installer();
    let sa = spec.service_account_name.unwrap();
    assert_eq!(granted_to(ds.namespace(), &sa), calls_the_plugin_makes());
}

#[test]
fn api_paths_map_to_the_rbac_verbs_the_api_server_checks() {
    let g = |m, u| rbac_of(m, u);
    let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        g("GET", "/api/v1/namespaces/x/pods/p"),
        t("", "pods", "get")
    );
    assert_eq!(
        g("PATCH", "/api/v1/namespaces/x/pods/p"),
        t("", "pods", "patch")
    );
    assert_eq!(g("GET", "/api/v1/namespaces/x/pods"), t("", "pods", "list"));
    assert_eq!(g("GET", "/api/v1/pods?watch=true"), t("", "pods", "watch"));
    assert_eq!(
        g("PATCH", "/api/v1/namespaces/x/pods/p/status"),
        t("", "pods/status", "patch")
    );
    assert_eq!(
        g("POST", "/apis/apps/v1/namespaces/x/daemonsets"),
        t("apps", "daemonsets", "create")
    );
}

#[test]
fn the_installer_mounts_the_hosts_cni_bin_directory() {
    let (_, spec) = installer();
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.host_path.as_ref().map(|h| h.path.as_str()) == Some("/opt/cni/bin"))
        .expect("a hostPath volume of /opt/cni/bin");
    assert!(
        spec.containers
            .iter()
            .any(|c| mount(c, &volume.name).is_some()),
        "the /opt/cni/bin volume is not mounted"
    );
}

/// The installer DaemonSet's node-agent container (`userspace-node`).
fn node_agent(spec: &PodSpec) -> &Container {
    spec.containers
        .iter()
        .find(|c| words(c).any(|w| w.ends_with("/userspace-node")))
        .expect("a container running /usr/local/bin/userspace-node")
}

fn metrics_port(c: &Container) -> i32 {
    c.ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .expect("a container port named metrics")
        .container_port
}

#[test]
fn the_node_agent_runs_after_the_installer_with_probes_on_its_metrics_port() {
    let (_, spec) = installer();
    let agent = node_agent(&spec);
    let at = |c: &Container| spec.containers.iter().position(|x| x.name == c.name);
    assert!(at(agent) > Some(0), "the installer container comes first");
    let port = metrics_port(agent);
    assert!(
        words(agent).any(|w| w.ends_with(&format!(":{port}"))),
        "--listen uses the declared port {port}"
    );
    for (probe, path) in [
        (agent.liveness_probe.as_ref(), "/healthz"),
        (agent.readiness_probe.as_ref(), "/readyz"),
    ] {
        let get = probe
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("an httpGet probe of {path}"));
        assert_eq!(get.path.as_deref(), Some(path));
    }
    let state = mounts_at(agent, "/var/lib/cni/usrspcni/state").expect("the state dir mounted");
    assert_eq!(
        state.read_only,
        Some(true),
        "the agent never writes the journals"
    );
}

#[test]
fn the_node_agents_metrics_are_announced_by_annotations_and_a_service() {
    let (_, spec) = installer();
    let port = metrics_port(node_agent(&spec));
    let ds = all::<DaemonSet>("DaemonSet")
        .into_iter()
        .find_map(|(_, ds)| {
            let t = ds.spec?.template;
            t.spec
                .as_ref()?
                .containers
                .iter()
                .any(|c| c.name == "node-agent")
                .then_some(t)
        })
        .expect("the DaemonSet with the agent");
    let meta = ds.metadata.unwrap_or_default();
    let annotations = meta.annotations.unwrap_or_default();
    assert_eq!(
        annotations.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        annotations.get("prometheus.io/port"),
        Some(&port.to_string())
    );
    let labels = meta.labels.unwrap_or_default();
    let services: Vec<Service> = all::<Service>("Service")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert!(
        services.iter().any(|s| {
            let spec = s.spec.clone().unwrap_or_default();
            let selects = spec
                .selector
                .unwrap_or_default()
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v));
            selects && spec.ports.iter().flatten().any(|p| p.port == port)
        }),
        "a Service selecting the DaemonSet's pods on port {port}"
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
