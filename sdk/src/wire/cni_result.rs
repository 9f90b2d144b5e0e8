//! CNI results, readable and writable in every supported version: 0.3.x/0.4.0 carry a
//! `version` per IP, 1.x do not, and only 1.1.0 has `socketPath` / `pciID` on interfaces.

use std::net::IpAddr;

use crate::mac::MacAddr;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// CNI versions this crate reads and writes.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// A result (ADD output, prevResult, configuration-data `ipResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniResult {
    /// cniVersion.
    pub cni_version: String,
    /// Interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<CniInterface>,
    /// Addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    /// Anything else, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An interface of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniInterface {
    /// Name.
    pub name: String,
    /// MAC (`""` reads as none).
    #[serde(
        default,
        with = "crate::mac::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<MacAddr>,
    /// MTU (1.0+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Network namespace path, empty for host interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// vhost-user / memif socket (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_path: Option<String>,
    /// PCI address (1.1.0).
    #[serde(rename = "pciID", default, skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

/// An address of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `"4"` or `"6"` in 0.3.x and 0.4.0 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
    /// Address with prefix.
    pub address: IpNet,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// A route of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: IpNet,
    /// Next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    /// MTU (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Advertised MSS (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    /// Priority (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Table (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// Scope (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
}

/// DNS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Local domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A version this crate cannot write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cniVersion {0:?} is not supported (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)")]
pub struct UnsupportedVersion(pub String);

impl CniResult {
    /// An empty result of a version.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            cni_version: version.into(),
            interfaces: Vec::new(),
            ips: Vec::new(),
            routes: Vec::new(),
            dns: None,
            extra: Map::new(),
        }
    }

    /// The same result in another version's shape.
    pub fn convert_to(&self, version: &str) -> Result<CniResult, UnsupportedVersion> {
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(UnsupportedVersion(version.to_owned()));
        }
        let legacy = version.starts_with("0.");
        let v11 = version == "1.1.0";
        let mut r = self.clone();
        r.cni_version = version.to_owned();
        for ip in &mut r.ips {
            ip.version = legacy.then(|| {
                if ip.address.addr().is_ipv4() {
                    "4"
                } else {
                    "6"
                }
                .to_owned()
            });
        }
        for i in &mut r.interfaces {
            if !v11 {
                i.socket_path = None;
                i.pci_id = None;
            }
            if legacy {
                i.mtu = None;
            }
        }
        if !v11 {
            for rt in &mut r.routes {
                (rt.mtu, rt.advmss, rt.priority, rt.table, rt.scope) =
                    (None, None, None, None, None);
            }
        }
        Ok(r)
    }

    /// The MAC of the named interface.
    pub fn mac_of(&self, ifname: &str) -> Option<MacAddr> {
        self.interfaces.iter().find(|i| i.name == ifname)?.mac
    }

    /// The first IPv4 address.
    pub fn first_ipv4(&self) -> Option<&IpConfig> {
        self.ips.iter().find(|i| i.address.addr().is_ipv4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> CniResult {
        let r: CniResult = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        r
    }

    #[test]
    fn results_of_every_version_round_trip() {
        round_trip(include_str!("../../tests/fixtures/wire/result-0.3.1.json"));
        round_trip(include_str!("../../tests/fixtures/wire/result-0.4.0.json"));
        round_trip(include_str!("../../tests/fixtures/wire/result-1.0.0.json"));
        let r = round_trip(include_str!("../../tests/fixtures/wire/result-1.1.0.json"));
        assert_eq!(
            r.interfaces[0].socket_path.as_deref(),
            Some("/var/lib/cni/usrspcni/4d578250ad8d-net1")
        );
    }

    #[test]
    fn converting_to_0_3_1_adds_ip_versions() {
        let r = round_trip(include_str!("../../tests/fixtures/wire/result-1.1.0.json"));
        let old = r.convert_to("0.3.1").unwrap();
        assert_eq!(old.ips[0].version.as_deref(), Some("4"));
        assert_eq!(old.ips[1].version.as_deref(), Some("6"));
        assert!(
            old.interfaces[0].socket_path.is_none(),
            "socketPath is 1.1.0 only"
        );
        assert!(old.interfaces[0].mtu.is_none(), "mtu is 1.0.0+ only");
    }

    #[test]
    fn converting_to_1_0_0_drops_ip_versions() {
        let r = round_trip(include_str!("../../tests/fixtures/wire/result-0.4.0.json"));
        let new = r.convert_to("1.0.0").unwrap();
        assert!(new.ips.iter().all(|i| i.version.is_none()));
        assert_eq!(new.cni_version, "1.0.0");
    }

    #[test]
    fn unknown_versions_are_refused() {
        let r = CniResult::new("1.0.0");
        assert_eq!(
            r.convert_to("2.0.0").unwrap_err(),
            UnsupportedVersion("2.0.0".into())
        );
    }
}
