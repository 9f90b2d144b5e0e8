//! The SR-IOV device plugin's environment variables:
//! `PCIDEVICE_<RESOURCE>=0000:03:02.0,0000:03:02.1`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PCI address `dddd:bb:dd.f`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    domain: u16,
    bus: u8,
    device: u8,
    function: u8,
}

/// Not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a PCI address (expected dddd:bb:dd.f or bb:dd.f, hex)")]
pub struct PciAddressError(pub String);

impl FromStr for PciAddress {
    type Err = PciAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PciAddressError(s.to_owned());
        let (rest, function) = s.rsplit_once('.').ok_or_else(err)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts[..] {
            [d, b, dev] if d.len() == 4 => (d, b, dev),
            [b, dev] => ("0000", b, dev),
            _ => return Err(err()),
        };
        if bus.len() != 2 || device.len() != 2 || function.len() != 1 {
            return Err(err());
        }
        let hex8 = |t: &str| u8::from_str_radix(t, 16).map_err(|_| err());
        let a = Self {
            domain: u16::from_str_radix(domain, 16).map_err(|_| err())?,
            bus: hex8(bus)?,
            device: hex8(device)?,
            function: hex8(function)?,
        };
        if a.device > 0x1f || a.function > 7 {
            return Err(err());
        }
        Ok(a)
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl Serialize for PciAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PciAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The devices of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciResource {
    /// The variable (`PCIDEVICE_INTEL_COM_SRIOV_DPDK`).
    pub env_name: String,
    /// The part after `PCIDEVICE_`.
    pub resource: String,
    /// The devices.
    pub addresses: Vec<PciAddress>,
    /// The matching `…_INFO` variable newer device plugins set, raw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// A malformed `PCIDEVICE_*` variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}")]
pub struct PciDeviceError {
    /// The variable.
    pub var: String,
    /// The bad entry.
    #[source]
    pub source: PciAddressError,
}

/// Collects the `PCIDEVICE_*` variables, sorted by name.
pub fn from_env<I: IntoIterator<Item = (String, String)>>(
    vars: I,
) -> Result<Vec<PciResource>, PciDeviceError> {
    let vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("PCIDEVICE_"))
        .collect();
    let mut out = Vec::new();
    for (k, v) in &vars {
        if k.ends_with("_INFO") || v.trim().is_empty() {
            continue;
        }
        let addresses = v
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().map_err(|source| PciDeviceError {
                    var: k.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let info_name = format!("{k}_INFO");
        out.push(PciResource {
            env_name: k.clone(),
            resource: k["PCIDEVICE_".len()..].to_owned(),
            addresses,
            info: vars
                .iter()
                .find(|(n, _)| *n == info_name)
                .map(|(_, v)| v.clone()),
        });
    }
    out.sort_by(|a, b| a.env_name.cmp(&b.env_name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_resource_lists_its_devices_in_order() {
        let r = from_env(vars(&[
            ("PATH", "/bin"),
            (
                "PCIDEVICE_INTEL_COM_SRIOV_DPDK",
                "0000:03:02.0,0000:03:02.1",
            ),
            (
                "PCIDEVICE_INTEL_COM_SRIOV_DPDK_INFO",
                "{\"0000:03:02.0\":{}}",
            ),
        ]))
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].resource, "INTEL_COM_SRIOV_DPDK");
        assert_eq!(
            r[0].addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["0000:03:02.0", "0000:03:02.1"]
        );
        assert!(r[0].info.is_some());
    }

    #[test]
    fn short_addresses_get_domain_zero_and_bad_ones_name_the_variable() {
        assert_eq!(
            "18:02.5".parse::<PciAddress>().unwrap().to_string(),
            "0000:18:02.5"
        );
        let e = from_env(vars(&[("PCIDEVICE_X", "0000:03:02.0,zz:00.0")])).unwrap_err();
        let e = crate::error_chain(&e);
        assert!(e.contains("PCIDEVICE_X") && e.contains("zz:00.0"), "{e}");
        for bad in ["0000:03:20.0", "0000:03:02.8", "03:02", "0000:003:02.0"] {
            assert!(bad.parse::<PciAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_values_are_ignored() {
        assert!(from_env(vars(&[("PCIDEVICE_Y", "")])).unwrap().is_empty());
    }
}
