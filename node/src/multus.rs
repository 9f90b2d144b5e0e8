//! Multus' delegate convention, as its documentation and behaviour describe it: for each
//! network the pod's `k8s.v1.cni.cncf.io/networks` annotation selects, the network's
//! NetworkAttachmentDefinition config is run as a CNI plugin with `CNI_IFNAME` `net1`, `net2`,
//! …, Multus' `CNI_ARGS`, the sandbox's netns and a `runtimeConfig` holding only the
//! capabilities that config declares; DEL in reverse order; the results become the pod's
//! `k8s.v1.cni.cncf.io/network-status` annotation. Multus itself cannot be built here, so this
//! module is a test harness that follows it; it is not Multus.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use userspace_cni_sdk::wire::network_status::NetworkStatus;

/// The pod annotation that selects secondary networks.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";
/// The NAD annotation naming the device-plugin resource.
pub const RESOURCE_NAME_ANNOTATION: &str = "k8s.v1.cni.cncf.io/resourceName";
/// The runtimeConfig key under which containerd passes the sandbox's annotations.
pub const CRI_POD_ANNOTATIONS: &str = "io.kubernetes.cri.pod-annotations";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum MultusError {
    /// The networks annotation cannot be read.
    #[error("{NETWORKS_ANNOTATION}: {0}")]
    Selection(String),
    /// A NetworkAttachmentDefinition is missing or malformed.
    #[error("network attachment definition {name}: {msg}")]
    Nad {
        /// `namespace/name`.
        name: String,
        /// Why.
        msg: String,
    },
    /// A delegate plugin failed or could not be run.
    #[error("delegate {network} ({ifname}) {verb}: {msg}")]
    Delegate {
        /// `namespace/name`.
        network: String,
        /// Interface.
        ifname: String,
        /// CNI verb.
        verb: String,
        /// The plugin's error message (or why it could not run).
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        msg: String,
    },
}

/// One element of the networks annotation (Multus' NetworkSelectionElement).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NetworkSelection {
    /// NAD name.
    pub name: String,
    /// NAD namespace (default: the pod's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Interface name requested in the pod.
    #[serde(default, rename = "interface", skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// MAC requested (given to plugins declaring the `mac` capability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Parses the annotation: Multus accepts a JSON list of selection objects, or a
/// comma-separated list of `[namespace/]name[@interface]`.
pub fn parse_selections(text: &str) -> Result<Vec<NetworkSelection>, MultusError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if t.starts_with('[') {
        return serde_json::from_str(t).map_err(|e| MultusError::Selection(e.to_string()));
    }
    t.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (rest, interface) = match item.split_once('@') {
                Some((r, i)) => (r, Some(i.to_owned())),
                None => (item, None),
            };
            let (namespace, name) = match rest.split_once('/') {
                Some((ns, n)) => (Some(ns.to_owned()), n),
                None => (None, rest),
            };
            if name.is_empty() || interface.as_deref() == Some("") {
                return Err(MultusError::Selection(format!(
                    "malformed element {item:?}"
                )));
            }
            Ok(NetworkSelection {
                name: name.to_owned(),
                namespace,
                interface,
                mac: None,
            })
        })
        .collect()
}

/// A NetworkAttachmentDefinition as far as delegation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Nad {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.config`, parsed.
    pub config: Value,
    /// `k8s.v1.cni.cncf.io/resourceName`, if annotated.
    pub resource_name: Option<String>,
}

impl Nad {
    /// `namespace/name`, as network-status names it.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Parses a NetworkAttachmentDefinition manifest (YAML or JSON).
    pub fn from_manifest(text: &str, default_namespace: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Meta {
            name: String,
            namespace: Option<String>,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        struct Spec {
            config: String,
        }
        #[derive(Deserialize)]
        struct Manifest {
            kind: String,
            metadata: Meta,
            spec: Spec,
        }
        let m: Manifest = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if m.kind != "NetworkAttachmentDefinition" {
            return Err(format!(
                "kind is {}, not NetworkAttachmentDefinition",
                m.kind
            ));
        }
        let config = serde_json::from_str(&m.spec.config)
            .map_err(|e| format!("spec.config is not JSON: {e}"))?;
        Ok(Self {
            namespace: m
                .metadata
                .namespace
                .unwrap_or_else(|| default_namespace.to_owned()),
            name: m.metadata.name,
            config,
            resource_name: m
                .metadata
                .annotations
                .get(RESOURCE_NAME_ANNOTATION)
                .cloned(),
        })
    }
}

/// Reads every `*.yaml`, `*.yml` and `*.json` manifest of `dir` (one NAD per file; a file
/// without a namespace belongs to `default`).
pub fn load_nads(dir: &Path) -> Result<Vec<Nad>, MultusError> {
    let io = |path: &Path, e: std::io::Error| MultusError::Io {
        path: path.to_owned(),
        msg: e.to_string(),
    };
    let mut nads = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        nads.push(
            Nad::from_manifest(&text, "default").map_err(|msg| MultusError::Nad {
                name: p.display().to_string(),
                msg,
            })?,
        );
    }
    Ok(nads)
}

/// The pod, as Multus learns it from `CNI_ARGS` and the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodArgs {
    /// `K8S_POD_NAMESPACE`.
    pub namespace: String,
    /// `K8S_POD_NAME`.
    pub name: String,
    /// `K8S_POD_UID`.
    pub uid: String,
    /// The sandbox ID (`CNI_CONTAINERID`, `K8S_POD_INFRA_CONTAINER_ID`).
    pub sandbox_id: String,
}

impl PodArgs {
    /// From the runtime's `CNI_ARGS` (`K=V;…`, in any order) and `CNI_CONTAINERID`.
    pub fn from_cni_args(cni_args: &str, container_id: &str) -> Result<Self, String> {
        let kv: BTreeMap<&str, &str> = cni_args
            .split(';')
            .filter_map(|p| p.split_once('='))
            .collect();
        let get = |k: &str| {
            kv.get(k)
                .filter(|v| !v.is_empty())
                .map(|v| (*v).to_owned())
                .ok_or_else(|| format!("CNI_ARGS has no {k}"))
        };
        Ok(Self {
            namespace: get("K8S_POD_NAMESPACE")?,
            name: get("K8S_POD_NAME")?,
            uid: get("K8S_POD_UID").unwrap_or_default(),
            sandbox_id: container_id.to_owned(),
        })
    }

    /// The `CNI_ARGS` Multus gives its delegates, in Multus' order.
    pub fn delegate_cni_args(&self) -> String {
        format!(
            "IgnoreUnknown=true;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
            self.namespace, self.name, self.sandbox_id, self.uid
        )
    }
}

/// One delegation: which network, under which interface name, with which config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delegate {
    /// `namespace/name` of the NAD.
    pub network: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// The config given on stdin (a single plugin's NetConf, runtimeConfig injected).
    pub config: Value,
    /// The device-info file named in runtimeConfig, if any.
    pub device_info_file: Option<PathBuf>,
    /// The cluster default network (first in network-status, marked `default`).
    #[serde(default)]
    pub default: bool,
}

/// The cluster default network: a NetConf run first, under the runtime's `CNI_IFNAME`, as
/// Multus runs its `clusterNetwork`; named by the config's `name`.
pub fn cluster_delegate(config: &Value, ifname: &str) -> Delegate {
    Delegate {
        network: config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("cluster")
            .to_owned(),
        ifname: ifname.to_owned(),
        config: inject_runtime_config(config, &Map::new()),
        device_info_file: None,
        default: true,
    }
}

/// Pairs each selection with its NAD and names the interfaces as Multus does: `net<N>` for
/// the N-th selected network (1-based) unless the selection names one.
pub fn plan(
    selections: &[NetworkSelection],
    nads: &[Nad],
    pod: &PodArgs,
    device_info_dir: &Path,
) -> Result<Vec<Delegate>, MultusError> {
    selections
        .iter()
        .enumerate()
        .map(|(i, sel)| {
            let ns = sel.namespace.as_deref().unwrap_or(&pod.namespace);
            let nad = nads
                .iter()
                .find(|n| n.name == sel.name && n.namespace == ns)
                .ok_or_else(|| MultusError::Nad {
                    name: format!("{ns}/{}", sel.name),
                    msg: "not found".into(),
                })?;
            let ifname = sel
                .interface
                .clone()
                .unwrap_or_else(|| format!("net{}", i + 1));
            let conf_name = nad
                .config
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&nad.name)
                .to_owned();
            // Multus names the file `<network name>-<sandbox id>_<ifname>` under the CNI
            // device-info directory, with any `/` turned into `-`.
            let device_info_file = nad.resource_name.as_ref().map(|_| {
                device_info_dir
                    .join(format!("{conf_name}-{}_{ifname}", pod.sandbox_id).replace('/', "-"))
            });
            let mut caps = Map::new();
            if let Some(mac) = &sel.mac {
                caps.insert("mac".into(), mac.clone().into());
            }
            if let Some(f) = &device_info_file {
                caps.insert("CNIDeviceInfoFile".into(), f.display().to_string().into());
            }
            Ok(Delegate {
                network: nad.full_name(),
                ifname,
                config: inject_runtime_config(&nad.config, &caps),
                device_info_file,
                default: false,
            })
        })
        .collect()
}

/// libcni's rule: only the capabilities the config declares as `true` in `capabilities` are
/// put into its `runtimeConfig`; no declared capability with a value means no
/// `runtimeConfig` at all.
pub fn inject_runtime_config(config: &Value, available: &Map<String, Value>) -> Value {
    let mut out = config.clone();
    let declared = config.get("capabilities").and_then(Value::as_object);
    let rc: Map<String, Value> = available
        .iter()
        .filter(|(k, _)| {
            declared
                .and_then(|d| d.get(k.as_str()))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rc.is_empty()
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert("runtimeConfig".into(), Value::Object(rc));
    }
    out
}

/// What one delegate ADD returned, summarised as Multus writes it into network-status.
pub fn network_status(
    delegate: &Delegate,
    result: &Value,
    device_info: Option<Value>,
) -> NetworkStatus {
    let ifaces = result.get("interfaces").and_then(Value::as_array);
    // The interface in the pod: the one with a sandbox, else the one named like CNI_IFNAME.
    let iface_index = ifaces.and_then(|l| {
        l.iter()
            .position(|i| {
                i.get("sandbox")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            })
            .or_else(|| {
                l.iter()
                    .position(|i| i.get("name").and_then(Value::as_str) == Some(&delegate.ifname))
            })
    });
    let mac = iface_index
        .and_then(|i| ifaces?.get(i)?.get("mac")?.as_str())
        .and_then(|m| m.parse().ok());
    let ips_of_iface =
        |ip: &&Value| match (ip.get("interface").and_then(Value::as_u64), iface_index) {
            (Some(n), Some(i)) => n as usize == i,
            _ => true,
        };
    let ips: Vec<&Value> = result
        .get("ips")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter(ips_of_iface).collect())
        .unwrap_or_default();
    NetworkStatus {
        name: delegate.network.clone(),
        interface: Some(delegate.ifname.clone()),
        ips: ips
            .iter()
            .filter_map(|ip| ip.get("address")?.as_str())
            .map(|a| a.split('/').next().unwrap_or(a).to_owned())
            .collect(),
        mac,
        mtu: None,
        default: delegate.default,
        dns: Some(result.get("dns").cloned().unwrap_or_else(|| json!({}))),
        device_info: device_info.and_then(|v| serde_json::from_value(v).ok()),
        gateway: ips
            .iter()
            .filter_map(|ip| ip.get("gateway")?.as_str())
            .map(str::to_owned)
            .collect(),
    }
}

/// The environment and input of one delegate call.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// Where the delegate plugins are (`CNI_PATH`).
    pub cni_path: &'a str,
    /// `CNI_NETNS` (empty on the DEL at RemovePodSandbox).
    pub netns: &'a str,
    /// The pod.
    pub pod: &'a PodArgs,
}

/// Runs the delegate's plugin: `CNI_PATH/<type>` with a clean environment holding only the CNI
/// variables, the config on stdin. Returns the parsed stdout (`Null` when empty).
pub fn exec(inv: &Invocation<'_>, verb: &str, d: &Delegate) -> Result<Value, MultusError> {
    let err = |msg: String| MultusError::Delegate {
        network: d.network.clone(),
        ifname: d.ifname.clone(),
        verb: verb.to_owned(),
        msg,
    };
    let ty = d
        .config
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| err("the config has no type".into()))?;
    if ty.is_empty() || ty.contains('/') || ty.starts_with('.') {
        return Err(err(format!("type {ty:?} is not a plugin name")));
    }
    let bin = which::which_in(ty, Some(inv.cni_path), "/")
        .map_err(|_| err(format!("no plugin {ty} in {}", inv.cni_path)))?;
    let stdin = serde_json::to_vec(&d.config).map_err(|e| err(e.to_string()))?;
    let mut child = Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", &inv.pod.sandbox_id)
        .env("CNI_NETNS", inv.netns)
        .env("CNI_IFNAME", &d.ifname)
        .env("CNI_ARGS", inv.pod.delegate_cni_args())
        .env("CNI_PATH", inv.cni_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {}: {e}", bin.display())))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(&stdin)
            .map_err(|e| err(format!("writing its stdin: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for it: {e}")))?;
    let value: Value = if out.stdout.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            err(format!(
                "unreadable output ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            ))
        })?
    };
    if !out.status.success() {
        let msg = value
            .get("msg")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_owned());
        let details = value.get("details").and_then(Value::as_str).unwrap_or("");
        return Err(err(if details.is_empty() {
            msg
        } else {
            format!("{msg}; {details}")
        }));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodArgs {
        PodArgs {
            namespace: "default".into(),
            name: "fwd".into(),
            uid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
            sandbox_id: "ab".repeat(32),
        }
    }

    const NAD_A: &str = include_str!("../tests/fixtures/nad-dpdk-a.yaml");

    #[test]
    fn comma_list_selects_names_namespaces_and_interfaces() {
        let s = parse_selections("dpdk-a, other/dpdk-b@dp0").unwrap();
        assert_eq!(s[0].name, "dpdk-a");
        assert_eq!(s[0].namespace, None);
        assert_eq!(
            (
                s[1].namespace.as_deref(),
                s[1].name.as_str(),
                s[1].interface.as_deref()
            ),
            (Some("other"), "dpdk-b", Some("dp0"))
        );
    }

    #[test]
    fn json_list_carries_the_mac() {
        let s = parse_selections(r#"[{"name":"dpdk-a","mac":"02:00:00:00:00:01"}]"#).unwrap();
        assert_eq!(s[0].mac.as_deref(), Some("02:00:00:00:00:01"));
    }

    #[test]
    fn an_empty_element_is_refused() {
        assert!(parse_selections("dpdk-a@").is_err());
    }

    #[test]
    fn runtime_args_are_parsed_in_any_order() {
        let p = PodArgs::from_cni_args(
            "K8S_POD_UID=u1;IgnoreUnknown=1;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_NAMESPACE=default",
            "x",
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.uid.as_str()), ("fwd", "u1"));
    }

    #[test]
    fn delegates_get_multus_cni_args() {
        let p = pod();
        assert_eq!(
            p.delegate_cni_args(),
            format!(
                "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn interfaces_are_numbered_by_position() {
        let nad = Nad::from_manifest(NAD_A, "default").unwrap();
        let sel = parse_selections("dpdk-a,dpdk-a@fast0,dpdk-a").unwrap();
        let d = plan(&sel, &[nad], &pod(), Path::new("/dev/null")).unwrap();
        let names: Vec<_> = d.iter().map(|d| d.ifname.as_str()).collect();
        assert_eq!(names, ["net1", "fast0", "net3"]);
    }

    #[test]
    fn a_missing_nad_names_it() {
        let e = plan(
            &parse_selections("nope").unwrap(),
            &[],
            &pod(),
            Path::new("/x"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "network attachment definition default/nope: not found"
        );
    }

    #[test]
    fn undeclared_capabilities_are_not_passed() {
        let mut nad = Nad::from_manifest(NAD_A, "default").unwrap();
        nad.config.as_object_mut().unwrap().remove("capabilities");
        let sel = parse_selections(r#"[{"name":"dpdk-a","mac":"02:00:00:00:00:01"}]"#).unwrap();
        let d = plan(&sel, &[nad], &pod(), Path::new("/x")).unwrap();
        assert!(d[0].config.get("runtimeConfig").is_none());
    }

    #[test]
    fn declared_mac_and_the_device_info_file_of_a_resource_are_passed() {
        let nad = Nad::from_manifest(NAD_A, "default").unwrap();
        assert_eq!(
            nad.resource_name.as_deref(),
            Some("userspace.example/dpdk-a")
        );
        let sel = parse_selections(r#"[{"name":"dpdk-a","mac":"02:00:00:00:00:01"}]"#).unwrap();
        let d = plan(&sel, &[nad], &pod(), Path::new("/run/devinfo/cni")).unwrap();
        let file = format!("/run/devinfo/cni/dpdk-a-{}_net1", "ab".repeat(32));
        assert_eq!(
            d[0].config["runtimeConfig"],
            json!({"mac": "02:00:00:00:00:01", "CNIDeviceInfoFile": file})
        );
    }

    #[test]
    fn the_cluster_network_runs_under_the_runtimes_ifname_and_is_the_default() {
        let d = cluster_delegate(&json!({"name": "kindnet", "type": "ptp"}), "eth0");
        assert_eq!(
            (d.network.as_str(), d.ifname.as_str(), d.default),
            ("kindnet", "eth0", true)
        );
        let s = network_status(&d, &json!({}), None);
        assert!(s.default);
    }

    #[test]
    fn network_status_takes_the_pod_interface_and_its_addresses() {
        let d = Delegate {
            network: "default/dpdk-a".into(),
            ifname: "net1".into(),
            config: json!({}),
            device_info_file: None,
            default: false,
        };
        let result = json!({"cniVersion": "1.0.0",
            "interfaces": [{"name": "ab12-net1"}, {"name": "net1", "mac": "02:00:00:00:00:01", "sandbox": "/run/netns/x"}],
            "ips": [{"address": "10.99.1.2/24", "gateway": "10.99.1.1", "interface": 1}]});
        let s = network_status(&d, &result, None);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"name": "default/dpdk-a", "interface": "net1", "ips": ["10.99.1.2"],
                   "mac": "02:00:00:00:00:01", "dns": {}, "gateway": ["10.99.1.1"]})
        );
    }
}
