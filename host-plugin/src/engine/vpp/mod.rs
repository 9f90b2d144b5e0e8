//! The VPP engine: memif and vhost-user interfaces on the host's VPP. `netType: interface`
//! holds each subnet's gateway once, on a loopback tagged [`attach::gateway_tag`],
//! every pod's interface unnumbered to it with a host route to the pod. VPP hands out the
//! same socket ids and `sw_if_index`es again after a restart, so an interface is proven ours
//! by the socket *file* behind it (its path is this attachment's alone: its stem is claimed)
//! and by its tag ([`interface_tag`]: a hash of the attachment and the network), which is
//! how DEL without journal and GC find the interfaces no journal knows.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use userspace_cni_sdk::wire::{self, IfType, NetType, VhostMode};
use vpp_api::messages::memif::{MemifMode, MemifRole};

use super::{AttachRequest, Engine, Evidence, Held, Ownership, Record};
use crate::config::{Config, Mtu, Vlan};
use crate::identity::AttachmentId;
pub mod attach;
mod error;

pub use error::VppEngineError;

pub use attach::{L3, Vpp, VppAttached, VppIfType, VppPlan};
use attach::{TaggedInterface, interface_tag};

/// One attachment's interface on VPP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VppRecord {
    /// The attachment's key.
    pub owner: String,
    /// The network (in the interface's tag; journals of earlier versions: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// memif or vhost-user.
    pub iftype: IfType,
    /// The socket path given to VPP: what identifies the interface.
    pub socket: PathBuf,
    /// memif: VPP's role.
    pub memif_role: wire::MemifRole,
    /// memif: mode.
    pub memif_mode: wire::MemifMode,
    /// vhost-user: whether VPP makes the socket.
    pub vhost_server: bool,
    /// `netType: bridge`: the bridge domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_domain: Option<u32>,
    /// `netType: interface`: the host side's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpNet>,
    /// `netType: interface`: the pod's address, routed through the interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_address: Option<IpNet>,
    /// memif: rx and tx queues each (journals of earlier versions: 1).
    #[serde(default = "one")]
    pub queues: u16,
    /// The interface's MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The access VLAN on the bridge domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// What attach made (indexes, for messages; never the proof of ownership); boxed, so
    /// a journal step stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<Box<VppAttached>>,
}

fn one() -> u16 {
    1
}

impl VppRecord {
    /// The plan for a request.
    pub fn plan(config: &Config, req: &AttachRequest) -> Result<Self, VppEngineError> {
        let memif = config.host.memif.clone().unwrap_or_default();
        let net_type = config.host_net_type();
        let address = match net_type {
            NetType::Interface => Some(req.host_address.ok_or(VppEngineError::NoHostAddress)?),
            _ => None,
        };
        Ok(Self {
            owner: req.id.key(),
            network: req.network.clone(),
            iftype: config.iftype,
            socket: req.socket.clone(),
            memif_role: memif.role.unwrap_or(wire::MemifRole::Master),
            memif_mode: memif.mode.unwrap_or(wire::MemifMode::Ethernet),
            vhost_server: config.host_vhost_mode() == VhostMode::Server,
            bridge_domain: match net_type {
                NetType::Bridge => config.vpp_bridge_domain()?,
                _ => None,
            },
            pod_address: address.and(req.pod_address),
            address,
            queues: config.queues().get(),
            mtu: config.mtu().map(Mtu::get),
            vlan: config.vlan().map(Vlan::get),
            made: None,
        })
    }

    /// VPP's name of the interface, once made.
    pub fn name(&self) -> String {
        self.made
            .as_ref()
            .map(|m| m.if_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{} on {}", self.iftype, self.socket.display()))
    }

    fn to_plan(&self) -> VppPlan {
        VppPlan {
            iftype: self.iftype,
            socket: self.socket.clone(),
            memif_role: match self.memif_role {
                wire::MemifRole::Master => MemifRole::MASTER,
                wire::MemifRole::Slave => MemifRole::SLAVE,
            },
            memif_mode: match self.memif_mode {
                wire::MemifMode::Ethernet => MemifMode::ETHERNET,
                wire::MemifMode::Ip => MemifMode::IP,
                wire::MemifMode::InjectPunt => MemifMode::PUNT_INJECT,
            },
            vhost_server: self.vhost_server,
            bridge_domain: self.bridge_domain,
            address: self.address,
            pod_address: self.pod_address,
            queues: self.queues,
            mtu: self.mtu,
            vlan: self.vlan,
            tag: interface_tag(&self.owner, &self.network),
        }
    }
}

impl Record for VppRecord {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn network(&self) -> &str {
        &self.network
    }
    fn socket(&self) -> &std::path::Path {
        &self.socket
    }
    fn name(&self) -> String {
        VppRecord::name(self)
    }
    /// Attachments share objects on VPP: `netType: interface` its subnet's gateway loopback,
    /// `netType: bridge` its bridge domain. One ADD or DEL at a time decides whether such an
    /// object is there, makes it or deletes it: a DEL never deletes the loopback or domain an
    /// ADD is joining (VPP would re-create the domain untagged on the join), and two first
    /// ADDs never both create it.
    fn shares_objects(&self) -> bool {
        self.address.is_some() || self.bridge_domain.is_some()
    }
    fn iftype(&self) -> IfType {
        self.iftype
    }
    fn replanned(&self) -> Self {
        Self {
            made: None,
            ..self.clone()
        }
    }
}

/// The attachment of `network` that a tagged interface is provably of: a claim on its socket
/// file (the path, the stem directory of an alias, the stem in the file name), else an
/// attachment the state directory names (`known`), is a candidate, and the interface's tag
/// must be that candidate's [`interface_tag`]. An interface of another network or of no
/// provable owner is `None`: never touched.
fn owner_of(evidence: &dyn Evidence, t: &TaggedInterface, network: &str) -> Option<AttachmentId> {
    let file = t.socket.file_name()?.to_string_lossy().into_owned();
    let stem_of_file = file
        .strip_prefix("memif-")
        .and_then(|f| f.strip_suffix(".sock"))
        .unwrap_or(&file)
        .to_owned();
    let parent = t
        .socket
        .parent()
        .and_then(|p| p.file_name())
        .map(|p| p.to_string_lossy().into_owned());
    let claimed = [
        evidence.socket_owner(&t.socket),
        evidence.stem_owner(&stem_of_file),
        parent.and_then(|p| evidence.stem_owner(&p)),
    ];
    for key in claimed.into_iter().flatten() {
        if interface_tag(&key, network) == t.tag {
            return AttachmentId::from_key(&key);
        }
    }
    // The claims may be gone (a damaged journal's undo released them): the attachments the
    // state directory still names (a DEL holds its lock file) are candidates too, proven by
    // the tag and by their container ID's prefix in the socket path, as every name of an
    // attachment's socket carries it.
    for key in evidence.known() {
        let Some(id) = AttachmentId::from_key(key) else {
            continue;
        };
        let cid = id.container_id.as_str();
        let prefix = cid.get(..12).unwrap_or(cid);
        if interface_tag(key, network) == t.tag && t.socket.to_string_lossy().contains(prefix) {
            return Some(id);
        }
    }
    tracing::debug!(
        "VPP interface {} ({}) is tagged by the plugin but no attachment of {network} proves it",
        t.sw_if_index,
        t.socket.display()
    );
    None
}

/// What a DEL needs to remove a stray interface and what it holds of the shared objects.
fn stray_record(id: &AttachmentId, network: &str, t: TaggedInterface) -> VppRecord {
    VppRecord {
        owner: id.key(),
        network: network.to_owned(),
        iftype: t.iftype,
        socket: t.socket,
        memif_role: wire::MemifRole::Master,
        memif_mode: wire::MemifMode::Ethernet,
        vhost_server: t.vhost_server,
        bridge_domain: t.bridge_domain,
        address: t.gateway,
        pod_address: t.pod,
        queues: 1,
        mtu: None,
        vlan: None,
        made: None,
    }
}

/// A session with the host's VPP.
pub struct VppEngine {
    vpp: Vpp,
}

impl VppEngine {
    /// Connects to VPP at `socket` (the node agent re-applies journaled attachments with this
    /// engine's own attach after a VPP restart).
    pub fn open(socket: &std::path::Path) -> Result<Self, VppEngineError> {
        Ok(Self {
            vpp: Vpp::connect(socket)?,
        })
    }
}

impl Engine for VppEngine {
    type Record = VppRecord;
    type Error = VppEngineError;

    fn connect(config: &Config) -> Result<Self, VppEngineError> {
        Self::open(&config.vpp_socket)
    }

    fn validate(config: &Config) -> Result<(), VppEngineError> {
        if config.host_net_type() == NetType::Bridge && config.vpp_bridge_domain()?.is_none() {
            return Err(crate::config::ConfigError::Invalid(
                "host.netType bridge on vpp needs host.bridge.bridgeName (the bridge-domain id)"
                    .into(),
            )
            .into());
        }
        Ok(())
    }

    fn plan(config: &Config, req: &AttachRequest) -> Result<VppRecord, VppEngineError> {
        VppRecord::plan(config, req)
    }

    fn attach(&mut self, r: &VppRecord, held: &Held<'_>) -> Result<VppRecord, VppEngineError> {
        require_shared(r, held)?;
        let made = self.vpp.attach(&r.to_plan(), held).inspect_err(|_| {
            // VPP made the socket file (master / server) before the step that failed.
            let _ = std::fs::remove_file(&r.socket);
        })?;
        Ok(VppRecord {
            made: Some(Box::new(made)),
            ..r.clone()
        })
    }

    fn detach(&mut self, r: &VppRecord, held: &Held<'_>) -> Result<(), VppEngineError> {
        require_shared(r, held)?;
        let l3 = L3 {
            gateway: r.address,
            pod: r.pod_address,
            created_loopback: None,
        };
        self.vpp
            .detach_by_socket(r.iftype, &r.socket, r.bridge_domain, l3)?;
        let _ = std::fs::remove_file(&r.socket);
        Ok(())
    }

    fn check(&mut self, r: &VppRecord) -> Result<Ownership, VppEngineError> {
        let Some(sw) = self.vpp.interface_on(r.iftype, &r.socket)? else {
            return Ok(Ownership::Missing);
        };
        if let Some(gateway) = &r.address
            && let Some(what) = self.vpp.l3_missing(sw, gateway, r.pod_address.as_ref())?
        {
            return Err(VppEngineError::L3Incomplete(what));
        }
        Ok(Ownership::Ours)
    }

    fn untracked(
        &mut self,
        network: &str,
        evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, VppRecord)>, VppEngineError> {
        Ok(self
            .vpp
            .tagged_interfaces()?
            .into_iter()
            .filter_map(|t| {
                let id = owner_of(evidence, &t, network)?;
                let record = stray_record(&id, network, t);
                Some((id, record))
            })
            .collect())
    }

    fn status(&mut self) -> Result<(), VppEngineError> {
        self.vpp.require_all()
    }
}

/// A bridge domain or gateway loopback is only decided on under the verb's lock.
fn require_shared(r: &VppRecord, held: &Held<'_>) -> Result<(), VppEngineError> {
    if r.shares_objects() && !held.shared() {
        return Err(VppEngineError::SharedUnlocked { name: r.name() });
    }
    Ok(())
}
