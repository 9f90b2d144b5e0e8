//! The CNI protocol: the runtime's environment and stdin in, one JSON document on stdout out.
//! Verbs are dispatched by [`crate::run`]; errors become CNI error JSON only here, at the edge.

pub mod classify;
pub mod error;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use error::{CniError, ErrorCode};

/// Versions this plugin speaks (the SDK's, which reads and writes their results); results
/// are written in the version the config asks for.
pub use userspace_cni_sdk::wire::cni_result::SUPPORTED_VERSIONS;
/// What `VERSION` reports as the plugin's own version.
pub const LATEST: &str = "1.1.0";

/// The CNI verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Attach.
    Add,
    /// Detach (idempotent).
    Del,
    /// Verify an attachment.
    Check,
    /// Report readiness.
    Status,
    /// Remove attachments the runtime no longer knows.
    Gc,
    /// Report supported versions.
    Version,
}

impl Verb {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ADD" => Self::Add,
            "DEL" => Self::Del,
            "CHECK" => Self::Check,
            "STATUS" => Self::Status,
            "GC" => Self::Gc,
            "VERSION" => Self::Version,
            _ => return None,
        })
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Add => "ADD",
            Self::Del => "DEL",
            Self::Check => "CHECK",
            Self::Status => "STATUS",
            Self::Gc => "GC",
            Self::Version => "VERSION",
        })
    }
}

/// A validated invocation: the verb and the `CNI_*` variables it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniCommand {
    /// `CNI_COMMAND`.
    pub verb: Verb,
    /// `CNI_CONTAINERID` (the pod sandbox ID).
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`, split into pairs (`K8S_POD_NAME`, `K8S_POD_NAMESPACE`, …).
    pub args: BTreeMap<String, String>,
    /// `CNI_PATH`, where delegated plugins (IPAM) are found, passed on unchanged to them.
    pub path_raw: String,
}

impl CniCommand {
    /// Reads and validates the `CNI_*` variables. IDs and interface names are checked here
    /// because they end up in file and port names: nothing may escape a directory.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, CniError> {
        let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let verb_s = get("CNI_COMMAND")
            .ok_or_else(|| CniError::new(ErrorCode::InvalidEnv, "CNI_COMMAND is not set"))?;
        let verb = Verb::parse(verb_s).ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidEnv,
                format!(
                    "CNI_COMMAND={verb_s:?} is not one of ADD, DEL, CHECK, STATUS, GC, VERSION"
                ),
            )
        })?;
        let needs_attachment = matches!(verb, Verb::Add | Verb::Del | Verb::Check);
        let container_id = get("CNI_CONTAINERID").unwrap_or_default().to_owned();
        let ifname = get("CNI_IFNAME").unwrap_or_default().to_owned();
        let netns = get("CNI_NETNS").map(PathBuf::from);
        if needs_attachment {
            if container_id.is_empty() {
                return Err(CniError::new(
                    ErrorCode::InvalidEnv,
                    "CNI_CONTAINERID is not set",
                ));
            }
            validate_container_id(&container_id)?;
            if ifname.is_empty() {
                return Err(CniError::new(
                    ErrorCode::InvalidEnv,
                    "CNI_IFNAME is not set",
                ));
            }
            validate_ifname(&ifname)?;
        }
        if matches!(verb, Verb::Add | Verb::Check) && netns.is_none() {
            return Err(CniError::new(
                ErrorCode::InvalidEnv,
                format!("CNI_NETNS is not set (required for {verb})"),
            ));
        }
        let args = parse_args(get("CNI_ARGS").unwrap_or_default())?;
        let path_raw = get("CNI_PATH").unwrap_or_default().to_owned();
        Ok(Self {
            verb,
            container_id,
            netns,
            ifname,
            args,
            path_raw,
        })
    }
}

/// Container IDs: the SDK's rule (1–128 of `[A-Za-z0-9_.-]`, not starting with `.`: the CNI
/// spec's alphanumeric-plus-`_.-`, which also keeps them safe in file names).
pub fn validate_container_id(id: &str) -> Result<(), CniError> {
    id.parse::<userspace_cni_sdk::container_id::ContainerId>()
        .map(|_| ())
        .map_err(|e| CniError::new(ErrorCode::InvalidEnv, format!("CNI_CONTAINERID: {e}")))
}

/// Interface names: what Linux accepts (1–15 bytes, no `/`, no whitespace, not `.`/`..`).
pub fn validate_ifname(name: &str) -> Result<(), CniError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b.is_ascii_control());
    if ok {
        Ok(())
    } else {
        Err(CniError::new(
            ErrorCode::InvalidEnv,
            format!(
                "CNI_IFNAME {name:?} is invalid: 1-15 bytes, no '/', ':', whitespace, '.' or '..'"
            ),
        ))
    }
}

fn parse_args(s: &str) -> Result<BTreeMap<String, String>, CniError> {
    let mut map = BTreeMap::new();
    for pair in s.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidEnv,
                format!("CNI_ARGS: {pair:?} is not KEY=VALUE"),
            )
        })?;
        map.insert(k.to_owned(), v.to_owned());
    }
    Ok(map)
}

/// Versions in which a verb exists.
pub fn verb_allowed(verb: Verb, version: &str) -> bool {
    let at_least = |min: &str| version_key(version) >= version_key(min);
    match verb {
        Verb::Check => at_least("0.4.0"),
        Verb::Status | Verb::Gc => at_least("1.1.0"),
        _ => true,
    }
}

fn version_key(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// `VERSION`'s answer.
pub fn version_json() -> String {
    serde_json::json!({"cniVersion": LATEST, "supportedVersions": SUPPORTED_VERSIONS}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn add_needs_container_id_ifname_and_netns() {
        let e = CniCommand::from_env(&env(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_IFNAME", "net1"),
            ("CNI_NETNS", "/x"),
        ]))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidEnv);
        assert!(e.msg.contains("CNI_CONTAINERID"));
        let e = CniCommand::from_env(&env(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "net1"),
        ]))
        .unwrap_err();
        assert!(e.msg.contains("CNI_NETNS"));
    }

    #[test]
    fn del_does_not_need_a_netns() {
        let c = CniCommand::from_env(&env(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "net1"),
        ]))
        .unwrap();
        assert_eq!(c.verb, Verb::Del);
        assert_eq!(c.netns, None);
    }

    #[test]
    fn traversal_in_ifname_or_container_id_is_refused() {
        for bad in ["../x", "a/b", "..", ".", "", "sixteen-bytes-xx", "a b"] {
            assert!(validate_ifname(bad).is_err(), "{bad:?} accepted");
        }
        for bad in ["../../etc", "a/b", ".hidden", "x;y"] {
            assert!(validate_container_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_ifname("net1").is_ok());
        assert!(validate_container_id("4d578250ad8d3b5c").is_ok());
    }

    #[test]
    fn cni_args_are_split_into_pairs() {
        let a = parse_args("IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default").unwrap();
        assert_eq!(a["K8S_POD_NAME"], "web-0");
        assert!(parse_args("novalue").is_err());
    }

    #[test]
    fn check_exists_from_0_4_0_and_status_gc_from_1_1_0() {
        assert!(!verb_allowed(Verb::Check, "0.3.1"));
        assert!(verb_allowed(Verb::Check, "0.4.0"));
        assert!(!verb_allowed(Verb::Gc, "1.0.0"));
        assert!(verb_allowed(Verb::Status, "1.1.0"));
    }

    #[test]
    fn unknown_verbs_are_an_env_error() {
        let e = CniCommand::from_env(&env(&[("CNI_COMMAND", "FROB")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidEnv);
    }
}
