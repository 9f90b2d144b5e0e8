//! Facts from the SR-IOV device plugin's `PCIDEVICE_*` environment variables.

use std::collections::BTreeMap;

use super::{InterfaceKind, Observation, Report, Source};
use crate::podinfo::pcidevice::{PciAddress, PciResource};

/// One report per PCI address. A device that another source already tied to an interface name
/// (network-status device-info) is reported under that name, others as `pci-<BDF>`.
pub fn from_pci_resources(
    resources: &[PciResource],
    names_by_address: &BTreeMap<PciAddress, String>,
) -> Vec<Report> {
    resources
        .iter()
        .flat_map(|r| r.addresses.iter().map(move |a| (r, a)))
        .map(|(r, addr)| Report {
            interface: names_by_address
                .get(addr)
                .cloned()
                .unwrap_or_else(|| format!("pci-{addr}")),
            source: Source::PciDeviceEnv(r.env_name.clone()),
            facts: vec![
                Observation::Kind(InterfaceKind::Pci),
                Observation::PciAddress(addr.clone()),
            ],
        })
        .collect()
}
