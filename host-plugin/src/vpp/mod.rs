//! The VPP engine: memif and vhost-user interfaces on the host's VPP, driven over its binary
//! API (the `vpp-api` crate), in a bridge domain (`netType: bridge`) or with an L3 address
//! (`netType: interface`). What ADD did is recorded ([`VppAttached`]) so DEL undoes exactly
//! that and nothing the operator made.

pub mod attach;

pub use attach::{L3, Vpp, VppAttached, VppIfType, VppPlan};
