//! The vswitch engines behind one trait. The verbs hold a `Box<dyn Engine>` chosen once, from
//! the config for ADD, STATUS and GC and from the journal's record for CHECK and DEL, so an
//! attachment made by one engine is never handed to another and no verb branches on the
//! engine.

pub mod fake;
pub mod ovs;
pub mod vpp;

use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use userspace_cni_sdk::wire::Engine as EngineKind;

use crate::attachment::AttachmentId;
use crate::cni::CniError;
use crate::config::Config;

/// What an attachment needs from the switch, decided before anything is made.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    /// Whose.
    pub id: AttachmentId,
    /// The network.
    pub network: String,
    /// The claimed stem: the port name on OVS.
    pub stem: String,
    /// Where the socket is, as the switch sees it (possibly through the alias).
    pub socket: PathBuf,
    /// The host side's address for `netType: interface` (VPP).
    pub host_address: Option<IpNet>,
    /// The pod's address, for `netType: interface` (VPP routes it to the pod).
    pub pod_address: Option<IpNet>,
}

/// What an engine planned or made for one attachment, stored in its journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "kebab-case")]
pub enum EngineRecord {
    /// OVS-DPDK.
    OvsDpdk(ovs::OvsRecord),
    /// VPP.
    Vpp(vpp::VppRecord),
}

impl EngineRecord {
    /// The record for this config and request, before anything is made: everything the
    /// undo needs is in it, so a DEL after a kill during the attach finds what was made.
    pub fn plan(config: &Config, req: &AttachRequest) -> Result<Self, CniError> {
        match config.engine {
            EngineKind::OvsDpdk => Ok(Self::OvsDpdk(ovs::OvsRecord::plan(config, req))),
            EngineKind::Vpp => vpp::VppRecord::plan(config, req).map(Self::Vpp),
            EngineKind::Ovn => Err(not_yet()),
        }
    }

    /// Which engine made it.
    pub fn kind(&self) -> EngineKind {
        match self {
            Self::OvsDpdk(_) => EngineKind::OvsDpdk,
            Self::Vpp(_) => EngineKind::Vpp,
        }
    }

    /// The socket path the switch was given.
    pub fn socket(&self) -> &std::path::Path {
        match self {
            Self::OvsDpdk(r) => &r.socket,
            Self::Vpp(r) => &r.socket,
        }
    }

    /// The switch's name of the port or interface, for messages.
    pub fn name(&self) -> String {
        match self {
            Self::OvsDpdk(r) => r.port.clone(),
            Self::Vpp(r) => r.name(),
        }
    }
}

/// Whether a recorded port or interface is this attachment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// It exists and is provably this attachment's.
    Ours,
    /// Nothing of this attachment's is there.
    Missing,
    /// Something is there under the name, but it is another's.
    NotOurs(String),
}

/// One vswitch.
pub trait Engine {
    /// Makes what `planned` describes; returns the record of what was made. On failure what
    /// was made is undone, and anyway a [`Engine::detach`] of `planned` removes it.
    fn attach(&mut self, planned: &EngineRecord) -> Result<EngineRecord, CniError>;
    /// Removes what the record describes and is provably this attachment's; idempotent.
    fn detach(&mut self, record: &EngineRecord) -> Result<(), CniError>;
    /// Whether the recorded port is there and this attachment's.
    fn check(&mut self, record: &EngineRecord) -> Result<Ownership, CniError>;
    /// Ports of `network` this plugin made that no journal may know (GC).
    fn untracked(&mut self, network: &str) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError>;
    /// Whether the switch can serve an ADD now.
    fn status(&mut self) -> Result<(), CniError>;
}

/// Opens engines; the real one talks to OVSDB or VPP, tests pass a fake.
pub trait Connector {
    /// A session with `kind` as `config` locates it.
    fn connect(&self, config: &Config, kind: EngineKind) -> Result<Box<dyn Engine>, CniError>;
}

/// The engines of a node.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSwitches;

impl Connector for RealSwitches {
    fn connect(&self, config: &Config, kind: EngineKind) -> Result<Box<dyn Engine>, CniError> {
        Ok(match kind {
            EngineKind::OvsDpdk => Box::new(ovs::OvsEngine::connect(config)?),
            EngineKind::Vpp => Box::new(vpp::VppEngine::connect(config)?),
            EngineKind::Ovn => return Err(not_yet()),
        })
    }
}

fn not_yet() -> CniError {
    CniError::new(
        crate::cni::ErrorCode::InvalidConfig,
        "host.engine ovn: this build has no OVN engine yet",
    )
}
