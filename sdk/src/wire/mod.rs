//! Wire formats as serde types, in one place: what the plugin writes and what pods read.
//!
//! - [`netconf`]: the `userspace` plugin's network configuration (the Go plugin's schema),
//!   every key's type and bounds checked as it is decoded ([`checked`]);
//! - [`cni_result`]: CNI results of every supported version;
//! - [`configuration_data`]: the `userspace/configuration-data` annotation and file;
//! - [`network_status`]: Multus' `k8s.v1.cni.cncf.io/network-status` annotation;
//! - [`device_info`]: the NPWG device-info specification (1.0.0, 1.1.0);
//! - [`legacy`]: the vhost-user CNI's and kuryr's per-port files.

pub mod checked;
pub mod cni_result;
pub mod configuration_data;
pub mod device_info;
pub mod legacy;
pub mod netconf;
pub mod network_status;

pub use cni_result::{CniInterface, CniResult, Dns, IpConfig, Route};
pub use configuration_data::{
    CONFIGURATION_DATA_ANNOTATION, ConfigurationData, ConfigurationDataError,
    MAPPED_DIR_ANNOTATION, merge_entry, parse_configuration_data,
};
pub use device_info::{
    Device, DeviceInfo, DeviceInfoError, MemifDevice, PciDevice, VdpaDevice, VhostUserDevice,
};
pub use legacy::{KuryrPort, VhostUserCniPort, VhostUserIp4Conf};
pub use netconf::{
    BridgeConf, Engine, IfType, LogLevel, MAX_MTU, MAX_QUEUES, MIN_MTU, MemifConf, MemifMode,
    MemifRole, NetConf, NetConfError, NetType, OvnConf, RuntimeConfig, TlsFilesConf, UserspaceConf,
    VhostConf, VhostMode,
};
pub use network_status::{
    NETWORK_STATUS_ANNOTATION, NETWORKS_STATUS_ANNOTATION_DEPRECATED, NetworkStatus,
    NetworkStatusError, parse_network_status,
};
