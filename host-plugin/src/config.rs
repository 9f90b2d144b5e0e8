//! Loading and validating the NetConf: the Go plugin's schema accepted unchanged, checked
//! strictly with messages that name the field and the allowed values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use userspace_cni_sdk::MacAddr;
use userspace_cni_sdk::wire::{
    Engine, IfType, NetConf, NetType, UserspaceConf, VhostMode, checked, netconf,
};

use crate::cni::{SUPPORTED_VERSIONS, Verb};

/// Why a NetConf is refused. Each message names the key, what was given and what is allowed;
/// the CNI code of each kind is decided in `cni::classify`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// stdin is not JSON.
    #[error("the network configuration is not valid JSON: {0}")]
    NotJson(String),
    /// stdin is JSON but not an object.
    #[error("the network configuration must be a JSON object")]
    NotObject,
    /// A key is missing, of the wrong type, out of range, or contradicts another.
    #[error("{0}")]
    Invalid(String),
    /// A value the chosen engine does not support.
    #[error("{0}")]
    Unsupported(String),
    /// A cniVersion this plugin does not speak.
    #[error("cniVersion {given:?} is not supported (supported: {})", SUPPORTED_VERSIONS.join(", "))]
    Version {
        /// The version given.
        given: String,
    },
}

/// Keys this plugin adds to the Go plugin's NetConf (documented in the README).
pub use userspace_cni_sdk::wire::netconf::keys;

/// Environment variable that overrides VPP's API socket.
pub const VPP_SOCKET_ENV: &str = "USERSPACE_VPP_API_SOCKET";
/// Largest bridge-domain id VPP accepts.
pub const MAX_BRIDGE_DOMAIN: u32 = 0x00ff_ffff;

/// Environment variable that overrides the OVN northbound endpoint (`ovn.northbound`).
pub const OVN_NB_ENV: &str = "USERSPACE_OVN_NB";
/// Environment variable that overrides the OVSDB endpoint.
pub const OVSDB_ENV: &str = "USERSPACE_OVSDB_SOCKET";
/// Default OVSDB endpoint (Debian's OVS).
pub const DEFAULT_OVSDB: &str = "unix:/var/run/openvswitch/db.sock";
pub use userspace_cni_sdk::discovery::DEFAULT_STATE_DIR;
/// Default kubelet root.
pub const DEFAULT_KUBELET_ROOT: &str = "/var/lib/kubelet";
/// Default base when the NetConf has no `sharedDir`: where the SDK looks by default.
pub const DEFAULT_SHARED_BASE: &str = userspace_cni_sdk::discovery::DEFAULT_SHARED_DIR;
/// Default root of the short aliases of long shared directories.
pub const DEFAULT_ALIAS_ROOT: &str = "/var/lib/vhost_sockets";
/// Default bridge, as in the Go plugin.
pub const DEFAULT_BRIDGE: &str = "br0";

/// A bounded number of the resolved config: made only from a value the NetConf's
/// deserializers checked (`sdk/src/wire/checked.rs`), so holding one is proof of its range.
macro_rules! bounded {
    ($(#[$m:meta])* $name:ident($t:ty) in $min:expr, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name($t);

        impl $name {
            /// Smallest allowed.
            pub const MIN: $t = $min;
            /// Largest allowed.
            pub const MAX: $t = $max;

            /// `v` if it is in range.
            pub fn new(v: $t) -> Option<Self> {
                (Self::MIN..=Self::MAX).contains(&v).then_some(Self(v))
            }

            /// The number.
            pub fn get(self) -> $t {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded!(
    /// An access VLAN (`host.bridge.vlanId`; 0, the Go plugin's "unset", is no VLAN).
    Vlan(u16) in 1, 4094
);
bounded!(
    /// Queue pairs of a port (`vhost.queues`, `memif.queues`).
    Queues(u16) in 1, userspace_cni_sdk::wire::MAX_QUEUES
);
bounded!(
    /// The MTU of the pod's interface and its switch port.
    Mtu(u32) in userspace_cni_sdk::wire::MIN_MTU, userspace_cni_sdk::wire::MAX_MTU
);

/// A NetConf that passed validation, with this plugin's extra keys resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The parsed NetConf.
    pub net: NetConf,
    /// The host section (engine and iftype are present).
    pub host: UserspaceConf,
    /// The engine.
    pub engine: Engine,
    /// The interface type.
    pub iftype: IfType,
    /// OVSDB endpoint.
    pub ovsdb: String,
    /// VPP's API socket.
    pub vpp_socket: PathBuf,
    /// Allowed roots for hostPath shared dirs.
    pub allowed_roots: Vec<PathBuf>,
    /// State directory.
    pub state_dir: PathBuf,
    /// The kubelet's root directory.
    pub kubelet_root: PathBuf,
    /// Root of the short socket-directory aliases.
    pub alias_root: PathBuf,
    /// The raw stdin, passed on to IPAM.
    pub raw: Vec<u8>,
    /// The environment's override of `ovn.northbound` (`USERSPACE_OVN_NB`).
    pub ovn_northbound_env: Option<String>,
}

impl Config {
    /// The cniVersion for replies (the config's).
    pub fn version(&self) -> &str {
        &self.net.cni_version
    }

    /// The IPAM plugin type, if IPAM is configured.
    pub fn ipam_type(&self) -> Option<&str> {
        self.net
            .ipam
            .as_ref()?
            .get("type")?
            .as_str()
            .filter(|t| !t.is_empty())
    }

    /// The bridge name for OVS (`bridge.bridgeName`, default `br0`).
    pub fn bridge(&self) -> String {
        self.host
            .bridge
            .as_ref()
            .and_then(|b| b.bridge_name.clone())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| DEFAULT_BRIDGE.to_owned())
    }

    /// The host side's netType: as configured, else `bridge` when a bridge section is given,
    /// else `none`.
    pub fn host_net_type(&self) -> NetType {
        self.host.net_type.unwrap_or(if self.host.bridge.is_some() {
            NetType::Bridge
        } else {
            NetType::None
        })
    }

    /// VPP's bridge-domain id: `bridge.bridgeName` as a number (the Go plugin's convention),
    /// else the deprecated `bridge.bridgeId`.
    pub fn vpp_bridge_domain(&self) -> Result<Option<u32>, ConfigError> {
        let Some(b) = &self.host.bridge else {
            return Ok(None);
        };
        let invalid = |what: String| {
            ConfigError::Invalid(format!(
                "{what}: a VPP bridge-domain id is a number from 1 to {MAX_BRIDGE_DOMAIN}"
            ))
        };
        let id = match (
            b.bridge_name.as_deref().filter(|n| !n.is_empty()),
            b.bridge_id,
        ) {
            (Some(name), _) => name
                .parse::<u32>()
                .map_err(|_| invalid(format!("host.bridge.bridgeName {name:?}")))?,
            (None, Some(id)) => {
                u32::try_from(id).map_err(|_| invalid(format!("host.bridge.bridgeId {id}")))?
            }
            (None, None) => return Ok(None),
        };
        if id == 0 || id > MAX_BRIDGE_DOMAIN {
            return Err(invalid(format!("bridge-domain id {id}")));
        }
        Ok(Some(id))
    }

    /// The host side's queue pairs (`vhost.queues` or `memif.queues` of the host section's
    /// iftype), default 1.
    pub fn queues(&self) -> Queues {
        match self.iftype {
            IfType::Vhostuser => self.host.vhost.as_ref().and_then(|v| v.queues),
            IfType::Memif => self.host.memif.as_ref().and_then(|m| m.queues),
        }
        .and_then(Queues::new)
        .unwrap_or(Queues(1))
    }

    /// The MTU of the interface and its switch port, when configured (top-level `mtu`).
    pub fn mtu(&self) -> Option<Mtu> {
        self.net.mtu.and_then(Mtu::new)
    }

    /// The host port's VLAN (`host.bridge.vlanId`; 0, the Go plugin's unset, is none).
    pub fn vlan(&self) -> Option<Vlan> {
        self.host
            .bridge
            .as_ref()
            .and_then(|b| b.vlan_id)
            .and_then(|v| u16::try_from(v).ok())
            .and_then(Vlan::new)
    }

    /// The MAC the pod asked for: the `mac` capability (`runtimeConfig.mac`), else `MAC=` in
    /// CNI_ARGS; a multicast or unparsable MAC is error 7. `None`: the attachment's own.
    pub fn requested_mac(
        &self,
        args: &BTreeMap<String, String>,
    ) -> Result<Option<MacAddr>, ConfigError> {
        let invalid = ConfigError::Invalid;
        let (mac, from) = match self.net.runtime_config.as_ref().and_then(|r| r.mac) {
            Some(m) => (m, "runtimeConfig.mac"),
            None => match args.get("MAC").filter(|m| !m.is_empty()) {
                Some(text) => (
                    text.parse::<MacAddr>()
                        .map_err(|e| invalid(format!("CNI_ARGS MAC: {e}")))?,
                    "CNI_ARGS MAC",
                ),
                None => return Ok(None),
            },
        };
        if mac.is_multicast() {
            return Err(invalid(format!(
                "{from}: {mac} is a multicast address: an interface needs a unicast MAC"
            )));
        }
        if mac.octets() == [0; 6] {
            return Err(invalid(format!(
                "{from}: {mac} is the all-zero address: an interface needs a unicast MAC"
            )));
        }
        Ok(Some(mac))
    }

    /// The host side's vhost mode (default server: OVS creates the socket, as the Go plugin).
    pub fn host_vhost_mode(&self) -> VhostMode {
        self.host
            .vhost
            .as_ref()
            .and_then(|v| v.mode)
            .unwrap_or(VhostMode::Server)
    }
}

/// stdin decoded once: the JSON that everything reads (logging its file and level, the error
/// reply its `cniVersion`, [`load_stdin`] the NetConf), and the bytes IPAM is handed.
#[derive(Debug)]
pub struct Stdin {
    raw: Vec<u8>,
    json: Result<Value, serde_json::Error>,
}

impl Stdin {
    /// Parses the JSON (an error is kept for [`load_stdin`] to report).
    pub fn new(raw: Vec<u8>) -> Self {
        let json = serde_json::from_slice(&raw);
        Self { raw, json }
    }

    /// A top-level string key, read leniently: even a broken config gets its error reply in
    /// the version it asked for, and its log where it asked.
    pub fn str_key(&self, key: &str) -> Option<&str> {
        self.json.as_ref().ok()?.get(key)?.as_str()
    }

    /// The `cniVersion`, read leniently.
    pub fn version(&self) -> Option<&str> {
        self.str_key("cniVersion")
    }
}

/// Parses and validates stdin (as for ADD: every key checked).
pub fn load(stdin: &[u8], env_ovsdb: Option<String>) -> Result<Config, ConfigError> {
    load_with(stdin, Verb::Add, env_ovsdb, None)
}

/// Parses and validates stdin for `verb`, with the endpoint overrides from the environment.
pub fn load_with(
    stdin: &[u8],
    verb: Verb,
    env_ovsdb: Option<String>,
    env_vpp: Option<String>,
) -> Result<Config, ConfigError> {
    load_stdin(Stdin::new(stdin.to_vec()), verb, env_ovsdb, env_vpp)
}

/// Validates decoded stdin for `verb`, with the endpoint overrides from the environment.
pub fn load_stdin(
    stdin: Stdin,
    verb: Verb,
    env_ovsdb: Option<String>,
    env_vpp: Option<String>,
) -> Result<Config, ConfigError> {
    let (net, raw) = parse(stdin, verb)?;
    let (host, engine, iftype) = host_side(&net)?;
    let invalid = ConfigError::Invalid;
    let vpp_socket = env_vpp
        .filter(|s| !s.is_empty())
        .or_else(|| net.vpp_api_socket.clone())
        .map(|s| s.strip_prefix("unix:").map(str::to_owned).unwrap_or(s))
        .unwrap_or_else(|| vpp_api::DEFAULT_SOCKET.to_owned());
    if !vpp_socket.starts_with('/') {
        return Err(invalid(format!(
            "{}: {vpp_socket:?} is not an absolute path",
            keys::VPP_SOCKET
        )));
    }
    let ovsdb = env_ovsdb
        .filter(|s| !s.is_empty())
        .or_else(|| net.ovsdb_socket.clone())
        .unwrap_or_else(|| DEFAULT_OVSDB.to_owned());
    let allowed_roots = match &net.allowed_shared_dir_roots {
        None => DEFAULT_ALLOWED_ROOTS.iter().map(PathBuf::from).collect(),
        Some(v) => v
            .iter()
            .map(|p| absolute(keys::ALLOWED_SHARED_ROOTS, Some(p), ""))
            .collect::<Result<_, _>>()?,
    };
    let config = Config {
        host,
        engine,
        iftype,
        ovsdb,
        vpp_socket: PathBuf::from(vpp_socket),
        allowed_roots,
        state_dir: absolute(keys::STATE_DIR, net.state_dir.as_ref(), DEFAULT_STATE_DIR)?,
        kubelet_root: absolute(
            keys::KUBELET_ROOT,
            net.kubelet_root.as_ref(),
            DEFAULT_KUBELET_ROOT,
        )?,
        alias_root: absolute(
            keys::ALIAS_ROOT,
            net.socket_alias_root.as_ref(),
            DEFAULT_ALIAS_ROOT,
        )?,
        raw,
        ovn_northbound_env: None,
        net,
    };
    if let Some(d) = &config.net.shared_dir {
        absolute("sharedDir", Some(d), "")?;
    }
    if config.vlan().is_some() && config.host_net_type() != NetType::Bridge {
        return Err(invalid(format!(
            "host.bridge.vlanId {}: a VLAN needs host.netType bridge (it tags the bridge port)",
            config.vlan().map_or(0, Vlan::get)
        )));
    }
    if let Some(c) = &config.net.container {
        let mismatch = match config.iftype {
            IfType::Vhostuser => c.memif.as_ref().and_then(|m| m.queues).map(|_| "memif"),
            IfType::Memif => c.vhost.as_ref().and_then(|v| v.queues).map(|_| "vhost"),
        };
        if let Some(section) = mismatch {
            return Err(invalid(format!(
                "container.{section}.queues: the interface is {}, so its queues are set in container.{}",
                config.iftype,
                if section == "memif" { "vhost" } else { "memif" }
            )));
        }
    }
    Ok(config)
}

/// Where a pod's hostPath `shared-dir` may be when `allowedSharedDirRoots` is not given.
pub const DEFAULT_ALLOWED_ROOTS: [&str; 3] =
    [DEFAULT_SHARED_BASE, "/var/run/vpp", "/var/run/openvswitch"];

fn absolute(key: &str, given: Option<&String>, default: &str) -> Result<PathBuf, ConfigError> {
    match given {
        None => Ok(PathBuf::from(default)),
        Some(p) if p.starts_with('/') => Ok(PathBuf::from(p)),
        Some(p) => Err(ConfigError::Invalid(format!(
            "{key}: {p:?} is not an absolute path"
        ))),
    }
}

/// The spec's key of the previous result.
const PREV_RESULT: &str = "prevResult";

/// Only ADD and CHECK read `prevResult`. A DEL (or GC, STATUS) whose `prevResult` is not an
/// object would otherwise fail on every retry and the pod could never go: such a value is
/// dropped, from what IPAM is handed too (host-local's DEL would refuse it as well). Re-encodes
/// the bytes only then.
fn drop_unread_prev_result(
    obj: &mut serde_json::Map<String, Value>,
    raw: &mut Vec<u8>,
    verb: Verb,
) {
    if matches!(verb, Verb::Add | Verb::Check) {
        return;
    }
    match obj.get(PREV_RESULT) {
        Some(v) if !v.is_object() && !v.is_null() => {
            tracing::warn!(
                "{}: {} is not an object; {verb} does not read it, so it is ignored",
                PREV_RESULT,
                checked::describe(v)
            );
            obj.remove(PREV_RESULT);
            if let Ok(bytes) = serde_json::to_vec(&obj) {
                *raw = bytes;
            }
        }
        _ => {}
    }
}

/// JSON, an object, the required `cniVersion`, every known key of the right type (one pass:
/// the NetConf's own deserializers check them), a supported version, the required keys
/// (`name` by the spec's rules, `type`). The NetConf and the bytes IPAM gets.
fn parse(stdin: Stdin, verb: Verb) -> Result<(NetConf, Vec<u8>), ConfigError> {
    let Stdin { mut raw, json } = stdin;
    let json = json.map_err(|e| ConfigError::NotJson(e.to_string()))?;
    let Value::Object(mut obj) = json else {
        return Err(ConfigError::NotObject);
    };
    let invalid = ConfigError::Invalid;
    if !obj.contains_key("cniVersion") {
        return Err(invalid("cniVersion is required".into()));
    }
    drop_unread_prev_result(&mut obj, &mut raw, verb);
    let net = NetConf::from_value(Value::Object(obj)).map_err(|e| {
        invalid(if e.path.is_empty() {
            format!("invalid network configuration: {e}")
        } else {
            e.message
        })
    })?;
    if !SUPPORTED_VERSIONS.contains(&net.cni_version.as_str()) {
        return Err(ConfigError::Version {
            given: net.cni_version,
        });
    }
    if net.name.is_empty() {
        return Err(invalid("name: the network name is required".into()));
    }
    netconf::check_name(&net.name).map_err(invalid)?;
    if net.plugin_type.is_empty() {
        return Err(invalid(
            "type: the plugin type is required (\"userspace\")".into(),
        ));
    }
    if net.ipam.as_ref().is_some_and(|i| i.get("type").is_none()) {
        return Err(invalid(
            "ipam.type: an IPAM section needs the plugin's type".into(),
        ));
    }
    if let Some(t) = net
        .ipam
        .as_ref()
        .and_then(|i| i.get("type"))
        .filter(|t| !t.is_string() && !t.is_null())
    {
        return Err(invalid(format!(
            "ipam.type: {} is not a string",
            checked::describe(t)
        )));
    }
    Ok((net, raw))
}

/// The host section: engine and iftype present, and a combination the engine supports.
fn host_side(net: &NetConf) -> Result<(UserspaceConf, Engine, IfType), ConfigError> {
    let invalid = ConfigError::Invalid;
    let host = net
        .host
        .clone()
        .ok_or_else(|| invalid("host: the host section is required (engine, iftype, …)".into()))?;
    let engine = host
        .engine
        .ok_or_else(|| invalid("host.engine is required: one of ovs-dpdk, vpp, ovn".into()))?;
    let iftype = host
        .iftype
        .ok_or_else(|| invalid("host.iftype is required: one of vhostuser, memif".into()))?;
    if let Some(f) = host.vhost.as_ref().and_then(|v| v.socketfile.as_deref()) {
        validate_file_name("host.vhost.socketfile", f).map_err(invalid)?;
    }
    if let Some(f) = host.memif.as_ref().and_then(|m| m.socketfile.as_deref()) {
        validate_file_name("host.memif.socketfile", f).map_err(invalid)?;
    }
    Ok((host, engine, iftype))
}

fn validate_file_name(field: &str, f: &str) -> Result<(), String> {
    if f.is_empty() || f.contains('/') || f == "." || f == ".." || f.len() > 64 {
        Err(format!(
            "{field} {f:?} must be a plain file name (no '/', at most 64 bytes)"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_values_exist_only_in_their_range() {
        assert_eq!(Vlan::new(0), None, "0 is the Go plugin's no-VLAN");
        assert_eq!(Vlan::new(4094).map(Vlan::get), Some(4094));
        assert_eq!(Vlan::new(4095), None);
        assert_eq!(Queues::new(0), None);
        assert_eq!(Queues::new(16).map(Queues::get), Some(16));
        assert_eq!(Queues::new(17), None);
        assert_eq!(Mtu::new(67), None);
        assert_eq!(Mtu::new(9216).map(Mtu::get), Some(9216));
        assert_eq!(Mtu::new(9217), None);
    }

    #[test]
    fn the_resolved_values_come_from_the_host_side_with_their_defaults() {
        let c = load(
            br#"{"cniVersion":"1.0.0","name":"n","type":"userspace","mtu":9000,
                 "host":{"engine":"ovs-dpdk","iftype":"vhostuser","netType":"bridge",
                         "vhost":{"queues":4},"bridge":{"vlanId":10}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (
                c.queues().get(),
                c.mtu().map(Mtu::get),
                c.vlan().map(Vlan::get)
            ),
            (4, Some(9000), Some(10))
        );
        let c = load(
            br#"{"cniVersion":"1.0.0","name":"n","type":"userspace",
                 "host":{"engine":"ovs-dpdk","iftype":"vhostuser","bridge":{"vlanId":0}}}"#,
            None,
        )
        .unwrap();
        assert_eq!((c.queues().get(), c.mtu(), c.vlan()), (1, None, None));
    }
}
