//! The OVN engine: the pod's port is a `Logical_Switch_Port` of a cluster-wide logical
//! switch in OVN's northbound database, pinned to this node's chassis
//! (`options:requested-chassis`), and a vhost-user port on the node's integration bridge
//! whose `external_ids:iface-id` names it; this node's `ovn-controller` binds the two and
//! OVN carries the traffic to the other nodes (Geneve). ADD returns once `ovn-controller` has
//! installed the port (`ovn-installed` on the OVS interface).
//!
//! Two modes: the plugin creates the logical port (every node then needs northbound write
//! access), or a central controller made it under the attachment's name without the
//! plugin's tag: the plugin then only binds it, and leaves it at DEL.

mod error;
pub mod northbound;
pub mod settings;

pub use error::OvnError;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use self::northbound::{Lsp, NbError, NewLsp, Northbound};
use self::settings::OvnSettings;
use super::ovs::{OvsEngine, OvsRecord, attachment_tags, tags};
use super::{Assigned, AttachRequest, Engine, Evidence, Held, NoEvidence, Ownership, Record};
use crate::config::Config;
use crate::identity::AttachmentId;

/// `external_ids` key on logical ports: the pod, `<namespace>/<name>`.
pub const POD_TAG: &str = "userspace-cni/pod";
/// The OVS interface key ovn-controller sets once the port's flows are in.
pub const OVN_INSTALLED: &str = "ovn-installed";

/// How the logical port is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum OvnAddresses {
    /// IPAM's: `"<mac> <ip>"`, port security the same.
    Static {
        /// The `addresses` entry.
        text: String,
    },
    /// OVN's own IPAM: `"<mac> dynamic"`; port security set from `dynamic_addresses`.
    Dynamic {
        /// The pod's MAC.
        mac: String,
    },
}

/// One attachment's logical port and local interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OvnRecord {
    /// The attachment's key.
    pub owner: String,
    /// The network.
    pub network: String,
    /// The logical switch.
    pub logical_switch: String,
    /// The logical switch port's name (the interface's `iface-id`).
    pub port: String,
    /// Its addresses.
    pub addresses: OvnAddresses,
    /// The pod, `<namespace>/<name>`, when the runtime named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The vhost-user port on the integration bridge (boxed: a journal step stays small).
    pub local: Box<OvsRecord>,
    /// This node's chassis, once attached.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chassis: String,
    /// The logical port was made by someone else (a central controller): bound, never
    /// removed.
    #[serde(default)]
    pub bind_only: bool,
    /// The address OVN gave (OVN's IPAM), with the subnet's prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<IpNet>,
    /// The subnet's gateway (a router port's address), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl Record for OvnRecord {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn network(&self) -> &str {
        &self.network
    }
    fn socket(&self) -> &Path {
        &self.local.socket
    }
    fn name(&self) -> String {
        self.port.clone()
    }
    fn counted_port(&self) -> String {
        self.local.port.clone()
    }
    fn assigned(&self) -> Option<Assigned> {
        self.assigned.map(|address| Assigned {
            address,
            gateway: self.gateway,
        })
    }
}

/// The logical port's name: unique across the cluster, readable by operators, and known
/// before the sandbox exists when the pod is named (a central controller can make it):
/// `<network>_<namespace>_<pod>_<ifname>`, else `<network>_<containerId>_<ifname>`.
pub fn port_name(network: &str, id: &AttachmentId, pod: Option<&(String, String)>) -> String {
    match pod {
        Some((ns, name)) => format!("{network}_{ns}_{name}_{}", id.ifname),
        None => format!("{network}_{}_{}", id.container_id, id.ifname),
    }
}

impl OvnRecord {
    fn plan(config: &Config, req: &AttachRequest) -> Result<Self, OvnError> {
        let s = OvnSettings::of(config)?;
        let port = port_name(&req.network, &req.id, req.pod.as_ref());
        let mac = req.mac.to_string();
        let addresses = match req.pod_address {
            Some(ip) => OvnAddresses::Static {
                text: format!("{mac} {}", ip.addr()),
            },
            None if config.ipam_type().is_none() => OvnAddresses::Dynamic { mac },
            None => {
                return Err(OvnError::NoAddressForPortSecurity);
            }
        };
        let mut local = OvsRecord::plan(config, req);
        local.bridge = s.integration_bridge;
        local.iface_id = Some(port.clone());
        local.vlan = None;
        Ok(Self {
            owner: req.id.key(),
            network: req.network.clone(),
            logical_switch: s.logical_switch,
            port,
            addresses,
            pod: req.pod.as_ref().map(|(ns, n)| format!("{ns}/{n}")),
            local: Box::new(local),
            chassis: String::new(),
            bind_only: false,
            assigned: None,
            gateway: None,
        })
    }

    fn external_ids(&self) -> BTreeMap<String, String> {
        let mut ids = attachment_tags(&self.owner, &self.network);
        if let Some(pod) = &self.pod {
            ids.insert(POD_TAG.to_owned(), pod.clone());
        }
        ids
    }
}

/// Whose a logical port is, by its tag.
enum Tagged {
    Ours,
    Untagged,
    Other(String),
}

fn tagged(lsp: &Lsp, owner: &str) -> Tagged {
    match lsp.external_ids.get(tags::ATTACHMENT) {
        Some(o) if o == owner => Tagged::Ours,
        Some(o) => Tagged::Other(o.clone()),
        None => Tagged::Untagged,
    }
}

/// A session with the northbound database and this node's OVS.
pub struct OvnEngine {
    nb: Northbound,
    ovs: OvsEngine,
    settings: OvnSettings,
    chassis: String,
}

impl OvnEngine {
    fn installed(&mut self, port: &str) -> Result<bool, OvnError> {
        Ok(self.ovs.client().get_interface(port)?.is_some_and(|i| {
            i.external_ids
                .get(OVN_INSTALLED)
                .is_some_and(|v| v == "true")
        }))
    }

    /// Waits for this node's ovn-controller to install the port's flows.
    fn wait_installed(&mut self, r: &OvnRecord) -> Result<(), OvnError> {
        let deadline = Instant::now() + self.settings.install_timeout;
        while !self.installed(&r.local.port)? {
            if Instant::now() > deadline {
                return Err(OvnError::NotInstalled {
                    port: r.port.clone(),
                    chassis: self.chassis.clone(),
                    local: r.local.port.clone(),
                    timeout: self.settings.install_timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The logical port: this attachment's (a replayed ADD), a central controller's (bound
    /// only), or a new one.
    fn logical_port(&mut self, made: &mut OvnRecord, held: &Held<'_>) -> Result<Lsp, OvnError> {
        if let Some(lsp) = self.nb.port(&made.port)? {
            match tagged(&lsp, &made.owner) {
                Tagged::Ours => return Ok(lsp),
                Tagged::Untagged => {
                    tracing::info!(port = %made.port, "logical port made by another: bound only");
                    made.bind_only = true;
                    return Ok(lsp);
                }
                Tagged::Other(o) => {
                    return Err(OvnError::PortOfAnother {
                        port: made.port.clone(),
                        owner: o,
                    });
                }
            }
        }
        let (addresses, port_security) = match &made.addresses {
            OvnAddresses::Static { text } => (text.clone(), Some(text.clone())),
            OvnAddresses::Dynamic { mac } => (format!("{mac} dynamic"), None),
        };
        let ids = made.external_ids();
        self.nb.insert(&NewLsp {
            switch: &made.logical_switch,
            name: &made.port,
            addresses,
            port_security,
            chassis: &self.chassis,
            external_ids: ids,
            create_switch: self.settings.create_switch.then_some(self.settings.subnet),
        })?;
        held.reached("ovn-northbound", "inserted");
        self.nb.port(&made.port)?.ok_or_else(|| OvnError::Vanished {
            port: made.port.clone(),
        })
    }

    fn attach_steps(&mut self, made: &mut OvnRecord, held: &Held<'_>) -> Result<(), OvnError> {
        made.chassis = self.chassis.clone();
        let lsp = self.logical_port(made, held)?;
        if let OvnAddresses::Dynamic { .. } = made.addresses {
            // A port made by another is read, never written: its static address, or the
            // dynamic one northd gave it.
            let dynamic = if made.bind_only {
                lsp.dynamic_addresses
                    .clone()
                    .or_else(|| {
                        lsp.addresses
                            .iter()
                            .find(|a| !a.contains("dynamic"))
                            .cloned()
                    })
                    .unwrap_or_default()
            } else {
                self.nb.settle_dynamic(&lsp.uuid, Duration::from_secs(10))?
            };
            let (subnet, gateway) = self.nb.subnet_and_gateway(&made.logical_switch)?;
            let ip = dynamic
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<IpAddr>().ok());
            made.assigned = match (ip, subnet) {
                (Some(ip), Some(net)) => IpNet::new(ip, net.prefix_len()).ok(),
                _ => None,
            };
            made.gateway = gateway;
        }
        // br-int is ovn-controller's: never made here (OVS would make a plain bridge).
        if !self.ovs.client().bridge_exists(&made.local.bridge)? {
            return Err(OvnError::NoIntegrationBridge {
                bridge: made.local.bridge.clone(),
            });
        }
        *made.local = Engine::attach(&mut self.ovs, &made.local, held)?;
        held.reached("ovn-local", "added");
        self.wait_installed(made)
    }
}

impl Engine for OvnEngine {
    type Record = OvnRecord;
    type Error = OvnError;

    fn connect(config: &Config) -> Result<Self, OvnError> {
        let settings = OvnSettings::of(config)?;
        let mut ovs = OvsEngine::open(&config.ovsdb)?;
        let chassis = match &settings.chassis {
            Some(c) => c.clone(),
            None => ovs
                .client()
                .system_ids()?
                .get("system-id")
                .cloned()
                .ok_or(OvnError::NoSystemId)?,
        };
        let db = ovsdb::Client::connect(
            &settings.northbound,
            settings.tls.as_ref(),
            northbound::DATABASE,
            Duration::from_secs(5),
        )
        .map_err(NbError::from)?;
        Ok(Self {
            nb: Northbound::over(db),
            ovs,
            settings,
            chassis,
        })
    }

    fn validate(config: &Config) -> Result<(), OvnError> {
        OvnSettings::of(config).map(drop)
    }

    fn plan(config: &Config, req: &AttachRequest) -> Result<OvnRecord, OvnError> {
        OvnRecord::plan(config, req)
    }

    fn attach(&mut self, planned: &OvnRecord, held: &Held<'_>) -> Result<OvnRecord, OvnError> {
        let mut made = planned.clone();
        match self.attach_steps(&mut made, held) {
            Ok(()) => Ok(made),
            Err(e) => {
                if let Err(u) = self.detach(&made, held) {
                    tracing::warn!("OVN rollback incomplete: {u}");
                }
                Err(e)
            }
        }
    }

    fn detach(&mut self, r: &OvnRecord, held: &Held<'_>) -> Result<(), OvnError> {
        // The local port first: traffic stops before the logical port goes.
        Engine::detach(&mut self.ovs, &r.local, held)?;
        let Some(lsp) = self.nb.port(&r.port)? else {
            return Ok(());
        };
        match tagged(&lsp, &r.owner) {
            Tagged::Ours => Ok(self.nb.remove(&lsp.uuid)?),
            Tagged::Untagged => {
                tracing::info!(port = %r.port, "logical port made by another: left in place");
                Ok(())
            }
            Tagged::Other(o) => {
                tracing::warn!(port = %r.port, "logical port belongs to attachment {o}: left alone");
                Ok(())
            }
        }
    }

    fn check(&mut self, r: &OvnRecord) -> Result<Ownership, OvnError> {
        match Engine::check(&mut self.ovs, &r.local)? {
            Ownership::Ours => {}
            other => return Ok(other),
        }
        let Some(lsp) = self.nb.port(&r.port)? else {
            return Ok(Ownership::Missing);
        };
        if let Tagged::Other(o) = tagged(&lsp, &r.owner) {
            return Ok(Ownership::NotOurs(format!(
                "OVN logical port {} is tagged {o}",
                r.port
            )));
        }
        match lsp.options.get("requested-chassis") {
            Some(c) if *c != self.chassis => {
                return Err(OvnError::PinnedElsewhere {
                    port: r.port.clone(),
                    pinned: c.clone(),
                    chassis: self.chassis.clone(),
                });
            }
            _ => {}
        }
        if !self.installed(&r.local.port)? {
            return Err(OvnError::NotInstalledYet {
                port: r.port.clone(),
                local: r.local.port.clone(),
            });
        }
        Ok(Ownership::Ours)
    }

    fn untracked(
        &mut self,
        network: &str,
        _evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, OvnRecord)>, OvnError> {
        let mut found: BTreeMap<AttachmentId, OvnRecord> = BTreeMap::new();
        // Local ports first: they carry the logical port's name.
        for (id, local) in Engine::untracked(&mut self.ovs, network, &NoEvidence)? {
            let Some(port) = local.iface_id.clone() else {
                continue;
            };
            found.insert(id.clone(), self.stray(&id, network, port, local));
        }
        let filter: BTreeMap<String, String> =
            [(tags::NETWORK.to_owned(), network.to_owned())].into();
        for lsp in self.nb.ports_tagged(&filter)? {
            // Only this node's: another node's GC collects its own.
            if lsp.options.get("requested-chassis") != Some(&self.chassis) {
                continue;
            }
            let Some(id) = lsp
                .external_ids
                .get(tags::ATTACHMENT)
                .and_then(|k| AttachmentId::from_key(k))
            else {
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(e) = found.entry(id) {
                let local = self.stray_local(e.key(), network);
                let r = self.stray(e.key(), network, lsp.name.clone(), local);
                e.insert(r);
            }
        }
        Ok(found.into_iter().collect())
    }

    fn status(&mut self) -> Result<(), OvnError> {
        self.nb.ping()?;
        Engine::status(&mut self.ovs)?;
        if !self
            .ovs
            .client()
            .bridge_exists(&self.settings.integration_bridge)?
        {
            return Err(OvnError::NoIntegrationBridge {
                bridge: self.settings.integration_bridge.clone(),
            });
        }
        self.chassis_registered()
    }
}

impl OvnEngine {
    /// A record for DEL without a journal: what the tags say.
    fn stray(&self, id: &AttachmentId, network: &str, port: String, local: OvsRecord) -> OvnRecord {
        OvnRecord {
            owner: id.key(),
            network: network.to_owned(),
            logical_switch: self.settings.logical_switch.clone(),
            port,
            addresses: OvnAddresses::Dynamic { mac: String::new() },
            pod: None,
            local: Box::new(local),
            chassis: self.chassis.clone(),
            bind_only: false,
            assigned: None,
            gateway: None,
        }
    }

    fn stray_local(&self, id: &AttachmentId, network: &str) -> OvsRecord {
        OvsRecord {
            owner: id.key(),
            network: network.to_owned(),
            bridge: self.settings.integration_bridge.clone(),
            port: String::new(),
            port_type: super::ovs::OvsPortType::DpdkVhostUserClient,
            socket: std::path::PathBuf::new(),
            run_dir: std::path::PathBuf::new(),
            vlan: None,
            mtu: None,
            queues: 1,
            iface_id: None,
        }
    }

    /// This node's chassis is in the southbound database (where the local OVS's
    /// `external_ids:ovn-remote` points, as for ovn-controller).
    fn chassis_registered(&mut self) -> Result<(), OvnError> {
        let ids = self.ovs.client().system_ids()?;
        let Some(remote) = ids.get("ovn-remote") else {
            return Err(OvnError::NoOvnRemote);
        };
        // ovn-remote may list several servers; any one answers for the cluster.
        let first = remote.split(',').next().unwrap_or_default().trim();
        let endpoint = ovsdb::Endpoint::parse(first).map_err(|cause| OvnError::BadOvnRemote {
            remote: remote.clone(),
            cause,
        })?;
        let southbound = |cause| OvnError::Southbound {
            endpoint: first.to_owned(),
            cause,
        };
        let mut sb = ovsdb::Client::connect(
            &endpoint,
            self.settings.tls.as_ref(),
            "OVN_Southbound",
            Duration::from_secs(5),
        )
        .map_err(southbound)?;
        let r = sb
            .transact(&[ovsdb::Operation::Select {
                table: "Chassis".into(),
                conditions: vec![ovsdb::Condition::eq(
                    "name",
                    serde_json::json!(self.chassis),
                )],
                columns: Some(vec!["name".into()]),
            }])
            .map_err(southbound)?;
        let registered = r
            .first()
            .and_then(|v| v["rows"].as_array())
            .is_some_and(|rows| !rows.is_empty());
        if registered {
            Ok(())
        } else {
            Err(OvnError::ChassisNotRegistered {
                chassis: self.chassis.clone(),
            })
        }
    }
}
