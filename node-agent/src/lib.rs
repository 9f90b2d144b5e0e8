//! `userspace-node`, the node agent, as a library so that its parts are tested in-process.
//!
//! It reads the plugin's state directory (the journals are the source of truth and are only
//! read here), watches the switches with the project's own clients, and serves `/metrics`,
//! `/healthz` and `/readyz`.
#![deny(missing_docs)]

pub mod http;
pub mod metrics;
pub mod ovs;
pub mod state;
pub mod vpp;
pub mod vpp_counters;
