//! The `userspace` plugin's NetConf, accepted exactly as the Go plugin's
//! NetworkAttachmentDefinitions spell it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::checked;
use crate::mac::MacAddr;

/// The wire names of this plugin's own NetConf keys (beyond the Go plugin's), for the
/// messages that name them.
pub mod keys {
    /// OVSDB endpoint, default `unix:/var/run/openvswitch/db.sock`.
    pub const OVSDB: &str = "ovsdbSocket";
    /// Host directories under which a pod's hostPath `shared-dir` may point.
    pub const ALLOWED_SHARED_ROOTS: &str = "allowedSharedDirRoots";
    /// Where per-attachment state is kept, default [`crate::discovery::DEFAULT_STATE_DIR`].
    pub const STATE_DIR: &str = "stateDir";
    /// VPP's API socket, default `/run/vpp/api.sock`.
    pub const VPP_SOCKET: &str = "vppApiSocket";
    /// The kubelet's root directory (where pods' emptyDir volumes are), default `/var/lib/kubelet`.
    pub const KUBELET_ROOT: &str = "kubeletRoot";
    /// Where the short aliases of long shared directories are mounted, default `/var/lib/vhost_sockets`.
    pub const ALIAS_ROOT: &str = "socketAliasRoot";
    /// The OVN engine's section.
    pub const OVN: &str = "ovn";
    /// All of them.
    pub const ALL: [&str; 7] = [
        OVSDB,
        ALLOWED_SHARED_ROOTS,
        STATE_DIR,
        VPP_SOCKET,
        KUBELET_ROOT,
        ALIAS_ROOT,
        OVN,
    ];
}

/// Declares a string enum with its wire names, `FromStr`/`Display`, and serde that treats `""`
/// as absent (the Go plugin writes empty strings for unset fields).
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $var:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every wire name, for error messages.
            pub const ALLOWED: &'static [&'static str] = &[$($wire),+];
            /// The wire name.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$var => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok(Self::$var),)+
                    _ => Err(UnknownValue { field: $field, value: s.to_owned(), allowed: Self::ALLOWED }),
                }
            }
        }

        impl super::checked::WireEnum for $name {
            const WIRE_NAMES: &'static [&'static str] = Self::ALLOWED;
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A value outside an enumerated field's allowed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value:?} is not one of {}", allowed.join(", "))]
pub struct UnknownValue {
    /// The field.
    pub field: &'static str,
    /// The value found.
    pub value: String,
    /// What is allowed.
    pub allowed: &'static [&'static str],
}

wire_enum!(
    /// The host's vswitch.
    Engine, "engine" {
        /// OVS with the DPDK datapath.
        OvsDpdk = "ovs-dpdk",
        /// FD.io VPP.
        Vpp = "vpp",
        /// OVN over the node's OVS-DPDK: a logical switch port that spans nodes.
        Ovn = "ovn",
    }
);
wire_enum!(
    /// The interface type.
    IfType, "iftype" {
        /// vhost-user.
        Vhostuser = "vhostuser",
        /// memif.
        Memif = "memif",
    }
);
wire_enum!(
    /// How a side is wired: into nothing, a bridge, or as an L3 interface.
    NetType, "netType" {
        /// Not wired.
        None = "none",
        /// Added to a bridge.
        Bridge = "bridge",
        /// An L3 interface carrying the IPAM address.
        Interface = "interface",
    }
);
wire_enum!(
    /// memif role (the master creates the socket).
    MemifRole, "memif.role" {
        /// Creates the socket.
        Master = "master",
        /// Connects to it.
        Slave = "slave",
    }
);
wire_enum!(
    /// memif mode.
    MemifMode, "memif.mode" {
        /// Ethernet frames.
        Ethernet = "ethernet",
        /// IP packets.
        Ip = "ip",
        /// Punt/inject.
        InjectPunt = "inject-punt",
    }
);
wire_enum!(
    /// vhost-user socket mode of a side (the server creates the socket).
    VhostMode, "vhost.mode" {
        /// Connects to the socket.
        Client = "client",
        /// Creates the socket.
        Server = "server",
    }
);
wire_enum!(
    /// Log level of the plugin's log file.
    LogLevel, "logLevel" {
        /// Only panics.
        Panic = "panic",
        /// Errors.
        Error = "error",
        /// Warnings (the Go plugin's default).
        Warning = "warning",
        /// Informational.
        Info = "info",
        /// Debug.
        Debug = "debug",
        /// Everything.
        Verbose = "verbose",
    }
);

impl MemifRole {
    /// The peer's role.
    pub fn opposite(self) -> Self {
        match self {
            Self::Master => Self::Slave,
            Self::Slave => Self::Master,
        }
    }
}

impl VhostMode {
    /// The peer's mode.
    pub fn opposite(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// `memif` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemifConf {
    /// master or slave.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub role: Option<MemifRole>,
    /// ethernet, ip or inject-punt.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<MemifMode>,
    /// Socket file name.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub socketfile: Option<String>,
    /// Queue pairs (rx and tx queues each), 1 to [`MAX_QUEUES`]; the container side defaults
    /// to the host's.
    #[serde(
        default,
        deserialize_with = "checked::queues",
        skip_serializing_if = "Option::is_none"
    )]
    pub queues: Option<u16>,
}

/// Most queue pairs a `vhost` or `memif` section may ask for.
pub const MAX_QUEUES: u16 = 16;
/// Smallest MTU accepted (IPv4's minimum).
pub const MIN_MTU: u32 = 68;
/// Largest MTU accepted: the usual jumbo limit (OVS-DPDK takes up to 9710, VPP's interfaces
/// and DPDK's virtio/memif PMDs take 9216).
pub const MAX_MTU: u32 = 9216;
/// Largest VLAN id (802.1Q); 0 is the Go plugin's "no VLAN".
pub const MAX_VLAN: u16 = 4094;
/// Longest wait for OVN to install a port that `ovn.installTimeoutSeconds` may ask for.
pub const MAX_INSTALL_TIMEOUT_SECONDS: u16 = 600;
/// Keys kept among the unknown ones that must still be arrays of objects (SPEC 1.1's GC
/// input and the runtime's attachments).
pub const ATTACHMENT_LIST_KEYS: [&str; 2] = ["cni.dev/valid-attachments", "cni.dev/attachments"];

/// `vhost` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostConf {
    /// client or server.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<VhostMode>,
    /// Group that gets access to the socket.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub group: Option<String>,
    /// Socket file name.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub socketfile: Option<String>,
    /// Queue pairs (virtqueue pairs), 1 to [`MAX_QUEUES`]; the container side defaults to the
    /// host's.
    #[serde(
        default,
        deserialize_with = "checked::queues",
        skip_serializing_if = "Option::is_none"
    )]
    pub queues: Option<u16>,
}

/// `bridge` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BridgeConf {
    /// Bridge name (OVS) or bridge-domain id as text (VPP).
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub bridge_name: Option<String>,
    /// Deprecated numeric bridge id.
    #[serde(
        default,
        deserialize_with = "checked::bridge_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub bridge_id: Option<i64>,
    /// VLAN id.
    #[serde(
        default,
        deserialize_with = "checked::vlan_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub vlan_id: Option<i64>,
}

/// `host` / `container` sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserspaceConf {
    /// The vswitch.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub engine: Option<Engine>,
    /// Interface type.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub iftype: Option<IfType>,
    /// How it is wired.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub net_type: Option<NetType>,
    /// memif settings.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub memif: Option<MemifConf>,
    /// vhost-user settings.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub vhost: Option<VhostConf>,
    /// Bridge settings.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub bridge: Option<BridgeConf>,
}

/// TLS files of an `ssl:` OVSDB endpoint (PEM).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsFilesConf {
    /// The client's private key.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_key: Option<String>,
    /// The client's certificate.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate: Option<String>,
    /// The CA that signed the server's certificate.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_cert: Option<String>,
}

/// `ovn` section: where the pod's logical switch port goes (`host.engine: ovn`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OvnConf {
    /// The logical switch the pod's port joins.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub logical_switch: Option<String>,
    /// The northbound database (`unix:`, `tcp:` or `ssl:`), default
    /// `unix:/var/run/ovn/ovnnb_db.sock`.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub northbound: Option<String>,
    /// Client certificate, key and CA for an `ssl:` northbound endpoint.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub northbound_tls: Option<TlsFilesConf>,
    /// The node's integration bridge, default `br-int`.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub integration_bridge: Option<String>,
    /// Whether the plugin may create the logical switch when it is missing (tagged as the
    /// plugin's), default false.
    #[serde(
        default,
        deserialize_with = "checked::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_switch: Option<bool>,
    /// The subnet of a switch the plugin creates (`other_config:subnet`: OVN's own IPAM).
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub subnet: Option<String>,
    /// How long ADD waits for this node's ovn-controller to install the port, default 20.
    #[serde(
        default,
        deserialize_with = "checked::install_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub install_timeout_seconds: Option<u32>,
    /// This node's chassis (`system-id`), default read from the local OVS.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub chassis: Option<String>,
}

/// `runtimeConfig` (capabilities passed by the runtime).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Where the NPWG device-info file must be written.
    #[serde(
        rename = "CNIDeviceInfoFile",
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cni_device_info_file: Option<String>,
    /// The `mac` capability: the MAC the pod's interface must have.
    #[serde(
        default,
        deserialize_with = "checked::mac",
        serialize_with = "crate::mac::empty_as_none::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<MacAddr>,
    /// Other capabilities, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The network configuration of a `userspace` attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// cniVersion.
    #[serde(deserialize_with = "checked::required_string")]
    pub cni_version: String,
    /// Network name.
    #[serde(default, deserialize_with = "checked::string_or_empty")]
    pub name: String,
    /// Plugin type (`userspace`).
    #[serde(
        rename = "type",
        default,
        deserialize_with = "checked::string_or_empty"
    )]
    pub plugin_type: String,
    /// IPAM section, passed to the IPAM plugin.
    #[serde(
        default,
        deserialize_with = "checked::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipam: Option<Value>,
    /// Previous plugin's result in a chain.
    #[serde(
        default,
        deserialize_with = "checked::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub prev_result: Option<Value>,
    /// Runtime capabilities.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime_config: Option<RuntimeConfig>,
    /// Kubeconfig to read the pod and write annotations.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubeconfig: Option<String>,
    /// Fallback host directory for sockets and files.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_dir: Option<String>,
    /// Log file.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub log_file: Option<String>,
    /// MTU of the pod's interface and its switch port ([`MIN_MTU`] to [`MAX_MTU`]).
    #[serde(
        default,
        deserialize_with = "checked::mtu",
        skip_serializing_if = "Option::is_none"
    )]
    pub mtu: Option<u32>,
    /// Log level.
    #[serde(
        default,
        deserialize_with = "checked::one_of",
        skip_serializing_if = "Option::is_none"
    )]
    pub log_level: Option<LogLevel>,
    /// Host side.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub host: Option<UserspaceConf>,
    /// Container side.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub container: Option<UserspaceConf>,
    /// The versions a conflist declares (`cniVersions`, SPEC 1.1).
    #[serde(
        default,
        deserialize_with = "checked::strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub cni_versions: Option<Vec<String>>,
    /// SPEC 1.1: the runtime must not call CHECK.
    #[serde(
        default,
        deserialize_with = "checked::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_check: Option<bool>,
    /// SPEC 1.1: the runtime must not call GC.
    #[serde(
        rename = "disableGC",
        default,
        deserialize_with = "checked::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_gc: Option<bool>,
    /// This plugin's: the OVSDB endpoint (`unix:/path`).
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ovsdb_socket: Option<String>,
    /// This plugin's: VPP's API socket.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpp_api_socket: Option<String>,
    /// This plugin's: where per-attachment state is kept.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub state_dir: Option<String>,
    /// This plugin's: host directories a pod's hostPath `shared-dir` may be under.
    #[serde(
        default,
        deserialize_with = "checked::strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_shared_dir_roots: Option<Vec<String>>,
    /// This plugin's: the kubelet's root directory.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubelet_root: Option<String>,
    /// This plugin's: where short socket-directory aliases are mounted.
    #[serde(
        default,
        deserialize_with = "checked::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub socket_alias_root: Option<String>,
    /// This plugin's: the OVN engine's settings.
    #[serde(
        default,
        deserialize_with = "checked::section",
        skip_serializing_if = "Option::is_none"
    )]
    pub ovn: Option<OvnConf>,
    /// Keys this type does not know, kept so that a round trip loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A NetConf that is not valid JSON of the expected shape, or whose key breaks its type or
/// bounds.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NetConfError {
    /// 1-based line (0 when decoded from a JSON value).
    pub line: usize,
    /// 1-based column (0 when decoded from a JSON value).
    pub column: usize,
    /// The key's path, dot-separated (`host.bridge.vlanId`; empty for the document itself).
    pub path: String,
    /// What is wrong, beginning with the path: what was given and what is allowed.
    pub message: String,
    /// Not JSON at all (as opposed to JSON with a wrong or missing field).
    pub syntax: bool,
}

impl NetConfError {
    fn from_path(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        // The document itself is "." to serde_path_to_error.
        let path = if path == "." { String::new() } else { path };
        Self::from_json(path, &e.into_inner())
    }

    fn from_json(path: String, inner: &serde_json::Error) -> Self {
        // serde_json appends the position to a custom message; the path says where instead.
        let text = inner.to_string();
        let text = text.split(" at line ").next().unwrap_or_default();
        Self {
            line: inner.line(),
            column: inner.column(),
            message: if path.is_empty() {
                text.to_owned()
            } else {
                format!("{path}: {text}")
            },
            syntax: matches!(
                inner.classify(),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            ),
            path,
        }
    }

    fn at_key(key: &str, message: String) -> Self {
        Self {
            line: 0,
            column: 0,
            path: key.to_owned(),
            message,
            syntax: false,
        }
    }
}

/// The spec's rule for network names: a letter or digit, then letters, digits, `_`, `.`, `-`.
/// The message names the key, what was given and what is allowed.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name: {} is not a network name: a letter or digit, then letters, digits, '_', '.' or '-'",
            checked::describe(&Value::String(name.to_owned()))
        ))
    }
}

impl NetConf {
    /// Parses and checks a NetConf in one pass: every known key's type and bounds (the error
    /// names the key's path, what was given and what is allowed); unknown keys are kept.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, NetConfError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let conf: Self =
            serde_path_to_error::deserialize(&mut de).map_err(NetConfError::from_path)?;
        de.end()
            .map_err(|e| NetConfError::from_json(String::new(), &e))?;
        conf.check_attachment_lists()
    }

    /// As [`Self::from_slice`], from JSON already parsed (the plugin parses stdin once and
    /// reads its version and log settings from the same value).
    pub fn from_value(value: Value) -> Result<Self, NetConfError> {
        let conf: Self =
            serde_path_to_error::deserialize(value).map_err(NetConfError::from_path)?;
        conf.check_attachment_lists()
    }

    fn check_attachment_lists(self) -> Result<Self, NetConfError> {
        for key in ATTACHMENT_LIST_KEYS {
            checked::check_objects(key, self.extra.get(key))
                .map_err(|m| NetConfError::at_key(key, m))?;
        }
        Ok(self)
    }

    /// The container side with the Go plugin's defaults: iftype as the host's, memif role and
    /// vhost mode opposite to the host's, memif mode and socket files as the host's, netType
    /// `interface` when IPAM gave an address. Explicit container values win.
    pub fn container_conf(&self, ipam_gave_address: bool) -> UserspaceConf {
        let host = self.host.clone().unwrap_or_default();
        let mut c = self.container.clone().unwrap_or_default();
        if c.iftype.is_none() {
            c.iftype = host.iftype;
        }
        if c.engine.is_none() {
            c.engine = host.engine;
        }
        if c.net_type.is_none() && ipam_gave_address {
            c.net_type = Some(NetType::Interface);
        }
        match c.iftype {
            Some(IfType::Memif) => {
                let h = host.memif.unwrap_or_default();
                let m = c.memif.get_or_insert_with(MemifConf::default);
                m.role = m
                    .role
                    .or(h.role.map(MemifRole::opposite))
                    .or(Some(MemifRole::Slave));
                m.mode = m.mode.or(h.mode).or(Some(MemifMode::Ethernet));
                if m.socketfile.is_none() {
                    m.socketfile = h.socketfile;
                }
                m.queues = m.queues.or(h.queues);
            }
            Some(IfType::Vhostuser) => {
                let h = host.vhost.unwrap_or_default();
                let v = c.vhost.get_or_insert_with(VhostConf::default);
                // The host defaults to server (the switch creates the socket), so the pod is client.
                v.mode = v
                    .mode
                    .or(Some(h.mode.unwrap_or(VhostMode::Server).opposite()));
                if v.socketfile.is_none() {
                    v.socketfile = h.socketfile;
                }
                v.queues = v.queues.or(h.queues);
            }
            None => {}
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_are_the_fields_wire_names() {
        let conf = NetConf {
            ovsdb_socket: Some("unix:/x".into()),
            vpp_api_socket: Some("/x".into()),
            state_dir: Some("/x".into()),
            allowed_shared_dir_roots: Some(vec!["/x".into()]),
            kubelet_root: Some("/x".into()),
            socket_alias_root: Some("/x".into()),
            ovn: Some(OvnConf::default()),
            ..NetConf::from_slice(br#"{"cniVersion":"1.0.0"}"#).expect("minimal NetConf")
        };
        let v = serde_json::to_value(&conf).expect("serialise");
        for key in keys::ALL {
            assert!(
                v.get(key).is_some(),
                "{key} is not a field's wire name: {v}"
            );
        }
    }

    const OVS_CLIENT: &str =
        include_str!("../../tests/fixtures/wire/netconf-ovs-vhostuser-client.json");
    const OVS_SERVER: &str =
        include_str!("../../tests/fixtures/wire/netconf-ovs-vhostuser-server.json");
    const VPP_MEMIF_BRIDGE: &str =
        include_str!("../../tests/fixtures/wire/netconf-vpp-memif-bridge.json");
    const EXTRA_KEYS: &str = include_str!("../../tests/fixtures/wire/netconf-extra-keys.json");

    fn round_trip(text: &str) {
        let conf = NetConf::from_slice(text.as_bytes()).unwrap();
        let back: Value = serde_json::to_value(&conf).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn go_plugin_samples_round_trip_unchanged() {
        for t in [OVS_CLIENT, OVS_SERVER, VPP_MEMIF_BRIDGE] {
            round_trip(t);
        }
    }

    #[test]
    fn the_plugins_own_keys_are_typed_and_unknown_keys_are_kept() {
        round_trip(EXTRA_KEYS);
        let c = NetConf::from_slice(EXTRA_KEYS.as_bytes()).unwrap();
        assert_eq!(
            c.ovsdb_socket.as_deref(),
            Some("unix:/run/ovs-private/db.sock")
        );
        assert_eq!(
            c.allowed_shared_dir_roots,
            Some(vec!["/var/lib/cni/usrspcni".to_owned()])
        );
        let mut with_unknown: Value = serde_json::from_str(EXTRA_KEYS).unwrap();
        with_unknown["somethingNew"] = serde_json::json!({"x": 1});
        let c: NetConf = serde_json::from_value(with_unknown).unwrap();
        assert_eq!(c.extra["somethingNew"]["x"], 1);
    }

    #[test]
    fn an_unknown_engine_names_the_allowed_values() {
        let e =
            NetConf::from_slice(br#"{"cniVersion":"1.0.0","host":{"engine":"dpdk"}}"#).unwrap_err();
        assert_eq!(
            e.message,
            "host.engine: the string \"dpdk\" is not one of ovs-dpdk, vpp, ovn"
        );
        assert_eq!(e.path, "host.engine");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn empty_strings_for_enums_mean_unset() {
        let c = NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","host":{"engine":"vpp","netType":"","memif":{"role":""}}}"#,
        )
        .unwrap();
        let h = c.host.unwrap();
        assert_eq!(h.net_type, None);
        assert_eq!(h.memif.unwrap().role, None);
    }

    #[test]
    fn container_vhost_mode_defaults_to_the_opposite_of_the_host() {
        let c = NetConf::from_slice(OVS_CLIENT.as_bytes()).unwrap();
        let cc = c.container_conf(true);
        assert_eq!(cc.vhost.unwrap().mode, Some(VhostMode::Server));
        assert_eq!(cc.iftype, Some(IfType::Vhostuser));
        assert_eq!(cc.net_type, Some(NetType::Interface));
    }

    #[test]
    fn container_memif_role_is_opposite_and_mode_and_socket_are_copied() {
        let c = NetConf::from_slice(VPP_MEMIF_BRIDGE.as_bytes()).unwrap();
        let m = c.container_conf(false).memif.unwrap();
        assert_eq!(m.role, Some(MemifRole::Slave));
        assert_eq!(m.mode, Some(MemifMode::Ethernet));
        assert_eq!(m.socketfile.as_deref(), Some("memif-net.sock"));
    }

    #[test]
    fn container_queues_default_to_the_hosts_and_mtu_and_mac_are_read() {
        let c = NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","mtu":9000,"runtimeConfig":{"mac":"02:00:00:aa:bb:01"},
                "host":{"engine":"ovs-dpdk","iftype":"vhostuser","vhost":{"queues":2}}}"#,
        )
        .unwrap();
        assert_eq!(c.mtu, Some(9000));
        assert_eq!(
            c.runtime_config.as_ref().unwrap().mac.unwrap().to_string(),
            "02:00:00:aa:bb:01"
        );
        assert_eq!(c.container_conf(true).vhost.unwrap().queues, Some(2));
        let c = NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","host":{"engine":"vpp","iftype":"memif","memif":{"queues":4}},
                "container":{"memif":{"queues":1}}}"#,
        )
        .unwrap();
        assert_eq!(c.container_conf(true).memif.unwrap().queues, Some(1));
    }

    #[test]
    fn explicit_container_values_win_and_no_address_means_no_net_type() {
        let c = NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","host":{"engine":"ovs-dpdk","iftype":"vhostuser","vhost":{"mode":"client"}},
                "container":{"vhost":{"mode":"client"}}}"#,
        )
        .unwrap();
        let cc = c.container_conf(false);
        assert_eq!(cc.vhost.unwrap().mode, Some(VhostMode::Client));
        assert_eq!(cc.net_type, None);
    }

    /// The message of a NetConf (with a `cniVersion` added) that breaks a key's rule.
    fn refused(mut v: Value) -> NetConfError {
        v["cniVersion"] = Value::from("1.0.0");
        NetConf::from_slice(v.to_string().as_bytes()).unwrap_err()
    }

    fn accepted(mut v: Value) {
        v["cniVersion"] = Value::from("1.0.0");
        if let Err(e) = NetConf::from_slice(v.to_string().as_bytes()) {
            panic!("{v} refused: {e}");
        }
    }

    #[test]
    fn a_socket_of_the_wrong_type_is_named_with_what_was_given() {
        let e = refused(serde_json::json!({"ovsdbSocket": 5}));
        assert_eq!(e.to_string(), "ovsdbSocket: a number 5 is not a string");
        assert_eq!(
            refused(serde_json::json!({"vppApiSocket": []})).path,
            "vppApiSocket"
        );
    }

    #[test]
    fn ipam_given_as_a_string_is_refused() {
        let e = refused(serde_json::json!({"ipam": "host-local"}));
        assert_eq!(
            e.to_string(),
            "ipam: the string \"host-local\" is not an object"
        );
    }

    #[test]
    fn sections_given_as_arrays_are_refused_with_their_path() {
        use serde_json::json;
        assert_eq!(refused(json!({"host": []})).path, "host");
        assert_eq!(
            refused(json!({"host": []})).to_string(),
            "host: an array [] is not an object"
        );
        assert_eq!(refused(json!({"host": {"bridge": []}})).path, "host.bridge");
        assert_eq!(
            refused(json!({"host": {"vhost": [1]}})).to_string(),
            "host.vhost: an array [1] is not an object"
        );
        assert_eq!(
            refused(json!({"ovn": {"northboundTls": "x"}})).to_string(),
            "ovn.northboundTls: the string \"x\" is not an object"
        );
        assert_eq!(
            refused(json!({"runtimeConfig": 1})).to_string(),
            "runtimeConfig: a number 1 is not an object"
        );
    }

    #[test]
    fn unknown_enum_values_and_numbers_out_of_range_list_what_is_allowed() {
        use serde_json::json;
        let e = refused(json!({"host": {"engine": "ovs"}}));
        assert_eq!(
            e.to_string(),
            "host.engine: the string \"ovs\" is not one of ovs-dpdk, vpp, ovn"
        );
        let e = refused(json!({"container": {"bridge": {"vlanId": 5000}}}));
        assert_eq!(
            e.to_string(),
            "container.bridge.vlanId: a number 5000 is not an integer from 0 to 4094"
        );
        let e = refused(json!({"host": {"memif": {"role": 1}}}));
        assert_eq!(
            e.to_string(),
            "host.memif.role: a number 1 is not one of master, slave"
        );
    }

    #[test]
    fn queues_mtu_and_the_mac_capability_are_typed_and_bounded() {
        use serde_json::json;
        for (bad, msg) in [
            (
                json!({"host": {"vhost": {"queues": 17}}}),
                "host.vhost.queues: a number 17 is not an integer from 1 to 16",
            ),
            (
                json!({"container": {"memif": {"queues": 0}}}),
                "container.memif.queues: a number 0 is not an integer from 1 to 16",
            ),
            (
                json!({"host": {"vhost": {"queues": "2"}}}),
                "host.vhost.queues: the string \"2\" is not an integer from 1 to 16",
            ),
            (
                json!({"mtu": 9217}),
                "mtu: a number 9217 is not an integer from 68 to 9216",
            ),
            (
                json!({"mtu": 1500.5}),
                "mtu: a number 1500.5 is not an integer from 68 to 9216",
            ),
            (
                json!({"runtimeConfig": {"mac": 1}}),
                "runtimeConfig.mac: a number 1 is not a string",
            ),
            (
                json!({"host": {"bridge": {"bridgeId": -1}}}),
                "host.bridge.bridgeId: a number -1 is not an integer from 0 to 4294967295",
            ),
            (
                json!({"disableCheck": "yes"}),
                "disableCheck: the string \"yes\" is not a boolean (true or false)",
            ),
            (
                json!({"allowedSharedDirRoots": ["/a", 1]}),
                "allowedSharedDirRoots: an array [\"/a\",1] is not an array of strings",
            ),
            (
                json!({"cniVersion": 1}),
                "cniVersion: a number 1 is not a string",
            ),
        ] {
            let mut bad = bad;
            let e = if bad.get("cniVersion").is_some() {
                NetConf::from_slice(bad.to_string().as_bytes()).unwrap_err()
            } else {
                bad["cniVersion"] = Value::from("1.0.0");
                NetConf::from_slice(bad.to_string().as_bytes()).unwrap_err()
            };
            assert_eq!(e.to_string(), msg);
        }
        accepted(json!({"mtu": 9000, "host": {"vhost": {"queues": 16}, "memif": {"queues": 1}}}));
    }

    #[test]
    fn the_ovn_sections_keys_are_typed_and_bounded() {
        use serde_json::json;
        for (bad, msg) in [
            (
                json!({"ovn": {"installTimeoutSeconds": 0}}),
                "ovn.installTimeoutSeconds: a number 0 is not an integer from 1 to 600",
            ),
            (
                json!({"ovn": {"installTimeoutSeconds": 601}}),
                "ovn.installTimeoutSeconds: a number 601 is not an integer from 1 to 600",
            ),
            (
                json!({"ovn": {"createSwitch": "true"}}),
                "ovn.createSwitch: the string \"true\" is not a boolean (true or false)",
            ),
            (
                json!({"ovn": {"northboundTls": {"caCert": 7}}}),
                "ovn.northboundTls.caCert: a number 7 is not a string",
            ),
            (json!({"ovn": []}), "ovn: an array [] is not an object"),
        ] {
            assert_eq!(refused(bad).to_string(), msg);
        }
        accepted(
            json!({"ovn": {"installTimeoutSeconds": 600, "createSwitch": true,
                                "logicalSwitch": "ls", "northboundTls": {"caCert": "/ca"}}}),
        );
    }

    #[test]
    fn unknown_keys_empty_enums_and_dotted_keys_are_accepted() {
        use serde_json::json;
        accepted(
            json!({"somethingElse": [1], "host": {"engine": "", "future": 1},
                        "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "b"}]}),
        );
        let e = refused(json!({"cni.dev/valid-attachments": {}}));
        assert_eq!(e.path, "cni.dev/valid-attachments");
        assert_eq!(
            e.to_string(),
            "cni.dev/valid-attachments: an object {} is not an array of objects"
        );
    }

    #[test]
    fn long_values_are_cut_in_the_message() {
        let long = "x".repeat(100);
        let e = refused(serde_json::json!({"host": {"engine": long}}));
        assert!(
            e.message.ends_with("…\" is not one of ovs-dpdk, vpp, ovn")
                || e.message.contains("… is not one of"),
            "{}",
            e.message
        );
    }

    #[test]
    fn network_names_follow_the_spec() {
        for good in ["userspace-ovs", "net1", "a.b_c-d", "0net"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-net", "a/b", "a b", ".x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_name("a/b").unwrap_err(),
            "name: the string \"a/b\" is not a network name: a letter or digit, then letters, digits, '_', '.' or '-'"
        );
    }

    #[test]
    fn a_value_and_a_slice_decode_alike() {
        let v: Value = serde_json::from_str(OVS_CLIENT).unwrap();
        assert_eq!(
            NetConf::from_value(v).unwrap(),
            NetConf::from_slice(OVS_CLIENT.as_bytes()).unwrap()
        );
        let e =
            NetConf::from_value(serde_json::json!({"cniVersion": "1.0.0", "mtu": 1})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mtu: a number 1 is not an integer from 68 to 9216"
        );
        assert!(
            NetConf::from_slice(b"{\"cniVersion\":\"1.0.0\"} x")
                .unwrap_err()
                .syntax
        );
    }
}
