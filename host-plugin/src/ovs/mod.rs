//! The OVS-DPDK engine's switch side: the operations the plugin needs on the `Open_vSwitch`
//! database (bridge, port add/delete/find), through the project's [`ovsdb`] client over the
//! socket of `ovsdb-server`, with no `ovs-vsctl` child processes.

pub mod engine;

pub use engine::{AddedPort, InterfaceInfo, OvsClient, OvsError, PortInfo, PortKind, PortSpec};
