//! One module per CNI verb.

pub mod add;
pub mod check;
pub mod del;
pub mod gc;
pub mod status;

use std::hash::{Hash, Hasher};

use userspace_cni_sdk::MacAddr;

/// A stable, locally administered unicast MAC for an attachment, so that ADD after a
/// restart hands the pod the same address (and runtimes that require a MAC get one).
pub fn attachment_mac(container_id: &str, ifname: &str) -> MacAddr {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (container_id, ifname).hash(&mut h);
    let b = h.finish().to_be_bytes();
    MacAddr::new([0x02, b[0], b[1], b[2], b[3], b[4]])
}

/// The switch port name of an attachment.
pub fn port_name(id12: &str, ifname: &str) -> String {
    format!("{id12}-{ifname}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_macs_are_stable_local_and_distinct() {
        let a = attachment_mac("abc", "net1");
        assert_eq!(a, attachment_mac("abc", "net1"));
        assert!(a.is_local_unicast());
        assert_ne!(a, attachment_mac("abc", "net2"));
    }
}
