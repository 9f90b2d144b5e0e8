//! The one place where a module's typed error becomes a CNI error: [`Classify`] picks the
//! code for each variant, explicitly (no catch-all arm, so a new variant does not compile
//! until someone decides what the runtime should do with it), and [`From`] builds the
//! [`CniError`]: the error's own message as `msg`, its causes, formatted by the SDK's
//! [`error_chain`], as `details`.
//!
//! The codes say what the runtime can do about it: 11 when trying again later may succeed
//! (a switch or API server down, restarting or busy), 7 when the config must change, 5 when
//! a file could not be made or read, 50 when STATUS finds the node unable to serve, 100
//! when the switch refused or something is in a state the plugin does not expect.

use std::error::Error;

use userspace_cni_sdk::error_chain;

use super::{CniError, ErrorCode};
use crate::attachment::journal::StoreError;
use crate::engine::ovn::OvnError;
use crate::engine::ovn::northbound::NbError;
use crate::engine::ovs::OvsError;
use crate::engine::vpp::VppEngineError;
use crate::ipam::IpamError;
use crate::k8s::K8sError;
use crate::publish::PublishError;
use crate::shared_dir::SharedDirError;

/// The CNI code of a failure.
pub trait Classify: Error {
    /// What the runtime is told.
    fn code(&self) -> ErrorCode;
}

/// `msg` is the error's own message, `details` its causes (empty when it has none).
fn classified(e: &dyn Classify) -> CniError {
    CniError::new(e.code(), e.to_string())
        .with_details(e.source().map(error_chain).unwrap_or_default())
}

macro_rules! into_cni_error {
    ($($t:ty),+ $(,)?) => {
        $(impl From<$t> for CniError {
            fn from(e: $t) -> Self {
                classified(&e)
            }
        })+
    };
}

into_cni_error!(
    StoreError,
    PublishError,
    SharedDirError,
    IpamError,
    K8sError,
    OvsError,
    ovsdb::Error,
    NbError,
    OvnError,
    VppEngineError,
    vpp_api::VppError,
);

impl Classify for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Io { .. } | Self::Corrupt { .. } => ErrorCode::Io,
        }
    }
}

impl Classify for PublishError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Io
    }
}

impl Classify for SharedDirError {
    fn code(&self) -> ErrorCode {
        use SharedDirError as E;
        match self {
            E::OutsideRoots { .. }
            | E::SocketPathTooLong { .. }
            | E::NotADirectory { .. }
            | E::NoSuchGroup { .. }
            | E::InTheWay { .. } => ErrorCode::InvalidConfig,
            E::Create { .. }
            | E::GroupLookup { .. }
            | E::Chown { .. }
            | E::NoAliasRoot { .. }
            | E::AliasIo { .. }
            | E::AliasRoot { .. }
            | E::AliasDir { .. }
            | E::BindMountAlias { .. }
            | E::Remove { .. } => ErrorCode::Io,
        }
    }
}

impl Classify for IpamError {
    fn code(&self) -> ErrorCode {
        use IpamError as E;
        match self {
            E::NotAPluginName(_) | E::NotFound { .. } => ErrorCode::InvalidConfig,
            E::Spawn { .. } | E::Wait { .. } => ErrorCode::Io,
            E::UnreadableResult { .. } => ErrorCode::Decode,
            // The delegate's own code, where it is one the runtime acts on.
            E::Failed { code, .. } => match code {
                1 => ErrorCode::IncompatibleVersion,
                7 => ErrorCode::InvalidConfig,
                11 => ErrorCode::TryAgainLater,
                _ => ErrorCode::Internal,
            },
            E::Unreadable { .. } => ErrorCode::Internal,
        }
    }
}

impl Classify for K8sError {
    fn code(&self) -> ErrorCode {
        use K8sError as E;
        match self {
            // Conflict, throttled or the server's own failure: the next try may pass; a
            // refusal (403, 404, 422…) will not.
            E::Api { source, .. } => match source {
                kube::Error::Api(s) if s.code == 409 || s.code == 429 || s.code >= 500 => {
                    ErrorCode::TryAgainLater
                }
                kube::Error::Api(_) => ErrorCode::Internal,
                // Connection, TLS, timeouts: the API server was not reached.
                _ => ErrorCode::TryAgainLater,
            },
            E::StillConflicting { .. } => ErrorCode::TryAgainLater,
            E::Kubeconfig { .. } => ErrorCode::InvalidConfig,
            E::MalformedAnnotation { .. } | E::Encode { .. } | E::Runtime(_) => ErrorCode::Internal,
        }
    }
}

impl Classify for ovsdb::Error {
    fn code(&self) -> ErrorCode {
        use ovsdb::Error as E;
        match self {
            E::Connect { .. } | E::Io(_) | E::Closed | E::Timeout { .. } => {
                ErrorCode::TryAgainLater
            }
            E::BadEndpoint(_)
            | E::Tls(_)
            | E::Protocol(_)
            | E::Server { .. }
            | E::OpFailed { .. }
            | E::Unexpected(_) => ErrorCode::Internal,
        }
    }
}

impl Classify for OvsError {
    fn code(&self) -> ErrorCode {
        use OvsError as E;
        match self {
            E::Db(e) => e.code(),
            // ovs-vswitchd may still be starting.
            E::SocketNotCreated { .. } => ErrorCode::TryAgainLater,
            E::MoveSocket { .. } | E::MountPoint { .. } | E::BindMount { .. } => ErrorCode::Io,
            E::PortExists(_) | E::BridgeMissing(_) | E::PortError { .. } => ErrorCode::Internal,
        }
    }
}

impl Classify for NbError {
    fn code(&self) -> ErrorCode {
        use NbError as E;
        match self {
            // Another node inserted the same name at the same time: the retry finds it.
            E::Db(e) if e.is_constraint_violation() => ErrorCode::TryAgainLater,
            E::Db(e) => e.code(),
            // northd may be catching up; a central controller may be about to create the
            // switch.
            E::NoDynamicAddress(_) | E::SwitchMissing(_) => ErrorCode::TryAgainLater,
        }
    }
}

impl Classify for OvnError {
    fn code(&self) -> ErrorCode {
        use OvnError as E;
        match self {
            E::Northbound(e) => e.code(),
            E::Ovs(e) => e.code(),
            E::Settings(_) | E::NoAddressForPortSecurity => ErrorCode::InvalidConfig,
            // ovn-controller may be catching up; another attachment's DEL may be on its way.
            E::NotInstalled { .. } | E::PortOfAnother { .. } | E::Vanished { .. } => {
                ErrorCode::TryAgainLater
            }
            E::PinnedElsewhere { .. } | E::NotInstalledYet { .. } => ErrorCode::Internal,
            E::NoSystemId
            | E::NoIntegrationBridge { .. }
            | E::NoOvnRemote
            | E::BadOvnRemote { .. }
            | E::Southbound { .. }
            | E::ChassisNotRegistered { .. } => ErrorCode::NotAvailable,
        }
    }
}

impl Classify for vpp_api::VppError {
    fn code(&self) -> ErrorCode {
        use vpp_api::VppError as E;
        match self {
            E::Connect { .. } | E::Disconnected { .. } | E::Timeout { .. } => {
                ErrorCode::TryAgainLater
            }
            E::Refused(_)
            | E::CrcMismatch { .. }
            | E::Unsupported { .. }
            | E::Retval { .. }
            | E::Frame(_)
            | E::Decode { .. } => ErrorCode::Internal,
        }
    }
}

impl Classify for VppEngineError {
    fn code(&self) -> ErrorCode {
        use VppEngineError as E;
        match self {
            E::Api(e) => e.code(),
            E::VhostSocketTooLong { .. } | E::MemifSocketTooLong { .. } => ErrorCode::InvalidConfig,
            E::GatewaySubnetTaken { .. }
            | E::Refused { .. }
            | E::L3Incomplete(_)
            | E::SharedUnlocked { .. } => ErrorCode::Internal,
        }
    }
}
