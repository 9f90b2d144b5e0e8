//! Facts from the files in the shared directory: the plugin's `configData-*.json`, the
//! vhost-user CNI's `<id12>-<ifname>.json` / `-ip4.conf`, kuryr's `<containerID>-<ifname>` and
//! the sockets themselves.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::from_annotations::from_configuration_data;
use super::{InterfaceKind, Observation, Report, SocketRole, Source, Warning};
use crate::container_id::ContainerId;
use crate::shared_files::{FileKind, JSON_SUFFIX, SocketKind, classify_file, classify_socket};
use crate::wire::{ConfigurationData, KuryrPort, VhostMode, VhostUserCniPort, VhostUserIp4Conf};

/// The shared directory could not be listed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the shared directory {path}")]
pub struct SharedDirError {
    /// The directory.
    pub path: PathBuf,
    /// The IO error.
    #[source]
    pub source: std::io::Error,
}

/// Scans `dir` and the per-container subdirectories that hosts use when several pods share
/// one host directory: `dir/<full container id>/` (vhost-user CNI) and `dir/<id12>/` (the
/// `userspace` plugin's `sharedDir` fallback).
///
/// With `own_id` known only this container's files are read; without it every file that has
/// the shape of a per-interface file is. Malformed files become warnings: one broken file must
/// not hide the other interfaces.
pub fn scan_shared_dir(
    dir: &Path,
    own_id: Option<&ContainerId>,
) -> Result<(Vec<Report>, Vec<Warning>), SharedDirError> {
    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    scan_one(dir, own_id, &mut reports, &mut warnings)?;
    if let Some(id) = own_id {
        for sub in [dir.join(id.as_str()), dir.join(id.prefix12())] {
            if sub.is_dir() && sub != dir {
                scan_one(&sub, own_id, &mut reports, &mut warnings)?;
            }
        }
    }
    Ok((reports, warnings))
}

fn scan_one(
    dir: &Path,
    own_id: Option<&ContainerId>,
    reports: &mut Vec<Report>,
    warnings: &mut Vec<Warning>,
) -> Result<(), SharedDirError> {
    let err = |source| SharedDirError {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let mut warn = |message: String| {
            warnings.push(Warning {
                source: path.display().to_string(),
                message,
            });
        };
        if file_type.is_socket() {
            if let Some(r) = socket_report(&name, &path, own_id) {
                reports.push(r);
            }
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        match classify_file(&name, own_id) {
            Some(FileKind::ConfigData) => match read(&path).and_then(|t| {
                ConfigurationData::from_file_json(&t).map_err(|e| crate::error_chain(&e))
            }) {
                Ok(list) => {
                    let src = Source::ConfigDataFile(path.clone());
                    let (r, w) = from_configuration_data(&list, dir, own_id, &src);
                    reports.extend(r);
                    warnings.extend(w);
                }
                Err(e) => warn(format!("{e}; file ignored")),
            },
            Some(FileKind::VhostUserCniJson(ifname)) => {
                match read(&path).and_then(|t| {
                    serde_json::from_str::<VhostUserCniPort>(&t).map_err(|e| e.to_string())
                }) {
                    Ok(port) => {
                        reports.push(vhostuser_cni_report(&port, ifname, &name, dir, &path))
                    }
                    Err(e) => warn(format!("{e}; file ignored")),
                }
            }
            Some(FileKind::VhostUserCniIp4(ifname)) => {
                match read(&path).and_then(|t| {
                    serde_json::from_str::<VhostUserIp4Conf>(&t).map_err(|e| e.to_string())
                }) {
                    Ok(conf) => reports.push(ip4conf_report(&conf, ifname, &path, &mut warn)),
                    Err(e) => warn(format!("{e}; file ignored")),
                }
            }
            Some(FileKind::Kuryr(ifname)) => {
                // A kuryr file has no extension, so only JSON of the right shape counts.
                if let Ok(port) = read(&path)
                    .and_then(|t| serde_json::from_str::<KuryrPort>(&t).map_err(|e| e.to_string()))
                {
                    reports.push(kuryr_report(&port, ifname, dir, &path));
                }
            }
            None => {}
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

fn socket_report(name: &str, path: &Path, own_id: Option<&ContainerId>) -> Option<Report> {
    let (kind, ifname) = match classify_socket(name, own_id)? {
        SocketKind::Memif(i) => (InterfaceKind::Memif, i),
        SocketKind::VhostUser(i) => (InterfaceKind::VhostUser, i),
    };
    Some(Report {
        interface: ifname.to_owned(),
        source: Source::SharedDirSocket(path.to_owned()),
        facts: vec![
            Observation::Kind(kind),
            Observation::SocketPath(path.to_owned()),
        ],
    })
}

fn vhostuser_cni_report(
    port: &VhostUserCniPort,
    ifname: &str,
    file_name: &str,
    dir: &Path,
    path: &Path,
) -> Report {
    // The vhost-user CNI names the socket like its .json file; OVS created it (dpdkvhostuser),
    // so the app is the client.
    let socket = dir.join(file_name.trim_end_matches(JSON_SUFFIX));
    let mut facts = vec![
        Observation::Kind(InterfaceKind::VhostUser),
        Observation::SocketPath(socket),
        Observation::Role(SocketRole::Client),
    ];
    facts.push(Observation::Mac(port.ifmac));
    Report {
        interface: ifname.to_owned(),
        source: Source::VhostUserCniFile(path.to_owned()),
        facts,
    }
}

fn ip4conf_report(
    conf: &VhostUserIp4Conf,
    ifname: &str,
    path: &Path,
    warn: &mut impl FnMut(String),
) -> Report {
    let mut facts = Vec::new();
    match conf.ip_addr.parse() {
        Ok(net) => facts.push(Observation::Ips(vec![net])),
        Err(e) => warn(format!("ipAddr {:?}: {e}", conf.ip_addr)),
    }
    if let Some(mac) = conf.mac_addr {
        facts.push(Observation::Mac(mac));
    }
    if let Some(gw) = conf.gateway.as_deref().filter(|g| !g.is_empty()) {
        match gw.parse() {
            Ok(gw) => facts.push(Observation::Gateway(gw)),
            Err(e) => warn(format!("gateway {gw:?}: {e}")),
        }
    }
    Report {
        interface: ifname.to_owned(),
        source: Source::VhostUserCniFile(path.to_owned()),
        facts,
    }
}

fn kuryr_report(port: &KuryrPort, ifname: &str, dir: &Path, path: &Path) -> Report {
    let mut facts = vec![
        Observation::Kind(InterfaceKind::VhostUser),
        Observation::SocketPath(dir.join(&port.vhostname)),
        Observation::Role(match port.mode {
            VhostMode::Server => SocketRole::Server,
            VhostMode::Client => SocketRole::Client,
        }),
    ];
    facts.push(Observation::Mac(port.vhostmac));
    Report {
        interface: ifname.to_owned(),
        source: Source::KuryrFile(path.to_owned()),
        facts,
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
    fn memif_and_vhost_sockets_are_told_apart_by_name() {
        let id = id();
        let m = socket_report(
            "memif-4d578250ad8d-net2.sock",
            Path::new("/d/memif-4d578250ad8d-net2.sock"),
            Some(&id),
        )
        .unwrap();
        assert_eq!(m.interface, "net2");
        assert_eq!(m.facts[0], Observation::Kind(InterfaceKind::Memif));
        let v = socket_report(
            "4d578250ad8d-net1",
            Path::new("/d/4d578250ad8d-net1"),
            Some(&id),
        )
        .unwrap();
        assert_eq!(v.facts[0], Observation::Kind(InterfaceKind::VhostUser));
    }
}
