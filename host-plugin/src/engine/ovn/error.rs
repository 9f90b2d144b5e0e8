//! What goes wrong in the OVN engine: the northbound database, the node's OVS, and the
//! engine's own waits and checks. Which CNI code each is, is decided in `cni::classify`.

use std::time::Duration;

use super::northbound::NbError;
use crate::engine::ovs::OvsError;

/// The OVN engine's failures.
#[derive(Debug, thiserror::Error)]
pub enum OvnError {
    /// The northbound database.
    #[error("OVN northbound: {0}")]
    Northbound(#[from] NbError),
    /// The node's OVS (the local port, `ovn-installed`, `system-id`).
    #[error(transparent)]
    Ovs(#[from] OvsError),
    /// The `ovn` settings of the config.
    #[error("{0}")]
    Settings(String),
    /// Port security needs the pod's address and the IPAM plugin gave none.
    #[error("the IPAM plugin gave no address: the logical port's port security needs one")]
    NoAddressForPortSecurity,
    /// The chassis is not configured and OVS does not name it.
    #[error(
        "this node's OVS has no external_ids:system-id: set it (ovn-controller's chassis) or ovn.chassis"
    )]
    NoSystemId,
    /// ADD: `ovn-installed` did not appear in time.
    #[error(
        "ovn-controller did not install logical port {port} on chassis {chassis} within {}s \
         (no ovn-installed on OVS interface {local}): is ovn-controller running and \
         connected to the southbound database?",
        timeout.as_secs()
    )]
    NotInstalled {
        /// The logical port.
        port: String,
        /// This node's chassis.
        chassis: String,
        /// The OVS interface.
        local: String,
        /// The wait's bound.
        timeout: Duration,
    },
    /// ADD: the logical port's name is another attachment's.
    #[error("OVN logical port {port} belongs to attachment {owner} (its DEL has not run yet)")]
    PortOfAnother {
        /// The logical port.
        port: String,
        /// Its attachment.
        owner: String,
    },
    /// ADD: the port inserted is not there when read back.
    #[error("OVN logical port {port} vanished after its insert")]
    Vanished {
        /// The logical port.
        port: String,
    },
    /// CHECK: the port is bound to another chassis.
    #[error("OVN logical port {port} is pinned to chassis {pinned}, not this node's {chassis}")]
    PinnedElsewhere {
        /// The logical port.
        port: String,
        /// Its `requested-chassis`.
        pinned: String,
        /// This node's.
        chassis: String,
    },
    /// CHECK: `ovn-installed` is not (or no longer) on the interface.
    #[error(
        "ovn-controller has not installed logical port {port} (no ovn-installed on OVS interface {local})"
    )]
    NotInstalledYet {
        /// The logical port.
        port: String,
        /// The OVS interface.
        local: String,
    },
    /// STATUS: no integration bridge.
    #[error("integration bridge {bridge} does not exist: is ovn-controller running?")]
    NoIntegrationBridge {
        /// Its name.
        bridge: String,
    },
    /// STATUS: ovn-controller is not configured.
    #[error("this node's OVS has no external_ids:ovn-remote: ovn-controller is not configured")]
    NoOvnRemote,
    /// STATUS: `ovn-remote` is not an endpoint (the cause is in the message).
    #[error("external_ids:ovn-remote {remote:?}: {cause}")]
    BadOvnRemote {
        /// Its value.
        remote: String,
        /// Why.
        cause: ovsdb::Error,
    },
    /// STATUS: the southbound database did not answer (the cause is in the message).
    #[error("the southbound database at {endpoint}: {cause}")]
    Southbound {
        /// Where.
        endpoint: String,
        /// Why.
        cause: ovsdb::Error,
    },
    /// STATUS: this node's chassis is not in the southbound database.
    #[error(
        "chassis {chassis} is not registered in the southbound database: is ovn-controller running on this node?"
    )]
    ChassisNotRegistered {
        /// This node's chassis.
        chassis: String,
    },
}
