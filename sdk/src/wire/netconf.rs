//! The `userspace` plugin's NetConf, accepted exactly as the Go plugin's
//! NetworkAttachmentDefinitions spell it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

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

/// Deserialises an optional enum, mapping `""` and `null` to `None`.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// `memif` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemifConf {
    /// master or slave.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub role: Option<MemifRole>,
    /// ethernet, ip or inject-punt.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<MemifMode>,
    /// Socket file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socketfile: Option<String>,
}

/// `vhost` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostConf {
    /// client or server.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<VhostMode>,
    /// Group that gets access to the socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Socket file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socketfile: Option<String>,
}

/// `bridge` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BridgeConf {
    /// Bridge name (OVS) or bridge-domain id as text (VPP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_name: Option<String>,
    /// Deprecated numeric bridge id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_id: Option<i64>,
    /// VLAN id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<i64>,
}

/// `host` / `container` sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserspaceConf {
    /// The vswitch.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub engine: Option<Engine>,
    /// Interface type.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub iftype: Option<IfType>,
    /// How it is wired.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub net_type: Option<NetType>,
    /// memif settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memif: Option<MemifConf>,
    /// vhost-user settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<VhostConf>,
    /// Bridge settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeConf>,
}

/// `runtimeConfig` (capabilities passed by the runtime).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Where the NPWG device-info file must be written.
    #[serde(
        rename = "CNIDeviceInfoFile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cni_device_info_file: Option<String>,
    /// Other capabilities, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The network configuration of a `userspace` attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// cniVersion.
    pub cni_version: String,
    /// Network name.
    #[serde(default)]
    pub name: String,
    /// Plugin type (`userspace`).
    #[serde(rename = "type", default)]
    pub plugin_type: String,
    /// IPAM section, passed to the IPAM plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Value>,
    /// Previous plugin's result in a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_result: Option<Value>,
    /// Runtime capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_config: Option<RuntimeConfig>,
    /// Kubeconfig to read the pod and write annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// Fallback host directory for sockets and files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_dir: Option<String>,
    /// Log file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// Log level.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub log_level: Option<LogLevel>,
    /// Host side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<UserspaceConf>,
    /// Container side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<UserspaceConf>,
    /// Keys this type does not know, kept so that a round trip loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A NetConf that is not valid JSON of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network configuration, line {line} column {column}{}: {message}",
    path.as_deref().map(|p| format!(" (in `{p}`)")).unwrap_or_default()
)]
pub struct NetConfError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// serde's message without its position (names the field and the allowed values).
    pub message: String,
    /// The section that failed, such as `host.memif` or `logLevel`, when it could be found.
    pub path: Option<String>,
    /// Not JSON at all (as opposed to JSON with a wrong or missing field).
    pub syntax: bool,
}

/// Top-level keys that must hold text when present.
const STRING_KEYS: &[&str] = &[
    "cniVersion",
    "name",
    "type",
    "kubeconfig",
    "sharedDir",
    "logFile",
    "logLevel",
];

/// True when `v` does not deserialise as `T`.
fn rejects<'a, T: Deserialize<'a>>(v: &'a Value) -> bool {
    T::deserialize(v).is_err()
}

/// Names the section of a NetConf that failed to deserialise by retrying each typed section on
/// its own: cheaper than a path-tracking deserialiser, and enough to tell `host.memif` from
/// `container.memif`, which serde's message alone cannot.
fn locate(v: &Value) -> Option<String> {
    for side in ["host", "container"] {
        let Some(s) = v.get(side) else { continue };
        if !rejects::<Option<UserspaceConf>>(s) {
            continue;
        }
        let sub = [
            ("memif", rejects::<Option<MemifConf>> as fn(&Value) -> bool),
            ("vhost", rejects::<Option<VhostConf>>),
            ("bridge", rejects::<Option<BridgeConf>>),
        ]
        .into_iter()
        .find(|(k, bad)| s.get(*k).is_some_and(bad));
        return Some(match sub {
            Some((k, _)) => format!("{side}.{k}"),
            None => side.to_owned(),
        });
    }
    if v.get("runtimeConfig")
        .is_some_and(rejects::<Option<RuntimeConfig>>)
    {
        return Some("runtimeConfig".to_owned());
    }
    STRING_KEYS
        .iter()
        .find(|k| v.get(**k).is_some_and(|x| !x.is_string() && !x.is_null()))
        .map(|k| (*k).to_owned())
}

impl NetConf {
    /// Parses a NetConf.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, NetConfError> {
        serde_json::from_slice(bytes).map_err(|e| {
            let syntax = matches!(
                e.classify(),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            );
            // Only a well-formed document can be searched for the failing section.
            let path = if syntax {
                None
            } else {
                serde_json::from_slice::<Value>(bytes)
                    .ok()
                    .and_then(|v| locate(&v))
            };
            NetConfError {
                line: e.line(),
                column: e.column(),
                message: super::message_without_position(&e),
                path,
                syntax,
            }
        })
    }

    /// The container side with the Go plugin's defaults, explicit container values winning:
    /// engine and iftype as the host's; memif role opposite to the host's and memif mode as the
    /// host's; vhost mode opposite to the host's; socket files as the host's; netType
    /// `interface` when IPAM gave an address, else `none`.
    ///
    /// When the host leaves a memif role, memif mode or vhost mode unset, the host's own default
    /// (master, ethernet, server) is assumed, so the container gets slave, ethernet, client.
    pub fn container_conf(&self, ipam_gave_address: bool) -> UserspaceConf {
        let host = self.host.clone().unwrap_or_default();
        let mut c = self.container.clone().unwrap_or_default();
        c.iftype = c.iftype.or(host.iftype);
        c.engine = c.engine.or(host.engine);
        c.net_type = c.net_type.or(Some(if ipam_gave_address {
            NetType::Interface
        } else {
            NetType::None
        }));
        match c.iftype {
            Some(IfType::Memif) => {
                let h = host.memif.unwrap_or_default();
                let m = c.memif.get_or_insert_with(MemifConf::default);
                m.role = m
                    .role
                    .or(Some(h.role.unwrap_or(MemifRole::Master).opposite()));
                m.mode = m.mode.or(h.mode).or(Some(MemifMode::Ethernet));
                if m.socketfile.is_none() {
                    m.socketfile = h.socketfile;
                }
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
            }
            None => {}
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVS_CLIENT: &str =
        include_str!("../../tests/fixtures/wire/netconf-ovs-vhostuser-client.json");
    const OVS_SERVER: &str =
        include_str!("../../tests/fixtures/wire/netconf-ovs-vhostuser-server.json");
    const VPP_MEMIF_BRIDGE: &str =
        include_str!("../../tests/fixtures/wire/netconf-vpp-memif-bridge.json");
    const VPP_MEMIF_INTERFACE: &str =
        include_str!("../../tests/fixtures/wire/netconf-vpp-memif-interface.json");
    const EXTRA_KEYS: &str = include_str!("../../tests/fixtures/wire/netconf-extra-keys.json");

    fn parse(text: &str) -> NetConf {
        NetConf::from_slice(text.as_bytes()).unwrap()
    }

    fn round_trip(text: &str) -> NetConf {
        let conf = parse(text);
        let back: Value = serde_json::to_value(&conf).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
        conf
    }

    /// A NetConf whose host side is `host` and container side `container` (JSON objects).
    fn conf(host: &str, container: &str) -> NetConf {
        parse(&format!(
            r#"{{"cniVersion":"1.0.0","name":"n","type":"userspace","host":{host},"container":{container}}}"#
        ))
    }

    #[test]
    fn go_plugin_ovs_samples_round_trip_unchanged() {
        let c = round_trip(OVS_CLIENT);
        assert_eq!(c.log_level, Some(LogLevel::Debug));
        let s = round_trip(OVS_SERVER);
        assert_eq!(s.host.unwrap().vhost.unwrap().group.as_deref(), Some("hugetlbfs"));
    }

    #[test]
    fn go_plugin_vpp_samples_round_trip_unchanged() {
        let b = round_trip(VPP_MEMIF_BRIDGE);
        assert_eq!(
            b.host.unwrap().bridge.unwrap().bridge_name.as_deref(),
            Some("4")
        );
        let i = round_trip(VPP_MEMIF_INTERFACE);
        assert_eq!(i.host.unwrap().net_type, Some(NetType::Interface));
    }

    #[test]
    fn empty_sections_stay_empty_objects_and_absent_ones_stay_absent() {
        let c = round_trip(VPP_MEMIF_BRIDGE);
        let out = serde_json::to_value(&c).unwrap();
        assert_eq!(out["container"]["memif"], serde_json::json!({}));
        assert!(out["container"].get("vhost").is_none());
    }

    #[test]
    fn unknown_keys_are_kept() {
        let c = round_trip(EXTRA_KEYS);
        assert!(c.extra.contains_key("ovsdbSocket"));
        let rc = c.runtime_config.unwrap();
        assert!(rc.cni_device_info_file.is_some());
        assert!(rc.extra.contains_key("mac"));
    }

    #[test]
    fn an_unknown_engine_names_the_allowed_values_and_the_section() {
        let e = NetConf::from_slice(br#"{"cniVersion":"1.0.0","host":{"engine":"dpdk"}}"#)
            .unwrap_err();
        assert!(
            e.message
                .contains(r#"engine: "dpdk" is not one of ovs-dpdk, vpp"#),
            "{}",
            e.message
        );
        assert_eq!((e.line, e.path.as_deref(), e.syntax), (1, Some("host"), false));
    }

    #[test]
    fn a_bad_nested_value_is_located_in_its_side_and_section() {
        let e = NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","host":{"memif":{"role":"master"}},"container":{"memif":{"role":"server"}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("container.memif"));
        assert!(e.to_string().contains("is not one of master, slave"), "{e}");
        let e = NetConf::from_slice(br#"{"cniVersion":"1.0.0","logLevel":3}"#).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("logLevel"));
    }

    #[test]
    fn broken_json_is_a_syntax_error_with_its_position() {
        let e = NetConf::from_slice(b"{\n  \"cniVersion\": \"1.0.0\",\n  \"host\": {").unwrap_err();
        assert!(e.syntax);
        assert_eq!(e.line, 3);
        assert_eq!(e.path, None);
    }

    #[test]
    fn every_enum_error_names_its_allowed_values() {
        let cases: [(&str, Result<(), UnknownValue>); 7] = [
            ("ovs-dpdk, vpp", "x".parse::<Engine>().map(drop)),
            ("vhostuser, memif", "x".parse::<IfType>().map(drop)),
            ("none, bridge, interface", "x".parse::<NetType>().map(drop)),
            ("master, slave", "x".parse::<MemifRole>().map(drop)),
            ("ethernet, ip, inject-punt", "x".parse::<MemifMode>().map(drop)),
            ("client, server", "x".parse::<VhostMode>().map(drop)),
            (
                "panic, error, warning, info, debug, verbose",
                "x".parse::<LogLevel>().map(drop),
            ),
        ];
        for (allowed, r) in cases {
            let msg = r.unwrap_err().to_string();
            assert!(msg.ends_with(&format!("is not one of {allowed}")), "{msg}");
        }
    }

    #[test]
    fn display_and_from_str_use_the_wire_names() {
        for m in [MemifMode::Ethernet, MemifMode::Ip, MemifMode::InjectPunt] {
            assert_eq!(m.to_string().parse::<MemifMode>(), Ok(m));
        }
        assert_eq!(Engine::OvsDpdk.to_string(), "ovs-dpdk");
        assert_eq!(MemifMode::InjectPunt.as_str(), "inject-punt");
        assert_eq!(
            serde_json::to_string(&LogLevel::Verbose).unwrap(),
            r#""verbose""#
        );
    }

    #[test]
    fn empty_strings_for_enums_mean_unset() {
        let c = parse(
            r#"{"cniVersion":"1.0.0","logLevel":"","host":{"engine":"","iftype":"","netType":"",
                "memif":{"role":"","mode":""},"vhost":{"mode":""}}}"#,
        );
        assert_eq!(c.log_level, None);
        let h = c.host.unwrap();
        assert_eq!((h.engine, h.iftype, h.net_type), (None, None, None));
        let m = h.memif.unwrap();
        assert_eq!((m.role, m.mode), (None, None));
        assert_eq!(h.vhost.unwrap().mode, None);
    }

    #[test]
    fn container_iftype_and_engine_default_to_the_hosts() {
        let cc = conf(r#"{"engine":"vpp","iftype":"memif"}"#, "{}").container_conf(false);
        assert_eq!(cc.iftype, Some(IfType::Memif));
        assert_eq!(cc.engine, Some(Engine::Vpp));
    }

    #[test]
    fn container_memif_role_is_the_opposite_of_the_hosts() {
        let slave = conf(r#"{"iftype":"memif","memif":{"role":"master"}}"#, "{}");
        assert_eq!(
            slave.container_conf(false).memif.unwrap().role,
            Some(MemifRole::Slave)
        );
        let master = conf(r#"{"iftype":"memif","memif":{"role":"slave"}}"#, "{}");
        assert_eq!(
            master.container_conf(false).memif.unwrap().role,
            Some(MemifRole::Master)
        );
    }

    #[test]
    fn container_memif_mode_and_socketfile_are_the_hosts() {
        let m = parse(VPP_MEMIF_BRIDGE).container_conf(false).memif.unwrap();
        assert_eq!(m.role, Some(MemifRole::Slave));
        assert_eq!(m.mode, Some(MemifMode::Ethernet));
        assert_eq!(m.socketfile.as_deref(), Some("memif-net.sock"));
        let ip = conf(r#"{"iftype":"memif","memif":{"mode":"ip"}}"#, "{}");
        assert_eq!(
            ip.container_conf(false).memif.unwrap().mode,
            Some(MemifMode::Ip)
        );
    }

    #[test]
    fn container_vhost_mode_is_the_opposite_of_the_hosts() {
        let cc = parse(OVS_SERVER).container_conf(true);
        assert_eq!(cc.vhost.unwrap().mode, Some(VhostMode::Client));
        let cc = conf(r#"{"iftype":"vhostuser","vhost":{"mode":"client"}}"#, "{}")
            .container_conf(true);
        assert_eq!(cc.vhost.unwrap().mode, Some(VhostMode::Server));
    }

    #[test]
    fn container_vhost_socketfile_is_the_hosts() {
        let cc = conf(
            r#"{"iftype":"vhostuser","vhost":{"socketfile":"vhost0"}}"#,
            "{}",
        )
        .container_conf(false);
        assert_eq!(cc.vhost.unwrap().socketfile.as_deref(), Some("vhost0"));
    }

    #[test]
    fn container_net_type_is_interface_with_an_address_and_none_without() {
        let c = conf(r#"{"iftype":"vhostuser"}"#, "{}");
        assert_eq!(c.container_conf(true).net_type, Some(NetType::Interface));
        assert_eq!(c.container_conf(false).net_type, Some(NetType::None));
    }

    #[test]
    fn explicit_container_values_win() {
        let c = conf(
            r#"{"engine":"vpp","iftype":"memif","memif":{"role":"master","mode":"ip","socketfile":"h.sock"}}"#,
            r#"{"netType":"bridge","memif":{"role":"master","mode":"inject-punt","socketfile":"c.sock"}}"#,
        );
        let cc = c.container_conf(true);
        assert_eq!(cc.net_type, Some(NetType::Bridge));
        let m = cc.memif.unwrap();
        assert_eq!(m.role, Some(MemifRole::Master));
        assert_eq!(m.mode, Some(MemifMode::InjectPunt));
        assert_eq!(m.socketfile.as_deref(), Some("c.sock"));
        let v = conf(
            r#"{"iftype":"vhostuser","vhost":{"mode":"client"}}"#,
            r#"{"iftype":"vhostuser","vhost":{"mode":"client"}}"#,
        );
        assert_eq!(
            v.container_conf(false).vhost.unwrap().mode,
            Some(VhostMode::Client)
        );
    }

    #[test]
    fn the_opposites_are_involutions() {
        for r in [MemifRole::Master, MemifRole::Slave] {
            assert_ne!(r.opposite(), r);
            assert_eq!(r.opposite().opposite(), r);
        }
        for m in [VhostMode::Client, VhostMode::Server] {
            assert_ne!(m.opposite(), m);
            assert_eq!(m.opposite().opposite(), m);
        }
    }
}
