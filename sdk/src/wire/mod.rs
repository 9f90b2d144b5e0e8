//! Wire formats as serde types, in one place: what the plugin writes and what pods read.
//!
//! - [`netconf`]: the `userspace` plugin's network configuration (the Go plugin's schema);
//! - [`cni_result`]: CNI results of every supported version;
//! - [`configuration_data`]: the `userspace/configuration-data` annotation and file;
//! - [`network_status`]: Multus' `k8s.v1.cni.cncf.io/network-status` annotation;
//! - [`device_info`]: the NPWG device-info specification (1.0.0, 1.1.0);
//! - [`legacy`]: the vhost-user CNI's and kuryr's per-port files.
//!
//! Every type round-trips: unknown keys are kept where the format allows extensions, optional
//! fields that were absent stay absent, and empty objects such as `"memif":{}` stay empty.
//! Parse errors carry the line and column of the offending JSON.

pub mod cni_result;
pub mod configuration_data;
pub mod device_info;
pub mod legacy;
pub mod netconf;
pub mod network_status;

pub use cni_result::{
    CniInterface, CniResult, Dns, IpConfig, Route, SUPPORTED_VERSIONS, UnsupportedVersion,
};
pub use configuration_data::{
    CONFIGURATION_DATA_ANNOTATION, ConfigurationData, ConfigurationDataError,
    MAPPED_DIR_ANNOTATION, merge_entry, parse_configuration_data,
};
pub use device_info::{
    Device, DeviceInfo, DeviceInfoError, MemifDevice, PciDevice, VdpaDevice, VhostUserDevice,
    device_plugin_file_name,
};
pub use legacy::{KuryrPort, LegacyError, VhostUserCniPort, VhostUserIp4Conf};
pub use netconf::{
    BridgeConf, Engine, IfType, LogLevel, MemifConf, MemifMode, MemifRole, NetConf, NetConfError,
    NetType, RuntimeConfig, UnknownValue, UserspaceConf, VhostConf, VhostMode,
};
pub use network_status::{
    NETWORK_STATUS_ANNOTATION, NETWORKS_STATUS_ANNOTATION_DEPRECATED, NetworkStatus,
    NetworkStatusError, parse_network_status,
};

/// serde_json's message without the " at line L column C" it appends, for errors that keep the
/// position in fields of their own.
fn message_without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}
