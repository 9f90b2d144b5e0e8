//! Per-port files of the older plugins: the vhost-user CNI's `<id12>-<ifname>.json` and
//! `<id12>-<ifname>-ip4.conf`, and kuryr-kubernetes' `<containerID>-<ifname>`.

use serde::{Deserialize, Serialize};

use super::netconf::VhostMode;
use crate::mac::{self, MacAddr};

/// vhost-user CNI `<id12>-<ifname>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostUserCniPort {
    /// The switch's port name.
    pub vhostname: String,
    /// The switch port's MAC.
    pub vhostmac: MacAddr,
    /// Interface name in the pod.
    pub ifname: String,
    /// MAC the app should use.
    pub ifmac: MacAddr,
    /// The helper that configured the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_tool: Option<String>,
}

/// vhost-user CNI `<id12>-<ifname>-ip4.conf` (also written by the `userspace` plugin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VhostUserIp4Conf {
    /// Address with prefix.
    pub ip_addr: String,
    /// MAC the app should use (`""` in the file reads as none).
    #[serde(
        default,
        with = "mac::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac_addr: Option<MacAddr>,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The gateway's (switch port's) MAC.
    #[serde(
        default,
        with = "mac::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub gw_mac: Option<MacAddr>,
}

/// kuryr-kubernetes per-port file; `mode` is the app's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KuryrPort {
    /// Socket (port) name, relative to the mount point.
    pub vhostname: String,
    /// MAC of the port.
    pub vhostmac: MacAddr,
    /// client (OVS made the socket) or server (the app makes it).
    pub mode: VhostMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(text: &str) -> T {
        let v: T = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
        v
    }

    #[test]
    fn vhostuser_cni_files_round_trip() {
        let p: VhostUserCniPort = round_trip(include_str!(
            "../../tests/fixtures/wire/vhostuser-cni-port.json"
        ));
        assert_eq!(p.ifname, "net1");
        let c: VhostUserIp4Conf = round_trip(include_str!(
            "../../tests/fixtures/wire/vhostuser-cni-ip4.conf"
        ));
        assert_eq!(c.ip_addr, "10.56.217.132/32");
    }

    #[test]
    fn kuryr_port_file_round_trips() {
        let k: KuryrPort = round_trip(include_str!("../../tests/fixtures/wire/kuryr-port.json"));
        assert_eq!(k.mode, VhostMode::Server);
    }
}
