//! Folding [`Report`]s from several sources into one [`PodInterface`] per name.

use std::fmt::Debug;

use ipnet::IpNet;

use super::{Conflict, Fact, Observation, PodInterface, Report, Source};

/// Accumulates reports; equal values confirm each other, different ones become conflicts.
#[derive(Debug, Default)]
pub struct Merger {
    reports: Vec<Report>,
}

impl Merger {
    /// An empty merger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a report. Order of calls does not matter: reports are applied by source priority.
    pub fn add(&mut self, report: Report) {
        self.reports.push(report);
    }

    /// Adds several reports.
    pub fn extend(&mut self, reports: impl IntoIterator<Item = Report>) {
        self.reports.extend(reports);
    }

    /// The merged interfaces (in order of first appearance by priority, then name) and the
    /// conflicts found.
    pub fn finish(mut self) -> (Vec<PodInterface>, Vec<Conflict>) {
        // A stable sort keeps the callers' order among equal priorities.
        self.reports.sort_by_key(|r| r.source.priority());
        let mut interfaces: Vec<PodInterface> = Vec::new();
        let mut conflicts = Vec::new();
        for report in self.reports {
            let idx = match interfaces.iter().position(|i| i.name == report.interface) {
                Some(i) => i,
                None => {
                    interfaces.push(PodInterface::new(report.interface.clone()));
                    interfaces.len() - 1
                }
            };
            let iface = &mut interfaces[idx];
            for fact in report.facts {
                let src = report.source.clone();
                let name = iface.name.clone();
                let c = &mut conflicts;
                match fact {
                    Observation::Kind(v) => observe(&mut iface.kind, v, src, &name, "kind", c),
                    Observation::Network(v) => {
                        observe_network(&mut iface.network, v, src, &name, c)
                    }
                    Observation::SocketPath(v) => {
                        observe(&mut iface.socket_path, v, src, &name, "socket_path", c)
                    }
                    Observation::Role(v) => observe(&mut iface.role, v, src, &name, "role", c),
                    Observation::MemifMode(v) => {
                        observe(&mut iface.memif_mode, v, src, &name, "memif_mode", c)
                    }
                    Observation::PciAddress(v) => {
                        observe(&mut iface.pci_address, v, src, &name, "pci_address", c)
                    }
                    Observation::VdpaPath(v) => {
                        observe(&mut iface.vdpa_path, v, src, &name, "vdpa_path", c)
                    }
                    Observation::Mac(v) => observe(&mut iface.mac, v, src, &name, "mac", c),
                    Observation::Queues(v) => {
                        observe(&mut iface.queues, v, src, &name, "queues", c)
                    }
                    Observation::Mtu(v) => observe(&mut iface.mtu, v, src, &name, "mtu", c),
                    Observation::Vlan(v) => observe(&mut iface.vlan, v, src, &name, "vlan", c),
                    Observation::Ips(v) => observe_ips(&mut iface.ips, v, src, &name, c),
                    Observation::Gateway(v) => {
                        observe(&mut iface.gateway, v, src, &name, "gateway", c)
                    }
                    Observation::Routes(v) => {
                        observe(&mut iface.routes, v, src, &name, "routes", c)
                    }
                }
            }
        }
        interfaces.sort_by_key(|i| natural_key(&i.name));
        (interfaces, conflicts)
    }
}

fn observe<T: PartialEq + Debug>(
    slot: &mut Option<Fact<T>>,
    value: T,
    source: Source,
    interface: &str,
    field: &'static str,
    conflicts: &mut Vec<Conflict>,
) {
    match slot {
        None => *slot = Some(Fact::new(value, source)),
        Some(f) if f.value == value => {
            if f.source != source && !f.confirmed_by.contains(&source) {
                f.confirmed_by.push(source);
            }
        }
        Some(f) => conflicts.push(Conflict {
            interface: interface.to_owned(),
            field,
            kept: (render(&f.value), f.source.clone()),
            other: (render(&value), source),
        }),
    }
}

/// Addresses are compared without their prefix length and in any order: network-status lists
/// bare addresses where IPAM results carry prefixes. The form with real prefixes is kept.
fn observe_ips(
    slot: &mut Option<Fact<Vec<IpNet>>>,
    mut value: Vec<IpNet>,
    source: Source,
    interface: &str,
    conflicts: &mut Vec<Conflict>,
) {
    value.sort();
    let addrs = |v: &[IpNet]| {
        let mut a: Vec<_> = v.iter().map(IpNet::addr).collect();
        a.sort();
        a
    };
    let is_host = |v: &[IpNet]| v.iter().all(|n| n.prefix_len() == n.max_prefix_len());
    match slot {
        Some(f) if f.value != value && addrs(&f.value) == addrs(&value) => {
            if is_host(&f.value) && !is_host(&value) {
                f.value = value;
            }
            if f.source != source && !f.confirmed_by.contains(&source) {
                f.confirmed_by.push(source);
            }
        }
        _ => observe(slot, value, source, interface, "ips", conflicts),
    }
}

/// Multus names networks `namespace/name`, the plugin just `name`: equal when the names match,
/// and the namespaced form is kept.
fn observe_network(
    slot: &mut Option<Fact<String>>,
    value: String,
    source: Source,
    interface: &str,
    conflicts: &mut Vec<Conflict>,
) {
    let bare = |n: &str| n.rsplit('/').next().unwrap_or(n).to_owned();
    match slot {
        Some(f) if f.value != value && bare(&f.value) == bare(&value) => {
            if !f.value.contains('/') {
                f.value = value;
            }
            if f.source != source && !f.confirmed_by.contains(&source) {
                f.confirmed_by.push(source);
            }
        }
        _ => observe(slot, value, source, interface, "network", conflicts),
    }
}

fn render<T: Debug>(v: &T) -> String {
    format!("{v:?}")
}

/// `net2` sorts before `net10`.
fn natural_key(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = name.split_at(name.len() - digits);
    (stem.to_owned(), num.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{InterfaceKind, SocketRole};
    use std::path::PathBuf;

    fn report(name: &str, source: Source, facts: Vec<Observation>) -> Report {
        Report {
            interface: name.into(),
            source,
            facts,
        }
    }

    #[test]
    fn equal_values_from_two_sources_confirm_each_other() {
        let mut m = Merger::new();
        let file = Source::ConfigDataFile(PathBuf::from("/x/configData-a-net1.json"));
        m.add(report(
            "net1",
            file.clone(),
            vec![Observation::Role(SocketRole::Server)],
        ));
        m.add(report(
            "net1",
            Source::ConfigurationData,
            vec![Observation::Role(SocketRole::Server)],
        ));
        let (ifaces, conflicts) = m.finish();
        assert!(conflicts.is_empty());
        let role = ifaces[0].role.as_ref().unwrap();
        assert_eq!(role.source, Source::ConfigurationData);
        assert_eq!(role.confirmed_by, vec![file]);
    }

    #[test]
    fn different_values_are_reported_and_the_preferred_source_wins() {
        let mut m = Merger::new();
        let sock = Source::SharedDirSocket(PathBuf::from("/s/abc-net1"));
        m.add(report(
            "net1",
            sock.clone(),
            vec![Observation::SocketPath("/s/abc-net1".into())],
        ));
        m.add(report(
            "net1",
            Source::NetworkStatus,
            vec![Observation::SocketPath("/t/abc-net1".into())],
        ));
        let (ifaces, conflicts) = m.finish();
        assert_eq!(
            ifaces[0].socket_path.as_ref().unwrap().value,
            PathBuf::from("/t/abc-net1")
        );
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "socket_path");
        assert_eq!(conflicts[0].other.1, sock);
        assert!(
            conflicts[0]
                .to_string()
                .contains("but \"/s/abc-net1\" according to socket /s/abc-net1")
        );
    }

    #[test]
    fn interfaces_come_out_in_natural_name_order() {
        let mut m = Merger::new();
        for n in ["net10", "net2", "eth0", "net1"] {
            m.add(report(
                n,
                Source::ConfigurationData,
                vec![Observation::Kind(InterfaceKind::Memif)],
            ));
        }
        let names: Vec<_> = m.finish().0.into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["eth0", "net1", "net2", "net10"]);
    }

    #[test]
    fn address_order_does_not_make_a_conflict() {
        let mut m = Merger::new();
        let a = "10.0.0.2/24".parse().unwrap();
        let b = "fd00::2/64".parse().unwrap();
        m.add(report(
            "net1",
            Source::NetworkStatus,
            vec![Observation::Ips(vec![a, b])],
        ));
        m.add(report(
            "net1",
            Source::ConfigurationData,
            vec![Observation::Ips(vec![b, a])],
        ));
        assert!(m.finish().1.is_empty());
    }

    #[test]
    fn a_namespaced_network_name_confirms_the_bare_one() {
        let mut m = Merger::new();
        m.add(report(
            "net1",
            Source::NetworkStatus,
            vec![Observation::Network("default/ovs".into())],
        ));
        m.add(report(
            "net1",
            Source::ConfigurationData,
            vec![Observation::Network("ovs".into())],
        ));
        let (ifaces, conflicts) = m.finish();
        assert!(conflicts.is_empty());
        assert_eq!(ifaces[0].network.as_ref().unwrap().value, "default/ovs");
    }

    #[test]
    fn bare_addresses_confirm_prefixed_ones_and_the_prefix_is_kept() {
        let mut m = Merger::new();
        m.add(report(
            "net1",
            Source::NetworkStatus,
            vec![Observation::Ips(vec!["10.0.0.2/32".parse().unwrap()])],
        ));
        m.add(report(
            "net1",
            Source::ConfigurationData,
            vec![Observation::Ips(vec!["10.0.0.2/24".parse().unwrap()])],
        ));
        let (ifaces, conflicts) = m.finish();
        assert!(conflicts.is_empty());
        assert_eq!(
            ifaces[0].ips.as_ref().unwrap().value,
            vec!["10.0.0.2/24".parse::<IpNet>().unwrap()]
        );
    }
}
