//! The OVS-DPDK engine: an OVSDB (RFC 7047) JSON-RPC client over the unix socket of
//! `ovsdb-server`, with no `ovs-vsctl` child processes.
//!
//! - [`jsonrpc`]: the transport (unframed concatenated JSON, `echo` keep-alives, ids);
//! - [`ovsdb`]: `transact` with per-operation error checking, and OVSDB value encodings;
//! - [`engine`]: the operations the plugin needs (bridge, port add/delete/find).

pub mod engine;
pub mod jsonrpc;
pub mod ovsdb;

pub use engine::{AddedPort, InterfaceInfo, OvsClient, PortInfo, PortKind, PortSpec};
pub use ovsdb::OvsError;
