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
use userspace_cni_sdk::wire::cni_result::UnsupportedVersion;

use super::{CniError, ErrorCode};
use crate::attachment::journal::StoreError;
use crate::config::ConfigError;
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
    ConfigError,
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
    UnsupportedVersion,
);

impl Classify for UnsupportedVersion {
    fn code(&self) -> ErrorCode {
        ErrorCode::IncompatibleVersion
    }
}

impl Classify for ConfigError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotJson(_) | Self::NotObject => ErrorCode::Decode,
            Self::Invalid(_) => ErrorCode::InvalidConfig,
            Self::Unsupported(_) => ErrorCode::UnsupportedField,
            Self::Version { .. } => ErrorCode::IncompatibleVersion,
        }
    }
}

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
            E::Config(e) => e.code(),
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
            // The node's OVN is not (yet) set up: an ADD may succeed later; STATUS reports
            // any switch failure as 50 itself.
            E::NoSystemId
            | E::NoIntegrationBridge { .. }
            | E::NoOvnRemote
            | E::BadOvnRemote { .. }
            | E::Southbound { .. }
            | E::ChassisNotRegistered { .. } => ErrorCode::TryAgainLater,
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
            E::Config(e) => e.code(),
            E::NoHostAddress | E::VhostSocketTooLong { .. } | E::MemifSocketTooLong { .. } => {
                ErrorCode::InvalidConfig
            }
            E::GatewaySubnetTaken { .. }
            | E::Refused { .. }
            | E::L3Incomplete(_)
            | E::SharedUnlocked { .. } => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    //! One table per error type: every variant, and the code the runtime is given for it.

    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::cni::Verb;
    use crate::ipam::Said;
    use ErrorCode::{
        Decode, IncompatibleVersion, Internal, InvalidConfig, Io, TryAgainLater, UnsupportedField,
    };

    fn io() -> std::io::Error {
        std::io::Error::other("disk on fire")
    }

    fn path(p: &str) -> PathBuf {
        PathBuf::from(p)
    }

    /// Each error becomes a CNI error with this code and its own message.
    fn classifies<E: Classify + Into<CniError>>(cases: Vec<(E, ErrorCode)>) {
        for (e, code) in cases {
            let msg = e.to_string();
            let c: CniError = e.into();
            assert_eq!(c.code, code, "{msg}");
            assert_eq!(c.msg, msg);
        }
    }

    fn ovsdb_op_failed(error: &str) -> ovsdb::Error {
        ovsdb::Error::OpFailed {
            index: 0,
            op: "insert".into(),
            error: error.into(),
            details: None,
        }
    }

    fn kube_api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: "no".into(),
            ..Default::default()
        }))
    }

    fn json_error() -> serde_json::Error {
        serde_json::from_str::<serde_json::Value>("{").unwrap_err()
    }

    #[test]
    fn the_causes_are_the_details_and_the_message_is_the_errors_own() {
        let e = CniError::from(StoreError::Io {
            what: "cannot read state file",
            path: path("/var/lib/cni/userspace/x.json"),
            source: io(),
        });
        assert_eq!(
            e.msg,
            "cannot read state file /var/lib/cni/userspace/x.json"
        );
        assert_eq!(e.details, "disk on fire");
        let e = CniError::from(OvnError::Northbound(NbError::Db(ovsdb::Error::Connect {
            endpoint: "tcp:10.0.0.1:6641".into(),
            source: io(),
        })));
        assert_eq!(e.code, TryAgainLater);
        assert_eq!(
            e.msg,
            "OVN northbound: cannot connect to OVSDB at tcp:10.0.0.1:6641"
        );
        assert_eq!(
            e.details,
            "cannot connect to OVSDB at tcp:10.0.0.1:6641: disk on fire"
        );
        let e = CniError::from(OvsError::PortExists("dpdk0".into()));
        assert_eq!(e.details, "", "no cause, no details");
    }

    #[test]
    fn a_config_that_is_not_json_is_6_a_bad_key_7_an_engine_s_limit_2_a_version_1() {
        classifies(vec![
            (ConfigError::NotJson("EOF".into()), Decode),
            (ConfigError::NotObject, Decode),
            (ConfigError::Invalid("mtu: …".into()), InvalidConfig),
            (
                ConfigError::Unsupported("host.iftype memif …".into()),
                UnsupportedField,
            ),
            (
                ConfigError::Version {
                    given: "9.9.9".into(),
                },
                IncompatibleVersion,
            ),
        ]);
        classifies(vec![(
            VppEngineError::Config(ConfigError::Invalid("bridge-domain id 0".into())),
            InvalidConfig,
        )]);
    }

    #[test]
    fn state_and_published_files_that_cannot_be_written_are_io_errors() {
        classifies(vec![
            (StoreError::io("cannot create", &path("/s"), io()), Io),
            (
                StoreError::Corrupt {
                    path: path("/s/x.json"),
                    source: json_error(),
                },
                Io,
            ),
        ]);
        classifies(vec![(
            PublishError {
                path: path("/d/x.json"),
                source: io(),
            },
            Io,
        )]);
    }

    #[test]
    fn shared_directories_a_config_can_fix_are_7_and_filesystem_failures_5() {
        use SharedDirError as E;
        use nix::errno::Errno;
        classifies(vec![
            (
                E::OutsideRoots {
                    dir: path("/etc/x"),
                    allowed: vec![path("/var/lib/cni")],
                },
                InvalidConfig,
            ),
            (
                E::SocketPathTooLong {
                    path: path("/x"),
                    len: 120,
                },
                InvalidConfig,
            ),
            (E::NotADirectory { dir: path("/x") }, InvalidConfig),
            (
                E::NoSuchGroup {
                    group: "vhost".into(),
                },
                InvalidConfig,
            ),
            (E::InTheWay { path: path("/x") }, InvalidConfig),
            (
                E::Create {
                    dir: path("/x"),
                    source: io(),
                },
                Io,
            ),
            (
                E::GroupLookup {
                    group: "vhost".into(),
                    source: Errno::EIO,
                },
                Io,
            ),
            (
                E::Chown {
                    dir: path("/x"),
                    source: Errno::EPERM,
                },
                Io,
            ),
            (E::NoAliasRoot { mount: path("/") }, Io),
            (
                E::AliasIo {
                    what: "cannot create the parent of",
                    mount: path("/a/b"),
                    source: io(),
                },
                Io,
            ),
            (
                E::AliasRoot {
                    root: path("/a"),
                    reason: "is a symlink".into(),
                },
                Io,
            ),
            (
                E::AliasDir {
                    mount: path("/a/b"),
                    reason: "exists and is not a directory".into(),
                },
                Io,
            ),
            (
                E::BindMountAlias {
                    dir: path("/x"),
                    mount: path("/a/b"),
                    source: Errno::EPERM,
                },
                Io,
            ),
            (
                E::Remove {
                    path: path("/x"),
                    source: io(),
                },
                Io,
            ),
        ]);
    }

    #[test]
    fn an_ipam_plugins_own_error_keeps_the_codes_the_runtime_acts_on() {
        use IpamError as E;
        use std::os::unix::process::ExitStatusExt;
        let failed = |code| E::Failed {
            plugin: "host-local".into(),
            verb: Verb::Add,
            code,
            msg: "no addresses left".into(),
            details: Said(String::new()),
        };
        classifies(vec![
            (E::NotAPluginName("../x".into()), InvalidConfig),
            (
                E::NotFound {
                    plugin: "host-local".into(),
                    cni_path: "/opt/cni/bin".into(),
                },
                InvalidConfig,
            ),
            (
                E::Spawn {
                    bin: path("/opt/cni/bin/host-local"),
                    source: io(),
                },
                Io,
            ),
            (
                E::Wait {
                    plugin: "host-local".into(),
                    source: io(),
                },
                Io,
            ),
            (failed(1), IncompatibleVersion),
            (failed(7), InvalidConfig),
            (failed(11), TryAgainLater),
            (failed(2), Internal),
            (failed(999), Internal),
            (
                E::UnreadableResult {
                    plugin: "host-local".into(),
                    source: json_error(),
                },
                Decode,
            ),
            (
                E::Unreadable {
                    plugin: "host-local".into(),
                    verb: Verb::Del,
                    status: std::process::ExitStatus::from_raw(256),
                    output: Said("segfault".into()),
                },
                Internal,
            ),
        ]);
    }

    #[test]
    fn kubernetes_conflicts_throttling_outages_are_11_and_refusals_100() {
        use K8sError as E;
        let api = |source| E::Api {
            what: "get pod default/web-0".into(),
            source,
        };
        classifies(vec![
            (api(kube_api(409)), TryAgainLater),
            (api(kube_api(429)), TryAgainLater),
            (api(kube_api(500)), TryAgainLater),
            (api(kube_api(503)), TryAgainLater),
            (api(kube_api(403)), Internal),
            (api(kube_api(404)), Internal),
            (
                api(kube::Error::Service("connection refused".into())),
                TryAgainLater,
            ),
            (
                E::StillConflicting {
                    what: "annotate pod default/web-0".into(),
                    tries: 8,
                },
                TryAgainLater,
            ),
            (
                E::Kubeconfig {
                    path: "/etc/cni/kubeconfig".into(),
                    reason: "no such file".into(),
                },
                InvalidConfig,
            ),
            (
                E::MalformedAnnotation {
                    what: "annotate pod default/web-0".into(),
                    source: userspace_cni_sdk::wire::parse_configuration_data("{").unwrap_err(),
                },
                Internal,
            ),
            (
                E::Encode {
                    what: "annotate pod default/web-0".into(),
                    source: json_error(),
                },
                Internal,
            ),
            (E::Runtime(io()), Internal),
        ]);
        let forbidden = CniError::from(api(kube_api(403)));
        assert!(
            forbidden.msg.contains("needs get and patch on pods"),
            "{forbidden}"
        );
    }

    #[test]
    fn an_ovsdb_server_that_is_down_or_slow_is_11_and_a_refusal_100() {
        use ovsdb::Error as E;
        classifies(vec![
            (
                E::Connect {
                    endpoint: "unix:/run/db.sock".into(),
                    source: io(),
                },
                TryAgainLater,
            ),
            (E::Io(io()), TryAgainLater),
            (E::Closed, TryAgainLater),
            (
                E::Timeout {
                    method: "transact".into(),
                    timeout: Duration::from_secs(5),
                },
                TryAgainLater,
            ),
            (E::BadEndpoint("db.sock".into()), Internal),
            (E::Tls("no CA".into()), Internal),
            (E::Protocol("garbage".into()), Internal),
            (
                E::Server {
                    method: "transact".into(),
                    error: serde_json::json!("unknown database"),
                },
                Internal,
            ),
            (ovsdb_op_failed("constraint violation"), Internal),
            (E::Unexpected("no rows".into()), Internal),
        ]);
    }

    #[test]
    fn ovs_engine_failures_are_the_servers_code_or_their_own() {
        use OvsError as E;
        classifies(vec![
            (E::Db(ovsdb::Error::Closed), TryAgainLater),
            (
                E::Db(ovsdb_op_failed("referential integrity violation")),
                Internal,
            ),
            (E::PortExists("dpdk0".into()), Internal),
            (E::BridgeMissing("br0".into()), Internal),
            (
                E::SocketNotCreated {
                    path: path("/var/run/openvswitch/dpdk0"),
                    waited: Duration::from_secs(5),
                },
                TryAgainLater,
            ),
            (
                E::MoveSocket {
                    from: path("/var/run/openvswitch/dpdk0"),
                    to: path("/var/lib/cni/dpdk0"),
                    source: io(),
                },
                Io,
            ),
            (
                E::MountPoint {
                    path: path("/var/lib/cni/dpdk0"),
                    source: io(),
                },
                Io,
            ),
            (
                E::BindMount {
                    from: path("/var/run/openvswitch/dpdk0"),
                    to: path("/var/lib/cni/dpdk0"),
                    source: nix::errno::Errno::EPERM,
                },
                Io,
            ),
            (
                E::PortError {
                    port: "dpdk0".into(),
                    error: "could not open network device".into(),
                },
                Internal,
            ),
        ]);
    }

    #[test]
    fn a_northbound_name_taken_by_a_concurrent_insert_is_11() {
        use NbError as E;
        classifies(vec![
            (
                E::Db(ovsdb_op_failed("constraint violation")),
                TryAgainLater,
            ),
            (E::Db(ovsdb::Error::Closed), TryAgainLater),
            (
                E::Db(ovsdb_op_failed("referential integrity violation")),
                Internal,
            ),
            (E::SwitchMissing("ls0".into()), TryAgainLater),
            (
                E::NoDynamicAddress("net_default_web-0_net1".into()),
                TryAgainLater,
            ),
        ]);
    }

    #[test]
    fn ovn_waits_are_11_checks_100_and_a_node_without_ovn_controller_50() {
        use OvnError as E;
        let sb = || ovsdb::Error::Closed;
        classifies(vec![
            (
                E::Northbound(NbError::SwitchMissing("ls0".into())),
                TryAgainLater,
            ),
            (
                E::Northbound(NbError::Db(ovsdb_op_failed(
                    "referential integrity violation",
                ))),
                Internal,
            ),
            (
                E::Northbound(NbError::Db(ovsdb::Error::Closed)),
                TryAgainLater,
            ),
            (E::Ovs(OvsError::Db(ovsdb::Error::Closed)), TryAgainLater),
            (E::Ovs(OvsError::BridgeMissing("br-int".into())), Internal),
            (
                E::Settings("ovn.logicalSwitch is required".into()),
                InvalidConfig,
            ),
            (E::NoAddressForPortSecurity, InvalidConfig),
            (E::NoSystemId, TryAgainLater),
            (
                E::NotInstalled {
                    port: "p".into(),
                    chassis: "c".into(),
                    local: "l".into(),
                    timeout: Duration::from_secs(30),
                },
                TryAgainLater,
            ),
            (
                E::PortOfAnother {
                    port: "p".into(),
                    owner: "abc@net1".into(),
                },
                TryAgainLater,
            ),
            (E::Vanished { port: "p".into() }, TryAgainLater),
            (
                E::PinnedElsewhere {
                    port: "p".into(),
                    pinned: "other".into(),
                    chassis: "c".into(),
                },
                Internal,
            ),
            (
                E::NotInstalledYet {
                    port: "p".into(),
                    local: "l".into(),
                },
                Internal,
            ),
            (
                E::NoIntegrationBridge {
                    bridge: "br-int".into(),
                },
                TryAgainLater,
            ),
            (E::NoOvnRemote, TryAgainLater),
            (
                E::BadOvnRemote {
                    remote: "x".into(),
                    cause: ovsdb::Error::BadEndpoint("x".into()),
                },
                TryAgainLater,
            ),
            (
                E::Southbound {
                    endpoint: "tcp:10.0.0.1:6642".into(),
                    cause: sb(),
                },
                TryAgainLater,
            ),
            (
                E::ChassisNotRegistered {
                    chassis: "c".into(),
                },
                TryAgainLater,
            ),
        ]);
    }

    #[test]
    fn a_vpp_that_is_down_or_slow_is_11_and_a_refusal_100() {
        use vpp_api::VppError as E;
        classifies(vec![
            (
                E::Connect {
                    path: path("/run/vpp/api.sock"),
                    source: io(),
                },
                TryAgainLater,
            ),
            (
                E::Disconnected {
                    path: path("/run/vpp/api.sock"),
                    source: io(),
                },
                TryAgainLater,
            ),
            (
                E::Timeout {
                    message: "memif_create_v2",
                    timeout: Duration::from_secs(5),
                },
                TryAgainLater,
            ),
            (E::Refused(-1), Internal),
            (
                E::CrcMismatch {
                    message: "memif_create_v2",
                    ours: "0x8c7de5f7",
                    found: "0x0badc0de".into(),
                    vpp_version: "v24.02-release".into(),
                },
                Internal,
            ),
            (
                E::Unsupported {
                    message: "memif_create_v2",
                    ours: "0x8c7de5f7",
                    vpp_version: "v24.02-release".into(),
                },
                Internal,
            ),
            (
                E::Retval {
                    message: "memif_create_v2",
                    retval: -1,
                },
                Internal,
            ),
            (E::Frame(vpp_api::frame::FrameError::TooShort(1)), Internal),
            (
                E::Decode {
                    message: "memif_details",
                    source: vpp_api::codec::DecodeError::Truncated {
                        field: "u32",
                        needed: 4,
                        left: 0,
                    },
                },
                Internal,
            ),
        ]);
    }

    #[test]
    fn vpp_engine_checks_a_config_can_fix_are_7_and_refusals_100() {
        use VppEngineError as E;
        let retval = |retval| vpp_api::VppError::Retval {
            message: "sw_interface_add_del_address",
            retval,
        };
        classifies(vec![
            (E::Api(retval(-1)), Internal),
            (
                E::Api(vpp_api::VppError::Timeout {
                    message: "memif_dump",
                    timeout: Duration::from_secs(5),
                }),
                TryAgainLater,
            ),
            (E::NoHostAddress, InvalidConfig),
            (E::VhostSocketTooLong { path: "/x".into() }, InvalidConfig),
            (
                E::MemifSocketTooLong {
                    path: "/x".into(),
                    max: 107,
                },
                InvalidConfig,
            ),
            (
                E::GatewaySubnetTaken {
                    gateway: "10.0.0.1/24".parse().unwrap(),
                    cause: retval(-1),
                },
                Internal,
            ),
            (
                E::Refused {
                    what: "delete the loopback of 10.0.0.1/24".into(),
                    retval: -1,
                },
                Internal,
            ),
            (E::L3Incomplete("no route to 10.0.0.2/32".into()), Internal),
            (
                E::SharedUnlocked {
                    name: "memif1/0".into(),
                },
                Internal,
            ),
        ]);
    }

    #[test]
    fn a_result_the_config_version_cannot_hold_is_1() {
        classifies(vec![(
            UnsupportedVersion("0.2.0".into()),
            IncompatibleVersion,
        )]);
    }
}
