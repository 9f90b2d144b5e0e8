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

    /// Whether VPP answered with this error code.
    pub fn is_retval(&self, code: Retval) -> bool {
        self.retval() == Some(code.code())
    }
}

/// The `vnet_api_error_t` codes this client and the fake meet, with VPP's values
/// (`vnet/error.h`); a reply's `retval` is one of these negated codes, or 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Retval {
    /// `UNSPECIFIED`.
    Unspecified = -1,
    /// `INVALID_SW_IF_INDEX`.
    InvalidSwIfIndex = -2,
    /// `NO_SUCH_FIB`.
    NoSuchFib = -3,
    /// `NO_SUCH_ENTRY`.
    NoSuchEntry = -6,
    /// `INVALID_VALUE`.
    InvalidValue = -7,
    /// `INVALID_SW_IF_INDEX_2`: a message's second interface does not exist.
    InvalidSwIfIndex2 = -10,
    /// `NO_MATCHING_INTERFACE`.
    NoMatchingInterface = -54,
    /// `ADDRESS_NOT_FOUND_FOR_INTERFACE`: deleting an address the interface lacks.
    AddressNotFoundForInterface = -60,
    /// `NO_SUCH_TABLE`.
    NoSuchTable = -65,
    /// `INVALID_ARGUMENT`.
    InvalidArgument = -73,
    /// `UNEXPECTED_INTF_STATE`.
    UnexpectedIntfState = -74,
    /// `INVALID_ADDRESS_FAMILY`.
    InvalidAddressFamily = -97,
    /// `ADDRESS_IN_USE`: the address (or its subnet) is configured already.
    AddressInUse = -105,
    /// `ENTRY_ALREADY_EXISTS`.
    EntryAlreadyExists = -116,
    /// `BD_ALREADY_EXISTS`.
    BdAlreadyExists = -119,
    /// `BD_IN_USE`.
    BdInUse = -120,
    /// `BD_NOT_MODIFIABLE`.
    BdNotModifiable = -121,
    /// `BD_ID_EXCEED_MAX`.
    BdIdExceedMax = -122,
}

impl Retval {
    const ALL: [Self; 18] = [
        Self::Unspecified,
        Self::InvalidSwIfIndex,
        Self::NoSuchFib,
        Self::NoSuchEntry,
        Self::InvalidValue,
        Self::InvalidSwIfIndex2,
        Self::NoMatchingInterface,
        Self::AddressNotFoundForInterface,
        Self::NoSuchTable,
        Self::InvalidArgument,
        Self::UnexpectedIntfState,
        Self::InvalidAddressFamily,
        Self::AddressInUse,
        Self::EntryAlreadyExists,
        Self::BdAlreadyExists,
        Self::BdInUse,
        Self::BdNotModifiable,
        Self::BdIdExceedMax,
    ];

    /// The value on the wire.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code for a wire value, if it is one of these.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// VPP's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "UNSPECIFIED",
            Self::InvalidSwIfIndex => "INVALID_SW_IF_INDEX",
            Self::NoSuchFib => "NO_SUCH_FIB",
            Self::NoSuchEntry => "NO_SUCH_ENTRY",
            Self::InvalidValue => "INVALID_VALUE",
            Self::InvalidSwIfIndex2 => "INVALID_SW_IF_INDEX_2",
            Self::NoMatchingInterface => "NO_MATCHING_INTERFACE",
            Self::AddressNotFoundForInterface => "ADDRESS_NOT_FOUND_FOR_INTERFACE",
            Self::NoSuchTable => "NO_SUCH_TABLE",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::UnexpectedIntfState => "UNEXPECTED_INTF_STATE",
            Self::InvalidAddressFamily => "INVALID_ADDRESS_FAMILY",
            Self::AddressInUse => "ADDRESS_IN_USE",
            Self::EntryAlreadyExists => "ENTRY_ALREADY_EXISTS",
            Self::BdAlreadyExists => "BD_ALREADY_EXISTS",
            Self::BdInUse => "BD_IN_USE",
            Self::BdNotModifiable => "BD_NOT_MODIFIABLE",
            Self::BdIdExceedMax => "BD_ID_EXCEED_MAX",
        }
    }
}

/// Names of the `vnet_api_error_t` codes this client meets (`vnet/error.h`).
pub fn retval_name(r: i32) -> &'static str {
    Retval::from_code(r).map_or("see vnet/error.h", Retval::name)
}
