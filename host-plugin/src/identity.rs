//! The identity of one attachment (container ID + ifname) and the names derived from it:
//! the key that names it everywhere, its stem, its MAC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use userspace_cni_sdk::MacAddr;
use userspace_cni_sdk::container_id::ContainerId;
use userspace_cni_sdk::shared_files::Stem;

use crate::cni::{CniError, ErrorCode};

/// The identity of one attachment: the runtime's container (sandbox) ID and the interface name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentId {
    /// `CNI_CONTAINERID`.
    pub container_id: ContainerId,
    /// `CNI_IFNAME`.
    pub ifname: String,
}

/// The separator of [`AttachmentId::key`]: not allowed in container IDs, so the first one
/// splits the key unambiguously whatever the interface name holds.
const KEY_SEPARATOR: char = '@';

impl AttachmentId {
    /// A validated identity: the container ID as the CNI spec allows it, the interface name as
    /// Linux allows it (no `/`, no whitespace, 1-15 bytes).
    pub fn new(container_id: &str, ifname: &str) -> Result<Self, CniError> {
        let container_id = ContainerId::from_str(container_id)
            .map_err(|e| CniError::new(ErrorCode::InvalidEnv, format!("CNI_CONTAINERID: {e}")))?;
        crate::cni::validate_ifname(ifname)?;
        Ok(Self {
            container_id,
            ifname: ifname.to_owned(),
        })
    }

    /// The one encoding used in every name that must identify the attachment exactly: state
    /// and lock files, OVS `external_ids`, claim owners. `<containerId>@<ifname>`, with the
    /// interface name percent-encoded outside `[A-Za-z0-9_.-]`.
    pub fn key(&self) -> String {
        let cid = self.container_id.as_str();
        let mut s = String::with_capacity(cid.len() + self.ifname.len() + 1);
        s.push_str(cid);
        s.push(KEY_SEPARATOR);
        for b in self.ifname.bytes() {
            if b.is_ascii_alphanumeric() || b"_.-".contains(&b) {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }

    /// Parses [`Self::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        let (cid, enc) = key.split_once(KEY_SEPARATOR)?;
        let mut bytes = Vec::with_capacity(enc.len());
        let mut it = enc.bytes();
        while let Some(b) = it.next() {
            if b == b'%' {
                let hex = [it.next()?, it.next()?];
                let s = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(s, 16).ok()?);
            } else {
                bytes.push(b);
            }
        }
        Self::new(cid, &String::from_utf8(bytes).ok()?).ok()
    }

    /// The stem of the short names (port, socket, files, alias): `<id12>-<ifname>`, or with
    /// `disambiguate` `<id12>.<hash>-<ifname>`, the hash taken over the whole identity, for
    /// when another attachment holds the plain stem.
    pub fn stem(&self, disambiguate: bool) -> String {
        Stem {
            container: &self.container_id,
            // The marker keeps the hash's low 24 bits.
            disambiguator: disambiguate.then(|| fnv1a64(self.key().as_bytes()) as u32),
            ifname: &self.ifname,
        }
        .to_string()
    }

    /// A stable, locally administered unicast MAC for this attachment: the first five bytes
    /// of the FNV-1a 64 hash of [`Self::key`] behind `02`. FNV-1a is specified (unlike std's
    /// `DefaultHasher`), so the MAC stays the same across builds and Rust releases.
    pub fn mac(&self) -> MacAddr {
        let b = fnv1a64(self.key().as_bytes()).to_be_bytes();
        MacAddr::new([0x02, b[0], b[1], b[2], b[3], b[4]])
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.container_id, self.ifname)
    }
}

/// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: &str, i: &str) -> AttachmentId {
        AttachmentId::new(c, i).unwrap()
    }

    #[test]
    fn keys_are_unambiguous_where_dash_joined_names_collide() {
        // "<a>-<b>" made these two the same file name.
        assert_ne!(id("pod", "a-net1").key(), id("pod-a", "net1").key());
        assert_eq!(id("pod", "a-net1").key(), "pod@a-net1");
        assert_eq!(id("pod-a", "net1").key(), "pod-a@net1");
    }

    #[test]
    fn keys_round_trip_even_with_odd_interface_names() {
        for (c, i) in [("abc", "net1"), ("a.b_c-d", "x@y%z"), ("p", "eth0.10")] {
            let a = id(c, i);
            assert_eq!(
                AttachmentId::from_key(&a.key()),
                Some(a.clone()),
                "{}",
                a.key()
            );
            assert!(!a.key()[c.len() + 1..].contains('@'));
        }
    }

    #[test]
    fn the_fnv1a_hash_has_its_published_values() {
        // Test vectors of the FNV specification.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn macs_are_golden_stable_local_and_distinct() {
        let a = id("4d578250ad8d3b5c", "net1");
        assert_eq!(a.mac().to_string(), "02:85:b4:2f:04:2e");
        assert!(a.mac().is_local_unicast());
        assert_ne!(a.mac(), id("4d578250ad8d3b5c", "net2").mac());
    }

    #[test]
    fn stems_share_the_id_prefix_but_a_disambiguated_one_differs() {
        let a = id("4d578250ad8d3b5c", "net1");
        let b = id("4d578250ad8dffff", "net1");
        assert_eq!(a.stem(false), b.stem(false));
        assert_ne!(a.stem(true), b.stem(true));
        assert!(a.stem(true).starts_with("4d578250ad8d."));
    }
}
