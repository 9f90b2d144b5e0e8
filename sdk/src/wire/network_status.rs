//! Multus' `k8s.v1.cni.cncf.io/network-status` annotation.

use std::net::IpAddr;

use crate::mac::MacAddr;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::device_info::DeviceInfo;

/// The annotation.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";
/// Its deprecated spelling, still written by old Multus versions.
pub const NETWORKS_STATUS_ANNOTATION_DEPRECATED: &str = "k8s.v1.cni.cncf.io/networks-status";

/// One network of the pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    /// Network (attachment definition) name, `namespace/name`.
    pub name: String,
    /// Interface name in the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Addresses, without prefix length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// MAC (`""` reads as none).
    #[serde(
        default,
        with = "crate::mac::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<MacAddr>,
    /// MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The cluster default network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// DNS as the plugin returned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Value>,
    /// Device information.
    #[serde(
        rename = "device-info",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_info: Option<DeviceInfo>,
    /// Gateways: the next hops of the network's default routes. Multus writes `"<nil>"` for a
    /// default route without one, which reads as absent; so does anything else that is not an
    /// address (a malformed gateway must not make the whole annotation unreadable).
    #[serde(
        default,
        deserialize_with = "lenient_gateways",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub gateway: Vec<IpAddr>,
}

/// The addresses among `gateway`'s values: a list of strings as Multus writes it, or a single
/// string; anything else gives none.
fn lenient_gateways<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    let v = Value::deserialize(d)?;
    let items = match &v {
        Value::Array(a) => a.as_slice(),
        Value::String(_) => std::slice::from_ref(&v),
        _ => &[],
    };
    Ok(items
        .iter()
        .filter_map(|g| g.as_str()?.trim().parse().ok())
        .collect())
}

/// Malformed network-status.
#[derive(Debug, thiserror::Error)]
#[error("network-status")]
pub struct NetworkStatusError(#[from] serde_json::Error);

/// Parses the annotation's value.
pub fn parse_network_status(json: &str) -> Result<Vec<NetworkStatus>, NetworkStatusError> {
    let t = json.trim();
    if t.is_empty() || t == "null" {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_str(t)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Device;

    const SAMPLE: &str = include_str!("../../tests/fixtures/wire/network-status.json");

    #[test]
    fn multus_status_with_every_device_kind_round_trips() {
        let list = parse_network_status(SAMPLE).unwrap();
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::from_str::<Value>(SAMPLE).unwrap()
        );
        let kinds: Vec<_> = list
            .iter()
            .filter_map(|s| s.device_info.as_ref())
            .map(|d| match d.device {
                Device::Pci { .. } => "pci",
                Device::Vdpa { .. } => "vdpa",
                Device::VhostUser { .. } => "vhost-user",
                Device::Memif { .. } => "memif",
            })
            .collect();
        assert_eq!(kinds, ["vhost-user", "memif", "pci", "vdpa"]);
        assert!(list[0].default);
    }

    /// What multus-harness wrote for the containerd demo's pod, as Multus v4.2 writes it:
    /// elements indented on their own, `<nil>` escaped for a default route without gateway.
    const MULTUS_4_2: &str =
        include_str!("../../tests/fixtures/wire/network-status-multus-4.2.json");

    #[test]
    fn a_nil_gateway_from_multus_reads_as_absent_and_a_real_one_as_an_address() {
        let list = parse_network_status(MULTUS_4_2).unwrap();
        let gateways: Vec<(&str, Vec<IpAddr>)> = list
            .iter()
            .map(|s| (s.name.as_str(), s.gateway.clone()))
            .collect();
        assert_eq!(
            gateways,
            [
                ("kindnet", vec!["10.98.0.1".parse().unwrap()]),
                ("default/dpdk-a", vec![]),
                ("default/dpdk-b", vec![]),
            ]
        );
    }

    #[test]
    fn a_malformed_gateway_does_not_make_the_annotation_unreadable() {
        let text = r#"[{"name": "a", "gateway": ["10.0.0.1", "not-an-ip", 7, "fd00::1"]},
                       {"name": "b", "gateway": "10.0.0.9"}, {"name": "c", "gateway": {"x": 1}}]"#;
        let list = parse_network_status(text).unwrap();
        assert_eq!(
            list[0].gateway,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "fd00::1".parse().unwrap()
            ]
        );
        assert_eq!(list[1].gateway, ["10.0.0.9".parse::<IpAddr>().unwrap()]);
        assert!(list[2].gateway.is_empty());
    }
}
