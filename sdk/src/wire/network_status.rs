//! Multus' `k8s.v1.cni.cncf.io/network-status` annotation.

use crate::mac::MacAddr;
use serde::{Deserialize, Serialize};
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
    /// Gateways.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<String>,
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
}
