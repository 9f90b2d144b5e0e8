//! The vswitch engines behind one trait, one folder each. An engine plans a record from the
//! config, makes and removes what the record describes, checks it and finds its own tagged
//! ports; it takes no lock and calls no crash hook or profiler: the verb holds those and
//! hands the engine a [`Held`]. The list of engines is the one [`engines!`] line per engine
//! at the bottom of this file: it makes the journal's [`EngineRecord`], the planning by
//! `host.engine` and the connection, so no verb branches on the engine.
//!
//! Each engine fails with an error type of its own ([`Engine::Error`]); the CNI code of each
//! of its variants is chosen in `cni/classify.rs`, so a new engine is its folder, its
//! [`engines!`] line and its error's `Classify` there.

pub mod fake;
pub mod ovn;
pub mod ovs;
pub mod vpp;

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use userspace_cni_sdk::MacAddr;
use userspace_cni_sdk::wire::{Engine as EngineKind, IfType};

use crate::cni::{CniError, ErrorCode};
use crate::config::Config;
use crate::identity::AttachmentId;

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
    /// The pod's address, for `netType: interface` (VPP routes it to the pod); OVN's port
    /// security.
    pub pod_address: Option<IpNet>,
    /// The pod's MAC.
    pub mac: MacAddr,
    /// The pod as the runtime named it (namespace, name), when it did.
    pub pod: Option<(String, String)>,
}

/// An address the switch itself gave the pod (OVN's IPAM), for the CNI result when no IPAM
/// plugin is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// The address with the subnet's prefix.
    pub address: IpNet,
    /// The subnet's gateway, when the switch has one.
    pub gateway: Option<std::net::IpAddr>,
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

/// What the verb holds while an engine attaches or detaches: the lock on the objects
/// attachments share (bridges, bridge domains, gateway loopbacks) when the record said it
/// needs it, and the hook for the points between the engine's own steps (where the crash
/// tests kill the process).
pub struct Held<'a> {
    shared: bool,
    reached: &'a dyn Fn(&str, &str),
}

impl<'a> Held<'a> {
    /// `shared`: the verb holds the shared-objects lock; `reached(place, phase)` is called at
    /// the engine's inner steps.
    pub fn new(shared: bool, reached: &'a dyn Fn(&str, &str)) -> Self {
        Self { shared, reached }
    }

    /// Whether the shared-objects lock is held.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Tells the verb an inner step is done (`place`, `phase`: the crash point's name).
    pub fn reached(&self, place: &str, phase: &str) {
        (self.reached)(place, phase);
    }
}

/// What, besides the switch's own tags, says whose a tagged port is: the claims on short
/// names and the attachments the state directory names. The verb reads them under the names
/// lock; engines that prove ownership by their tags alone ignore them.
pub trait Evidence {
    /// The attachment key whose claim holds `socket` (a socket path), if any.
    fn socket_owner(&self, socket: &Path) -> Option<String>;
    /// The attachment key whose claim holds the stem `stem`, if any.
    fn stem_owner(&self, stem: &str) -> Option<String>;
    /// The keys of the attachments with a journal or lock file.
    fn known(&self) -> &[String];
}

/// No evidence besides the switch's tags.
pub struct NoEvidence;

impl Evidence for NoEvidence {
    fn socket_owner(&self, _: &Path) -> Option<String> {
        None
    }
    fn stem_owner(&self, _: &str) -> Option<String> {
        None
    }
    fn known(&self) -> &[String] {
        &[]
    }
}

/// What every engine's record says about itself.
pub trait Record: Debug + Clone + PartialEq + Serialize + for<'de> Deserialize<'de> {
    /// The attachment's key (`<containerId>@<ifname>`).
    fn owner(&self) -> &str;
    /// The network.
    fn network(&self) -> &str;
    /// The socket path the switch was given.
    fn socket(&self) -> &Path;
    /// The switch's name of the port or interface, for messages.
    fn name(&self) -> String;
    /// Whether attaching or detaching it touches objects other attachments share: the verb
    /// then holds the shared-objects lock.
    fn shares_objects(&self) -> bool {
        false
    }
    /// The address the switch gave the pod, if it gave one.
    fn assigned(&self) -> Option<Assigned> {
        None
    }
    /// The interface type the pod sees.
    fn iftype(&self) -> IfType {
        IfType::Vhostuser
    }
    /// The switch's name of the port whose counters are the pod's (OVN: the br-int port).
    fn counted_port(&self) -> String {
        self.name()
    }
    /// The plan this record was made from: what attach recorded of the switch's state left
    /// out (to attach it again after the switch lost it).
    fn replanned(&self) -> Self {
        self.clone()
    }
}

/// One vswitch. Its failures are its own typed error; they become CNI errors (a code, the
/// message, the causes) in `cni::classify`, where [`Switch`] hands them to the verbs.
pub trait Engine {
    /// What it records of one attachment in the journal.
    type Record: Record;
    /// What goes wrong in it.
    type Error: std::error::Error + Send + Sync + 'static + Into<CniError>;

    /// A session with the switch `config` names.
    fn connect(config: &Config) -> Result<Self, Self::Error>
    where
        Self: Sized;
    /// Whether this engine can serve `config` (its own keys and their combinations): checked
    /// before ADD, CHECK and STATUS do anything, so a config it cannot serve is refused at
    /// once, naming the key. DEL and GC do not ask: they undo what the journal says.
    fn validate(config: &Config) -> Result<(), Self::Error> {
        let _ = config;
        Ok(())
    }
    /// The record for this config and request, before anything is made: everything the
    /// undo needs is in it, so a DEL after a kill during the attach finds what was made.
    /// A [`CniError`]: what fails here is the config, whose errors are CNI errors already.
    fn plan(config: &Config, req: &AttachRequest) -> Result<Self::Record, Self::Error>;
    /// Makes what `planned` describes; returns the record of what was made. On failure what
    /// was made is undone, and anyway a [`Engine::detach`] of `planned` removes it.
    fn attach(
        &mut self,
        planned: &Self::Record,
        held: &Held<'_>,
    ) -> Result<Self::Record, Self::Error>;
    /// Removes what the record describes and is provably this attachment's; idempotent.
    fn detach(&mut self, record: &Self::Record, held: &Held<'_>) -> Result<(), Self::Error>;
    /// Whether the recorded port is there and this attachment's.
    fn check(&mut self, record: &Self::Record) -> Result<Ownership, Self::Error>;
    /// Ports of `network` this plugin made, by attachment, found by their tags (GC, and DEL
    /// without a whole journal).
    fn untracked(
        &mut self,
        network: &str,
        evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, Self::Record)>, Self::Error>;
    /// Whether the switch can serve an ADD now.
    fn status(&mut self) -> Result<(), Self::Error>;
}

/// An engine over the journal's [`EngineRecord`]: what the verbs hold. Every [`Engine`] is
/// one, its typed errors classified into [`CniError`]s here; the fake switch is one directly.
pub trait Switch {
    /// [`Engine::attach`].
    fn attach(&mut self, planned: &EngineRecord, held: &Held<'_>)
    -> Result<EngineRecord, CniError>;
    /// [`Engine::detach`].
    fn detach(&mut self, record: &EngineRecord, held: &Held<'_>) -> Result<(), CniError>;
    /// [`Engine::check`].
    fn check(&mut self, record: &EngineRecord) -> Result<Ownership, CniError>;
    /// [`Engine::untracked`].
    fn untracked(
        &mut self,
        network: &str,
        evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError>;
    /// [`Engine::status`].
    fn status(&mut self) -> Result<(), CniError>;
}

/// A record that is one variant of [`EngineRecord`] (implemented by [`engines!`]).
pub trait Variant: Record {
    /// Its engine.
    const KIND: EngineKind;
    /// Into the journal's enum.
    fn wrap(self) -> EngineRecord;
    /// Out of it, when it is this engine's.
    fn of(record: &EngineRecord) -> Option<&Self>;
}

/// The record `E` was handed, or error 100 naming both engines: CHECK and DEL connect the
/// engine the journal names, so this is a bug, never a user's mistake.
fn own<E: Engine>(record: &EngineRecord) -> Result<&E::Record, CniError>
where
    E::Record: Variant,
{
    E::Record::of(record).ok_or_else(|| {
        CniError::new(
            ErrorCode::Internal,
            format!(
                "the {} engine was handed a {} record",
                <E::Record as Variant>::KIND,
                record.kind()
            ),
        )
    })
}

impl<E: Engine> Switch for E
where
    E::Record: Variant,
{
    fn attach(
        &mut self,
        planned: &EngineRecord,
        held: &Held<'_>,
    ) -> Result<EngineRecord, CniError> {
        Engine::attach(self, own::<E>(planned)?, held)
            .map(Variant::wrap)
            .map_err(Into::into)
    }

    fn detach(&mut self, record: &EngineRecord, held: &Held<'_>) -> Result<(), CniError> {
        Engine::detach(self, own::<E>(record)?, held).map_err(Into::into)
    }

    fn check(&mut self, record: &EngineRecord) -> Result<Ownership, CniError> {
        Engine::check(self, own::<E>(record)?).map_err(Into::into)
    }

    fn untracked(
        &mut self,
        network: &str,
        evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError> {
        Ok(Engine::untracked(self, network, evidence)
            .map_err(Into::into)?
            .into_iter()
            .map(|(id, r)| (id, r.wrap()))
            .collect())
    }

    fn status(&mut self) -> Result<(), CniError> {
        Engine::status(self).map_err(Into::into)
    }
}

/// Opens engines; the real one talks to the switch, tests pass a fake.
pub trait Connector {
    /// A session with `kind` as `config` locates it.
    fn connect(&self, config: &Config, kind: EngineKind) -> Result<Box<dyn Switch>, CniError>;
}

/// The engines of a node.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSwitches;

impl Connector for RealSwitches {
    fn connect(&self, config: &Config, kind: EngineKind) -> Result<Box<dyn Switch>, CniError> {
        connect(config, kind)
    }
}

/// Declares the engines: `Variant => engine type, record type` per line, the variant named
/// as in `host.engine` (`OvsDpdk` is `ovs-dpdk`). Everything that branches on the engine is
/// generated here.
macro_rules! engines {
    ($($(#[$doc:meta])* $variant:ident => $engine:ty, $record:ty;)+) => {
        /// What an engine planned or made for one attachment, stored in its journal
        /// (`"engine": "<host.engine>"` beside the engine's own fields).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "engine", rename_all = "kebab-case")]
        pub enum EngineRecord {
            $($(#[$doc])* $variant($record),)+
        }

        impl EngineRecord {
            /// The record for this config and request ([`Engine::plan`] of `host.engine`).
            pub fn plan(config: &Config, req: &AttachRequest) -> Result<Self, CniError> {
                match config.engine {
                    $(EngineKind::$variant => <$engine as Engine>::plan(config, req)
                        .map(Self::$variant)
                        .map_err(CniError::from),)+
                }
            }

            /// [`Record::replanned`].
            pub fn replanned(&self) -> Self {
                match self {
                    $(Self::$variant(r) => Self::$variant(Record::replanned(r)),)+
                }
            }

            /// Which engine made it.
            pub fn kind(&self) -> EngineKind {
                match self {
                    $(Self::$variant(_) => EngineKind::$variant,)+
                }
            }

            fn record(&self) -> &dyn RecordView {
                match self {
                    $(Self::$variant(r) => r,)+
                }
            }
        }

        $(impl Variant for $record {
            const KIND: EngineKind = EngineKind::$variant;
            fn wrap(self) -> EngineRecord {
                EngineRecord::$variant(self)
            }
            #[allow(unreachable_patterns)]
            fn of(record: &EngineRecord) -> Option<&Self> {
                match record {
                    EngineRecord::$variant(r) => Some(r),
                    _ => None,
                }
            }
        })+

        /// [`Engine::validate`] of `host.engine`.
        pub fn validate(config: &Config) -> Result<(), CniError> {
            match config.engine {
                $(EngineKind::$variant => <$engine as Engine>::validate(config).map_err(CniError::from),)+
            }
        }

        /// A session with the `kind` engine.
        pub fn connect(config: &Config, kind: EngineKind) -> Result<Box<dyn Switch>, CniError> {
            Ok(match kind {
                $(EngineKind::$variant => Box::new(<$engine as Engine>::connect(config).map_err(CniError::from)?),)+
            })
        }
    };
}

/// [`Record`]'s accessors, object-safe.
trait RecordView {
    fn owner(&self) -> &str;
    fn network(&self) -> &str;
    fn socket(&self) -> &Path;
    fn name(&self) -> String;
    fn shares_objects(&self) -> bool;
    fn assigned(&self) -> Option<Assigned>;
    fn iftype(&self) -> IfType;
    fn counted_port(&self) -> String;
}

impl<R: Record> RecordView for R {
    fn owner(&self) -> &str {
        Record::owner(self)
    }
    fn network(&self) -> &str {
        Record::network(self)
    }
    fn socket(&self) -> &Path {
        Record::socket(self)
    }
    fn name(&self) -> String {
        Record::name(self)
    }
    fn shares_objects(&self) -> bool {
        Record::shares_objects(self)
    }
    fn assigned(&self) -> Option<Assigned> {
        Record::assigned(self)
    }
    fn iftype(&self) -> IfType {
        Record::iftype(self)
    }
    fn counted_port(&self) -> String {
        Record::counted_port(self)
    }
}

impl EngineRecord {
    /// The attachment's key.
    pub fn owner(&self) -> &str {
        self.record().owner()
    }

    /// The network.
    pub fn network(&self) -> &str {
        self.record().network()
    }

    /// The socket path the switch was given.
    pub fn socket(&self) -> &Path {
        self.record().socket()
    }

    /// The switch's name of the port or interface, for messages.
    pub fn name(&self) -> String {
        self.record().name()
    }

    /// Whether attaching or detaching it needs the shared-objects lock.
    pub fn shares_objects(&self) -> bool {
        self.record().shares_objects()
    }

    /// The address the switch gave the pod, if it gave one.
    pub fn assigned(&self) -> Option<Assigned> {
        self.record().assigned()
    }

    /// The interface type the pod sees.
    pub fn iftype(&self) -> IfType {
        self.record().iftype()
    }

    /// The switch's name of the port whose counters are the pod's.
    pub fn counted_port(&self) -> String {
        self.record().counted_port()
    }
}

engines! {
    /// OVS-DPDK.
    OvsDpdk => ovs::OvsEngine, ovs::OvsRecord;
    /// VPP.
    Vpp => vpp::VppEngine, vpp::VppRecord;
    /// OVN over the node's OVS-DPDK.
    Ovn => ovn::OvnEngine, ovn::OvnRecord;
}
