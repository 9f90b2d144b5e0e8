//! Client errors. A changed message definition is reported with the message, both CRCs and
//! the VPP version, because that is what the operator needs to act on.

use std::path::PathBuf;
use std::time::Duration;

use crate::codec::DecodeError;
use crate::frame::FrameError;

/// What went wrong talking to VPP.
#[derive(Debug, thiserror::Error)]
pub enum VppError {
    /// The API socket cannot be reached.
    #[error("cannot connect to the VPP API socket {path}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed or VPP closed it.
    #[error("VPP API connection on {path} lost")]
    Disconnected {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("no reply from VPP to {message} within {timeout:?}")]
    Timeout {
        /// The request.
        message: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// VPP refused the session.
    #[error("VPP refused the API session (sockclnt_create response {0})")]
    Refused(i32),
    /// This VPP has the message with another definition.
    #[error(
        "VPP {vpp_version} has {message} with CRC {found}, this client speaks {ours}: the message changed in this VPP release"
    )]
    CrcMismatch {
        /// The message.
        message: &'static str,
        /// Our CRC.
        ours: &'static str,
        /// The CRC(s) VPP lists.
        found: String,
        /// `show_version`, or why it is unknown.
        vpp_version: String,
    },
    /// This VPP does not have the message at all (plugin not loaded, or too old).
    #[error(
        "VPP {vpp_version} does not know {message} (CRC {ours}): is its plugin loaded? (memif_plugin.so, vhost_plugin.so)"
    )]
    Unsupported {
        /// The message.
        message: &'static str,
        /// Our CRC.
        ours: &'static str,
        /// `show_version`, or why it is unknown.
        vpp_version: String,
    },
    /// VPP answered with an error code.
    #[error("VPP {message} failed: {retval} ({})", retval_name(*retval))]
    Retval {
        /// The request.
        message: &'static str,
        /// The `vnet_api_error_t`.
        retval: i32,
    },
    /// Bytes that do not frame.
    #[error("VPP sent a malformed frame")]
    Frame(#[from] FrameError),
    /// A message that does not decode as the type its id says.
    #[error("VPP sent a malformed {message}")]
    Decode {
        /// The message.
        message: &'static str,
        /// The cause.
        #[source]
        source: DecodeError,
    },
}

impl VppError {
    /// Worth retrying later: VPP is down, restarting or slow.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Disconnected { .. } | Self::Timeout { .. }
        )
    }

    /// The return value, when VPP answered with an error code.
    pub fn retval(&self) -> Option<i32> {
        match self {
            Self::Retval { retval, .. } => Some(*retval),
            _ => None,
        }
    }
}

/// Names of the `vnet_api_error_t` codes this client meets (`vnet/error.h`).
pub fn retval_name(r: i32) -> &'static str {
    match r {
        -1 => "UNSPECIFIED",
        -2 => "INVALID_SW_IF_INDEX",
        -3 => "NO_SUCH_FIB",
        -6 => "NO_SUCH_ENTRY",
        -7 => "INVALID_VALUE",
        -54 => "NO_MATCHING_INTERFACE",
        -65 => "NO_SUCH_TABLE",
        -73 => "INVALID_ARGUMENT",
        -74 => "UNEXPECTED_INTF_STATE",
        -97 => "INVALID_ADDRESS_FAMILY",
        -105 => "ADDRESS_IN_USE",
        -116 => "ENTRY_ALREADY_EXISTS",
        -119 => "BD_ALREADY_EXISTS",
        -120 => "BD_IN_USE",
        -121 => "BD_NOT_MODIFIABLE",
        -122 => "BD_ID_EXCEED_MAX",
        _ => "see vnet/error.h",
    }
}
