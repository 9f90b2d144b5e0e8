//! The NPWG Device Information Specification (1.0.0 and 1.1.0).

use serde::{Deserialize, Serialize};

use super::netconf::{MemifMode, MemifRole, VhostMode};

/// A device-info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Spec version (`1.0.0` or `1.1.0`).
    pub version: String,
    /// The device, tagged by `type`.
    #[serde(flatten)]
    pub device: Device,
}

/// The device kinds of the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Device {
    /// A PCI device.
    Pci {
        /// Its fields.
        pci: PciDevice,
    },
    /// A vDPA device.
    Vdpa {
        /// Its fields.
        vdpa: VdpaDevice,
    },
    /// A vhost-user socket.
    VhostUser {
        /// Its fields.
        #[serde(rename = "vhost-user")]
        vhost_user: VhostUserDevice,
    },
    /// A memif socket.
    Memif {
        /// Its fields.
        memif: MemifDevice,
    },
}

/// `pci` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PciDevice {
    /// PCI address (required).
    pub pci_address: String,
    /// vhost-net device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_net: Option<String>,
    /// RDMA device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdma_device: Option<String>,
    /// PF of a VF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_pci_address: Option<String>,
    /// Representor (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representor_device: Option<String>,
}

/// `vdpa` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VdpaDevice {
    /// Parent device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_device: Option<String>,
    /// `vhost` or `virtio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Character device path (required).
    pub path: String,
    /// PCI address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<String>,
    /// PF address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_pci_address: Option<String>,
    /// Representor (1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representor_device: Option<String>,
}

/// `vhost-user` fields; `mode` is the app's side (`server`: the app creates the socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostUserDevice {
    /// client or server.
    pub mode: VhostMode,
    /// Socket path.
    pub path: String,
}

/// `memif` fields; `role` is the app's side (`master`: the app creates the socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemifDevice {
    /// master or slave.
    pub role: MemifRole,
    /// Socket path.
    pub path: String,
    /// Mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<MemifMode>,
}

/// Invalid device info.
#[derive(Debug, thiserror::Error)]
pub enum DeviceInfoError {
    /// Not JSON of the spec's shape.
    #[error("device-info")]
    Json(#[from] serde_json::Error),
    /// A version this crate does not know.
    #[error("device-info version {0:?} is not 1.0.0 or 1.1.0")]
    Version(String),
    /// A 1.1.0 field in a 1.0.0 document.
    #[error("device-info 1.0.0 cannot carry representor-device (added in 1.1.0)")]
    RepresentorIn1_0,
}

impl DeviceInfo {
    /// Parses and validates.
    pub fn from_json(json: &str) -> Result<Self, DeviceInfoError> {
        let d: Self = serde_json::from_str(json)?;
        d.validate()?;
        Ok(d)
    }

    /// Checks the version and version-specific fields.
    pub fn validate(&self) -> Result<(), DeviceInfoError> {
        match self.version.as_str() {
            "1.1.0" => Ok(()),
            "1.0.0" => {
                let rep = match &self.device {
                    Device::Pci { pci } => pci.representor_device.is_some(),
                    Device::Vdpa { vdpa } => vdpa.representor_device.is_some(),
                    _ => false,
                };
                if rep {
                    Err(DeviceInfoError::RepresentorIn1_0)
                } else {
                    Ok(())
                }
            }
            v => Err(DeviceInfoError::Version(v.to_owned())),
        }
    }
}

/// The file name a device plugin uses: `<resource with / → ->-<deviceID>-device.json`.
pub fn device_plugin_file_name(resource: &str, device_id: &str) -> String {
    format!("{}-{device_id}-device.json", resource.replace('/', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_round_trips_with_kebab_case_fields() {
        for text in [
            r#"{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:02.5","pf-pci-address":"0000:18:00.0","representor-device":"eth4"}}"#,
            r#"{"type":"vdpa","version":"1.0.0","vdpa":{"parent-device":"vdpa:0000:65:00.3","driver":"vhost","path":"/dev/vhost-vdpa-1","pci-address":"0000:65:00.3"}}"#,
            r#"{"type":"vhost-user","version":"1.0.0","vhost-user":{"mode":"server","path":"/var/lib/cni/usrspcni/4d578250ad8d-net1"}}"#,
            r#"{"type":"memif","version":"1.1.0","memif":{"role":"slave","path":"/run/memif.sock","mode":"ethernet"}}"#,
        ] {
            let d = DeviceInfo::from_json(text).unwrap();
            assert_eq!(
                serde_json::to_value(&d).unwrap(),
                serde_json::from_str::<serde_json::Value>(text).unwrap()
            );
        }
    }

    #[test]
    fn version_1_0_0_cannot_have_a_representor() {
        let t = r#"{"type":"pci","version":"1.0.0","pci":{"pci-address":"0000:18:02.5","representor-device":"eth4"}}"#;
        assert!(matches!(
            DeviceInfo::from_json(t),
            Err(DeviceInfoError::RepresentorIn1_0)
        ));
    }

    #[test]
    fn unknown_versions_and_missing_required_fields_are_errors() {
        assert!(matches!(
            DeviceInfo::from_json(
                r#"{"type":"memif","version":"2.0.0","memif":{"role":"slave","path":"/x"}}"#
            ),
            Err(DeviceInfoError::Version(_))
        ));
        assert!(DeviceInfo::from_json(r#"{"type":"pci","version":"1.1.0","pci":{}}"#).is_err());
    }

    #[test]
    fn device_plugin_files_are_named_after_the_resource() {
        assert_eq!(
            device_plugin_file_name("intel.com/sriov_dpdk", "0000:18:02.5"),
            "intel.com-sriov_dpdk-0000:18:02.5-device.json"
        );
    }
}
