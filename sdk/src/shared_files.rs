//! The names of what the plugin pushes into the shared directory, formatted (by the plugin)
//! and parsed (by the pod) in one place.
//!
//! Every name is built on a *stem*: `<id12>-<ifname>`, or `<id12>.<6 hex>-<ifname>` when
//! another attachment already holds the plain one (see [`Stem`]). Around it:
//!
//! | file | name |
//! |---|---|
//! | configuration data | `configData-<stem>.json` |
//! | vhost-user CNI port | `<stem>.json` |
//! | vhost-user CNI addresses | `<stem>-ip4.conf` |
//! | memif socket | `memif-<stem>.sock` |
//! | vhost-user socket | `<stem>` |
//!
//! kuryr's `<full container id>-<ifname>` files have no extension and parse as a stem too.

use std::fmt;

use crate::container_id::ContainerId;

/// Starts a configuration-data file's name.
pub const CONFIG_DATA_PREFIX: &str = "configData-";
/// Ends a configuration-data file's and a vhost-user CNI port file's name.
pub const JSON_SUFFIX: &str = ".json";
/// Ends a vhost-user CNI address file's name.
pub const IP4CONF_SUFFIX: &str = "-ip4.conf";
/// Starts a memif socket's name.
pub const MEMIF_SOCKET_PREFIX: &str = "memif-";
/// Ends a memif socket's name.
pub const MEMIF_SOCKET_SUFFIX: &str = ".sock";

/// How many hex digits the disambiguating marker has.
const MARKER_DIGITS: usize = 6;
/// The bits of a disambiguator the marker keeps.
const MARKER_MASK: u32 = 0xff_ffff;

/// The stem of an attachment's short names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stem<'a> {
    /// The container.
    pub container: &'a ContainerId,
    /// Set when another attachment holds the plain stem: its low 24 bits become the
    /// `.<6 hex>` marker after the ID prefix.
    pub disambiguator: Option<u32>,
    /// The interface name.
    pub ifname: &'a str,
}

impl fmt::Display for Stem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&container_dir_name(self.container, self.disambiguator))?;
        write!(f, "-{}", self.ifname)
    }
}

/// `<id12>`, or `<id12>.<6 hex>` with a disambiguator: the stem's head, and the name of the
/// plugin's per-container directory under `sharedDir`.
pub fn container_dir_name(container: &ContainerId, disambiguator: Option<u32>) -> String {
    match disambiguator {
        Some(d) => format!(
            "{}.{:0w$x}",
            container.prefix12(),
            d & MARKER_MASK,
            w = MARKER_DIGITS
        ),
        None => container.prefix12().to_owned(),
    }
}

/// `configData-<stem>.json`.
pub fn config_data_file(stem: &str) -> String {
    format!("{CONFIG_DATA_PREFIX}{stem}{JSON_SUFFIX}")
}

/// `<stem>-ip4.conf`.
pub fn ip4conf_file(stem: &str) -> String {
    format!("{stem}{IP4CONF_SUFFIX}")
}

/// `memif-<stem>.sock`.
pub fn memif_socket_file(stem: &str) -> String {
    format!("{MEMIF_SOCKET_PREFIX}{stem}{MEMIF_SOCKET_SUFFIX}")
}

/// `<stem>`: a vhost-user socket is named by its stem alone.
pub fn vhost_socket_file(stem: &str) -> String {
    stem.to_owned()
}

/// What a regular file in the shared directory is, by its name.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind<'a> {
    /// `configData-<stem>.json` (the interface is in the contents).
    ConfigData,
    /// `<stem>.json`, with the interface name.
    VhostUserCniJson(&'a str),
    /// `<stem>-ip4.conf`, with the interface name.
    VhostUserCniIp4(&'a str),
    /// A stem without extension (kuryr), with the interface name.
    Kuryr(&'a str),
}

/// What a socket in the shared directory is, by its name.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketKind<'a> {
    /// `memif-<stem>.sock`, with the interface name.
    Memif(&'a str),
    /// `<stem>`, with the interface name.
    VhostUser(&'a str),
}

/// Classifies a regular file's name; `None` for names that are not per-interface files (or,
/// with `own_id`, are another container's).
pub fn classify_file<'a>(name: &'a str, own_id: Option<&ContainerId>) -> Option<FileKind<'a>> {
    if let Some(stem) = name
        .strip_prefix(CONFIG_DATA_PREFIX)
        .and_then(|r| r.strip_suffix(JSON_SUFFIX))
    {
        return parse_stem(stem, own_id).map(|_| FileKind::ConfigData);
    }
    if let Some(stem) = name.strip_suffix(IP4CONF_SUFFIX) {
        return parse_stem(stem, own_id).map(FileKind::VhostUserCniIp4);
    }
    if let Some(stem) = name.strip_suffix(JSON_SUFFIX) {
        return parse_stem(stem, own_id).map(FileKind::VhostUserCniJson);
    }
    if !name.contains('.') {
        return parse_stem(name, own_id).map(FileKind::Kuryr);
    }
    None
}

/// Classifies a socket's name, as [`classify_file`] does a file's.
pub fn classify_socket<'a>(name: &'a str, own_id: Option<&ContainerId>) -> Option<SocketKind<'a>> {
    match name
        .strip_prefix(MEMIF_SOCKET_PREFIX)
        .and_then(|r| r.strip_suffix(MEMIF_SOCKET_SUFFIX))
    {
        Some(stem) => parse_stem(stem, own_id).map(SocketKind::Memif),
        None => parse_stem(name, own_id).map(SocketKind::VhostUser),
    }
}

/// The interface name of a stem: `<id12>-<ifname>` or `<full id>-<ifname>`, either with an
/// optional `.<6 hex>` marker after the ID. With `own_id` the ID must be ours; without, any
/// head of 12 or more hex digits is taken.
pub fn parse_stem<'a>(stem: &'a str, own_id: Option<&ContainerId>) -> Option<&'a str> {
    match own_id {
        Some(id) => {
            let rest = stem
                .strip_prefix(id.as_str())
                .or_else(|| stem.strip_prefix(id.prefix12()))?;
            strip_marker(rest)
                .strip_prefix('-')
                .filter(|i| !i.is_empty())
        }
        None => {
            let (head, tail) = stem.split_once('-')?;
            let head = head.split_once('.').map_or(head, |(h, _)| h);
            let hex = head.len() >= 12 && head.bytes().all(|b| b.is_ascii_hexdigit());
            (hex && !tail.is_empty()).then_some(tail)
        }
    }
}

/// Drops a leading `.<6 hex>` marker, so the interface name is read after it.
fn strip_marker(rest: &str) -> &str {
    match rest.strip_prefix('.') {
        Some(r)
            if r.len() > MARKER_DIGITS
                && r.as_bytes()[..MARKER_DIGITS]
                    .iter()
                    .all(u8::is_ascii_hexdigit) =>
        {
            &r[MARKER_DIGITS..]
        }
        _ => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ContainerId {
        "4d578250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678"
            .parse()
            .unwrap()
    }

    #[test]
    fn stems_have_the_go_plugins_shape() {
        let id = id();
        let plain = Stem {
            container: &id,
            disambiguator: None,
            ifname: "net1",
        };
        assert_eq!(plain.to_string(), "4d578250ad8d-net1");
        let marked = Stem {
            disambiguator: Some(0x12_0a1b2c),
            ..plain
        };
        assert_eq!(marked.to_string(), "4d578250ad8d.0a1b2c-net1");
        assert_eq!(container_dir_name(&id, Some(0xabc)), "4d578250ad8d.000abc");
    }

    #[test]
    fn every_formatted_name_parses_back_to_its_interface() {
        let id = id();
        let other: ContainerId = "65bc360690b6ffff".parse().unwrap();
        for disambiguator in [None, Some(0x0a1b2c)] {
            for ifname in ["net1", "eth0.10", "a-b"] {
                let stem = Stem {
                    container: &id,
                    disambiguator,
                    ifname,
                }
                .to_string();
                for own in [Some(&id), None] {
                    let cd = config_data_file(&stem);
                    assert_eq!(classify_file(&cd, own), Some(FileKind::ConfigData), "{cd}");
                    let ip4 = ip4conf_file(&stem);
                    assert_eq!(
                        classify_file(&ip4, own),
                        Some(FileKind::VhostUserCniIp4(ifname)),
                        "{ip4}"
                    );
                    let memif = memif_socket_file(&stem);
                    assert_eq!(
                        classify_socket(&memif, own),
                        Some(SocketKind::Memif(ifname)),
                        "{memif}"
                    );
                    let vhost = vhost_socket_file(&stem);
                    assert_eq!(
                        classify_socket(&vhost, own),
                        Some(SocketKind::VhostUser(ifname)),
                        "{vhost}"
                    );
                }
                assert_eq!(classify_file(&ip4conf_file(&stem), Some(&other)), None);
            }
        }
    }

    #[test]
    fn file_names_are_classified_by_their_suffix_and_our_id() {
        let id = id();
        let own = Some(&id);
        assert_eq!(
            classify_file("4d578250ad8d-net1.json", own),
            Some(FileKind::VhostUserCniJson("net1"))
        );
        assert_eq!(
            classify_file(&format!("{}-eth1", id.as_str()), own),
            Some(FileKind::Kuryr("eth1"))
        );
        assert_eq!(
            classify_file("65bc360690b6-net1.json", own),
            None,
            "another pod's file"
        );
        assert_eq!(
            classify_file("65bc360690b6-net1.json", None),
            Some(FileKind::VhostUserCniJson("net1"))
        );
        assert_eq!(classify_file("get-prefix.sh", None), None);
    }
}
