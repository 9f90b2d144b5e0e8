//! Ethernet MAC address newtype, serialised as the usual `aa:bb:cc:dd:ee:ff` text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr([u8; 6]);

/// Why a MAC address string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid MAC address {input:?}: expected six hex octets separated by ':' or '-'")]
pub struct MacParseError {
    /// The text that failed to parse.
    pub input: String,
}

impl MacAddr {
    /// Builds a MAC from its six octets.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// True for a locally administered unicast address (what virtual ports should use).
    pub const fn is_local_unicast(&self) -> bool {
        self.0[0] & 0x02 != 0 && self.0[0] & 0x01 == 0
    }
}

impl FromStr for MacAddr {
    type Err = MacParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MacParseError {
            input: s.to_owned(),
        };
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut octets = [0u8; 6];
        let mut parts = s.split(sep);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 {
                return Err(err());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Self(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional MAC where the peers write `""` for none (Go's zero value): `""` and
/// `null` read as `None`; `None` is not written (use with `skip_serializing_if`).
pub mod empty_as_none {
    use super::MacAddr;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Reads `""`/`null` as `None`, else a MAC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MacAddr>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }

    /// Writes the MAC in colon form (`None` as `""`, though callers skip it).
    pub fn serialize<S: Serializer>(mac: &Option<MacAddr>, s: S) -> Result<S::Ok, S::Error> {
        match mac {
            Some(m) => s.collect_str(m),
            None => s.serialize_str(""),
        }
    }
}

impl MacAddr {
    /// True for a group (multicast or broadcast) address: the I/G bit of the first octet.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_colon_and_dash_forms_and_prints_lowercase_colons() {
        let a: MacAddr = "02:AB:cd:00:11:ff".parse().unwrap();
        let b: MacAddr = "02-ab-cd-00-11-ff".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "02:ab:cd:00:11:ff");
    }

    #[test]
    fn rejects_wrong_lengths_and_non_hex() {
        for bad in [
            "",
            "02:ab:cd:00:11",
            "02:ab:cd:00:11:ff:00",
            "2:ab:cd:00:11:ff",
            "zz:ab:cd:00:11:ff",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let mac: MacAddr = serde_json::from_str("\"0a:00:00:00:00:01\"").unwrap();
        assert_eq!(
            serde_json::to_string(&mac).unwrap(),
            "\"0a:00:00:00:00:01\""
        );
        assert!(mac.is_local_unicast());
    }

    #[test]
    fn multicast_is_the_group_bit_and_empty_text_reads_as_none() {
        assert!(
            "01:00:5e:00:00:01"
                .parse::<MacAddr>()
                .unwrap()
                .is_multicast()
        );
        assert!(
            "ff:ff:ff:ff:ff:ff"
                .parse::<MacAddr>()
                .unwrap()
                .is_multicast()
        );
        assert!(
            !"02:00:00:00:00:01"
                .parse::<MacAddr>()
                .unwrap()
                .is_multicast()
        );
        let c: crate::wire::VhostUserIp4Conf =
            serde_json::from_str(r#"{"ipAddr":"10.0.0.2/24","macAddr":""}"#).unwrap();
        assert_eq!(c.mac_addr, None);
        let c: crate::wire::VhostUserIp4Conf =
            serde_json::from_str(r#"{"ipAddr":"10.0.0.2/24","macAddr":"02:AA:00:00:00:01"}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_value(&c).unwrap()["macAddr"],
            "02:aa:00:00:00:01"
        );
    }
}
