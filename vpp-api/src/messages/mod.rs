//! Message definitions, one module per `.api` file. Layouts and CRCs are those of VPP 25.10
//! to 26.10 (the CRCs were produced by VPP's own `vppapigen` and agree with govpp's bindings
//! for 25.10); a VPP whose definition differs is detected by the handshake, not here.

pub mod arp;
pub mod interface;
pub mod ip;
pub mod l2;
pub mod memclnt;
pub mod memif;
pub mod vhost_user;
pub mod vlib;
