//! Facts from the two pod annotations: Multus' network-status and the plugin's
//! configuration-data (also used for the `configData-*.json` files in the shared directory).

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::{InterfaceKind, Observation, Report, RouteInfo, SocketRole, Source, Warning};
use crate::container_id::ContainerId;
use crate::podinfo::pcidevice::PciAddress;
use crate::wire::{
    CniResult, ConfigurationData, Device, IfType, MemifRole, NetworkStatus, VhostMode,
};

/// Reports for the network-status entries that carry device information or name an interface.
///
/// Entries without `device-info` only contribute network name, MAC and addresses: whether
/// they are userspace interfaces at all is for another source to say.
pub fn from_network_status(entries: &[NetworkStatus]) -> (Vec<Report>, Vec<Warning>) {
    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    for entry in entries {
        let Some(ifname) = entry.interface.as_deref().filter(|i| !i.is_empty()) else {
            continue;
        };
        if entry.default && entry.device_info.is_none() {
            continue;
        }
        let mut facts = vec![Observation::Network(entry.name.clone())];
        if let Some(info) = &entry.device_info {
            match &info.device {
                Device::VhostUser { vhost_user: d } => {
                    facts.push(Observation::Kind(InterfaceKind::VhostUser));
                    facts.push(Observation::SocketPath(d.path.clone().into()));
                    facts.push(Observation::Role(vhost_role(d.mode)));
                }
                Device::Memif { memif: d } => {
                    facts.push(Observation::Kind(InterfaceKind::Memif));
                    facts.push(Observation::SocketPath(d.path.clone().into()));
                    facts.push(Observation::Role(memif_role(d.role)));
                    if let Some(mode) = d.mode {
                        facts.push(Observation::MemifMode(mode));
                    }
                }
                Device::Pci { pci: d } => {
                    facts.push(Observation::Kind(InterfaceKind::Pci));
                    match d.pci_address.parse::<PciAddress>() {
                        Ok(a) => facts.push(Observation::PciAddress(a)),
                        Err(e) => warnings.push(warn_status(entry, format!("{e}; device ignored"))),
                    }
                }
                Device::Vdpa { vdpa: d } => {
                    facts.push(Observation::Kind(InterfaceKind::Vdpa));
                    facts.push(Observation::VdpaPath(d.path.clone().into()));
                    if let Some(a) = d.pci_address.as_deref().and_then(|a| a.parse().ok()) {
                        facts.push(Observation::PciAddress(a));
                    }
                }
            }
        }
        if let Some(mac) = entry.mac {
            facts.push(Observation::Mac(mac));
        }
        if let Some(mtu) = entry.mtu {
            facts.push(Observation::Mtu(mtu));
        }
        let mut ips = Vec::new();
        for ip in &entry.ips {
            match parse_ip_or_net(ip) {
                Some(n) => ips.push(n),
                None => warnings.push(warn_status(entry, format!("bad address {ip:?} ignored"))),
            }
        }
        if !ips.is_empty() {
            facts.push(Observation::Ips(ips));
        }
        if let Some(&gw) = entry.gateway.first() {
            facts.push(Observation::Gateway(gw));
        }
        reports.push(Report {
            interface: ifname.to_owned(),
            source: Source::NetworkStatus,
            facts,
        });
    }
    (reports, warnings)
}

fn warn_status(entry: &NetworkStatus, message: String) -> Warning {
    Warning {
        source: format!("network-status entry {:?}", entry.name),
        message,
    }
}

/// network-status lists bare addresses; IPAM results carry prefixes. Both are kept as `IpNet`
/// (bare ones as host prefixes) and the merger compares addresses only.
fn parse_ip_or_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn vhost_role(mode: VhostMode) -> SocketRole {
    match mode {
        VhostMode::Server => SocketRole::Server,
        VhostMode::Client => SocketRole::Client,
    }
}

fn memif_role(role: MemifRole) -> SocketRole {
    match role {
        MemifRole::Master => SocketRole::Server,
        MemifRole::Slave => SocketRole::Client,
    }
}

/// Reports for configuration-data entries (annotation or shared-dir file).
///
/// `mapped_dir` is where the shared directory is mounted in this container: socket file names
/// are joined onto it. Entries of another container (a previous sandbox of the same pod) are
/// skipped with a warning when `own_id` is known.
pub fn from_configuration_data(
    entries: &[ConfigurationData],
    mapped_dir: &Path,
    own_id: Option<&ContainerId>,
    source: &Source,
) -> (Vec<Report>, Vec<Warning>) {
    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    for entry in entries {
        if let Some(own) = own_id
            && entry.container_id != own.as_str()
            && !entry.container_id.is_empty()
        {
            warnings.push(Warning {
                source: source.to_string(),
                message: format!(
                    "entry for {} belongs to container {}, not {}; ignored",
                    entry.if_name, entry.container_id, own
                ),
            });
            continue;
        }
        let mut facts = Vec::new();
        if !entry.name.is_empty() {
            facts.push(Observation::Network(entry.name.clone()));
        }
        let conf = &entry.config;
        match conf.iftype {
            Some(IfType::Vhostuser) => {
                facts.push(Observation::Kind(InterfaceKind::VhostUser));
                if let Some(v) = &conf.vhost {
                    if let Some(mode) = v.mode {
                        facts.push(Observation::Role(vhost_role(mode)));
                    }
                    if let Some(f) = v.socketfile.as_deref().filter(|f| !f.is_empty()) {
                        facts.push(Observation::SocketPath(mapped_dir.join(f)));
                    }
                    if let Some(q) = v.queues {
                        facts.push(Observation::Queues(q));
                    }
                }
            }
            Some(IfType::Memif) => {
                facts.push(Observation::Kind(InterfaceKind::Memif));
                if let Some(m) = &conf.memif {
                    if let Some(role) = m.role {
                        facts.push(Observation::Role(memif_role(role)));
                    }
                    if let Some(mode) = m.mode {
                        facts.push(Observation::MemifMode(mode));
                    }
                    if let Some(f) = m.socketfile.as_deref().filter(|f| !f.is_empty()) {
                        facts.push(Observation::SocketPath(mapped_dir.join(f)));
                    }
                    if let Some(q) = m.queues {
                        facts.push(Observation::Queues(q));
                    }
                }
            }
            None => warnings.push(Warning {
                source: source.to_string(),
                message: format!("entry for {} has no iftype", entry.if_name),
            }),
        }
        if let Some(vlan) = conf
            .bridge
            .as_ref()
            .and_then(|b| b.vlan_id)
            .and_then(|v| u16::try_from(v).ok())
            .filter(|v| *v != 0)
        {
            facts.push(Observation::Vlan(vlan));
        }
        if let Some(result) = &entry.ip_result {
            facts.extend(ip_facts(result, &entry.if_name));
        }
        reports.push(Report {
            interface: entry.if_name.clone(),
            source: source.clone(),
            facts,
        });
    }
    (reports, warnings)
}

/// MAC, addresses, gateway and routes of `ifname` from a CNI result of any version.
pub(crate) fn ip_facts(result: &CniResult, ifname: &str) -> Vec<Observation> {
    let mut facts = Vec::new();
    let own_index = result.interfaces.iter().position(|i| i.name == ifname);
    if let Some(mac) = own_index.and_then(|i| result.interfaces[i].mac) {
        facts.push(Observation::Mac(mac));
    }
    if let Some(mtu) = own_index.and_then(|i| result.interfaces[i].mtu) {
        facts.push(Observation::Mtu(mtu));
    }
    // An ip without `interface`, or pointing at our interface, belongs to us.
    let ours: Vec<_> = result
        .ips
        .iter()
        .filter(|ip| ip.interface.is_none() || ip.interface == own_index)
        .collect();
    if !ours.is_empty() {
        facts.push(Observation::Ips(ours.iter().map(|ip| ip.address).collect()));
    }
    if let Some(gw) = ours.iter().find_map(|ip| ip.gateway) {
        facts.push(Observation::Gateway(gw));
    }
    if !result.routes.is_empty() {
        facts.push(Observation::Routes(
            result
                .routes
                .iter()
                .map(|r| RouteInfo {
                    dst: r.dst,
                    gw: r.gw,
                })
                .collect(),
        ));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_vlan_and_the_results_mtu_and_mac_become_facts() {
        let entries: Vec<ConfigurationData> = serde_json::from_str(
            r#"[{"containerId":"","ifName":"net1","name":"n",
                 "config":{"iftype":"vhostuser","vhost":{"mode":"server","socketfile":"s","queues":2},
                           "bridge":{"vlanId":10}},
                 "ipResult":{"cniVersion":"1.0.0","interfaces":[{"name":"net1","mac":"02:00:00:aa:bb:01","mtu":9000}]}}]"#,
        )
        .unwrap();
        let (reports, warnings) =
            from_configuration_data(&entries, Path::new("/m"), None, &Source::ConfigurationData);
        assert!(warnings.is_empty(), "{warnings:?}");
        let facts = &reports[0].facts;
        for f in [
            Observation::Queues(2),
            Observation::Vlan(10),
            Observation::Mtu(9000),
            Observation::Mac("02:00:00:aa:bb:01".parse().unwrap()),
        ] {
            assert!(facts.contains(&f), "{f:?} missing from {facts:?}");
        }
    }

    #[test]
    fn a_multus_network_status_with_nil_gateways_reports_its_interfaces_without_a_gateway() {
        let text = include_str!("../../tests/fixtures/wire/network-status-multus-4.2.json");
        let entries = crate::wire::parse_network_status(text).unwrap();
        let (reports, warnings) = from_network_status(&entries);
        assert!(warnings.is_empty(), "{warnings:?}");
        // The cluster network (eth0) is not a userspace interface: not reported.
        let names: Vec<&str> = reports.iter().map(|r| r.interface.as_str()).collect();
        assert_eq!(names, ["net1", "net2"]);
        assert!(
            reports
                .iter()
                .flat_map(|r| &r.facts)
                .all(|f| !matches!(f, Observation::Gateway(_))),
            "<nil> is no gateway: {reports:?}"
        );
    }
}
