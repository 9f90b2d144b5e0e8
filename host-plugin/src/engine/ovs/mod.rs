//! The OVS-DPDK engine: a `dpdkvhostuserclient` port (the pod's app is the vhost-user server;
//! survives switch restarts) or a `dpdkvhostuser` port (OVS makes the socket in its run
//! directory; it is moved, or bind-mounted across filesystems, into the shared directory).
//! Ports carry the attachment's key in `external_ids`: that, not the name, makes a port ours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use userspace_cni_sdk::wire::VhostMode;

use super::{AttachRequest, Engine, Evidence, Held, Ownership, Record};
use crate::config::{Config, Mtu, Vlan};
use crate::identity::AttachmentId;
pub mod client;

pub use client::{AddedPort, InterfaceInfo, OvsClient, OvsError, PortInfo, PortKind, PortSpec};

/// `external_ids` keys on ports.
pub mod tags {
    /// The attachment's key (`<containerId>@<ifname>`): what proves a port ours.
    pub const ATTACHMENT: &str = "userspace-cni/attachment";
    /// CNI_CONTAINERID (for operators' queries; ownership is [`ATTACHMENT`]'s).
    pub const CONTAINER_ID: &str = "userspace-cni/container-id";
    /// CNI_IFNAME.
    pub const IFNAME: &str = "userspace-cni/ifname";
    /// Network name.
    pub const NETWORK: &str = "userspace-cni/network";
    /// OVN's: the logical switch port an interface is.
    pub const IFACE_ID: &str = "iface-id";
}

/// Who makes the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OvsPortType {
    /// `dpdkvhostuserclient`: OVS connects to the pod's socket.
    DpdkVhostUserClient,
    /// `dpdkvhostuser`: OVS makes the socket, the pod connects.
    DpdkVhostUser,
}

/// One attachment's port on OVS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OvsRecord {
    /// The attachment's key (the `external_ids` owner tag).
    pub owner: String,
    /// The network (tag, for GC).
    pub network: String,
    /// Bridge.
    pub bridge: String,
    /// Port and interface name.
    pub port: String,
    /// Port type.
    pub port_type: OvsPortType,
    /// The socket path on the host, as the switch sees it.
    pub socket: PathBuf,
    /// ovs-vswitchd's run directory (where it makes `dpdkvhostuser` sockets).
    pub run_dir: PathBuf,
    /// The port's access VLAN (`tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// The interface's `mtu_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Queue pairs the pod's port has (journals of earlier versions: 1).
    #[serde(default = "one_queue")]
    pub queues: u16,
    /// OVN: the logical port this interface is (`external_ids:iface-id`, what ovn-controller
    /// binds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface_id: Option<String>,
}

fn one_queue() -> u16 {
    1
}

impl OvsRecord {
    /// The plan for a request.
    pub fn plan(config: &Config, req: &AttachRequest) -> Self {
        let pod_is_server = config.host_vhost_mode() == VhostMode::Client;
        Self {
            owner: req.id.key(),
            network: req.network.clone(),
            bridge: config.bridge(),
            port: req.stem.clone(),
            port_type: if pod_is_server {
                OvsPortType::DpdkVhostUserClient
            } else {
                OvsPortType::DpdkVhostUser
            },
            socket: req.socket.clone(),
            run_dir: run_dir(&config.ovsdb),
            vlan: config.vlan().map(Vlan::get),
            mtu: config.mtu().map(Mtu::get),
            queues: config.queues().get(),
            iface_id: None,
        }
    }

    fn external_ids(&self) -> BTreeMap<String, String> {
        let mut ids = attachment_tags(&self.owner, &self.network);
        if let Some(lsp) = &self.iface_id {
            ids.insert(tags::IFACE_ID.to_owned(), lsp.clone());
        }
        ids
    }
}

/// The `external_ids` that name an attachment's port (OVS's, and OVN's logical port): its
/// key, which proves it ours, its network, and for operators' queries its container and
/// interface.
pub fn attachment_tags(owner: &str, network: &str) -> BTreeMap<String, String> {
    let mut ids: BTreeMap<String, String> = [
        (tags::ATTACHMENT.to_owned(), owner.to_owned()),
        (tags::NETWORK.to_owned(), network.to_owned()),
    ]
    .into();
    if let Some(id) = AttachmentId::from_key(owner) {
        ids.insert(tags::CONTAINER_ID.to_owned(), id.container_id.to_string());
        ids.insert(tags::IFNAME.to_owned(), id.ifname);
    }
    ids
}

/// ovs-vswitchd puts `dpdkvhostuser` sockets in its run directory, where db.sock lives.
fn run_dir(ovsdb: &str) -> PathBuf {
    ovsdb
        .strip_prefix("unix:")
        .and_then(|p| Path::new(p).parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/var/run/openvswitch"))
}

/// Whether `ids` are the tags of `owner`'s port: its attachment tag, nothing else (the
/// container-ID and ifname tags are for operators' queries).
fn owned_by(ids: &BTreeMap<String, String>, owner: &str) -> bool {
    ids.get(tags::ATTACHMENT).is_some_and(|k| k == owner)
}

impl Record for OvsRecord {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn network(&self) -> &str {
        &self.network
    }
    fn socket(&self) -> &Path {
        &self.socket
    }
    fn name(&self) -> String {
        self.port.clone()
    }
}

/// A session with ovsdb-server.
pub struct OvsEngine {
    client: OvsClient,
}

impl OvsEngine {
    /// The OVSDB session (the OVN engine reads `ovn-installed` and the chassis through it).
    pub fn client(&mut self) -> &mut OvsClient {
        &mut self.client
    }

    /// Connects to OVSDB at `endpoint` (the node agent re-creates journaled ports with this
    /// engine's own attach when asked to repair).
    pub fn open(endpoint: &str) -> Result<Self, OvsError> {
        let client = OvsClient::connect(endpoint, Duration::from_secs(5))?;
        Ok(Self { client })
    }

    /// Waits for ovs-vswitchd to create `<run_dir>/<port>`, then renames it into the shared
    /// directory; across filesystems (EXDEV) it is bind-mounted there instead.
    fn bring_socket(&self, r: &OvsRecord) -> Result<(), OvsError> {
        const WAIT: Duration = Duration::from_secs(5);
        let src = r.run_dir.join(&r.port);
        let deadline = Instant::now() + WAIT;
        while !src.exists() {
            if Instant::now() > deadline {
                return Err(OvsError::SocketNotCreated {
                    path: src,
                    waited: WAIT,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let target = &r.socket;
        match std::fs::rename(&src, target) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
                std::fs::File::create(target).map_err(|source| OvsError::MountPoint {
                    path: target.clone(),
                    source,
                })?;
                nix::mount::mount(
                    Some(&src),
                    target,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|source| OvsError::BindMount {
                    from: src.clone(),
                    to: target.clone(),
                    source,
                })?;
                Ok(())
            }
            Err(source) => Err(OvsError::MoveSocket {
                from: src.clone(),
                to: target.clone(),
                source,
            }),
        }
    }

    fn attach_port(&mut self, r: &OvsRecord) -> Result<OvsRecord, OvsError> {
        let kind = match r.port_type {
            OvsPortType::DpdkVhostUserClient => PortKind::DpdkVhostUserClient {
                server_path: r.socket.clone(),
            },
            OvsPortType::DpdkVhostUser => PortKind::DpdkVhostUser,
        };
        match self.client.add_port(&PortSpec {
            bridge: r.bridge.clone(),
            port: r.port.clone(),
            kind,
            external_ids: r.external_ids(),
            create_bridge: true,
            tag: r.vlan,
            mtu_request: r.mtu,
            tx_steering_hash: r.queues > 1,
        }) {
            Ok(_) => {}
            // A replayed ADD finds its own port: nothing to make.
            Err(OvsError::PortExists(_)) if self.port_is(&r.port, &r.owner)? => {}
            Err(e) => return Err(e),
        }
        if r.port_type == OvsPortType::DpdkVhostUser {
            self.bring_socket(r)?;
        }
        Ok(r.clone())
    }

    /// Whether `port` exists and is `owner`'s.
    fn port_is(&mut self, port: &str, owner: &str) -> Result<bool, OvsError> {
        Ok(self
            .client
            .port_tags(port)?
            .is_some_and(|ids| owned_by(&ids, owner)))
    }
}

impl Engine for OvsEngine {
    type Record = OvsRecord;
    type Error = OvsError;

    fn connect(config: &Config) -> Result<Self, OvsError> {
        Self::open(&config.ovsdb)
    }

    fn validate(config: &Config) -> Result<(), OvsError> {
        use crate::config::ConfigError;
        use userspace_cni_sdk::wire::{IfType, NetType};
        if config.iftype == IfType::Memif {
            return Err(ConfigError::Unsupported(
                "host.iftype memif is not supported by the ovs-dpdk engine (OVS has no memif ports): use vhostuser, or engine vpp".into(),
            )
            .into());
        }
        if config.host.net_type == Some(NetType::Interface) {
            return Err(ConfigError::Unsupported(
                "host.netType interface is not supported by the ovs-dpdk engine: use bridge (or none)".into(),
            )
            .into());
        }
        let bridge = config.bridge();
        if bridge.len() > 15
            || bridge.contains('/')
            || bridge.bytes().any(|c| c.is_ascii_whitespace())
        {
            return Err(ConfigError::Invalid(format!(
                "host.bridge.bridgeName {bridge:?} is not a valid OVS bridge name (1-15 bytes, no '/' or spaces)"
            ))
            .into());
        }
        Ok(())
    }

    fn plan(config: &Config, req: &AttachRequest) -> Result<OvsRecord, OvsError> {
        Ok(OvsRecord::plan(config, req))
    }

    fn attach(&mut self, planned: &OvsRecord, held: &Held<'_>) -> Result<OvsRecord, OvsError> {
        self.attach_port(planned).inspect_err(|_| {
            if let Err(u) = self.detach(planned, held) {
                tracing::warn!("OVS rollback incomplete: {u}");
            }
        })
    }

    fn detach(&mut self, r: &OvsRecord, _held: &Held<'_>) -> Result<(), OvsError> {
        // Whichever detach leaves a plugin-made bridge empty removes it.
        let removal = self
            .client
            .remove_port_if(&r.port, &r.bridge, |ids| owned_by(ids, &r.owner))?;
        if removal.owned_by_other {
            tracing::warn!(
                "OVS port {} belongs to another attachment: left alone",
                r.port
            );
        }
        let ours = !removal.owned_by_other;
        if ours {
            remove_socket(&r.socket);
            // A dpdkvhostuser socket that was never moved stays in OVS's run directory.
            if r.port_type == OvsPortType::DpdkVhostUser {
                remove_socket(&r.run_dir.join(&r.port));
            }
        }
        Ok(())
    }

    fn check(&mut self, r: &OvsRecord) -> Result<Ownership, OvsError> {
        match self.client.port_tags(&r.port)? {
            None => Ok(Ownership::Missing),
            Some(ids) if !owned_by(&ids, &r.owner) => Ok(Ownership::NotOurs(format!(
                "OVS port {} is tagged {:?}",
                r.port,
                ids.get(tags::ATTACHMENT)
            ))),
            Some(_) => match self.client.get_interface(&r.port)? {
                Some(i) => match i.error {
                    Some(error) => Err(OvsError::PortError {
                        port: r.port.clone(),
                        error,
                    }),
                    None => Ok(Ownership::Ours),
                },
                None => Ok(Ownership::Missing),
            },
        }
    }

    fn untracked(
        &mut self,
        network: &str,
        _evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, OvsRecord)>, OvsError> {
        let filter: BTreeMap<String, String> =
            [(tags::NETWORK.to_owned(), network.to_owned())].into();
        let mut out = Vec::new();
        for p in self.client.find_ports(&filter)? {
            let id = p
                .external_ids
                .get(tags::ATTACHMENT)
                .and_then(|k| AttachmentId::from_key(k));
            let (Some(id), Some(bridge)) = (id, p.bridge) else {
                continue;
            };
            let iface = self.client.get_interface(&p.name)?;
            let server_path = iface
                .as_ref()
                .and_then(|i| i.options.get("vhost-server-path").cloned());
            out.push((
                id.clone(),
                OvsRecord {
                    owner: id.key(),
                    network: network.to_owned(),
                    bridge,
                    port: p.name.clone(),
                    port_type: if server_path.is_some() {
                        OvsPortType::DpdkVhostUserClient
                    } else {
                        OvsPortType::DpdkVhostUser
                    },
                    // Without a journal the socket's place is unknown: only the port goes.
                    socket: PathBuf::new(),
                    run_dir: PathBuf::new(),
                    vlan: None,
                    mtu: None,
                    queues: 1,
                    iface_id: p.external_ids.get(tags::IFACE_ID).cloned(),
                },
            ));
        }
        Ok(out)
    }

    fn status(&mut self) -> Result<(), OvsError> {
        self.client.bridge_exists("").map(|_| ())
    }
}

/// Unmounts (a bind mount of OVS's socket) and removes a socket path; what is not there is
/// fine. A symlink there is removed, never followed.
fn remove_socket(path: &Path) {
    if path.as_os_str().is_empty() {
        return;
    }
    let _ = nix::mount::umount2(
        path,
        nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW,
    );
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_ours_by_its_attachment_tag_not_its_name() {
        let mine: BTreeMap<String, String> =
            [(tags::ATTACHMENT.to_owned(), "abc@net1".to_owned())].into();
        assert!(owned_by(&mine, "abc@net1"));
        assert!(!owned_by(&mine, "abcd@net1"));
        let ids_only: BTreeMap<String, String> = [
            (tags::CONTAINER_ID.to_owned(), "abc".to_owned()),
            (tags::IFNAME.to_owned(), "net1".to_owned()),
        ]
        .into();
        assert!(
            !owned_by(&ids_only, "abc@net1"),
            "no attachment tag: not provably ours"
        );
        assert!(!owned_by(&BTreeMap::new(), "abc@net1"));
    }
}
