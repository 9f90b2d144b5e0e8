//! VPP's binary API over its unix socket (`/run/vpp/api.sock`), spoken directly: no
//! generated bindings tied to one VPP release. Every message is looked up by `name_crc` in
//! the table VPP sends at the handshake, so a VPP whose definition of a message changed is
//! told apart from one that lacks it, and neither is sent bytes it would misread.
//!
//! - [`codec`]: field encoding; [`frame`]: the socket framing; [`message`]: headers and the
//!   message traits; [`messages`]: the definitions used by the plugin and the agent.
//! - [`client`]: the session. [`fake`] (feature `fake`): a server for tests.

pub mod client;
pub mod codec;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod frame;
pub mod message;
pub mod messages;
pub mod stats;

pub use client::{Client, DEFAULT_SOCKET};
pub use error::{Retval, VppError};
