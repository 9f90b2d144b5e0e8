//! The OVN engine's settings, resolved from the NetConf's `ovn` section (and the
//! environment's override of the northbound endpoint), with the messages that name the key.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use ovsdb::{Endpoint, TlsFiles};
use userspace_cni_sdk::wire::{IfType, NetType, OvnConf};

use super::OvnError;
use crate::config::Config;

/// The northbound endpoint when none is configured (Debian's and OVN's default).
pub const DEFAULT_NORTHBOUND: &str = "unix:/var/run/ovn/ovnnb_db.sock";
/// The integration bridge ovn-controller manages, by default.
pub const DEFAULT_INTEGRATION_BRIDGE: &str = "br-int";
/// How long ADD waits for ovn-controller to install the port, by default.
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What the OVN engine needs, checked.
#[derive(Debug, Clone)]
pub struct OvnSettings {
    /// The logical switch.
    pub logical_switch: String,
    /// The northbound database.
    pub northbound: Endpoint,
    /// Its TLS files (`ssl:` only).
    pub tls: Option<TlsFiles>,
    /// The integration bridge.
    pub integration_bridge: String,
    /// Whether the plugin may create the switch.
    pub create_switch: bool,
    /// The subnet of a switch the plugin creates.
    pub subnet: Option<IpNet>,
    /// The bound of ADD's wait for `ovn-installed`.
    pub install_timeout: Duration,
    /// This node's chassis, when configured (else the local OVS's `system-id`).
    pub chassis: Option<String>,
}

fn invalid(m: String) -> OvnError {
    OvnError::Settings(m)
}

impl OvnSettings {
    /// The settings of `config`, whose `host.engine` is `ovn`.
    pub fn of(config: &Config) -> Result<Self, OvnError> {
        let conf = config.net.ovn.clone().unwrap_or_default();
        if config.iftype != IfType::Vhostuser {
            return Err(invalid(format!(
                "host.iftype {}: the ovn engine makes vhost-user ports (OVS has no memif)",
                config.iftype
            )));
        }
        if config.host_net_type() == NetType::Interface {
            return Err(invalid(
                "host.netType interface: on ovn the port joins ovn.logicalSwitch (bridge or unset)"
                    .into(),
            ));
        }
        if let Some(vlan) = config.vlan() {
            return Err(invalid(format!(
                "host.bridge.vlanId {vlan}: the ovn engine has no VLANs (the logical switch is the segment)"
            )));
        }
        let logical_switch = conf
            .logical_switch
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("ovn.logicalSwitch is required with host.engine ovn".into()))?;
        let text = config
            .ovn_northbound_env
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| conf.northbound.clone())
            .unwrap_or_else(|| DEFAULT_NORTHBOUND.to_owned());
        let northbound =
            Endpoint::parse(&text).map_err(|e| invalid(format!("ovn.northbound: {e}")))?;
        let tls = tls_files(&conf, &northbound)?;
        let subnet = conf
            .subnet
            .as_deref()
            .map(|s| {
                s.parse::<IpNet>().map_err(|_| {
                    invalid(format!(
                        "ovn.subnet: {s:?} is not a subnet (like 10.244.0.0/24)"
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            logical_switch,
            northbound,
            tls,
            integration_bridge: conf
                .integration_bridge
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_INTEGRATION_BRIDGE.to_owned()),
            create_switch: conf.create_switch.unwrap_or(false),
            subnet,
            install_timeout: conf
                .install_timeout_seconds
                .map_or(DEFAULT_INSTALL_TIMEOUT, |s| {
                    Duration::from_secs(u64::from(s))
                }),
            chassis: conf.chassis.clone().filter(|s| !s.is_empty()),
        })
    }
}

/// All three files for `ssl:`, none otherwise.
fn tls_files(conf: &OvnConf, endpoint: &Endpoint) -> Result<Option<TlsFiles>, OvnError> {
    let given = conf.northbound_tls.clone().unwrap_or_default();
    let is_ssl = matches!(endpoint, Endpoint::Ssl(_));
    if !is_ssl {
        return Ok(None);
    }
    let need = |v: Option<String>, key: &str| {
        v.filter(|p| p.starts_with('/')).map(PathBuf::from).ok_or_else(|| {
            invalid(format!(
                "ovn.northboundTls.{key}: an absolute path is required for the ssl: northbound endpoint"
            ))
        })
    };
    Ok(Some(TlsFiles {
        private_key: need(given.private_key, "privateKey")?,
        certificate: need(given.certificate, "certificate")?,
        ca_certificate: need(given.ca_cert, "caCert")?,
    }))
}
