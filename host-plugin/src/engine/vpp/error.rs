//! What goes wrong on VPP: the API's own errors, and the engine's checks around them. Which
//! CNI code each is, is decided in `cni::classify`.

use ipnet::IpNet;
use vpp_api::VppError;

/// The VPP engine's failures.
#[derive(Debug, thiserror::Error)]
pub enum VppEngineError {
    /// The API session or a request.
    #[error(transparent)]
    Api(#[from] VppError),
    /// The config cannot be served (the bridge-domain id).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// `netType: interface` without an address for VPP's side.
    #[error(
        "host.netType interface needs an address for the host side: configure IPAM with a gateway"
    )]
    NoHostAddress,
    /// A vhost-user socket path VPP cannot hold.
    #[error("vhost-user socket path {path} is longer than VPP's 255 bytes")]
    VhostSocketTooLong {
        /// The path.
        path: String,
    },
    /// A memif socket path longer than a unix socket's.
    #[error("memif socket path {path} is longer than {max} bytes")]
    MemifSocketTooLong {
        /// The path.
        path: String,
        /// The limit.
        max: usize,
    },
    /// The gateway's subnet is on an interface that is not the plugin's loopback. The cause
    /// is in the message (it is what VPP said), so it is no `source`.
    #[error(
        "{cause}: another VPP interface has {gateway}'s subnet already (the plugin holds each gateway on a loopback of its own)"
    )]
    GatewaySubnetTaken {
        /// The gateway.
        gateway: IpNet,
        /// VPP's refusal.
        cause: VppError,
    },
    /// VPP refused to remove something the attachment holds.
    #[error("VPP refused to {what}: {}", vpp_api::error::retval_name(*retval))]
    Refused {
        /// What (`remove the route to 10.0.0.2/32`…).
        what: String,
        /// VPP's `retval`.
        retval: i32,
    },
    /// CHECK: the attachment's L3 is not all there.
    #[error("the attachment's L3 on VPP is incomplete: {0}")]
    L3Incomplete(String),
    /// A shared object was to be changed without the verb's lock: a bug.
    #[error("{name}: VPP objects other attachments share were to be changed without the lock")]
    SharedUnlocked {
        /// The interface's name.
        name: String,
    },
}
