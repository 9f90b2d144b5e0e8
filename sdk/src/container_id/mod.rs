//! Which pod sandbox this container belongs to: the CNI container ID that the plugin used in
//! socket and file names.
//!
//! The runtime bind-mounts a per-sandbox (or per-container) `hostname` file at
//! `/etc/hostname`; the mount's *root* field in mountinfo is that file's path inside its
//! filesystem, and each runtime puts the ID at a known place in it. Reading the root field
//! rather than a fixed `/`-field (as get-prefix.sh did) makes this work with any Docker
//! data-root, on the root filesystem or not.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::procfs::mountinfo::{self, MountInfo};

/// A validated container ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerIdError {
    /// Not a valid ID.
    #[error("{0:?} is not a container ID (1-128 of A-Z a-z 0-9 _ . -, the first alphanumeric)")]
    Invalid(String),
    /// mountinfo is malformed.
    #[error(transparent)]
    MountInfo(#[from] mountinfo::MountInfoError),
    /// The annotation's entries name different containers.
    #[error(
        "the configuration-data entries name different containers ({0}); pass --container-id (USERSPACE_CONTAINER_ID)"
    )]
    Ambiguous(String),
    /// Nothing worked.
    #[error(
        "cannot tell this pod's container ID: {tried}; pass --container-id (USERSPACE_CONTAINER_ID)"
    )]
    NotFound {
        /// What was tried.
        tried: String,
    },
}

impl ContainerId {
    /// The ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters (all when shorter), as used in socket names.
    pub fn prefix12(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl FromStr for ContainerId {
    type Err = ContainerIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The CNI spec: an alphanumeric first character, then alphanumerics, `_`, `.`, `-`.
        let ok = s.len() <= 128
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ContainerIdError::Invalid(s.to_owned()))
        }
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ContainerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ContainerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContainerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The rule that found the ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Given by the user.
    Override,
    /// Docker (dockershim): `<data-root>/containers/<id>/hostname`.
    Docker,
    /// containerd CRI: `…/io.containerd.grpc.v1.cri/sandboxes/<id>/hostname`.
    ContainerdCri,
    /// CRI-O or podman: `…/overlay-containers/<id>/userdata/hostname`.
    ContainersStorage,
    /// The `containerId` of the configuration-data annotation.
    Annotation,
}

impl Rule {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Override => "override",
            Self::Docker => "docker",
            Self::ContainerdCri => "containerd-cri",
            Self::ContainersStorage => "containers-storage",
            Self::Annotation => "annotation",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Override => "override: given by --container-id / USERSPACE_CONTAINER_ID",
            Self::Docker => "docker: /etc/hostname bound from <data-root>/containers/<id>/hostname",
            Self::ContainerdCri => "containerd CRI: /etc/hostname bound from …/io.containerd.grpc.v1.cri/sandboxes/<id>/hostname",
            Self::ContainersStorage => "CRI-O / podman: /etc/hostname bound from …/overlay-containers/<id>/userdata/hostname",
            Self::Annotation => "annotation: containerId of userspace/configuration-data",
        })
    }
}

/// A discovered ID with the rule and the evidence (mountinfo line or annotation key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovered {
    /// The ID.
    pub id: ContainerId,
    /// How it was found.
    pub rule: Rule,
    /// What it was found in.
    pub evidence: String,
}

/// Files the runtimes bind-mount per sandbox, most telling first.
const BIND_TARGETS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// Applies the runtime rules to parsed mountinfo.
pub fn from_mountinfo(mounts: &[MountInfo]) -> Option<Discovered> {
    for target in BIND_TARGETS {
        for m in mounts.iter().filter(|m| m.mount_point == Path::new(target)) {
            if let Some((id, rule)) = match_root(&m.root) {
                return Some(Discovered {
                    id,
                    rule,
                    evidence: format!("{} on {}", m.root.display(), m.mount_point.display()),
                });
            }
        }
    }
    None
}

/// Parses mountinfo text and applies the rules.
pub fn from_mountinfo_text(text: &str) -> Result<Option<Discovered>, ContainerIdError> {
    Ok(from_mountinfo(&mountinfo::parse(text)?))
}

fn match_root(root: &Path) -> Option<(ContainerId, Rule)> {
    let parts: Vec<&str> = root.iter().filter_map(|p| p.to_str()).collect();
    let file = *parts.last()?;
    if !["hostname", "hosts", "resolv.conf"].contains(&file) {
        return None;
    }
    let n = parts.len();
    // Docker, containerd and CRI-O/podman all name sandboxes by 64 lowercase hex digits; any
    // other name in such a path is some other bind mount, not a runtime's sandbox file.
    let id_at = |i: usize| {
        parts
            .get(i)
            .filter(|s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|s| s.parse::<ContainerId>().ok())
    };
    // …/overlay-containers/<id>/userdata/<file>
    if n >= 4 && parts[n - 2] == "userdata" && parts[n - 4] == "overlay-containers" {
        return id_at(n - 3).map(|id| (id, Rule::ContainersStorage));
    }
    // …/io.containerd.grpc.v1.cri/sandboxes/<id>/<file>
    if n >= 3
        && parts[n - 3] == "sandboxes"
        && n >= 4
        && parts[n - 4].starts_with("io.containerd.grpc")
    {
        return id_at(n - 2).map(|id| (id, Rule::ContainerdCri));
    }
    // …/containers/<id>/<file> (Docker: the data-root may be anywhere, or be the fs root)
    if n >= 3 && parts[n - 3] == "containers" {
        return id_at(n - 2).map(|id| (id, Rule::Docker));
    }
    None
}

/// Override, then mountinfo, then the annotation's IDs.
pub fn discover(
    override_id: Option<&str>,
    mountinfo_text: Option<&str>,
    annotation_ids: &[&str],
) -> Result<Discovered, ContainerIdError> {
    if let Some(id) = override_id {
        return Ok(Discovered {
            id: id.parse()?,
            rule: Rule::Override,
            evidence: "override".into(),
        });
    }
    let mut tried = Vec::new();
    match mountinfo_text {
        Some(text) => match from_mountinfo_text(text)? {
            Some(d) => return Ok(d),
            None => tried.push("no runtime's hostname bind mount in mountinfo"),
        },
        None => tried.push("mountinfo unreadable"),
    }
    let mut ids: Vec<&str> = annotation_ids
        .iter()
        .copied()
        .filter(|i| !i.is_empty())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    match ids[..] {
        [one] => Ok(Discovered {
            id: one.parse()?,
            rule: Rule::Annotation,
            evidence: crate::wire::CONFIGURATION_DATA_ANNOTATION.to_owned(),
        }),
        [] => {
            tried.push("no containerId in the configuration-data annotation");
            Err(ContainerIdError::NotFound {
                tried: tried.join("; "),
            })
        }
        _ => Err(ContainerIdError::Ambiguous(ids.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4c0f7f2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170";

    fn found(fixture: &str) -> Discovered {
        from_mountinfo_text(fixture).unwrap().expect("an id")
    }

    #[test]
    fn a_runtime_like_path_without_a_64_hex_id_is_not_taken_as_one() {
        let line = "2209 2201 253:2 /my\\040docker/containers/web/resolv.conf /etc/resolv.conf rw - xfs /dev/x rw\n";
        assert_eq!(from_mountinfo_text(line).unwrap(), None);
        // Found by fuzzing: a 10-character "ID" from a crafted line.
        let bytes = include_bytes!("../../tests/fixtures/mountinfo/fuzz-crash-short-id");
        let text = String::from_utf8_lossy(bytes);
        if let Ok(Some(d)) = from_mountinfo_text(&text) {
            assert_eq!(d.id.as_str().len(), 64);
        }
    }

    #[test]
    fn docker_with_the_default_data_root() {
        let d = found(include_str!(
            "../../tests/fixtures/mountinfo/docker-default"
        ));
        assert_eq!(
            (d.id.as_str(), d.rule),
            (
                "d64fb5a6e6bfa5f76a8c1a59b9bcb1bd6b3c1f2e4a5d6c7b8a9f0e1d2c3b4a59",
                Rule::Docker
            )
        );
    }

    #[test]
    fn docker_with_a_data_root_on_another_filesystem_with_a_space() {
        let d = found(include_str!(
            "../../tests/fixtures/mountinfo/docker-data-root-space"
        ));
        assert_eq!(
            d.id.as_str(),
            "7be1a7c0a6bb5cc0b3f3a34f3e8d1f4b2b6d3e50c5c1a2d3e4f5a6b7c8d9e0f1"
        );
        assert_eq!(d.rule, Rule::Docker);
        assert!(
            d.evidence.contains("my docker"),
            "escape decoded: {}",
            d.evidence
        );
    }

    #[test]
    fn containerd_cri_names_the_sandbox() {
        let d = found(include_str!(
            "../../tests/fixtures/mountinfo/containerd-cri"
        ));
        assert_eq!(
            (d.id.as_str(), d.rule),
            (
                "214e56d69bbcae56093ef09744f3c6ff64fab131cdba235dfb6bc8e4d609e702",
                Rule::ContainerdCri
            )
        );
    }

    #[test]
    fn cri_o_names_the_sandbox() {
        let d = found(include_str!("../../tests/fixtures/mountinfo/cri-o"));
        assert_eq!(
            (d.id.as_str(), d.rule),
            (
                "1f2e3d4c5b6a79880716a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                Rule::ContainersStorage
            )
        );
    }

    #[test]
    fn podman_names_the_container() {
        let d = found(include_str!("../../tests/fixtures/mountinfo/podman"));
        assert_eq!((d.id.as_str(), d.rule), (ID, Rule::ContainersStorage));
    }

    #[test]
    fn a_host_process_has_no_container_id() {
        assert_eq!(
            from_mountinfo_text(include_str!("../../tests/fixtures/mountinfo/host")).unwrap(),
            None
        );
    }

    #[test]
    fn an_id_must_begin_with_an_alphanumeric() {
        for bad in ["-abc123", "_abc123", ".abc123", ""] {
            assert_eq!(
                bad.parse::<ContainerId>(),
                Err(ContainerIdError::Invalid(bad.into())),
                "{bad:?}"
            );
        }
        for good in ["abc-123", "a_b.c", "0", "A"] {
            assert!(good.parse::<ContainerId>().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn the_override_wins_and_is_validated() {
        let d = discover(
            Some("abc123"),
            Some(include_str!("../../tests/fixtures/mountinfo/podman")),
            &[],
        )
        .unwrap();
        assert_eq!((d.id.as_str(), d.rule), ("abc123", Rule::Override));
        assert_eq!(
            discover(Some("../etc"), None, &[]).unwrap_err(),
            ContainerIdError::Invalid("../etc".into())
        );
    }

    #[test]
    fn the_annotation_is_the_fallback_and_must_agree() {
        let host = include_str!("../../tests/fixtures/mountinfo/host");
        let d = discover(None, Some(host), &[ID, ID]).unwrap();
        assert_eq!(d.rule, Rule::Annotation);
        assert!(matches!(
            discover(None, Some(host), &[ID, "other"]),
            Err(ContainerIdError::Ambiguous(_))
        ));
        let e = discover(None, Some(host), &[]).unwrap_err().to_string();
        assert!(
            e.contains("--container-id") && e.contains("no runtime's hostname bind mount"),
            "{e}"
        );
    }

    #[test]
    fn the_twelve_character_prefix_is_what_socket_names_use() {
        assert_eq!(
            ID.parse::<ContainerId>().unwrap().prefix12(),
            "4c0f7f2b1a9e"
        );
        assert_eq!("short".parse::<ContainerId>().unwrap().prefix12(), "short");
    }
}
