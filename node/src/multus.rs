//! Multus' thin plugin (v4.2, with libcni v1.3 and net-attach-def-client v1.7 beneath it) as
//! observed and as its source reads, for the test node: the pure parts of `multus-harness`.
//!
//! For each network the pod's `k8s.v1.cni.cncf.io/networks` annotation selects, Multus GETs
//! the NetworkAttachmentDefinition from the API server and runs its config as a CNI plugin
//! (libcni): `CNI_IFNAME` `net<position>` (or the requested name), `CNI_ARGS` built by
//! [`delegate_cni_args`], the delegate's stdin by [`delegate_stdin`] (the config with its keys
//! sorted, `name`/`cniVersion`/`prevResult`/`runtimeConfig` injected), the environment by
//! [`delegate_env`]. The cluster network (`clusterNetwork`) is delegate 0, under the runtime's
//! `CNI_IFNAME`. The results become the pod's `k8s.v1.cni.cncf.io/network-status`
//! ([`network_statuses`], [`network_status_text`]). Multus itself cannot be built here, so
//! this is a harness that follows it; it is not Multus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The pod annotation that selects secondary networks.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";
/// The NAD annotation naming the device-plugin resource.
pub const RESOURCE_NAME_ANNOTATION: &str = "k8s.v1.cni.cncf.io/resourceName";
/// Where Multus names device-info files (net-attach-def-client's `GetCNIDeviceInfoPath`).
pub const DEVICE_INFO_DIR: &str = "/var/run/k8s.cni.cncf.io/devinfo/cni";

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
}

/// One element of the networks annotation (Multus' NetworkSelectionElement).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct NetworkSelection {
    /// NAD name.
    pub name: String,
    /// NAD namespace (default: the pod's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Interface name requested in the pod.
    #[serde(default, rename = "interface", skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// MAC requested: `MAC=` in CNI_ARGS, and `runtimeConfig.mac` for a config declaring
    /// the `mac` capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Addresses requested: `IP=` in CNI_ARGS, and `runtimeConfig.ips`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
}

/// Parses the annotation as Multus does: JSON when it holds any of `[{"`, else a
/// comma-separated list of `[namespace/]name[@interface]`.
pub fn parse_selections(text: &str) -> Result<Vec<NetworkSelection>, MultusError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if t.contains(['[', '{', '"']) {
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
                ..NetworkSelection::default()
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
    /// From the object the API server returns.
    pub fn from_object(obj: &Value) -> Result<Self, String> {
        let meta = &obj["metadata"];
        let name = meta["name"].as_str().ok_or("metadata.name is missing")?;
        let text = obj["spec"]["config"]
            .as_str()
            .ok_or("spec.config is missing")?;
        let config =
            serde_json::from_str(text).map_err(|e| format!("spec.config is not JSON: {e}"))?;
        Ok(Self {
            namespace: meta["namespace"].as_str().unwrap_or("default").to_owned(),
            name: name.to_owned(),
            config,
            resource_name: meta["annotations"][RESOURCE_NAME_ANNOTATION]
                .as_str()
                .map(str::to_owned),
        })
    }

    /// A NetworkAttachmentDefinition manifest (YAML or JSON) as the object to create.
    pub fn manifest_object(text: &str) -> Result<Value, String> {
        let obj: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if obj["kind"] != "NetworkAttachmentDefinition" {
            return Err(format!(
                "kind is {}, not NetworkAttachmentDefinition",
                obj["kind"]
            ));
        }
        Self::from_object(&obj)?;
        Ok(obj)
    }
}

/// The NetworkAttachmentDefinition resource, for kube's dynamic API.
pub fn nad_resource() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: "k8s.cni.cncf.io".into(),
        version: "v1".into(),
        api_version: "k8s.cni.cncf.io/v1".into(),
        kind: "NetworkAttachmentDefinition".into(),
        plural: "network-attachment-definitions".into(),
    }
}

/// The pod's keys of the runtime's `CNI_ARGS` (Multus' K8sArgs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PodArgs {
    /// `K8S_POD_NAMESPACE`.
    pub namespace: String,
    /// `K8S_POD_NAME`.
    pub name: String,
    /// `K8S_POD_UID` (may be empty).
    pub uid: String,
    /// `K8S_POD_INFRA_CONTAINER_ID`, the runtime's value (may be empty).
    pub infra_container_id: String,
}

impl PodArgs {
    /// From the runtime's `CNI_ARGS` (`K=V;…`, in any order).
    pub fn from_cni_args(cni_args: &str) -> Result<Self, String> {
        let kv: BTreeMap<&str, &str> = cni_args
            .split(';')
            .filter_map(|p| p.split_once('='))
            .collect();
        let get = |k: &str| kv.get(k).map(|v| (*v).to_owned()).unwrap_or_default();
        let pod = Self {
            namespace: get("K8S_POD_NAMESPACE"),
            name: get("K8S_POD_NAME"),
            uid: get("K8S_POD_UID"),
            infra_container_id: get("K8S_POD_INFRA_CONTAINER_ID"),
        };
        if pod.namespace.is_empty() || pod.name.is_empty() {
            return Err("CNI_ARGS has no K8S_POD_NAMESPACE or K8S_POD_NAME".into());
        }
        Ok(pod)
    }
}

/// One delegation, as Multus caches it per sandbox for DEL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delegate {
    /// Multus' delegate name: `namespace/name` of the NAD, or the cluster network's config
    /// name. Named so in events and network-status.
    pub name: String,
    /// The config as the NAD (or the cluster network's file) holds it.
    pub config: Value,
    /// The network selection that asked for it (none for the cluster network).
    #[serde(default)]
    pub selection: NetworkSelection,
    /// The device the pod's resource was given (kubelet's pod-resources), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The cluster network: delegate 0, under the runtime's `CNI_IFNAME`, marked `default`.
    #[serde(default)]
    pub master: bool,
}

impl Delegate {
    /// The cluster network from its NetConf.
    pub fn cluster(config: Value) -> Self {
        Self {
            name: conf_name(&config).to_owned(),
            config,
            selection: NetworkSelection::default(),
            device_id: None,
            master: true,
        }
    }

    /// A secondary network: the NAD the selection names, with the device kubelet gave the
    /// NAD's resource, if any.
    pub fn secondary(nad: &Nad, selection: &NetworkSelection, device_id: Option<String>) -> Self {
        Self {
            name: format!("{}/{}", nad.namespace, nad.name),
            config: nad.config.clone(),
            selection: selection.clone(),
            device_id,
            master: false,
        }
    }

    /// The config's `name` (libcni's network name).
    pub fn conf_name(&self) -> &str {
        conf_name(&self.config)
    }

    /// The config's `cniVersion`.
    pub fn cni_version(&self) -> &str {
        self.config
            .get("cniVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Multus' `getIfname`: the requested name, the runtime's for the cluster network, else
    /// `net<index>` (the cluster network being index 0).
    pub fn ifname(&self, runtime_ifname: &str, index: usize) -> String {
        match &self.selection.interface {
            Some(i) if !i.is_empty() => i.clone(),
            _ if self.master => runtime_ifname.to_owned(),
            _ => format!("net{index}"),
        }
    }

    /// The device-info file Multus names, only when a device ID is known:
    /// `<dir>/<delegate name>-<container ID>_<ifname>` with `/` turned into `-`.
    pub fn device_info_file(
        &self,
        dir: &Path,
        container_id: &str,
        ifname: &str,
    ) -> Option<PathBuf> {
        self.device_id.as_ref()?;
        Some(dir.join(format!("{}-{container_id}_{ifname}", self.name).replace('/', "-")))
    }

    /// The capability arguments Multus offers this delegate (libcni passes on only those
    /// the config declares): mac, ips, deviceID, CNIDeviceInfoFile; none for the cluster
    /// network, which gets only the runtime's.
    pub fn capability_args(&self, device_info_file: Option<&Path>) -> Map<String, Value> {
        let mut caps = Map::new();
        if self.master {
            return caps;
        }
        if !self.selection.ips.is_empty() {
            caps.insert("ips".into(), json!(self.selection.ips));
        }
        if let Some(mac) = &self.selection.mac {
            caps.insert("mac".into(), mac.clone().into());
        }
        if let Some(id) = &self.device_id {
            caps.insert("deviceID".into(), id.clone().into());
        }
        if let Some(f) = device_info_file {
            caps.insert("CNIDeviceInfoFile".into(), f.display().to_string().into());
        }
        caps
    }
}

fn conf_name(config: &Value) -> &str {
    config.get("name").and_then(Value::as_str).unwrap_or("")
}

/// Multus' delegate `CNI_ARGS`: its five keys, then each of the runtime's `CNI_ARGS` in order
/// (filling one of the five only when that one is empty, else appended, so keys repeat), then
/// on ADD `MAC=` and `IP=` from the network selection.
pub fn delegate_cni_args(
    pod: &PodArgs,
    runtime_cni_args: &str,
    selection: Option<&NetworkSelection>,
) -> String {
    let mut args: Vec<(String, String)> = [
        ("IgnoreUnknown", "true"),
        ("K8S_POD_NAMESPACE", &pod.namespace),
        ("K8S_POD_NAME", &pod.name),
        ("K8S_POD_INFRA_CONTAINER_ID", &pod.infra_container_id),
        ("K8S_POD_UID", &pod.uid),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for arg in runtime_cni_args.split(';').filter(|a| !a.is_empty()) {
        let Some((k, v)) = arg.split_once('=') else {
            continue; // Multus skips what is not K=V
        };
        match args
            .iter_mut()
            .find(|(key, val)| key == k && val.is_empty() && !v.is_empty())
        {
            Some(slot) => slot.1 = v.to_owned(),
            None => args.push((k.to_owned(), v.to_owned())),
        }
    }
    if let Some(sel) = selection {
        if let Some(mac) = &sel.mac {
            args.push(("MAC".into(), mac.clone()));
        }
        if !sel.ips.is_empty() {
            args.push(("IP".into(), sel.ips.join(",")));
        }
    }
    args.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// libcni's stdin for a delegate: the config with `name` and `cniVersion`, `prevResult` (DEL
/// of cniVersion 0.4.0 and later, when a result is cached) and `runtimeConfig` holding the
/// capability arguments the config declares `true` (none: no `runtimeConfig` added), written
/// as Go writes a map: keys sorted at every level, `<>&` escaped.
pub fn delegate_stdin(
    config: &Value,
    capability_args: &Map<String, Value>,
    prev_result: Option<&Value>,
) -> String {
    let mut out = config.clone();
    let declared = config.get("capabilities").and_then(Value::as_object);
    let rc: Map<String, Value> = capability_args
        .iter()
        .filter(|(k, _)| {
            declared
                .and_then(|d| d.get(k.as_str()))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(obj) = out.as_object_mut() {
        if let Some(prev) = prev_result {
            obj.insert("prevResult".into(), prev.clone());
        }
        if !rc.is_empty() {
            obj.insert("runtimeConfig".into(), Value::Object(rc));
        }
    }
    go_json(&sorted(&out), false)
}

/// Whether libcni gives a DEL the cached result: cniVersion 0.4.0 and later.
pub fn del_carries_prev_result(cni_version: &str) -> bool {
    let mut parts = cni_version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v >= (0, 4, 0)
}

/// The delegate's environment: Multus' own, with the CNI variables set for the delegate
/// (libcni's `AsEnv`), `CNI_PATH` being Multus' `binDir` followed by the runtime's.
pub fn delegate_env(
    multus_env: impl IntoIterator<Item = (String, String)>,
    cni: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = multus_env
        .into_iter()
        .filter(|(k, _)| !cni.iter().any(|(c, _)| c == k))
        .collect();
    env.extend(cni.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// `binDir` followed by the runtime's `CNI_PATH` entries, `:`-joined.
pub fn delegate_cni_path(bin_dir: &str, runtime_cni_path: &str) -> String {
    std::iter::once(bin_dir)
        .chain(runtime_cni_path.split(':').filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(":")
}

/// A copy of `v` whose objects have their keys sorted, as Go's encoding/json writes a map.
pub fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// JSON text as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped, and
/// with `indent`, `MarshalIndent(v, "", "    ")`. (These characters only occur inside strings
/// in JSON text, so escaping them after serialising is exact.)
pub fn go_json(v: &Value, indent: bool) -> String {
    let text = if indent {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        match v.serialize(&mut ser) {
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(_) => v.to_string(),
        }
    } else {
        v.to_string()
    };
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The network-status annotation's value as net-attach-def-client's `SetNetworkStatus`
/// writes it: each element `MarshalIndent`ed on its own, joined by `,` inside `[…]`.
pub fn network_status_text(statuses: &[Value]) -> String {
    let items: Vec<String> = statuses.iter().map(|s| go_json(s, true)).collect();
    format!("[{}]", items.join(","))
}

/// A default route (net-attach-def-client's `isDefaultRoute`): no destination, or the
/// unspecified address of either family, whatever the mask.
fn is_default_route(route: &Value) -> bool {
    match route.get("dst").and_then(Value::as_str) {
        None => true,
        Some(dst) => {
            let addr = dst.split('/').next().unwrap_or(dst);
            addr.parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_unspecified())
        }
    }
}

/// The network-status elements of one delegate's result (net-attach-def-client's
/// `CreateNetworkStatuses`), fields in Go's order: with exactly one interface, that element
/// takes every address; otherwise one element per interface in the pod, each with the
/// addresses naming it (addresses naming none go to the last). `gateway` lists the default
/// routes' `gw`, `<nil>` for one without.
pub fn network_statuses(
    result: &Value,
    name: &str,
    default: bool,
    device_info: Option<&Value>,
) -> Vec<Value> {
    let empty = Vec::new();
    let ifaces = result
        .get("interfaces")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let ips = result
        .get("ips")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let gateway: Vec<String> = result
        .get("routes")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter(|r| is_default_route(r))
        .map(|r| {
            r.get("gw")
                .and_then(Value::as_str)
                .unwrap_or("<nil>")
                .to_owned()
        })
        .collect();
    let addr = |ip: &Value| {
        let a = ip.get("address").and_then(Value::as_str).unwrap_or("");
        a.split('/').next().unwrap_or(a).to_owned()
    };
    let in_pod = |i: &Value| {
        i.get("sandbox")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let element = |iface: Option<&Value>, is_default: bool, addrs: Vec<String>| {
        let s = |k: &str| {
            iface
                .and_then(|i| i.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let mut m = Map::new();
        m.insert("name".into(), name.into());
        if !s("name").is_empty() {
            m.insert("interface".into(), s("name").into());
        }
        if !addrs.is_empty() {
            m.insert("ips".into(), json!(addrs));
        }
        if !s("mac").is_empty() {
            m.insert("mac".into(), s("mac").into());
        }
        if let Some(mtu) = iface
            .and_then(|i| i.get("mtu"))
            .and_then(Value::as_u64)
            .filter(|m| *m != 0)
        {
            m.insert("mtu".into(), mtu.into());
        }
        if is_default {
            m.insert("default".into(), true.into());
        }
        m.insert("dns".into(), dns(result.get("dns")));
        if let Some(d) = device_info {
            m.insert("device-info".into(), d.clone());
        }
        if !gateway.is_empty() {
            m.insert("gateway".into(), json!(gateway));
        }
        Value::Object(m)
    };
    if ifaces.len() == 1 {
        let iface = ifaces.iter().rfind(|i| in_pod(i));
        return vec![element(iface, default, ips.iter().map(addr).collect())];
    }
    // The interface of the first address with a gateway is the default one; else the first
    // in the pod.
    let gw_iface = ips
        .iter()
        .find(|ip| ip.get("gateway").is_some() && ip.get("interface").is_some())
        .and_then(|ip| ip.get("interface")?.as_u64());
    let pod_ifaces: Vec<usize> = (0..ifaces.len()).filter(|&i| in_pod(&ifaces[i])).collect();
    let default_at = match gw_iface {
        Some(g) if default => pod_ifaces.iter().position(|&i| i as u64 == g),
        None if default => (!pod_ifaces.is_empty()).then_some(0),
        _ => None,
    };
    let mut addrs: Vec<Vec<String>> = vec![Vec::new(); pod_ifaces.len()];
    for ip in ips {
        let slot = match ip.get("interface").and_then(Value::as_u64) {
            Some(n) => pod_ifaces.iter().position(|&i| i as u64 == n),
            None => pod_ifaces.len().checked_sub(1),
        };
        if let Some(s) = slot {
            addrs[s].push(addr(ip));
        }
    }
    pod_ifaces
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(k, (&i, a))| element(Some(&ifaces[i]), default_at == Some(k), a))
        .collect()
}

/// The result's DNS as the Go struct writes it (empty fields left out).
fn dns(d: Option<&Value>) -> Value {
    let mut m = Map::new();
    for key in ["nameservers", "domain", "search", "options"] {
        let v = d.and_then(|d| d.get(key));
        let keep = match v {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        if let (true, Some(v)) = (keep, v) {
            m.insert(key.into(), v.clone());
        }
    }
    Value::Object(m)
}

/// The device-info file's content as Multus copies it into network-status: Go's DeviceInfo
/// fields, in its order.
pub fn device_info_for_status(raw: &Value) -> Value {
    let keys = ["type", "version", "pci", "vdpa", "vhost-user", "memif"];
    let m: Map<String, Value> = keys
        .iter()
        .filter_map(|k| {
            let v = raw.get(*k)?;
            (!v.is_null() && v != "").then(|| ((*k).to_owned(), v.clone()))
        })
        .collect();
    Value::Object(m)
}

/// The AddedInterface event's message: `Add <ifname> [<addresses>] from <delegate name>`.
pub fn added_interface_message(ifname: &str, result: &Value, delegate_name: &str) -> String {
    let ips: Vec<&str> = result
        .get("ips")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|i| i.get("address")?.as_str())
                .collect()
        })
        .unwrap_or_default();
    let base = format!("Add {ifname} [{}]", ips.join(" "));
    if delegate_name.is_empty() {
        base
    } else {
        format!("{base} from {delegate_name}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pod() -> PodArgs {
        PodArgs {
            namespace: "default".into(),
            name: "fwd".into(),
            uid: "u1".into(),
            infra_container_id: "sb".into(),
        }
    }

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
    fn json_list_carries_the_mac_and_addresses() {
        let s = parse_selections(
            r#"[{"name":"dpdk-a","mac":"02:00:00:00:00:01","ips":["10.0.0.9/24"]}]"#,
        )
        .unwrap();
        assert_eq!(s[0].mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(s[0].ips, ["10.0.0.9/24"]);
    }

    #[test]
    fn an_empty_element_is_refused() {
        assert!(parse_selections("dpdk-a@").is_err());
    }

    #[test]
    fn interfaces_are_named_by_position_after_the_cluster_network() {
        let nad = Nad::from_object(
            &json!({"metadata": {"name": "a", "namespace": "default"}, "spec": {"config": "{}"}}),
        )
        .unwrap();
        let sel = parse_selections("a,a@fast0,a").unwrap();
        let mut all = vec![Delegate::cluster(json!({"name": "kindnet"}))];
        all.extend(sel.iter().map(|s| Delegate::secondary(&nad, s, None)));
        let names: Vec<_> = all
            .iter()
            .enumerate()
            .map(|(i, d)| d.ifname("eth0", i))
            .collect();
        assert_eq!(names, ["eth0", "net1", "fast0", "net3"]);
    }

    #[test]
    fn cni_args_are_the_five_keys_then_the_runtimes_verbatim_then_mac_and_ip() {
        let sel = NetworkSelection {
            mac: Some("02:00:00:00:00:01".into()),
            ips: vec!["10.0.0.9/24".into(), "fd00::9/64".into()],
            ..NetworkSelection::default()
        };
        assert_eq!(
            delegate_cni_args(
                &pod(),
                "IgnoreUnknown=1;K8S_POD_NAME=fwd;X=a=b;junk",
                Some(&sel)
            ),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID=sb;K8S_POD_UID=u1;IgnoreUnknown=1;K8S_POD_NAME=fwd;X=a=b;MAC=02:00:00:00:00:01;IP=10.0.0.9/24,fd00::9/64"
        );
    }

    #[test]
    fn a_runtime_value_fills_an_empty_key_instead_of_repeating_it() {
        let mut p = pod();
        p.uid = String::new();
        assert_eq!(
            delegate_cni_args(&p, "K8S_POD_UID=u9", None),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fwd;K8S_POD_INFRA_CONTAINER_ID=sb;K8S_POD_UID=u9"
        );
    }

    #[test]
    fn stdin_has_sorted_keys_only_declared_capabilities_and_go_escaping() {
        let config = json!({"type": "x", "name": "a<b>&c", "cniVersion": "1.0.0",
                            "capabilities": {"mac": true, "ips": false}, "ipam": {"z": 1, "a": 2}});
        let caps: Map<String, Value> = [
            ("mac".to_owned(), json!("02:00:00:00:00:01")),
            ("ips".to_owned(), json!(["10.0.0.9/24"])),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            delegate_stdin(&config, &caps, None),
            r#"{"capabilities":{"ips":false,"mac":true},"cniVersion":"1.0.0","ipam":{"a":2,"z":1},"name":"a\u003cb\u003e\u0026c","runtimeConfig":{"mac":"02:00:00:00:00:01"},"type":"x"}"#
        );
    }

    #[test]
    fn del_carries_the_prev_result_from_cni_0_4_0() {
        let v: Vec<bool> = ["0.3.1", "0.4.0", "1.0.0", ""]
            .iter()
            .map(|v| del_carries_prev_result(v))
            .collect();
        assert_eq!(v, [false, true, true, false]);
    }

    #[test]
    fn the_device_info_file_exists_only_with_a_device_id() {
        let nad = Nad::from_object(
            &json!({"metadata": {"name": "a", "namespace": "ns1"}, "spec": {"config": "{}"}}),
        )
        .unwrap();
        let sel = NetworkSelection::default();
        let dir = Path::new(DEVICE_INFO_DIR);
        assert_eq!(
            Delegate::secondary(&nad, &sel, None).device_info_file(dir, "c1", "net1"),
            None
        );
        assert_eq!(
            Delegate::secondary(&nad, &sel, Some("0000:01:00.1".into()))
                .device_info_file(dir, "c1", "net1"),
            Some(PathBuf::from(
                "/var/run/k8s.cni.cncf.io/devinfo/cni/ns1-a-c1_net1"
            ))
        );
    }

    #[test]
    fn the_gateway_comes_from_default_routes_and_a_route_without_gw_is_nil() {
        let result = json!({"cniVersion": "1.0.0",
            "interfaces": [{"name": "net1", "mac": "02:00:00:00:00:01", "sandbox": "/run/netns/x"}],
            "ips": [{"address": "10.1.1.2/24", "gateway": "10.1.1.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.2.0.0/16", "gw": "10.1.1.254"}, {"dst": "::/0", "gw": "fd00::1"}]});
        let s = network_statuses(&result, "default/a", false, None);
        assert_eq!(
            network_status_text(&s),
            "[{\n    \"name\": \"default/a\",\n    \"interface\": \"net1\",\n    \"ips\": [\n        \"10.1.1.2\"\n    ],\n    \"mac\": \"02:00:00:00:00:01\",\n    \"dns\": {},\n    \"gateway\": [\n        \"\\u003cnil\\u003e\",\n        \"fd00::1\"\n    ]\n}]"
        );
    }

    #[test]
    fn a_result_with_several_interfaces_gives_one_element_per_pod_interface() {
        let result = json!({"interfaces": [{"name": "veth0"}, {"name": "eth0", "sandbox": "/x"}, {"name": "eth1", "sandbox": "/x"}],
            "ips": [{"address": "10.0.0.2/24", "interface": 2, "gateway": "10.0.0.1"}, {"address": "10.0.1.2/24"}]});
        let s = network_statuses(&result, "kindnet", true, None);
        assert_eq!(
            s,
            [
                json!({"name": "kindnet", "interface": "eth0", "dns": {}}),
                json!({"name": "kindnet", "interface": "eth1", "ips": ["10.0.0.2", "10.0.1.2"], "default": true, "dns": {}})
            ]
        );
        assert!(network_statuses(&json!({}), "x", false, None).is_empty());
    }

    #[test]
    fn the_added_interface_event_lists_the_addresses_and_the_network() {
        let r = json!({"ips": [{"address": "10.1.1.2/24"}, {"address": "fd00::2/64"}]});
        assert_eq!(
            added_interface_message("net1", &r, "default/a"),
            "Add net1 [10.1.1.2/24 fd00::2/64] from default/a"
        );
    }

    #[test]
    fn the_delegate_path_is_the_bin_dir_then_the_runtimes() {
        assert_eq!(
            delegate_cni_path("/opt/multus/bin", "/opt/cni/bin:/usr/lib/cni"),
            "/opt/multus/bin:/opt/cni/bin:/usr/lib/cni"
        );
        assert_eq!(delegate_cni_path("/b", ""), "/b");
    }
}
